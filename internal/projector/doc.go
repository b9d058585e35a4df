// Package projector is the consuming end of the pipeline: it reads the FOLIO
// stream with one durable pull consumer and keeps a [store.Store] current —
// movements and chunk records as chunks arrive (phase 1), broker snapshots,
// ticker snapshots and operations recomputed per account once an import
// session is sealed and all its chunks are stored (phase 2).
//
// # Delivery contract
//
//   - The consumer acks explicitly, with a bounded MaxAckPending and a
//     BackOff schedule for redelivery of messages nobody acked (a crash).
//   - Messages are buffered into a batch, bounded by count, bytes and age;
//     the batch is written with one [store.Store.WriteBatch] and its messages
//     are acked only after the write returned nil. A store error naks every
//     message of the batch with a growing delay and the projector keeps
//     going: the store is back when a retried write succeeds.
//   - A message that cannot be decoded or is invalid is poison: it is copied
//     to events.SubjectDeadLetter with the reason in
//     events.HeaderDeadLetterReason (and its origin in [HeaderDeadLetterSubject]
//     and [HeaderDeadLetterSequence]), then terminated. It never blocks the
//     stream.
//   - Session lifecycle events update the session record (merged so that
//     redelivered or out-of-order events never move a phase backwards, see
//     [MergeSession]). A sealed session waits in the store, phase "sealed",
//     until the store holds every chunk of its plan; then phase 2 runs for
//     its account — at most once per account per flush, whatever the number
//     of sessions ready, and while the consumer is behind the stream only
//     once it has caught up or [Config.Phase2MaxDelay] has passed, so that
//     a backlog of imports costs one computation of the history — replaces
//     the projections and marks the sessions completed in the store and in
//     the session records (the KV bucket). Sessions left sealed by a crash
//     are picked up at start-up.
//
// Every write is idempotent (store keys) and every projection is recomputed
// from the stored movements, never incremented: a redelivered, duplicated or
// replayed message changes nothing. [Replay] rebuilds a fresh store from the
// stream's first sequence with an ephemeral ordered consumer and the same
// processing; its result equals the incremental one.
//
// # Fault injection
//
// [Config.Pause] is called at named points of the processing ([PointBuffered],
// [PointWritten], [PointAcked], [PointPhase2], [PointCompleted]); cmd/projector
// wires it to the FOLIO_PROJECTOR_PAUSE_AT environment variable so that the
// crash tests can kill the process exactly there.
package projector
