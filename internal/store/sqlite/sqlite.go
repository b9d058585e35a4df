// Package sqlite is the embedded store of the projector: one SQLite file in
// the data directory, written through modernc.org/sqlite (pure Go, no cgo).
// It implements [store.Store] and passes the conformance suite of
// internal/store/storetest.
//
// The file is in WAL mode with synchronous=FULL, so a write is on disk when
// it returns nil, and readers (the snapshots command, a person with the
// sqlite3 shell) never block the projector. Writes go through one
// connection (SQLite has one writer); reads through a small separate
// read-only pool. The schema is versioned: Open applies any missing
// migration (table schema_version) before returning.
//
// Every table is plain SQL a person can query; decimals are TEXT in their
// exact decimal form, dates YYYY-MM-DD, wall-clock times
// YYYY-MM-DDTHH:MM:SS, instants RFC 3339 UTC. Movements are the exception:
// one narrow row each in movement_docs (the key, kind, session, line, and
// the other fields as the movement's JSON document), read through the view
// movements, one column per field. docs/projector.md has example queries.
//
// Idempotency: movements are unique by movement ID, through the primary
// key (account, utc, id) (an ID determines its account and its UTC
// instant; schema.go says why the key is not id alone). When two import
// sessions carry the same movement (overlapping statements), the row kept
// is the one from the smallest (session, line), whatever order they arrive
// in, so the table is a function of the set of chunks stored, not of
// delivery order. Chunk records are keyed by (session, chunk ID), rejects by
// (session, line, column, reason); session records are replaced whole.
//
// Speed and memory: movement_docs is one B-tree clustered by (account,
// utc, id), so a statement's movements land on neighbouring pages and an
// account's history is one range scan, in UTC order; a movement is seven
// values to bind and step, not thirty. [Store.ScanMovements] streams it a
// batch at a time (one goroutine steps SQLite, another decodes, while the
// caller works on the last batch), puts it in events.Compare order in a
// window as wide as the account's offsets (table movement_offsets), and
// decodes only the document members of the fields asked for; the strike
// adjustments have a partial index. Rows are written in
// multi-row INSERTs (insert.go), a batch's chunks in key order (keyOrder),
// and [Store.WriteProjections] writes
// projection rows as they are emitted (a writer goroutine inserts them in
// batches of 32 beside the computation), so neither path holds more than a
// statement's rows and two such batches whatever the history. The statement journal a
// multi-row INSERT needs is kept in memory (temp_store=MEMORY), and the
// write connection keeps a 16 MiB page cache. A checkpointer goroutine
// (checkpoint.go) copies the WAL into the file after each commit on a
// connection of its own, so that commits do not. BENCHMARKS.md has the
// measurements.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the store's file name in a data directory.
const FileName = "folio.db"

// Defaults.
const (
	// DefaultBusyTimeout is how long a statement waits for a lock held by
	// another connection or process before failing with SQLITE_BUSY.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReadConns bounds the read-only connection pool. A movement
	// scan holds one of them until it returns (phase 2 scans while the
	// console reads, and may read more inside the scan).
	DefaultReadConns = 4
	// minReadConns: a read inside a scan needs a second connection.
	minReadConns = 2
)

// Errors.
var (
	// ErrNewerSchema: the database was written by a newer build (a schema
	// version this build does not know).
	ErrNewerSchema = errors.New("sqlite: database schema is newer than this build")
	// ErrOlderSchema: OpenReadOnly found a schema that needs migrating
	// (which only a writer, `projector run`, does).
	ErrOlderSchema = errors.New("sqlite: database schema is older than this build")
	// ErrReadOnly: a write on a store opened with OpenReadOnly.
	ErrReadOnly = errors.New("sqlite: store opened read-only")
)

// Options tune a store; the zero value gives the defaults.
type Options struct {
	// BusyTimeout: see DefaultBusyTimeout.
	BusyTimeout time.Duration
	// ReadConns: see DefaultReadConns; at least 2, so that a read inside a
	// movement scan (which holds a connection) finds one.
	ReadConns int
	// Logger, if not nil, is told about each schema migration applied on
	// open (rewriting a large movements table takes a while: about 10 s
	// for 1.65M movements from version 3 to 4), and when background
	// checkpoints start failing and succeed again (checkpoint.go).
	Logger *slog.Logger
}

// Store is the SQLite store. It is safe for concurrent use; writes are
// serialised on one connection.
type Store struct {
	path string
	w    *sql.DB       // one connection: every write transaction
	r    *sql.DB       // read-only pool
	ck   *checkpointer // nil when read-only
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path and applies missing
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// PageSize is the page size of a store file Open creates.
const PageSize = 16 << 10

// OpenOptions is Open with explicit options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = DefaultReadConns
	}
	opts.ReadConns = max(opts.ReadConns, minReadConns)
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q: '?' and '#' are not allowed", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A new file gets 16 KiB pages (SQLite's default is 4 KiB): a
	// movement's row is a few hundred bytes, and bigger pages mean fewer
	// B-tree splits and WAL frames per batch (writes 12-17 % less CPU per
	// movement, phase 2 3-5 %: BENCHMARKS.md). The pragma must come first,
	// before journal_mode makes the file; an existing file keeps its size.
	dsn := fmt.Sprintf("%s?_pragma=page_size(%d)&_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1",
		path, PageSize, opts.BusyTimeout.Milliseconds())
	// The writer keeps a 16 MiB page cache (the default is 2 MiB): the
	// pages a batch updates stay in memory as the tables grow. With 16 KiB
	// pages, 64 MiB wrote no faster and the projector's peak RSS at 1.65M
	// movements was 687 MB instead of 231 MB (BENCHMARKS.md). Readers
	// keep the default: phase 2 reads an account once, in key order. A
	// multi-row INSERT that may fail half-way keeps a statement journal;
	// temp_store=MEMORY keeps it in memory instead of a temporary file.
	// The checkpointer (checkpoint.go) copies the WAL into the file after
	// each commit, beside the writer; wal_autocheckpoint is its backstop.
	w, err := sql.Open("sqlite", dsn+fmt.Sprintf("&_txlock=immediate&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(%d)", walBackstop))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	keepOneConn(w)
	s := &Store{path: path, w: w}
	if err := s.migrate(ctx, opts.Logger); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	s.r = r
	ck, err := startCheckpointer(dsn, opts.Logger)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.ck = ck
	return s, nil
}

// keepOneConn makes db a single connection kept open for the store's life:
// the writer's (its page cache stays warm) and the checkpointer's.
func keepOneConn(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

// OpenReadOnly opens an existing store for reading only (no migration, no
// write connection): the snapshots command uses it while the projector
// writes. A missing file is an error wrapping os.ErrNotExist.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q: '?' and '#' are not allowed", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_query_only=1", path, DefaultBusyTimeout.Milliseconds())
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(DefaultReadConns)
	s := &Store{path: path, r: r}
	var v int
	if err := r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	switch {
	case v > len(migrations):
		r.Close()
		return nil, fmt.Errorf("%w: %s is at version %d, this build knows %d", ErrNewerSchema, path, v, len(migrations))
	case v < len(migrations):
		r.Close()
		return nil, fmt.Errorf("%w: %s is at version %d, this build needs %d (start the projector once to migrate it)",
			ErrOlderSchema, path, v, len(migrations))
	}
	return s, nil
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store. The last connection to close checkpoints the WAL
// into the main file.
func (s *Store) Close() error {
	var errC, errW error
	if s.ck != nil {
		errC = s.ck.stop()
	}
	if s.w != nil {
		errW = s.w.Close()
	}
	return errors.Join(errC, s.r.Close(), errW)
}

// Ping checks that the file can be read (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", s.path, err)
	}
	return nil
}

// SchemaVersion returns the version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	db := s.w
	if db == nil {
		db = s.r
	}
	var v int
	err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// LatestSchemaVersion is the schema version this build writes.
func LatestSchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context, log *slog.Logger) error {
	if _, err := s.w.ExecContext(ctx, schemaVersionTable); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("%w: %s is at version %d, this build knows %d", ErrNewerSchema, s.path, current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		m := migrations[v-1]
		start := time.Now()
		if log != nil && current > 0 {
			log.Info("migrating the store's schema", "path", s.path, "from", v-1, "to", v, "migration", m.description)
		}
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if m.run != nil {
				if err := m.run(ctx, tx); err != nil {
					return err
				}
			}
			if m.after != "" {
				if _, err := tx.ExecContext(ctx, m.after); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)`,
				v, m.description, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s to version %d (%s): %w", s.path, v, m.description, err)
		}
		if log != nil && current > 0 {
			log.Info("store schema migrated", "path", s.path, "version", v, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.w == nil {
		return ErrReadOnly
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// A cancelled context has rolled the transaction back already.
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.ck.committed()
	return nil
}

// StoredChunks implements [store.Store].
func (s *Store) StoredChunks(ctx context.Context, session string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM import_chunks WHERE session = ?`, session).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: stored chunks of %s: %w", session, err)
	}
	return n, nil
}

// Session implements [store.Store].
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM import_sessions WHERE id = ?`, id)
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	ss, err := scanSessions(rows)
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	if len(ss) == 0 {
		return store.Session{}, fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	return ss[0], nil
}

// Sessions implements [store.Store].
func (s *Store) Sessions(ctx context.Context, account string) ([]store.Session, error) {
	q := `SELECT ` + sessionColumns + ` FROM import_sessions WHERE ? = '' OR account = ? ORDER BY started_at, id`
	rows, err := s.r.QueryContext(ctx, q, account, account)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sessions of %q: %w", account, err)
	}
	ss, err := scanSessions(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sessions of %q: %w", account, err)
	}
	// started_at is RFC 3339 text; sort by the instant to be exact.
	slices.SortStableFunc(ss, func(a, b store.Session) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ss, nil
}

func scanSessions(rows *sql.Rows) ([]store.Session, error) {
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var v store.Session
		var errText, started, sealed, completed sql.NullString
		if err := rows.Scan(&v.ID, &v.Account, &v.Broker, &v.File, &v.SHA256, &v.Phase, &v.TotalChunks,
			&v.Movements, &v.Rejected, &errText, &started, &sealed, &completed); err != nil {
			return nil, err
		}
		v.Error = errText.String
		var err error
		if v.StartedAt, err = parseInstant(started); err != nil {
			return nil, err
		}
		if v.SealedAt, err = parseInstant(sealed); err != nil {
			return nil, err
		}
		if v.CompletedAt, err = parseInstant(completed); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Rejects returns the rejected rows of a session, by line.
func (s *Store) Rejects(ctx context.Context, session string) ([]store.Reject, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT session, account, line, column_name, value, reason
		FROM rejects WHERE session = ? ORDER BY line, column_name, reason`, session)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rejects of %s: %w", session, err)
	}
	defer rows.Close()
	var out []store.Reject
	for rows.Next() {
		var r store.Reject
		if err := rows.Scan(&r.Session, &r.Account, &r.Line, &r.Column, &r.Value, &r.Reason); err != nil {
			return nil, fmt.Errorf("sqlite: rejects of %s: %w", session, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: rejects of %s: %w", session, err)
	}
	return out, nil
}

// ChunkRecord is a stored chunk record (without its movements).
type ChunkRecord struct {
	Session   string
	ID        string
	Account   string
	Ordinal   int
	Total     int
	Week      string
	Part      int
	Movements int
	StoredAt  time.Time
}

// Chunks returns the chunk records of a session by ordinal.
func (s *Store) Chunks(ctx context.Context, session string) ([]ChunkRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT session, chunk_id, account, ordinal, total, week, part, movements, stored_at
		FROM import_chunks WHERE session = ? ORDER BY ordinal, chunk_id`, session)
	if err != nil {
		return nil, fmt.Errorf("sqlite: chunks of %s: %w", session, err)
	}
	defer rows.Close()
	var out []ChunkRecord
	for rows.Next() {
		var c ChunkRecord
		var at sql.NullString
		if err := rows.Scan(&c.Session, &c.ID, &c.Account, &c.Ordinal, &c.Total, &c.Week, &c.Part, &c.Movements, &at); err != nil {
			return nil, fmt.Errorf("sqlite: chunks of %s: %w", session, err)
		}
		if c.StoredAt, err = parseInstant(at); err != nil {
			return nil, fmt.Errorf("sqlite: chunks of %s: %w", session, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: chunks of %s: %w", session, err)
	}
	return out, nil
}

// accountTables are the tables whose rows belong to one account.
var accountTables = []string{"movement_docs", "movement_offsets", "import_sessions", "import_chunks", "rejects",
	"broker_snapshots", "ticker_snapshots", "operations"}

// ReplaceAccountFrom replaces every row of account (movements, sessions,
// chunk records, rejects, projections) by the rows of the store file at src,
// in one transaction: the rebuild of one account by `projector replay
// --account`. src must be a closed store of the same schema version.
func (s *Store) ReplaceAccountFrom(ctx context.Context, src, account string) error {
	if s.w == nil {
		return ErrReadOnly
	}
	if strings.ContainsAny(src, "?#") {
		return fmt.Errorf("sqlite: path %q: '?' and '#' are not allowed", src)
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: replace %s from %s: %w", account, src, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, src); err != nil {
		return fmt.Errorf("sqlite: attach %s: %w", src, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE src`)
	var v int
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM src.schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("sqlite: %s: %w", src, err)
	}
	if v != len(migrations) {
		return fmt.Errorf("sqlite: %s is at schema version %d, %s at %d", src, v, s.path, len(migrations))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: replace %s from %s: %w", account, src, err)
	}
	for _, table := range accountTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.`+table+` WHERE account = ?`, account); err != nil {
			return errors.Join(fmt.Errorf("sqlite: replace %s in %s: %w", account, table, err), tx.Rollback())
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+table+` SELECT * FROM src.`+table+` WHERE account = ?`, account); err != nil {
			return errors.Join(fmt.Errorf("sqlite: replace %s in %s: %w", account, table, err), tx.Rollback())
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: replace %s from %s: %w", account, src, err)
	}
	return nil
}
