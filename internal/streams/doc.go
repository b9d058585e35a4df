// Package streams is foliostream's JetStream side of the pipeline: the FOLIO
// stream, the KV bucket of import-session records, the helpers that publish
// events with the right headers and message IDs, and the [Importer] that
// turns one statement file into one sealed import session.
//
// # Stream
//
// [EnsureStream] creates or updates (idempotently, on every start) the stream
// events.StreamName ("FOLIO") on events.SubjectAll ("folio.>"): file storage,
// limits retention with no limits (the stream is the source of truth and is
// replayed from its first sequence), DiscardNew if a MaxBytes is ever set, a
// Nats-Msg-Id duplicate window of 24 h by default, one replica by default (R3
// on a cluster), messages up to the server's max_payload (1 MiB by default).
// [EnsureDeadLetterStream] does the same for FOLIO_DLQ on
// events.SubjectDeadLetter, where the projector copies poison messages.
//
// # Messages
//
// Every message carries events.HeaderSchema, events.HeaderType and
// Nats-Msg-Id = events.MsgID(session, step), where step is the chunk ID for a
// chunk and [StepStarted], [StepSealed], [StepFailed] or [CancelledStep](n)
// for the lifecycle events (a session can be cancelled more than once, so each
// cancellation has its counter). [Publish] and [PublishAsync] build such
// messages ([NewMsg]) and refuse to send one larger than the connection's
// max payload ([ErrTooLarge]). A consumer decodes with
//
//	events.Unmarshal(msg.Headers().Get(events.HeaderType), msg.Headers().Get(events.HeaderSchema), msg.Data())
//
// # Session records
//
// [EnsureSessions] creates or updates the KV bucket FOLIO_SESSIONS (file
// storage, history 5) and returns [Sessions]. Keys:
//
//	session.<id>   a SessionRecord as JSON
//	path.<hash>    the session last started for (account, absolute path)
//
// A [SessionRecord] holds what `ingest status` shows and what a resumed
// import needs: file, path, SHA-256, broker, account, phase (the store.Phase*
// constants: publishing → sealed → completed, or failed / cancelled), the
// chunk plan's size, the ordinals of the chunks the stream acknowledged (a
// [ChunkSet]: a few ranges, whatever the file's size), movement
// and reject counts and the rejected rows, timings and the last error.
// Writers never overwrite each other: [Sessions.Put] is a compare-and-set on
// the KV revision and [Sessions.Update] re-reads and re-applies its edit on a
// conflict. The projector calls [Sessions.MarkCompleted] after phase 2;
// `ingest --wait` blocks in [Sessions.WaitPhase] until it does.
//
// # Idempotency
//
// The stream de-duplicates by Nats-Msg-Id within its window (layer 1); the
// session record lists the acknowledged chunks so a resumed import publishes
// only what is missing, however late (layer 2); the store keys everything by
// ID (layer 3). See DESIGN.md §3 and docs/ingest.md.
package streams
