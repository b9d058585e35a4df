package streams

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Importer defaults.
const (
	// DefaultMaxInFlight bounds the chunks published and not yet
	// acknowledged. With the default byte budget that is at most 2 MiB of
	// messages held for retransmission.
	DefaultMaxInFlight = 4
	// DefaultRecordEvery is how many acknowledged chunks are batched into
	// one session-record write.
	DefaultRecordEvery = 8
	// DefaultRecordInterval is the longest an acknowledged chunk waits to be
	// written to the session record.
	DefaultRecordInterval = time.Second
	// DefaultAckTimeout bounds the wait for one acknowledgement.
	DefaultAckTimeout = 30 * time.Second
	// DefaultOpenBytes bounds the planned bytes of the chunks pass 2
	// holds open at once (chunker.DefaultOpenBytes): a statement in
	// sections whose one pass would hold more is read once per window of
	// weeks that fits (BENCHMARKS.md, "What changed in session 8").
	DefaultOpenBytes = chunker.DefaultOpenBytes
	// headerHeadroom is kept free under max_payload for the headers of a
	// chunk message when the byte budget is derived from it.
	headerHeadroom = 1024
)

// ReasonFileModified is the error recorded on a session whose file changed
// before it was sealed.
const ReasonFileModified = "file modified since import started"

// Errors.
var (
	// ErrInvalidRows: the file has rows with errors and SkipInvalid is off.
	// The error is an *InvalidRowsError carrying the analysis.
	ErrInvalidRows = errors.New("streams: file has invalid rows")
	// ErrCancelled: the import was interrupted; the session is resumable.
	ErrCancelled = errors.New("streams: import cancelled")
	// ErrFileModified: the file changed while it was being imported; the
	// session was marked failed.
	ErrFileModified = errors.New("streams: " + ReasonFileModified)
	// ErrNoRows: the statement has a header and no data row (an export of
	// an empty period, or a truncated file). Nothing is published.
	ErrNoRows = errors.New("streams: no data rows after the header")
	// ErrPlanChanged: an unfinished session of the file was started with
	// another chunk plan (the byte budget changed: another server
	// max_payload, or Request.ByteBudget), so its acknowledged chunks
	// cannot be matched with this run's. Nothing is published.
	ErrPlanChanged = errors.New("streams: chunk plan differs from the unfinished session's")
)

// InvalidRowsError reports a file refused for its row errors. Nothing was
// published.
type InvalidRowsError struct {
	File     string
	Analysis *chunker.Analysis
}

func (e *InvalidRowsError) Error() string {
	return fmt.Sprintf("%s: %d of %d rows have errors (nothing published; --skip-invalid imports the valid rows)",
		e.File, e.Analysis.RowErrorCount, e.Analysis.Rows)
}

func (e *InvalidRowsError) Unwrap() error { return ErrInvalidRows }

// Rejection reports whether err means the file itself is unacceptable
// (retrying will not help): invalid rows, an unrecognised or empty file, a
// bad header, an invalid account, a movement too large for a message. Any
// other error (NATS unreachable, a timeout, a cancellation) is transient.
func Rejection(err error) bool {
	for _, target := range []error{
		ErrInvalidRows, parsers.ErrUnrecognized, parsers.ErrBadHeader, parsers.ErrEmpty,
		parsers.ErrUnknownBroker, events.ErrInvalidAccount, chunker.ErrTooLarge, ErrTooLarge, ErrNoRows,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// Outcome says what an import did.
type Outcome string

const (
	// OutcomeSealed: this run published what was missing and sealed the
	// session.
	OutcomeSealed Outcome = "sealed"
	// OutcomeAlreadySealed: the session was already sealed (the projector
	// has not completed it yet); nothing was published.
	OutcomeAlreadySealed Outcome = "already-sealed"
	// OutcomeAlreadyCompleted: the session was already completed; nothing
	// was published.
	OutcomeAlreadyCompleted Outcome = "already-completed"
)

// AlreadyImported reports whether the file had been imported before this
// run (sealed or completed).
func (o Outcome) AlreadyImported() bool {
	return o == OutcomeAlreadySealed || o == OutcomeAlreadyCompleted
}

// Progress is reported after every acknowledged chunk.
type Progress struct {
	Session        string
	File           string
	ChunksDone     int // acknowledged, including those of earlier runs
	ChunksTotal    int
	MovementsDone  int
	MovementsTotal int
	// ChunksResumed were already acknowledged when this run started.
	ChunksResumed int
	// Started is when this run began publishing chunks.
	Started time.Time
}

// Request is one file to import.
type Request struct {
	// Path of the statement file.
	Path string
	// Account owns the movements (events.ValidateAccount).
	Account string
	// Broker: events.BrokerTastytrade, events.BrokerIBKR, or "" / "auto".
	Broker string
	// SkipInvalid imports the valid rows of a file with row errors and
	// keeps the rejects in the session; otherwise such a file is refused
	// (*InvalidRowsError) and nothing is published.
	SkipInvalid bool
	// ByteBudget bounds a chunk message's body; 0 means the chunker's
	// default, lowered to fit the connection's max payload.
	ByteBudget int
	// MaxInFlight bounds unacknowledged chunks; 0 means
	// DefaultMaxInFlight. The JetStream context must have been created with
	// jetstream.WithPublishAsyncMaxPending of at least this much.
	MaxInFlight int
	// RecordEvery and RecordInterval batch session-record writes (0 means
	// the defaults).
	RecordEvery    int
	RecordInterval time.Duration
	// AckTimeout bounds the wait for one acknowledgement (0: default).
	AckTimeout time.Duration
	// OpenBytes bounds the planned bytes of the chunks pass 2 fills at
	// once (0: DefaultOpenBytes). A file whose single pass would hold more
	// (Analysis.PeakOpenBytes: a statement in sections) is read once per
	// window of consecutive weeks that fits (chunker.Analysis.Windows),
	// at least one week each; a file in time order holds about one chunk
	// and is read once.
	OpenBytes int
	// Progress, when set, is called after each acknowledged chunk.
	Progress func(Progress)
	// Pause, when set, is called at fault-injection points: "started" (the
	// session.started event is acknowledged and recorded), "chunk:N" (the
	// chunk with ordinal N was handed to the publisher, not necessarily
	// acknowledged or recorded) and "before-sealed" (every chunk recorded,
	// session.sealed not yet published). Tests use it to kill or cancel an
	// import at a precise point.
	Pause func(ctx context.Context, point string)
}

// Result is what an import did.
type Result struct {
	Outcome  Outcome
	Session  *SessionRecord
	Analysis *chunker.Analysis
	// Resumed: the session existed (a partial or cancelled import).
	Resumed bool
	// Published chunks in this run; Skipped were acknowledged before.
	Published int
	Skipped   int
	// Passes is how many times pass 2 read the file in this run: more than
	// one for a statement in sections whose single pass would hold more
	// than Request.OpenBytes (chunker.Analysis.Windows).
	Passes int
	// Superseded is the session that was marked failed because the file at
	// the same path changed ("" when none).
	Superseded string
}

// Importer publishes statement files as import sessions. It is safe for
// sequential use; run one Import at a time per JetStream context (the
// async-publish window is per context).
type Importer struct {
	JS       jetstream.JetStream
	Sessions *Sessions
	// Stream is the stream publishes must land in; "" means
	// events.StreamName.
	Stream string
	// Logger receives lifecycle lines; nil discards.
	Logger *slog.Logger
	// Metrics, when set, receives files, sessions and chunk
	// acknowledgements; nil means none.
	Metrics Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (im *Importer) now() time.Time {
	if im.Now != nil {
		return im.Now().UTC()
	}
	return time.Now().UTC()
}

func (im *Importer) log() *slog.Logger {
	if im.Logger != nil {
		return im.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ByteBudget returns the chunk byte budget for a connection whose max
// payload is maxPayload: the chunker's default, or less to leave room for
// headers under a smaller max payload.
func ByteBudget(maxPayload int64) int {
	b := chunker.DefaultByteBudget
	if maxPayload > 0 && int64(b) > maxPayload-headerHeadroom {
		b = int(maxPayload - headerHeadroom)
	}
	return b
}

func (im *Importer) maxPayload() int64 {
	if nc := im.JS.Conn(); nc != nil {
		return nc.MaxPayload()
	}
	return 0
}

// messageLimit is the largest message the server and the stream accept:
// the connection's max payload, or the stream's MaxMsgSize when smaller.
func (im *Importer) messageLimit(ctx context.Context) int64 {
	limit := im.maxPayload()
	name := im.Stream
	if name == "" {
		name = events.StreamName
	}
	if s, err := im.JS.Stream(ctx, name); err == nil {
		if m := int64(s.CachedInfo().Config.MaxMsgSize); m > 0 && (limit <= 0 || m < limit) {
			limit = m
		}
	}
	return limit
}

func chunkerConfig(req Request, budget int) chunker.Config {
	broker := req.Broker
	if broker == "auto" {
		broker = ""
	}
	return chunker.Config{Account: req.Account, Broker: broker, File: filepath.Base(req.Path), ByteBudget: budget}
}

// Import analyses the file, refuses it or resumes / starts its session,
// publishes session.started, every chunk not yet acknowledged and
// session.sealed. It returns once the session is sealed (or was already),
// or with an error: *InvalidRowsError (nothing published), ErrCancelled
// (ctx ended; the session is marked cancelled and stays resumable),
// ErrFileModified (the file changed under the import; the session is
// marked failed), or a transient error (the session stays publishing and a
// rerun resumes it).
func (im *Importer) Import(ctx context.Context, req Request) (res *Result, err error) {
	defer func() { im.observeFile(res, err) }()
	if err := events.ValidateAccount(req.Account); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(req.Path)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	req.Path = abs
	budget := req.ByteBudget
	if budget == 0 {
		budget = ByteBudget(im.messageLimit(ctx))
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	defer f.Close()
	ccfg := chunkerConfig(req, budget)
	a, err := chunker.Analyze(f, ccfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	res = &Result{Analysis: a}
	if a.Rows == 0 {
		return res, fmt.Errorf("%s: %w (line 1 is the header; nothing published)", abs, ErrNoRows)
	}
	if a.RowErrorCount > 0 && !req.SkipInvalid {
		return res, &InvalidRowsError{File: abs, Analysis: a}
	}
	log := im.log().With("file", a.File, "account", a.Account, "session", a.SessionID)

	// The file at this path may have been another session before.
	prevID, err := im.Sessions.PathSession(ctx, a.Account, abs)
	if err != nil {
		return res, err
	}
	if prevID != "" && prevID != a.SessionID {
		superseded, err := im.failModified(ctx, prevID)
		if err != nil {
			return res, err
		}
		if superseded {
			res.Superseded = prevID
			log.Warn("earlier session failed: file modified since import started", "superseded", prevID)
		}
	}

	rec, err := im.Sessions.Get(ctx, a.SessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		rec = im.newRecord(a, abs)
		if err := im.Sessions.Create(ctx, rec); err != nil {
			if !errors.Is(err, ErrSessionExists) {
				return res, err
			}
			// Another ingest created it meanwhile: continue theirs.
			if rec, err = im.Sessions.Get(ctx, a.SessionID); err != nil {
				return res, err
			}
			res.Resumed = true
		}
	case err != nil:
		return res, err
	default:
		res.Resumed = true
	}
	res.Session = rec
	if err := im.Sessions.SetPathSession(ctx, a.Account, abs, a.SessionID); err != nil {
		return res, err
	}
	switch rec.Phase {
	case store.PhaseCompleted:
		res.Outcome = OutcomeAlreadyCompleted
		return res, nil
	case store.PhaseSealed:
		res.Outcome = OutcomeAlreadySealed
		return res, nil
	}
	if err := samePlan(rec, a); err != nil {
		return res, err
	}
	if rec.Phase != store.PhasePublishing {
		// A cancelled session, or a failed one whose file is back to the
		// content it had: publishing again.
		if rec, err = im.Sessions.Update(ctx, rec.ID, func(r *SessionRecord) error {
			r.Phase = store.PhasePublishing
			r.Error = ""
			r.UpdatedAt = im.now()
			return nil
		}); err != nil {
			return res, err
		}
		res.Session = rec
	}
	if !res.Resumed {
		im.session(SessionStarted)
	} else {
		im.session(SessionResumed)
		log.Info("resuming session", "chunks_done", rec.ChunksDone(), "chunks_total", rec.TotalChunks, "phase_was", rec.Phase)
	}

	if !rec.StartedPublished {
		if _, err := Publish(ctx, im.JS, im.Stream, im.startedEvent(a, rec), events.MsgID(rec.ID, StepStarted)); err != nil {
			return res, im.interrupted(ctx, res, err)
		}
		if rec, err = im.Sessions.Update(ctx, rec.ID, func(r *SessionRecord) error {
			r.StartedPublished = true
			return nil
		}); err != nil {
			return res, err
		}
		res.Session = rec
		log.Info("session started", "chunks", a.Plan.Len(), "movements", a.Movements, "rejected", a.RowErrorCount)
	}
	pause(ctx, req, "started")

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("streams: rewind %s: %w", abs, err)
	}
	p := im.newPublisher(ctx, req, rec, a)
	// emit encodes a chunk before it returns and keeps only counts of its
	// movements: Build may fill the same slice again.
	bcfg := ccfg
	bcfg.ReuseMovements = true
	windows := a.Windows(req.OpenBytes)
	if len(windows) > 1 {
		log.Info("rows in sections: pass 2 reads the file once per window of chunks",
			"windows", len(windows), "open_bytes", cmp.Or(req.OpenBytes, DefaultOpenBytes))
	}
	var buildErr error
	for k, w := range windows {
		// A window acknowledged in an earlier run is not read again; the
		// file is read at least once, which checks it is unchanged.
		if len(windows) > 1 && p.doneAll(w) && (res.Passes > 0 || k < len(windows)-1) {
			continue
		}
		if res.Passes > 0 {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				buildErr = fmt.Errorf("streams: rewind %s: %w", abs, err)
				break
			}
		}
		res.Passes++
		if buildErr = chunker.BuildWindow(f, a, bcfg, w, p.skip, p.emit); buildErr != nil {
			break
		}
	}
	drainErr := p.drain()
	flushErr := p.flush(true)
	res.Session, res.Published, res.Skipped = p.rec, p.published, p.resumed
	rec = p.rec
	switch {
	case errors.Is(buildErr, chunker.ErrFileChanged):
		return res, im.markFailed(ctx, rec, ReasonFileModified, fmt.Errorf("%w: %s", ErrFileModified, abs))
	case buildErr != nil || drainErr != nil || flushErr != nil:
		cause := errors.Join(buildErr, drainErr, flushErr)
		for _, err := range []error{buildErr, drainErr, flushErr} {
			if errors.Is(err, ErrStorageFull) {
				cause = err // the others say the same
				break
			}
		}
		return res, im.interrupted(ctx, res, cause)
	}
	for i := range a.Plan.Len() {
		if !p.done.Has(i + 1) {
			return res, fmt.Errorf("streams: session %s: chunk %s not acknowledged after publishing", rec.ID, a.Plan.Chunk(i).ID)
		}
	}
	pause(ctx, req, "before-sealed")
	if err := ctx.Err(); err != nil {
		return res, im.interrupted(ctx, res, err)
	}

	sealedAt := im.now()
	sealed := &events.SessionSealed{Session: rec.ID, Account: rec.Account, Chunks: a.Plan.Len(), Movements: a.Movements, SealedAt: sealedAt}
	if _, err := Publish(ctx, im.JS, im.Stream, sealed, events.MsgID(rec.ID, StepSealed)); err != nil {
		return res, im.interrupted(ctx, res, err)
	}
	rec, err = im.Sessions.Update(context.WithoutCancel(ctx), rec.ID, func(r *SessionRecord) error {
		if r.Phase != store.PhaseCompleted {
			r.Phase = store.PhaseSealed
		}
		if r.SealedAt.IsZero() {
			r.SealedAt = sealedAt
		}
		r.UpdatedAt = sealedAt
		r.Error = ""
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Session = rec
	res.Outcome = OutcomeSealed
	im.session(SessionSealed)
	log.Info("session sealed", "chunks", a.Plan.Len(), "published", res.Published, "resumed", res.Skipped, "movements", a.Movements)
	return res, nil
}

func pause(ctx context.Context, req Request, point string) {
	if req.Pause != nil {
		req.Pause(ctx, point)
	}
}

func (im *Importer) newRecord(a *chunker.Analysis, abs string) *SessionRecord {
	now := im.now()
	r := &SessionRecord{
		ID: a.SessionID, Account: a.Account, Broker: a.Broker, File: a.File, Path: abs,
		SHA256: a.SHA256, Bytes: a.Bytes, Phase: store.PhasePublishing,
		Rows: a.Rows, Movements: a.Movements, TotalChunks: a.Plan.Len(), Plan: planFingerprint(a),
		Rejected: a.RowErrorCount, StartedAt: now, UpdatedAt: now,
	}
	r.Rejects, r.RejectsTruncated = rejectsWithin(a, maxRejectBytes)
	return r
}

// planFingerprint is the events.PlanFingerprint of a's plan.
func planFingerprint(a *chunker.Analysis) string {
	return a.Plan.Fingerprint()
}

// samePlan returns ErrPlanChanged, with both plans' sizes and the byte
// budget, if the session rec was started with a plan other than a's (for a
// record without a fingerprint, one of another size).
func samePlan(rec *SessionRecord, a *chunker.Analysis) error {
	fp := planFingerprint(a)
	if rec.Plan == fp || (rec.Plan == "" && rec.TotalChunks == a.Plan.Len()) {
		return nil
	}
	return fmt.Errorf("%w: session %s was started with %d chunks (plan %s), this run cuts %s into %d (plan %s, byte budget %d): "+
		"import it with the byte budget and server max_payload it was started with",
		ErrPlanChanged, rec.ID, rec.TotalChunks, cmp.Or(rec.Plan, "unrecorded"), a.File, a.Plan.Len(), fp, a.ByteBudget)
}

// maxRejectBytes bounds the encoded rejects carried in a session record and
// in session.started, so both stay well under a 1 MiB max payload.
const maxRejectBytes = 256 << 10

// rejectsWithin returns the longest prefix of a's row errors whose JSON
// stays under limit bytes, and whether any were left out.
func rejectsWithin(a *chunker.Analysis, limit int) ([]events.RowReject, bool) {
	var out []events.RowReject
	size := 2
	for i := range a.RowErrors {
		rj := a.RowErrors[i].Reject()
		b, err := json.Marshal(rj)
		if err != nil || size+len(b)+1 > limit {
			return out, true
		}
		size += len(b) + 1
		out = append(out, rj)
	}
	return out, len(out) < a.RowErrorCount
}

func (im *Importer) startedEvent(a *chunker.Analysis, rec *SessionRecord) *events.SessionStarted {
	return &events.SessionStarted{
		Session: rec.ID, Account: rec.Account, Broker: a.Broker, File: a.File, SHA256: a.SHA256,
		Bytes: a.Bytes, Rows: a.Rows, MinTime: a.MinTime, MaxTime: a.MaxTime, Movements: a.Movements,
		Counts: a.Counts, Ignored: a.IgnoredCount, Chunks: a.Plan.Len(), Plan: planFingerprint(a), Rejects: rec.Rejects,
		StartedAt: rec.StartedAt,
	}
}

// failModified marks session id failed because the file at its path
// changed, if it was still in progress. It reports whether it did.
func (im *Importer) failModified(ctx context.Context, id string) (bool, error) {
	prev, err := im.Sessions.Get(ctx, id)
	if errors.Is(err, ErrSessionNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !prev.Resumable() {
		return false, nil // sealed, completed or already failed: left alone
	}
	if err := im.markFailed(ctx, prev, ReasonFileModified, nil); err != nil {
		return false, err
	}
	return true, nil
}

// markFailed records rec as failed with reason and publishes
// session.failed. It returns cause (or the error that prevented it).
func (im *Importer) markFailed(ctx context.Context, rec *SessionRecord, reason string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	at := im.now()
	if _, err := Publish(ctx, im.JS, im.Stream, &events.SessionFailed{Session: rec.ID, Account: rec.Account, Reason: reason, FailedAt: at}, events.MsgID(rec.ID, StepFailed)); err != nil {
		return errors.Join(cause, err)
	}
	if _, err := im.Sessions.Update(ctx, rec.ID, func(r *SessionRecord) error {
		r.Phase = store.PhaseFailed
		r.FailedAt = at
		r.UpdatedAt = at
		r.Error = reason
		return nil
	}); err != nil {
		return errors.Join(cause, err)
	}
	im.session(SessionFailed)
	return cause
}

// interrupted handles an import that stopped before sealing. When ctx
// ended it marks the session cancelled and publishes session.cancelled;
// otherwise the session stays publishing with the error recorded.
func (im *Importer) interrupted(ctx context.Context, res *Result, cause error) error {
	if errors.Is(cause, ErrStorageFull) {
		// The session record is in the same full store: it keeps what it
		// has (every chunk it lists is in the stream), and the session
		// resumes once there is room.
		return cause
	}
	rec := res.Session
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultAckTimeout)
	defer cancel()
	at := im.now()
	if ctx.Err() == nil {
		if _, err := im.Sessions.Update(bg, rec.ID, func(r *SessionRecord) error {
			r.Error = cause.Error()
			r.UpdatedAt = at
			return nil
		}); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
	reason := "interrupted"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		reason = "interrupted: " + c.Error()
	}
	updated, err := im.Sessions.Update(bg, rec.ID, func(r *SessionRecord) error {
		if r.Sealed() || r.Phase == store.PhaseFailed {
			return errUnchanged
		}
		r.Phase = store.PhaseCancelled
		r.Cancellations++
		r.CancelledAt = at
		r.UpdatedAt = at
		r.Error = reason
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return cause
	}
	if err != nil {
		return errors.Join(ErrCancelled, cause, err)
	}
	res.Session = updated
	ev := &events.SessionCancelled{Session: rec.ID, Account: rec.Account, Reason: reason, CancelledAt: at}
	if _, err := Publish(bg, im.JS, im.Stream, ev, events.MsgID(rec.ID, CancelledStep(updated.Cancellations))); err != nil {
		return errors.Join(ErrCancelled, cause, err)
	}
	im.session(SessionCancelled)
	im.log().Warn("session cancelled", "session", rec.ID, "file", rec.File, "account", rec.Account,
		"chunks_done", updated.ChunksDone(), "chunks_total", updated.TotalChunks)
	return fmt.Errorf("%w: session %s (%d of %d chunks published; run the same command again to resume): %w",
		ErrCancelled, rec.ID, updated.ChunksDone(), updated.TotalChunks, cause)
}

// ackedChunk is an acknowledged chunk waiting to be written to the session
// record. It keeps nothing of the message: once the stream has
// acknowledged a chunk, its body goes back to the publisher's free bodies
// (at most maxFlight) and the message is garbage.
type ackedChunk struct{ ordinal, movements int }

// inflight is a chunk handed to the async publisher.
type inflight struct {
	id        string
	ordinal   int
	movements int
	future    jetstream.PubAckFuture
	sent      time.Time // for Metrics
	rows      int       // movements in the message, for Metrics
	// body is the message's encoded body, to reuse once the chunk is
	// acknowledged; nil once the message was published again (a
	// future given up on may still hold it).
	body []byte
}

// chunkPublisher publishes one session's chunks with a bounded window and
// writes acknowledged chunks to the session record in batches. It runs in
// the goroutine that calls chunker.Build: no goroutine of its own. It keeps
// nothing per chunk of the plan (the Analysis's chunker.Plan finds a chunk's
// ordinal by its ID); the acknowledged chunks are a ChunkSet of ordinals, a
// few ranges.
type chunkPublisher struct {
	ctx    context.Context
	im     *Importer
	req    Request
	rec    *SessionRecord
	plan   *chunker.Plan
	done   ChunkSet // ordinals acknowledged, in this run or before
	window []inflight
	// bodies are encoded bodies of acknowledged chunks, free for the next
	// ones: at most maxFlight, each at most the byte budget. Without
	// them every chunk allocated its body (two thirds of what a 1M-row
	// import allocated, BENCHMARKS.md "What changed in session 8").
	bodies     [][]byte
	acked      []ackedChunk // acknowledged, not yet in the record
	lastFlush  time.Time
	published  int
	resumed    int
	progress   Progress
	maxFlight  int
	every      int
	interval   time.Duration
	ackTimeout time.Duration
}

func (im *Importer) newPublisher(ctx context.Context, req Request, rec *SessionRecord, a *chunker.Analysis) *chunkPublisher {
	p := &chunkPublisher{
		ctx: ctx, im: im, req: req, rec: rec, plan: &a.Plan,
		lastFlush: time.Now(), maxFlight: req.MaxInFlight, every: req.RecordEvery,
		interval: req.RecordInterval, ackTimeout: req.AckTimeout,
	}
	if p.maxFlight <= 0 {
		p.maxFlight = DefaultMaxInFlight
	}
	p.window = make([]inflight, 0, p.maxFlight)
	if p.every <= 0 {
		p.every = DefaultRecordEvery
	}
	if p.interval <= 0 {
		p.interval = DefaultRecordInterval
	}
	if p.ackTimeout <= 0 {
		p.ackTimeout = DefaultAckTimeout
	}
	// The acknowledged chunks: Acked, and the IDs an earlier build listed.
	resolved := *rec
	resolved.Acked = rec.Acked.Clone()
	resolved.ResolveLegacy(a.Plan.Ordinal)
	p.done = resolved.Acked
	p.progress = Progress{
		Session: rec.ID, File: rec.File, ChunksTotal: a.Plan.Len(), MovementsTotal: a.Movements,
		Started: time.Now(),
	}
	for i := range a.Plan.Len() {
		if p.done.Has(i + 1) {
			p.resumed++
			p.progress.ChunksDone++
			p.progress.MovementsDone += a.Plan.Movements(i)
		}
	}
	p.progress.ChunksResumed = p.resumed
	p.report()
	return p
}

func (p *chunkPublisher) report() {
	if p.req.Progress != nil {
		p.req.Progress(p.progress)
	}
}

// skip reports whether chunk id was acknowledged before (Build's skip).
func (p *chunkPublisher) skip(id string) bool {
	n := p.plan.Ordinal(id)
	return n > 0 && p.done.Has(n)
}

// emit publishes one chunk, first waiting for a free slot in the window. It
// stops between chunks once ctx is done.
func (p *chunkPublisher) emit(c *events.Chunk) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	for len(p.window) >= p.maxFlight {
		if err := p.waitOldest(); err != nil {
			return err
		}
	}
	buf := p.takeBody(p.plan.Bytes(c.Ordinal - 1))
	f, err := PublishAsync(p.im.JS, p.im.Stream, c, events.MsgID(c.Session, c.ID), buf)
	if err != nil {
		p.putBody(buf)
		return err
	}
	p.window = append(p.window, inflight{id: c.ID, ordinal: c.Ordinal, movements: countMovements(c.Movements), future: f, sent: time.Now(), rows: len(c.Movements), body: f.Msg().Data})
	p.published++
	pause(p.ctx, p.req, "chunk:"+strconv.Itoa(c.Ordinal))
	return nil
}

// doneAll reports whether every chunk of w was acknowledged.
func (p *chunkPublisher) doneAll(w chunker.Window) bool {
	for i := w.Lo; i < w.Hi; i++ {
		if !p.done.Has(i + 1) {
			return false
		}
	}
	return true
}

// takeBody returns an empty buffer of capacity at least size: a free body,
// or a new one in place of a free one too small (so that the bodies in
// flight and free are never more than maxFlight + 1).
func (p *chunkPublisher) takeBody(size int) []byte {
	if len(p.bodies) == 0 {
		return make([]byte, 0, size)
	}
	i := slices.IndexFunc(p.bodies, func(b []byte) bool { return cap(b) >= size })
	if i < 0 {
		i = 0 // dropped: too small
	}
	b := p.bodies[i]
	last := len(p.bodies) - 1
	p.bodies[i] = p.bodies[last]
	p.bodies[last] = nil
	p.bodies = p.bodies[:last]
	if cap(b) < size {
		return make([]byte, 0, size)
	}
	return b[:0]
}

// putBody keeps b for a later chunk: while fewer than maxFlight are kept,
// or in place of a smaller one.
func (p *chunkPublisher) putBody(b []byte) {
	if b == nil {
		return
	}
	if len(p.bodies) < p.maxFlight {
		p.bodies = append(p.bodies, b[:0])
		return
	}
	small := 0
	for i := range p.bodies {
		if cap(p.bodies[i]) < cap(p.bodies[small]) {
			small = i
		}
	}
	if cap(b) > cap(p.bodies[small]) {
		p.bodies[small] = b[:0]
	}
}

func countMovements(ms []events.Movement) int {
	n := 0
	for i := range ms {
		if ms[i].Kind.Counts() {
			n++
		}
	}
	return n
}

// waitOldest waits for the oldest chunk in flight. It does not give up when
// ctx ends: a cancelled import still waits for what it sent.
func (p *chunkPublisher) waitOldest() error {
	// Shift the window in place and clear the slot it frees: a slot
	// left behind in the backing array would keep its message's body
	// (up to the byte budget) reachable.
	in := p.window[0]
	n := copy(p.window, p.window[1:])
	p.window[n] = inflight{}
	p.window = p.window[:n]
	if err := p.awaitAck(&in); err != nil {
		return err
	}
	p.putBody(in.body)
	if p.im.Metrics != nil {
		p.im.Metrics.ChunkPublished(in.rows, time.Since(in.sent))
	}
	p.done.Add(in.ordinal)
	p.acked = append(p.acked, ackedChunk{ordinal: in.ordinal, movements: in.movements})
	p.progress.ChunksDone++
	p.progress.MovementsDone += in.movements
	p.report()
	return p.flush(false)
}

// awaitAck waits for the acknowledgement of one chunk. Through a broker
// outage (a Transient error or no answer in time) it publishes the same
// message again, under the same Nats-Msg-Id so that the stream keeps one
// copy, with backoff, for up to DefaultOutageTimeout; it gives up sooner
// only when the import is cancelled.
func (p *chunkPublisher) awaitAck(in *inflight) error {
	msgID := events.MsgID(p.rec.ID, in.id)
	msg := in.future.Msg()
	future := in.future
	var deadline time.Time
	wait := retryFirst
	for {
		var err error
		if future != nil {
			timer := time.NewTimer(p.ackTimeout)
			select {
			case <-future.Ok():
			case err = <-future.Err():
			case <-timer.C:
				err = fmt.Errorf("%w: no acknowledgement after %s", jetstream.ErrAsyncPublishTimeout, p.ackTimeout)
			}
			timer.Stop()
			if err == nil {
				return nil
			}
		} else {
			err = nats.ErrDisconnected // the last attempt could not even be sent
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(DefaultOutageTimeout)
		}
		if !Transient(err) || p.ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("streams: chunk %s: %w", msgID, classify(err))
		}
		p.im.log().Warn("chunk not acknowledged; publishing it again", "chunk_id", msgID, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return fmt.Errorf("streams: chunk %s: %w", msgID, err)
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
		in.body = nil // the future given up on may still hold the message
		future, err = p.im.JS.PublishMsgAsync(msg, publishOpts(p.im.Stream, msgID)...)
		if err != nil {
			if !Transient(err) {
				return fmt.Errorf("streams: chunk %s: %w", msgID, classify(err))
			}
			future = nil
		}
	}
}

// drain waits for every chunk still in flight.
func (p *chunkPublisher) drain() error {
	var errs []error
	for len(p.window) > 0 {
		if err := p.waitOldest(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flush writes acknowledged chunks to the session record: when force, or
// when enough have accumulated, or the oldest has waited long enough.
func (p *chunkPublisher) flush(force bool) error {
	if len(p.acked) == 0 {
		return nil
	}
	if !force && len(p.acked) < p.every && time.Since(p.lastFlush) < p.interval {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), p.ackTimeout)
	defer cancel()
	now := p.im.now()
	rec, err := p.im.Sessions.Update(ctx, p.rec.ID, func(r *SessionRecord) error {
		r.ResolveLegacy(p.plan.Ordinal)
		for _, c := range p.acked {
			r.AddChunk(c.ordinal, c.movements)
		}
		r.UpdatedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	p.rec = rec
	p.acked = p.acked[:0]
	p.lastFlush = time.Now()
	return nil
}
