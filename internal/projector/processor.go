package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// processor is the batching, session and phase-2 state shared by Run and
// Replay. It is owned by one goroutine.
type processor struct {
	st   store.Store
	cfg  Config
	log  *slog.Logger
	acks bool // false in a replay: the ordered consumer does not ack

	// deadLetter handles a poison message (Run); nil in a replay.
	deadLetter func(ctx context.Context, msg jetstream.Msg, reason error)

	// The batch being buffered.
	msgs      []jetstream.Msg
	chunks    []*events.Chunk
	lifecycle []events.Event // session events, in arrival order
	bytes     int
	oldest    time.Time
	// last is when the last message was received, and caughtUp whether it
	// had no message after it in the stream when it was delivered: the
	// batch is written once the stream stayed idle for BatchIdle after it.
	last     time.Time
	caughtUp bool

	// pending holds sealed sessions waiting for phase 2.
	pending map[string]store.Session
	// projectDue, when set, is when phase 2, put off while the consumer is
	// behind the stream (Config.Phase2MaxDelay), runs even if it is still
	// behind.
	projectDue time.Time
	// retryAt, when set, is when phase 2 (or the start-up recovery) is
	// retried after a store error.
	retryAt time.Time
	// unmarked are completed sessions whose session record could not be
	// updated yet.
	unmarked map[string]time.Time
	// waiting is the stored chunk count last logged for a sealed session
	// that lacks chunks.
	waiting  map[string]int
	failures int
	poison   int
	// fatal is the first store error of a replay (which has nobody to
	// redeliver to it, so it stops instead of retrying).
	fatal error
}

func newProcessor(st store.Store, cfg Config, acks bool) *processor {
	return &processor{st: st, cfg: cfg, log: cfg.Logger, acks: acks,
		pending: map[string]store.Session{}, unmarked: map[string]time.Time{}}
}

func (p *processor) pause(ctx context.Context, point string) {
	if p.cfg.Pause != nil {
		p.cfg.Pause(ctx, point)
	}
}

// recover loads the sessions a previous run left sealed (phase 2 not done)
// and reconciles completed sessions with the session records. A store that
// cannot be read is retried until ctx ends.
func (p *processor) recover(ctx context.Context) error {
	delay := p.cfg.NakDelay
	for {
		sessions, err := p.st.Sessions(ctx, "")
		if err == nil {
			for _, s := range sessions {
				if p.cfg.Owns != nil && !p.cfg.Owns(s.Account) {
					continue // another partition's projector handles it
				}
				switch s.Phase {
				case store.PhaseSealed:
					p.pending[s.ID] = s
				case store.PhaseCompleted:
					if p.cfg.Sessions != nil {
						p.unmarked[s.ID] = s.CompletedAt
					}
				}
			}
			if len(p.pending) > 0 {
				p.log.Info("sealed sessions waiting for phase 2", "sessions", len(p.pending))
			}
			p.markSessions(ctx)
			return nil
		}
		p.log.Error("store not readable at start-up; retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("projector: read sessions from the store: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, p.cfg.MaxNakDelay)
	}
}

// deadline is when the loop must wake up with no message: the batch's age
// limit, its idle limit once caught up, a phase-2 retry, or the end of phase
// 2's wait for the consumer to catch up; zero when nothing is due.
func (p *processor) deadline() time.Time {
	var d time.Time
	if len(p.msgs) > 0 {
		d = p.oldest.Add(p.cfg.BatchAge)
		if idle := p.last.Add(p.cfg.BatchIdle); p.caughtUp && idle.Before(d) {
			d = idle
		}
	}
	due := []time.Time{p.retryAt}
	if len(p.msgs) == 0 {
		// With a batch buffered, its own deadline comes first (BatchAge at
		// most) and its write runs the phase 2 that is due: waking up for
		// it now would only spin until then.
		due = append(due, p.projectDue)
	}
	for _, t := range due {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// handle decodes one message into the batch, or dead-letters it, and writes
// the batch when it is full.
func (p *processor) handle(ctx context.Context, msg jetstream.Msg) {
	e, err := decode(msg)
	md, _ := msg.Metadata() // nil only for a message not from JetStream
	p.received(md, e)
	p.last = time.Now()
	p.caughtUp = md != nil && md.NumPending == 0
	if err != nil {
		p.poison++
		if p.deadLetter != nil {
			p.deadLetter(ctx, msg, err)
		} else {
			p.log.Warn("poison message skipped", "subject", msg.Subject(), "reason", err)
		}
		return
	}
	if len(p.msgs) == 0 {
		p.oldest = p.last
	}
	p.msgs = append(p.msgs, msg)
	p.bytes += len(msg.Data())
	if c, ok := e.(*events.Chunk); ok {
		p.chunks = append(p.chunks, c)
	} else {
		p.lifecycle = append(p.lifecycle, e)
	}
	p.pause(ctx, PointBuffered)
	if ctx.Err() != nil {
		return // stopping: shutdown writes the batch with a context of its own
	}
	if len(p.msgs) >= p.cfg.BatchSize || p.bytes >= p.cfg.BatchBytes {
		p.flush(ctx)
	}
}

// tick flushes an old batch, or one the stream stopped adding to, runs the
// phase 2 that waited long enough, and retries what is due.
func (p *processor) tick(ctx context.Context) {
	now := time.Now()
	if len(p.msgs) > 0 && (!now.Before(p.oldest.Add(p.cfg.BatchAge)) ||
		p.caughtUp && !now.Before(p.last.Add(p.cfg.BatchIdle))) {
		p.flush(ctx)
	}
	if len(p.msgs) == 0 && !p.projectDue.IsZero() && (p.caughtUp || !now.Before(p.projectDue)) {
		p.project(ctx)
	}
	if !p.retryAt.IsZero() && !now.Before(p.retryAt) {
		p.retryAt = time.Time{}
		p.phase2(ctx)
		p.markSessions(ctx)
	}
}

// shutdown writes and acks the buffered batch with a bounded, uncancelled
// context; phase 2 of what is left is done by the next start.
func (p *processor) shutdown(ctx context.Context) error {
	if len(p.msgs) == 0 {
		return nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownTimeout)
	defer cancel()
	if err := p.observedWrite(fctx); err != nil {
		p.log.Warn("final batch not written; it will be redelivered", "messages", len(p.msgs), "err", err)
		p.reset()
		return nil
	}
	p.ack(fctx)
	p.reset()
	return nil
}

func (p *processor) reset() {
	clear(p.msgs)
	p.msgs = p.msgs[:0]
	clear(p.chunks)
	p.chunks = p.chunks[:0]
	clear(p.lifecycle)
	p.lifecycle = p.lifecycle[:0]
	p.bytes = 0
}

// flush writes the batch; on success acks it and runs phase 2, on failure
// naks it with a growing delay.
func (p *processor) flush(ctx context.Context) {
	if len(p.msgs) == 0 {
		return
	}
	if err := p.observedWrite(ctx); err != nil {
		if ctx.Err() != nil {
			p.reset() // shutting down: redelivered to the next run
			return
		}
		if !p.acks {
			p.fatal = cmpErr(p.fatal, err)
			p.reset()
			return
		}
		delay := min(p.cfg.NakDelay<<min(p.failures, 16), p.cfg.MaxNakDelay)
		p.failures++
		p.log.Error("store write failed; batch naked", "messages", len(p.msgs), "retry_in", delay,
			"failures", p.failures, "err", err)
		for _, m := range p.msgs {
			if err := m.NakWithDelay(delay); err != nil {
				p.log.Warn("nak failed; the message comes back after the ack wait", "subject", m.Subject(), "err", err)
			}
		}
		p.reset()
		return
	}
	if p.failures > 0 {
		p.log.Info("store writable again", "after_failures", p.failures)
		p.failures = 0
	}
	p.pause(ctx, PointWritten)
	p.ack(ctx)
	p.reset()
	p.pause(ctx, PointAcked)
	if !p.acks {
		return // a replay runs phase 2 once, at the end
	}
	if p.putOff(time.Now()) {
		p.markSessions(ctx)
		return
	}
	p.project(ctx)
}

// putOff reports whether phase 2 waits for the consumer to catch up with
// the stream: the last message delivered had others after it, and the
// sealed sessions have waited less than Phase2MaxDelay. The first time it
// waits it sets projectDue (and logs it). Each computation
// reads the account's whole history, so a backlog of imports into one
// account (a folder of monthly statements) is computed once, when the
// backlog is written, rather than once per import: linear in the history
// instead of quadratic. Caught up, phase 2 runs right after the write.
func (p *processor) putOff(now time.Time) bool {
	if p.caughtUp || len(p.pending) == 0 {
		return false
	}
	if p.projectDue.IsZero() {
		p.projectDue = now.Add(p.cfg.Phase2MaxDelay)
		if now.Before(p.projectDue) {
			p.log.Info("phase 2 waits for the consumer to catch up with the stream",
				"sealed_sessions", len(p.pending), "at_most_until", p.projectDue)
		}
	}
	return now.Before(p.projectDue)
}

// project runs phase 2 for what is ready and marks the completed sessions.
func (p *processor) project(ctx context.Context) {
	p.projectDue = time.Time{}
	p.phase2(ctx)
	p.markSessions(ctx)
}

// write builds the store batch (merging lifecycle events into the stored
// session records) and writes it. It also updates the pending sessions when
// the write succeeded.
func (p *processor) write(ctx context.Context) error {
	b := &store.Batch{Chunks: p.chunks, At: p.cfg.Now().UTC()}
	merged := map[string]store.Session{}
	var order []string
	for _, e := range p.lifecycle {
		id := e.EventSession()
		s, ok := merged[id]
		if !ok {
			var err error
			s, err = p.st.Session(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			order = append(order, id)
		}
		merged[id] = MergeSession(s, e)
		if v, ok := e.(*events.SessionStarted); ok {
			b.Rejects = append(b.Rejects, rejectsOf(v)...)
		}
	}
	for _, id := range order {
		b.Sessions = append(b.Sessions, merged[id])
	}
	start := time.Now()
	if err := p.st.WriteBatch(ctx, b); err != nil {
		return err
	}
	if took := time.Since(start); len(b.Chunks) > 0 {
		movements := 0
		for _, c := range b.Chunks {
			movements += len(c.Movements)
		}
		p.log.Debug("store batch written", "messages", len(p.msgs), "chunks", len(b.Chunks),
			"movements", movements, "took_us", took.Microseconds())
	}
	for _, s := range b.Sessions {
		if s.Phase == store.PhaseSealed {
			p.pending[s.ID] = s
		} else {
			delete(p.pending, s.ID)
		}
	}
	return nil
}

// ack acks every message of the batch: the last one synchronously, which
// confirms the ones before it on the same connection.
func (p *processor) ack(ctx context.Context) {
	if !p.acks {
		return
	}
	for i, m := range p.msgs {
		var err error
		if i == len(p.msgs)-1 {
			err = m.DoubleAck(ctx)
		} else {
			err = m.Ack()
		}
		if err != nil {
			// Written already: a redelivery rewrites the same rows.
			p.log.Warn("ack failed; the message will be redelivered", "subject", m.Subject(), "err", err)
		}
	}
}

// phase2 computes the projections of every account with a sealed session
// whose chunks are all stored: one computation per account.
func (p *processor) phase2(ctx context.Context) {
	if len(p.pending) == 0 {
		return
	}
	ready := map[string][]string{}
	for id, s := range p.pending {
		n, err := p.st.StoredChunks(ctx, id)
		if err != nil {
			p.retryPhase2(err)
			return
		}
		if n >= s.TotalChunks {
			ready[s.Account] = append(ready[s.Account], id)
			delete(p.waiting, id)
		} else if last, ok := p.waiting[id]; !ok || last != n {
			// Sealed before all its chunks are stored (they are late, or
			// lost upstream): it waits, and says why, once per change.
			if p.waiting == nil {
				p.waiting = map[string]int{}
			}
			p.waiting[id] = n
			p.log.Warn("sealed session waiting for its chunks", "session", id, "account", s.Account,
				"stored_chunks", n, "total_chunks", s.TotalChunks)
		}
	}
	accounts := make([]string, 0, len(ready))
	for a := range ready {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, account := range accounts {
		ids := ready[account]
		slices.Sort(ids)
		if err := p.observedProject(ctx, account, ids); err != nil {
			p.retryPhase2(err)
			continue
		}
		for _, id := range ids {
			delete(p.pending, id)
		}
	}
}

func (p *processor) retryPhase2(err error) {
	if !p.acks {
		p.fatal = cmpErr(p.fatal, err)
		return
	}
	if p.retryAt.IsZero() {
		delay := p.cfg.NakDelay << min(p.failures, 16)
		p.retryAt = time.Now().Add(min(delay, p.cfg.MaxNakDelay))
	}
	p.log.Error("phase 2 failed; will retry", "err", err, "retry_at", p.retryAt)
}

func (p *processor) projectAccount(ctx context.Context, account string, sessions []string) error {
	start := time.Now()
	at := p.cfg.Now().UTC()
	t := &phase2Timer{}
	var emitTime time.Duration
	emit := func(sink projections.Sink) error {
		emitStart := time.Now()
		t.sink = sink
		scan := func(q projections.Query, fn func(*events.Movement) error) error {
			return t.scan(slices.Contains(q.Kinds, events.KindStock), func(fn func(*events.Movement) error) error {
				return p.st.ScanMovements(ctx, account, q, fn)
			}, fn)
		}
		if err := projections.ComputeTo(account, scan, t); err != nil {
			return err
		}
		emitTime = time.Since(emitStart)
		// Every row is in the store's open transaction, none committed.
		p.pause(ctx, PointPhase2)
		return nil
	}
	if err := p.st.WriteProjections(ctx, account, emit, sessions, at); err != nil {
		return err
	}
	took := time.Since(start)
	// Reading, computing and writing interleave (the computation streams
	// the history and hands rows to the store as they are final): read is
	// the time in the scans outside their callbacks, replace the time in
	// the sink plus the store's work around the computation (transaction,
	// commit, sessions), compute the rest.
	read := t.scanning - t.computing
	replace := t.writing + took - emitTime
	compute := took - read - replace
	p.log.Info("projections replaced", "account", account, "sessions", sessions, "movements", t.movements,
		"broker_rows", t.broker, "ticker_rows", t.tickers, "operations", t.operations,
		"took", took, "read_us", read.Microseconds(), "compute_us", compute.Microseconds(),
		"replace_us", replace.Microseconds())
	if p.cfg.Sessions != nil {
		for _, id := range sessions {
			p.unmarked[id] = at
		}
	}
	p.pause(ctx, PointCompleted)
	return nil
}

// markSessions tells the session records about completed sessions; what
// fails is retried after the next flush.
func (p *processor) markSessions(ctx context.Context) {
	if p.cfg.Sessions == nil {
		return
	}
	for id, at := range p.unmarked {
		err := p.cfg.Sessions.MarkCompleted(ctx, id, at)
		if err != nil && !errors.Is(err, streams.ErrSessionNotFound) {
			p.log.Warn("session record not marked completed; will retry", "session", id, "err", err)
			if p.retryAt.IsZero() && ctx.Err() == nil {
				// Retried by tick even if no message comes (NATS was down).
				p.retryAt = time.Now().Add(p.cfg.NakDelay)
			}
			continue
		}
		delete(p.unmarked, id)
	}
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// phase2Timer is the sink of phase 2's computation: it passes rows on to the
// store's sink, counting them, and splits phase 2's time into reading,
// computing and writing.
type phase2Timer struct {
	sink                         projections.Sink
	scanning, computing, writing time.Duration
	movements                    int // movements of the main pass
	broker, tickers, operations  int
}

// scan runs one pass of the computation, timing the store's scan and the
// callbacks it makes; main is the pass over every movement.
func (t *phase2Timer) scan(main bool, run func(fn func(*events.Movement) error) error, fn func(*events.Movement) error) error {
	start := time.Now()
	err := run(func(m *events.Movement) error {
		s := time.Now()
		err := fn(m)
		t.computing += time.Since(s)
		if main {
			t.movements++
		}
		return err
	})
	t.scanning += time.Since(start)
	return err
}

func (t *phase2Timer) Broker(b *projections.BrokerSnapshot) error {
	s := time.Now()
	err := t.sink.Broker(b)
	t.writing += time.Since(s)
	t.broker++
	return err
}

func (t *phase2Timer) Ticker(r *projections.TickerSnapshot) error {
	s := time.Now()
	err := t.sink.Ticker(r)
	t.writing += time.Since(s)
	t.tickers++
	return err
}

func (t *phase2Timer) Operation(o *projections.Operation, seq int) error {
	s := time.Now()
	err := t.sink.Operation(o, seq)
	t.writing += time.Since(s)
	t.operations++
	return err
}
