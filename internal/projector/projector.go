package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults.
const (
	DefaultDurable    = "projector"
	DefaultBatchSize  = 64
	DefaultBatchBytes = 8 << 20
	DefaultBatchAge   = 250 * time.Millisecond
	// DefaultBatchIdle is how long a projector that has caught up with the
	// stream waits for another message before it writes its batch: longer
	// than the gap between two chunks of an import in progress (a few ms),
	// far shorter than DefaultBatchAge.
	DefaultBatchIdle = 20 * time.Millisecond
	// DefaultPhase2MaxDelay bounds how long phase 2 waits for a consumer
	// behind the stream to catch up (Config.Phase2MaxDelay).
	DefaultPhase2MaxDelay = 30 * time.Second
	// DefaultMaxAckPending bounds the messages delivered and not yet acked.
	DefaultMaxAckPending = 4 * DefaultBatchSize
	// DefaultNakDelay is the first redelivery delay after a failed store
	// write; it doubles with each consecutive failure up to DefaultMaxNakDelay.
	DefaultNakDelay    = 500 * time.Millisecond
	DefaultMaxNakDelay = 30 * time.Second
	// DefaultShutdownTimeout bounds the final flush on shutdown.
	DefaultShutdownTimeout = 10 * time.Second
)

// DefaultBackOff is the consumer's redelivery schedule for messages that were
// delivered and neither acked nor naked (the projector died): the first
// value is the ack wait of the first delivery.
var DefaultBackOff = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}

// Dead-letter headers set on the copy of a poison message, besides
// events.HeaderDeadLetterReason and the original headers.
const (
	// HeaderDeadLetterSubject is the subject the poison message was on.
	HeaderDeadLetterSubject = "Folio-Dead-Letter-Subject"
	// HeaderDeadLetterSequence is its sequence in the stream.
	HeaderDeadLetterSequence = "Folio-Dead-Letter-Sequence"
)

// Pause points (see Config.Pause).
const (
	// PointBuffered: a message was added to the batch, not yet written.
	PointBuffered = "buffered"
	// PointWritten: the batch is durably written, its messages not acked.
	PointWritten = "written"
	// PointAcked: the batch is acked; phase 2 not yet run.
	PointAcked = "acked"
	// PointPhase2: phase 2 computed an account's projections and wrote them
	// into the store's open transaction (or uncommitted version), not yet
	// committed.
	PointPhase2 = "phase2"
	// PointCompleted: projections stored and sessions completed in the
	// store, not yet in the session records.
	PointCompleted = "completed"
)

// ErrInvalid marks a message that decodes but breaks the contract (a
// movement of another account, a chunk ordinal outside its plan, a subject
// that does not match the event). It is poison.
var ErrInvalid = errors.New("projector: invalid event")

// SessionMarker records phase 2's completion in the session records;
// *streams.Sessions implements it.
type SessionMarker interface {
	MarkCompleted(ctx context.Context, id string, at time.Time) error
}

// Config configures a projector. Zero fields get the defaults above.
type Config struct {
	// Stream is the stream to consume; "" means events.StreamName.
	Stream string
	// Durable names the durable consumer; "" means DefaultDurable.
	Durable string
	// FilterSubjects restrict the consumer (e.g. one account's chunk and
	// session subjects, to partition by account); nil means every subject.
	FilterSubjects []string
	// BatchSize, BatchBytes and BatchAge bound a batch: it is written when
	// it holds BatchSize messages or BatchBytes bytes of message bodies, or
	// when its oldest message has waited BatchAge. It is also written when
	// the consumer has caught up with the stream and the stream is idle: the
	// last message buffered had none after it when the server delivered it
	// (its NumPending was 0), and no other came within BatchIdle. Waiting
	// longer would only delay the write: the end of an import (its last
	// chunks and the sealed event that starts phase 2) is written BatchIdle
	// after it arrives rather than up to BatchAge later. While an import
	// is arriving, its chunks come closer together than BatchIdle and the
	// batches fill as before.
	BatchSize  int
	BatchBytes int
	BatchAge   time.Duration
	BatchIdle  time.Duration
	// Phase2MaxDelay bounds how long phase 2 waits while the consumer is
	// behind the stream. Phase 2 recomputes an account from its whole
	// history, so while more messages are waiting (the last one delivered
	// had others after it) the sealed sessions wait for them, and a
	// backlog of imports into one account is computed once instead of
	// once per import; caught up, phase 2 runs right after the batch that
	// completes a session. A backlog that lasts longer than Phase2MaxDelay
	// gets its phase 2 anyway, so projections lag it by at most that much
	// plus the computation. 0 means DefaultPhase2MaxDelay; a negative value
	// never waits (phase 2 after every write that completes a session).
	Phase2MaxDelay time.Duration
	// MaxAckPending bounds the messages delivered and not acked; it must be
	// at least BatchSize.
	MaxAckPending int
	// BackOff is the consumer's redelivery schedule (see DefaultBackOff);
	// BackOff[0] is the ack wait and must exceed BatchAge plus the time a
	// write and phase 2 take.
	BackOff []time.Duration
	// NakDelay and MaxNakDelay bound the redelivery delay after a store
	// error (doubling per consecutive failure).
	NakDelay, MaxNakDelay time.Duration
	// ShutdownTimeout bounds the final flush when ctx ends.
	ShutdownTimeout time.Duration
	// Sessions, when set, is told about completed sessions.
	Sessions SessionMarker
	// Now is the clock (stamps chunk records and completions); nil means
	// time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Pause, when set, is called at each Point*; it may block (fault
	// injection for crash tests). It runs on the consumer goroutine.
	Pause func(ctx context.Context, point string)
	// Metrics, when set, receives the projector's measurements; nil means
	// none.
	Metrics Metrics
	// Owns, when set, says which accounts this projector projects (its
	// partition, matching FilterSubjects): at start-up it only picks up the
	// sealed sessions of those, leaving the others to their own projector.
	// nil means every account.
	Owns func(account string) bool
	// Create is how Run creates the stream and the dead-letter stream when
	// they are missing (replicas, partitioning; Name is ignored). Existing
	// streams are never changed.
	Create streams.Config
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = events.StreamName
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchAge <= 0 {
		c.BatchAge = DefaultBatchAge
	}
	if c.BatchIdle <= 0 {
		c.BatchIdle = DefaultBatchIdle
	}
	if c.Phase2MaxDelay == 0 {
		c.Phase2MaxDelay = DefaultPhase2MaxDelay
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = max(DefaultMaxAckPending, 4*c.BatchSize)
	}
	if len(c.BackOff) == 0 {
		c.BackOff = DefaultBackOff
	}
	if c.NakDelay <= 0 {
		c.NakDelay = DefaultNakDelay
	}
	if c.MaxNakDelay <= 0 {
		c.MaxNakDelay = DefaultMaxNakDelay
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
}

// Validate reports a configuration Run would refuse.
func (c Config) Validate() error {
	c.setDefaults()
	if c.MaxAckPending < c.BatchSize {
		return fmt.Errorf("projector: max ack pending %d is below the batch size %d", c.MaxAckPending, c.BatchSize)
	}
	if c.BackOff[0] <= 2*c.BatchAge {
		return fmt.Errorf("projector: ack wait %s must exceed twice the batch age %s", c.BackOff[0], c.BatchAge)
	}
	for _, d := range c.BackOff {
		if d <= 0 {
			return fmt.Errorf("projector: backoff %v has a non-positive delay", c.BackOff)
		}
	}
	return nil
}

// Projector consumes the stream into a store. Create it with New and run it
// with Run; Ready may be called from any goroutine.
type Projector struct {
	cfg   Config
	js    jetstream.JetStream
	store store.Store
	log   *slog.Logger
	ready atomic.Bool
}

// New returns a projector reading js into st.
func New(js jetstream.JetStream, st store.Store, cfg Config) (*Projector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Projector{cfg: cfg, js: js, store: st, log: cfg.Logger}, nil
}

// Ready reports whether Run is consuming (the readiness probe).
func (p *Projector) Ready() bool { return p.ready.Load() }

// ConsumerConfig returns the durable consumer's configuration.
func (p *Projector) ConsumerConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       p.cfg.Durable,
		Description:   "foliostream projector: movements and projections into the store",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.BackOff[0],
		BackOff:       p.cfg.BackOff,
		MaxDeliver:    -1, // a store outage may last: never drop a message
		MaxAckPending: p.cfg.MaxAckPending,
	}
	switch len(p.cfg.FilterSubjects) {
	case 0:
	case 1:
		cc.FilterSubject = p.cfg.FilterSubjects[0]
	default:
		cc.FilterSubjects = p.cfg.FilterSubjects
	}
	return cc
}

// Run consumes until ctx ends, then writes and acks what it buffered (within
// ShutdownTimeout), naks the messages the client prefetched but never
// took (they are redelivered at once, not after the ack wait) and returns
// nil. It returns an error when the consumer
// cannot be created or is deleted under it. It creates the stream and the
// dead-letter stream if they do not exist (it never changes existing ones).
func (p *Projector) Run(ctx context.Context) error {
	defer p.ready.Store(false)
	if err := ensureStreams(ctx, p.js, p.cfg.Stream, p.cfg.Create); err != nil {
		return err
	}
	cons, err := p.js.CreateOrUpdateConsumer(ctx, p.cfg.Stream, p.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("projector: consumer %s on %s: %w", p.cfg.Durable, p.cfg.Stream, err)
	}
	proc := newProcessor(p.store, p.cfg, true)
	proc.deadLetter = p.deadLetter
	if err := proc.recover(ctx); err != nil {
		return err
	}
	// Sessions a crash left sealed with every chunk stored: projected now,
	// or, when the stream holds messages this consumer has not seen yet,
	// once it has caught up with them (Phase2MaxDelay), like any backlog.
	if ci := cons.CachedInfo(); ci == nil || ci.NumPending == 0 || !proc.putOff(time.Now()) {
		proc.phase2(ctx)
	}
	proc.markSessions(ctx)
	iter, err := cons.Messages(jetstream.PullMaxMessages(readAhead(p.cfg.BatchSize)))
	if err != nil {
		return fmt.Errorf("projector: consume %s: %w", p.cfg.Durable, err)
	}
	defer iter.Stop()
	p.ready.Store(true)
	p.log.Info("projector consuming", "stream", p.cfg.Stream, "durable", p.cfg.Durable,
		"batch_size", p.cfg.BatchSize, "batch_age", p.cfg.BatchAge)
	for {
		msg, err := next(ctx, iter, proc.deadline())
		if ctx.Err() != nil {
			p.ready.Store(false)
			serr := proc.shutdown(ctx)
			if err != nil {
				msg = nil
			}
			p.release(ctx, iter, msg)
			return serr
		}
		switch {
		case err == nil:
			proc.handle(ctx, msg)
		case errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			// The server went quiet for a while (a cluster node lost, a
			// leader elected): the iterator pulls again by itself.
			p.log.Warn("no heartbeat from the consumer; pulling again", "durable", p.cfg.Durable)
		default:
			return fmt.Errorf("projector: consume %s: %w", p.cfg.Durable, err)
		}
		proc.tick(ctx)
	}
}

// minReadAhead is the fewest messages the consumer's iterator pulls ahead.
// With very small batches (--batch-size 2: pulls of one or two messages)
// the nats.go pull iterator was seen to stop pulling while messages were
// pending (the consumer showed NumWaiting 0, NumPending > 0) until its
// missed heartbeats reset it, in 3 of 450 test runs under -race; with a
// read-ahead of 16, in none of 1,200.
const minReadAhead = 16

// readAhead is the iterator's read-ahead for a batch size.
func readAhead(batchSize int) int { return max(batchSize, minReadAhead) }

// next waits for the next message until the deadline (none: until ctx ends).
func next(ctx context.Context, iter jetstream.MessagesContext, deadline time.Time) (jetstream.Msg, error) {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	return iter.Next(jetstream.NextContext(ctx))
}

// ensureStreams creates the stream and the dead-letter stream with the
// defaults when they are missing; existing ones are left as they are (an
// operator may run them replicated).
func ensureStreams(ctx context.Context, js jetstream.JetStream, name string, create streams.Config) error {
	for _, s := range []struct {
		name   string
		ensure func(context.Context, jetstream.JetStream, streams.Config) (jetstream.Stream, error)
	}{
		{name, streams.EnsureStream},
		{streams.DeadLetterStreamName, streams.EnsureDeadLetterStream},
	} {
		_, err := js.Stream(ctx, s.name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("projector: stream %s: %w", s.name, err)
		}
		create.Name = s.name
		if _, err := s.ensure(ctx, js, create); err != nil {
			return err
		}
	}
	return nil
}

// deadLetter copies a poison message to the dead-letter subject with the
// reason, then terminates it. If the copy cannot be published the message is
// naked instead, so that it is not lost.
func (p *Projector) deadLetter(ctx context.Context, msg jetstream.Msg, reason error) {
	subject, seq := msg.Subject(), uint64(0)
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	dl := nats.NewMsg(events.SubjectDeadLetter)
	for k, vs := range msg.Headers() {
		if k == events.HeaderMsgID {
			continue
		}
		dl.Header[k] = append([]string(nil), vs...)
	}
	dl.Header.Set(events.HeaderDeadLetterReason, reason.Error())
	dl.Header.Set(HeaderDeadLetterSubject, subject)
	dl.Header.Set(HeaderDeadLetterSequence, strconv.FormatUint(seq, 10))
	dl.Data = msg.Data()
	log := p.log.With("subject", subject, "stream_seq", seq)
	_, err := p.js.PublishMsg(ctx, dl, jetstream.WithMsgID(fmt.Sprintf("%s/%d", p.cfg.Stream, seq)),
		jetstream.WithExpectStream(streams.DeadLetterStreamName))
	if err != nil {
		log.Error("dead letter not published; message naked", "reason", reason, "err", err)
		if err := msg.NakWithDelay(p.cfg.MaxNakDelay); err != nil {
			log.Warn("nak failed", "err", err)
		}
		return
	}
	if err := msg.TermWithReason(truncate(reason.Error(), 200)); err != nil {
		log.Warn("term failed; the message will come back and be dead-lettered again", "err", err)
	}
	p.cfg.Metrics.DeadLettered()
	log.Warn("poison message dead-lettered", "reason", reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// decode turns a message into an event and checks it against the contract.
func decode(msg jetstream.Msg) (events.Event, error) {
	h := msg.Headers()
	e, err := events.Unmarshal(h.Get(events.HeaderType), h.Get(events.HeaderSchema), msg.Data())
	if err != nil {
		return nil, err
	}
	if want := events.Subject(e); partition.BaseSubject(msg.Subject()) != want {
		return nil, fmt.Errorf("%w: %s of account %s on subject %s (want %s)", ErrInvalid, e.EventType(), e.EventAccount(), msg.Subject(), want)
	}
	if c, ok := e.(*events.Chunk); ok {
		if err := validateChunk(c); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func validateChunk(c *events.Chunk) error {
	if c.ID == "" || c.Total < 1 || c.Ordinal < 1 || c.Ordinal > c.Total {
		return fmt.Errorf("%w: chunk %q ordinal %d of %d", ErrInvalid, c.ID, c.Ordinal, c.Total)
	}
	for i := range c.Movements {
		m := &c.Movements[i]
		if m.ID == "" || m.Account != c.Account {
			return fmt.Errorf("%w: chunk %s movement %d: id %q, account %q (chunk account %q)", ErrInvalid, c.ID, i, m.ID, m.Account, c.Account)
		}
	}
	return nil
}
