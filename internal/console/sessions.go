package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
)

// Sources of a session view.
const (
	sourceRecord = "record" // the KV session record (ingest's, completed by the projector)
	sourceStore  = "store"  // the projector's store
)

// ingestDefaultNATS is where `ingest` looks for NATS without --nats.
const ingestDefaultNATS = "nats://127.0.0.1:4222"

// Session is one import session as the API shows it: the session record
// and the store's row merged (docs/console.md).
type Session struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Broker  string `json:"broker"`
	File    string `json:"file"`
	Path    string `json:"path,omitempty"`
	SHA256  string `json:"sha256"`
	Bytes   int64  `json:"bytes,omitempty"`
	Rows    int    `json:"rows,omitempty"`
	Phase   string `json:"phase"`
	// Unfinished: cancelled, or publishing without progress for
	// Config.StaleAfter; ResumeCommand then resumes it.
	Unfinished    bool   `json:"unfinished"`
	ResumeCommand string `json:"resume_command,omitempty"`
	// ChunksPublished were acknowledged by the stream, ChunksStored are in
	// the store, out of ChunksTotal.
	ChunksTotal        int `json:"chunks_total"`
	ChunksPublished    int `json:"chunks_published"`
	ChunksStored       int `json:"chunks_stored"`
	Movements          int `json:"movements"`
	MovementsPublished int `json:"movements_published"`
	Rejected           int `json:"rejected"`
	Cancellations      int `json:"cancellations,omitempty"`

	StartedAt   time.Time `json:"started_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	SealedAt    time.Time `json:"sealed_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	FailedAt    time.Time `json:"failed_at,omitzero"`
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
	// ElapsedMS runs from the start to the session's latest milestone
	// (completed, sealed, failed, cancelled); null while publishing (the
	// page counts from StartedAt), so the body changes only with the
	// session.
	ElapsedMS *int64 `json:"elapsed_ms"`
	Error     string `json:"error,omitempty"`

	// Rejects are the rejected rows (only in /api/sessions/{id}).
	Rejects          []events.RowReject `json:"rejects,omitempty"`
	RejectsTruncated bool               `json:"rejects_truncated,omitempty"`
	Sources          []string           `json:"sources"`
}

// sessionList is the body of /api/sessions.
type sessionList struct {
	// Live: the session records were read; false shows only the store.
	Live     bool      `json:"live"`
	Warning  string    `json:"warning,omitempty"`
	Sessions []Session `json:"sessions"`
}

// phaseRank orders the phases a session moves through.
func phaseRank(p string) int {
	switch p {
	case store.PhaseSealed:
		return 1
	case store.PhaseCompleted:
		return 2
	}
	return 0
}

// listSessions merges the store's sessions and the live records of
// account ("" for all), ordered by start time then ID.
func (c *Console) listSessions(ctx context.Context, account string) (*sessionList, error) {
	stored, err := c.cfg.Store.Sessions(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("console: store sessions: %w", err)
	}
	now := c.cfg.Now()
	out := &sessionList{Sessions: []Session{}}
	byID := make(map[string]*store.Session, len(stored))
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	var records []*streams.SessionRecord
	if c.cfg.Sessions != nil {
		records, err = c.cfg.Sessions.List(ctx)
		if err != nil {
			// The store still answers: show it, and say what is missing.
			c.log.Warn("console: session records unavailable", "err", err)
			out.Warning = "session records unavailable (" + err.Error() + "): showing the store only"
			records = nil
		} else {
			out.Live = true
		}
	}
	seen := make(map[string]bool, len(records))
	for _, rec := range records {
		if account != "" && rec.Account != account {
			continue
		}
		seen[rec.ID] = true
		s, err := c.view(ctx, rec, byID[rec.ID], now)
		if err != nil {
			return nil, err
		}
		out.Sessions = append(out.Sessions, s)
	}
	for i := range stored {
		if seen[stored[i].ID] {
			continue
		}
		s, err := c.view(ctx, nil, &stored[i], now)
		if err != nil {
			return nil, err
		}
		out.Sessions = append(out.Sessions, s)
	}
	slices.SortFunc(out.Sessions, func(a, b Session) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// errNoSession: neither the records nor the store know the session.
var errNoSession = errors.New("console: no such session")

// session returns one session with its rejected rows.
func (c *Console) session(ctx context.Context, id string) (*Session, error) {
	var rec *streams.SessionRecord
	if c.cfg.Sessions != nil {
		r, err := c.cfg.Sessions.Get(ctx, id)
		switch {
		case errors.Is(err, streams.ErrSessionNotFound):
		case err != nil:
			c.log.Warn("console: session record unavailable", "session", id, "err", err)
		default:
			rec = r
		}
	}
	var st *store.Session
	row, err := c.cfg.Store.Session(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("console: store session %s: %w", id, err)
	default:
		st = &row
	}
	if rec == nil && st == nil {
		return nil, fmt.Errorf("%w: %s", errNoSession, id)
	}
	s, err := c.view(ctx, rec, st, c.cfg.Now())
	if err != nil {
		return nil, err
	}
	if rec != nil {
		s.Rejects, s.RejectsTruncated = rec.Rejects, rec.RejectsTruncated
	}
	return &s, nil
}

// view merges a session record and a store row (either may be nil).
func (c *Console) view(ctx context.Context, rec *streams.SessionRecord, st *store.Session, now time.Time) (Session, error) {
	var s Session
	if rec != nil {
		s = Session{
			ID: rec.ID, Account: rec.Account, Broker: rec.Broker, File: rec.File, Path: rec.Path,
			SHA256: rec.SHA256, Bytes: rec.Bytes, Rows: rec.Rows, Phase: rec.Phase,
			ChunksTotal: rec.TotalChunks, ChunksPublished: rec.ChunksDone(),
			Movements: rec.Movements, MovementsPublished: rec.PublishedMovements,
			Rejected: rec.Rejected, Cancellations: rec.Cancellations,
			StartedAt: rec.StartedAt, UpdatedAt: rec.UpdatedAt, SealedAt: rec.SealedAt,
			CompletedAt: rec.CompletedAt, FailedAt: rec.FailedAt, CancelledAt: rec.CancelledAt,
			Error: rec.Error, Sources: []string{sourceRecord},
		}
	}
	if st != nil {
		if rec == nil {
			s = Session{
				ID: st.ID, Account: st.Account, Broker: st.Broker, File: st.File, SHA256: st.SHA256,
				Phase: st.Phase, ChunksTotal: st.TotalChunks, Movements: st.Movements,
				Rejected: st.Rejected, StartedAt: st.StartedAt, SealedAt: st.SealedAt,
				CompletedAt: st.CompletedAt, Error: st.Error,
			}
			if phaseRank(st.Phase) > 0 {
				// Sealed: the stream acknowledged every chunk.
				s.ChunksPublished, s.MovementsPublished = st.TotalChunks, st.Movements
			}
		} else if phaseRank(st.Phase) > phaseRank(s.Phase) && phaseRank(s.Phase) > 0 {
			// The record lags the projector (it marks the record
			// completed after the store).
			s.Phase = st.Phase
		}
		if s.SealedAt.IsZero() {
			s.SealedAt = st.SealedAt
		}
		if s.CompletedAt.IsZero() {
			s.CompletedAt = st.CompletedAt
		}
		s.Sources = append(s.Sources, sourceStore)
		if st.Phase == store.PhaseCompleted {
			s.ChunksStored = st.TotalChunks
		} else {
			n, err := c.cfg.Store.StoredChunks(ctx, st.ID)
			if err != nil {
				return Session{}, fmt.Errorf("console: stored chunks of %s: %w", st.ID, err)
			}
			s.ChunksStored = n
		}
	}
	for _, t := range []*time.Time{&s.StartedAt, &s.UpdatedAt, &s.SealedAt, &s.CompletedAt, &s.FailedAt, &s.CancelledAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	if d, ok := elapsed(&s); ok {
		ms := d.Milliseconds()
		s.ElapsedMS = &ms
	}
	lastProgress := s.UpdatedAt
	if lastProgress.IsZero() {
		lastProgress = s.StartedAt
	}
	s.Unfinished = s.Phase == store.PhaseCancelled ||
		s.Phase == store.PhasePublishing && now.Sub(lastProgress) > c.cfg.StaleAfter
	if s.Unfinished {
		s.ResumeCommand = c.resumeCommand(&s)
	}
	return s, nil
}

// elapsed is how long the session took to its latest milestone; false
// while it has none (publishing).
func elapsed(s *Session) (time.Duration, bool) {
	var end time.Time
	switch s.Phase {
	case store.PhaseCompleted:
		end = s.CompletedAt
	case store.PhaseSealed:
		end = s.SealedAt
	case store.PhaseFailed:
		end = s.FailedAt
	case store.PhaseCancelled:
		end = s.CancelledAt
	}
	if s.StartedAt.IsZero() || end.IsZero() || end.Before(s.StartedAt) {
		return 0, false
	}
	return end.Sub(s.StartedAt), true
}

// resumeCommand is the ingest command that continues s: the same import
// again (ingest resumes from the chunks the record lists).
func (c *Console) resumeCommand(s *Session) string {
	args := []string{"ingest"}
	if c.cfg.NATSURL != "" && c.cfg.NATSURL != ingestDefaultNATS {
		args = append(args, "--nats", shellQuote(c.cfg.NATSURL))
	}
	args = append(args, "--account", shellQuote(s.Account))
	if s.Broker != "" {
		args = append(args, "--broker", shellQuote(s.Broker))
	}
	if s.Rejected > 0 {
		args = append(args, "--skip-invalid")
	}
	path := s.Path
	if path == "" {
		path = s.File // the store keeps the base name only
	}
	if strings.HasPrefix(path, "-") {
		path = "./" + path
	}
	args = append(args, shellQuote(path))
	return strings.Join(args, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
