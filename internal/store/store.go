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
	// AccountMovements returns every movement of an account, one per ID, in
	// events.Compare order.
	AccountMovements(ctx context.Context, account string) ([]events.Movement, error)
	// ReplaceProjections atomically replaces an account's projections and
	// marks the listed sessions completed at the given time. A reader sees
	// either the old projections or the new ones, never a mix.
	ReplaceProjections(ctx context.Context, p *projections.Result, completed []string, at time.Time) error
	// Projections returns an account's stored projections (empty lists when
	// none), in the order projections.Result documents.
	Projections(ctx context.Context, account string) (*projections.Result, error)
	// Accounts lists accounts with movements, sorted.
	Accounts(ctx context.Context) ([]string, error)
	// Close releases the store.
	Close() error
}
