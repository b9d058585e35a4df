// Package store defines what the projector keeps: the records written for
// each import session and chunk, and the Store contract that the embedded
// SQLite store (internal/store/sqlite) and the ClickHouse store
// (internal/store/clickhouse) both implement and that the conformance suite
// (internal/store/storetest) checks.
//
// Every write is idempotent: movements are keyed by movement ID, chunk records
// by (session, chunk ID), session records by session ID, projections are
// replaced per account. Redelivered, duplicated or replayed messages therefore
// change nothing.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("store: not found")

// Session phases, as stored.
const (
	PhasePublishing = "publishing" // started, not all chunks stored
	PhaseSealed     = "sealed"     // every chunk in the stream, projections pending
	PhaseCompleted  = "completed"  // projections computed
	PhaseFailed     = "failed"
	PhaseCancelled  = "cancelled"
)

// Session is an import session as the store keeps it.
type Session struct {
	ID          string
	Account     string
	Broker      string
	File        string
	SHA256      string
	Phase       string
	TotalChunks int
	Movements   int // planned movements
	Rejected    int
	Error       string
	StartedAt   time.Time
	SealedAt    time.Time // zero until sealed
	CompletedAt time.Time // zero until projections are computed
}

// Reject is a rejected row of a session (imported with --skip-invalid).
type Reject struct {
	Session string
	Account string
	events.RowReject
}

// Batch is one durable, idempotent write: the movements and chunk records of
// some chunks, plus session records and rejects from lifecycle events.
type Batch struct {
	Chunks   []*events.Chunk
	Sessions []Session
	Rejects  []Reject
	// At is when the batch was written (from the projector's clock); it stamps
	// chunk records.
	At time.Time
}

// MovementScanner streams an account's movements.
type MovementScanner interface {
	// ScanMovements calls fn with every movement of an account, one per ID,
	// in events.Compare order, of the kinds q asks for (every kind when
	// q.Kinds is nil), with at least the fields q asks for: a store may
	// read only those and leave the others zero. The movement is valid only
	// until fn returns (a store may reuse it); a scan holds a bounded part
	// of the history at a time, so phase 2's memory does not grow with the
	// account. An error from fn stops the scan and is returned unwrapped.
	ScanMovements(ctx context.Context, account string, q projections.Query, fn func(m *events.Movement) error) error
}

// Store is the projector's storage. Implementations are safe for use by one
// projector goroutine at a time; writes are durable when they return nil.
type Store interface {
	// WriteBatch persists everything in b in one transaction (or the store's
	// strongest equivalent), idempotently.
	WriteBatch(ctx context.Context, b *Batch) error
	// StoredChunks returns how many distinct chunks of a session are stored.
	StoredChunks(ctx context.Context, session string) (int, error)
	// Session returns one session record, or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// Sessions lists session records (all accounts when account is empty),
	// ordered by start time then ID.
	Sessions(ctx context.Context, account string) ([]Session, error)
	// MovementScanner reads an account's history as a stream.
	MovementScanner
	// WriteProjections atomically replaces an account's projections with the
	// rows emit sends to the sink it is given, and marks the listed sessions
	// completed at the given time. The rows are written as they come (in
	// bounded batches); a reader sees either the old projections or the new
	// ones, never a mix, and an error from emit or a cancelled context leaves
	// the old ones. Operations are identified by the seq the sink receives.
	WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error
	// Projections returns an account's stored projections (empty lists when
	// none), in the order projections.Result documents.
	Projections(ctx context.Context, account string) (*projections.Result, error)
	// Accounts lists accounts with movements, sorted.
	Accounts(ctx context.Context) ([]string, error)
	// Close releases the store.
	Close() error
}

// AccountMovements returns every movement of an account from s, one per ID,
// in events.Compare order: the whole history in memory, for callers that
// want a slice (the console's as-of view, tests). Phase 2 streams instead.
func AccountMovements(ctx context.Context, s MovementScanner, account string) ([]events.Movement, error) {
	var out []events.Movement
	err := s.ScanMovements(ctx, account, projections.Query{}, func(m *events.Movement) error {
		out = append(out, *m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReplaceProjections replaces r.Account's projections in s with r (see
// [Store.WriteProjections]).
func ReplaceProjections(ctx context.Context, s Store, r *projections.Result, completed []string, at time.Time) error {
	if r.Account == "" {
		return errors.New("store: replace projections: result without account")
	}
	return s.WriteProjections(ctx, r.Account, r.Emit, completed, at)
}
