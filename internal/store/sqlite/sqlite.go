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
// YYYY-MM-DDTHH:MM:SS, instants RFC 3339 UTC. docs/projector.md has example
// queries.
//
// Idempotency: movements are keyed by movement ID. When two import sessions
// carry the same movement (overlapping statements), the row kept is the one
// from the smallest (session, line), whatever order they arrive in, so the
// table is a function of the set of chunks stored, not of delivery order.
// Chunk records are keyed by (session, chunk ID), rejects by (session, line,
// column, reason); session records are replaced whole.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/shopspring/decimal"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the store's file name in a data directory.
const FileName = "folio.db"

// Defaults.
const (
	// DefaultBusyTimeout is how long a statement waits for a lock held by
	// another connection or process before failing with SQLITE_BUSY.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReadConns bounds the read-only connection pool.
	DefaultReadConns = 4
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
	// ReadConns: see DefaultReadConns.
	ReadConns int
}

// Store is the SQLite store. It is safe for concurrent use; writes are
// serialised on one connection.
type Store struct {
	path string
	w    *sql.DB // one connection: every write transaction
	r    *sql.DB // read-only pool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path and applies missing
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with explicit options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = DefaultReadConns
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q: '?' and '#' are not allowed", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1",
		path, opts.BusyTimeout.Milliseconds())
	// The writer keeps a 64 MiB page cache (the default is 2 MiB): the
	// pages a batch updates stay in memory as the tables grow. Readers
	// keep the default: phase 2 reads an account once, in key order.
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: path, w: w}
	if err := s.migrate(ctx); err != nil {
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
	return s, nil
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
	var errW error
	if s.w != nil {
		errW = s.w.Close()
	}
	return errors.Join(s.r.Close(), errW)
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

func (s *Store) migrate(ctx context.Context) error {
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
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)`,
				v, m.description, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s to version %d (%s): %w", s.path, v, m.description, err)
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
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

const movementColumns = `id, account, broker, kind, time, utc_offset, seq, part, line, currency, ticker,
	cash_type, code, quantity, price, amount, commissions, fees, option_type, strike, new_strike,
	expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes`

// insertMovement keeps, per ID, the row of the smallest (session, line).
var insertMovement = `INSERT INTO movements (` + movementColumns + `, session)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (id) DO UPDATE SET ` + updateAll(movementColumns+", session", "id") + `
	WHERE (excluded.session, excluded.line) < (movements.session, movements.line)`

func updateAll(columns string, skip string) string {
	var sets []string
	for c := range strings.SplitSeq(columns, ",") {
		c = strings.TrimSpace(c)
		if c != skip {
			sets = append(sets, c+" = excluded."+c)
		}
	}
	return strings.Join(sets, ", ")
}

const insertChunk = `INSERT INTO import_chunks (session, chunk_id, account, ordinal, total, week, part, movements, stored_at)
	VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (session, chunk_id) DO NOTHING`

const sessionColumns = `id, account, broker, file, sha256, phase, total_chunks, movements, rejected, error,
	started_at, sealed_at, completed_at`

var upsertSession = `INSERT INTO import_sessions (` + sessionColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (id) DO UPDATE SET ` + updateAll(sessionColumns, "id")

const insertReject = `INSERT INTO rejects (session, account, line, column_name, value, reason)
	VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`

// WriteBatch implements [store.Store]: one transaction, committed (and
// fsynced) before it returns nil.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Chunks) == 0 && len(b.Sessions) == 0 && len(b.Rejects) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		mStmt, err := tx.PrepareContext(ctx, insertMovement)
		if err != nil {
			return err
		}
		defer mStmt.Close()
		for _, c := range b.Chunks {
			for i := range c.Movements {
				m := &c.Movements[i]
				if _, err := mStmt.ExecContext(ctx, movementArgs(m, c.Session)...); err != nil {
					return fmt.Errorf("movement %s of chunk %s: %w", m.ID, events.MsgID(c.Session, c.ID), err)
				}
			}
			_, err := tx.ExecContext(ctx, insertChunk, c.Session, c.ID, c.Account, c.Ordinal, c.Total,
				c.Week, c.Part, len(c.Movements), instant(b.At))
			if err != nil {
				return fmt.Errorf("chunk %s: %w", events.MsgID(c.Session, c.ID), err)
			}
		}
		for i := range b.Sessions {
			v := &b.Sessions[i]
			_, err := tx.ExecContext(ctx, upsertSession, v.ID, v.Account, v.Broker, v.File, v.SHA256, v.Phase,
				v.TotalChunks, v.Movements, v.Rejected, nullString(v.Error),
				instant(v.StartedAt), instant(v.SealedAt), instant(v.CompletedAt))
			if err != nil {
				return fmt.Errorf("session %s: %w", v.ID, err)
			}
		}
		for _, r := range b.Rejects {
			_, err := tx.ExecContext(ctx, insertReject, r.Session, r.Account, r.Line, r.Column, r.Value, r.Reason)
			if err != nil {
				return fmt.Errorf("reject %s line %d: %w", r.Session, r.Line, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write batch (%d chunks, %d sessions) to %s: %w", len(b.Chunks), len(b.Sessions), s.path, err)
	}
	return nil
}

func movementArgs(m *events.Movement, session string) []any {
	return []any{
		m.ID, m.Account, m.Broker, string(m.Kind), m.Time.String(), nullString(m.Offset), m.Seq, m.Part, m.Line,
		m.Currency, nullString(m.Ticker), nullString(string(m.CashType)), nullString(string(m.Code)),
		nullDecimal(m.Quantity), nullDecimal(m.Price), nullDecimal(m.Amount), nullDecimal(m.Commissions),
		nullDecimal(m.Fees), nullString(string(m.OptionType)), nullDecimal(m.Strike), nullDecimal(m.NewStrike),
		nullString(m.Expiration.String()), nullDecimal(m.Premium), nullDecimal(m.NetPremium),
		nullDecimal(m.Multiplier), nullString(m.FromCurrency), nullDecimal(m.AmountChanged), nullString(m.Notes),
		session,
	}
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

// AccountMovements implements [store.Store].
func (s *Store) AccountMovements(ctx context.Context, account string) ([]events.Movement, error) {
	// Sized up front: growing by doubling would hold up to twice the
	// history at the end (a capacity hint only; rows may change meanwhile).
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM movements WHERE account = ?`, account).Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite: movements of %s: %w", account, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+movementColumns+` FROM movements WHERE account = ?
		ORDER BY time, seq, part, id`, account)
	if err != nil {
		return nil, fmt.Errorf("sqlite: movements of %s: %w", account, err)
	}
	defer rows.Close()
	out := make([]events.Movement, 0, n)
	sc := newMovementScanner()
	for rows.Next() {
		m, err := sc.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: movements of %s: %w", account, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: movements of %s: %w", account, err)
	}
	// The text order of time equals events.Compare's for four-digit years;
	// sorting again costs little on sorted input and makes it exact for any.
	slices.SortStableFunc(out, func(a, b events.Movement) int { return events.Compare(&a, &b) })
	return out, nil
}

// maxInterned bounds the texts and decimals a movementScanner shares.
const maxInterned = 1 << 16

// movementScanner reads movement rows. The columns that repeat from row to
// row (account, broker, kind, currency, ticker, codes, decimals such as
// quantity 1 or multiplier 100) are read as raw bytes and shared between
// movements instead of allocated per row: phase 2 holds an account's whole
// history, and this halves its memory and the time to read it
// (BENCHMARKS.md). Decimals are immutable values, so sharing one is safe.
type movementScanner struct {
	texts    map[string]string
	decimals map[string]decimal.Decimal
	raw      [28]sql.RawBytes
	dest     [28]any
}

func newMovementScanner() *movementScanner {
	sc := &movementScanner{texts: map[string]string{}, decimals: map[string]decimal.Decimal{}}
	for i := range sc.raw {
		sc.dest[i] = &sc.raw[i]
	}
	return sc
}

// text returns b as a string, shared with earlier rows when it repeats.
func (sc *movementScanner) text(b []byte) string {
	if v, ok := sc.texts[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(sc.texts) < maxInterned {
		sc.texts[v] = v
	}
	return v
}

// decimal parses b (NULL is zero), sharing repeated values.
func (sc *movementScanner) decimal(b sql.RawBytes) (decimal.Decimal, error) {
	if b == nil {
		return decimal.Decimal{}, nil
	}
	if v, ok := sc.decimals[string(b)]; ok {
		return v, nil
	}
	v, err := decimal.NewFromString(string(b))
	if err != nil {
		return v, err
	}
	if len(sc.decimals) < maxInterned {
		sc.decimals[string(b)] = v
	}
	return v, nil
}

// scan reads one row of movementColumns.
func (sc *movementScanner) scan(rows *sql.Rows) (events.Movement, error) {
	var m events.Movement
	if err := rows.Scan(sc.dest[:]...); err != nil {
		return m, err
	}
	r := &sc.raw
	m.ID = string(r[0])
	m.Account, m.Broker, m.Kind = sc.text(r[1]), sc.text(r[2]), events.Kind(sc.text(r[3]))
	var err error
	if m.Time, err = events.ParseWallTime(string(r[4])); err != nil {
		return m, fmt.Errorf("movement %s: %w", m.ID, err)
	}
	m.Offset = sc.text(r[5])
	for i, dst := range []*int{&m.Seq, &m.Part, &m.Line} {
		if *dst, err = strconv.Atoi(string(r[6+i])); err != nil {
			return m, fmt.Errorf("movement %s: %w", m.ID, err)
		}
	}
	m.Currency, m.Ticker, m.CashType = sc.text(r[9]), sc.text(r[10]), events.CashType(sc.text(r[11]))
	m.Code, m.OptionType = events.TradeCode(sc.text(r[12])), events.OptionType(sc.text(r[18]))
	m.FromCurrency, m.Notes = sc.text(r[25]), string(r[27])
	if r[21] != nil {
		if m.Expiration, err = events.ParseDate(string(r[21])); err != nil {
			return m, fmt.Errorf("movement %s: %w", m.ID, err)
		}
	}
	for _, d := range []struct {
		dst *decimal.Decimal
		col int
	}{
		{&m.Quantity, 13}, {&m.Price, 14}, {&m.Amount, 15}, {&m.Commissions, 16}, {&m.Fees, 17},
		{&m.Strike, 19}, {&m.NewStrike, 20}, {&m.Premium, 22}, {&m.NetPremium, 23},
		{&m.Multiplier, 24}, {&m.AmountChanged, 26},
	} {
		if *d.dst, err = sc.decimal(r[d.col]); err != nil {
			return m, fmt.Errorf("movement %s: %w", m.ID, err)
		}
	}
	return m, nil
}

// Accounts implements [store.Store].
func (s *Store) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT account FROM movements ORDER BY account`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlite: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	return out, nil
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

// ReplaceProjections implements [store.Store]: delete and insert the
// account's rows and mark the sessions completed in one transaction.
func (s *Store) ReplaceProjections(ctx context.Context, p *projections.Result, completed []string, at time.Time) error {
	if p.Account == "" {
		return errors.New("sqlite: replace projections: result without account")
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"broker_snapshots", "ticker_snapshots", "operations"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE account = ?`, p.Account); err != nil {
				return err
			}
		}
		if err := insertRows(ctx, tx, insertBroker, len(p.Broker), func(i int) []any {
			b := &p.Broker[i]
			return []any{p.Account, b.Currency, b.Date.String(), b.MovementCounter, b.RealizedGains.String(),
				b.RealizedPercentage.String(), b.UnrealizedGains.String(), b.UnrealizedGainsPercentage.String(),
				b.Invested.String(), b.Commissions.String(), b.Fees.String(), b.Deposited.String(),
				b.Withdrawn.String(), b.DividendsReceived.String(), b.OptionsIncome.String(),
				b.OtherIncome.String(), b.OpenTrades, b.NetCashFlow.String()}
		}); err != nil {
			return fmt.Errorf("broker snapshots: %w", err)
		}
		if err := insertRows(ctx, tx, insertTicker, len(p.Tickers), func(i int) []any {
			t := &p.Tickers[i]
			return []any{p.Account, t.Ticker, t.Currency, t.Date.String(), t.TotalShares.String(), t.Weight.String(),
				t.CostBasis.String(), t.RealCost.String(), t.Dividends.String(), t.DividendTaxes.String(),
				t.Options.String(), t.TotalIncomes.String(), t.CapitalDeployed.String(), t.Realized.String(),
				t.Performance.String(), t.OpenTrades, t.Commissions.String(), t.Fees.String()}
		}); err != nil {
			return fmt.Errorf("ticker snapshots: %w", err)
		}
		if err := insertRows(ctx, tx, insertOperation, len(p.Operations), func(i int) []any {
			o := &p.Operations[i]
			return []any{p.Account, i, o.Ticker, o.Currency, o.IsOpen, o.OpenDate.String(),
				nullString(o.CloseDate.String()), o.Realized.String(), o.Commissions.String(), o.Fees.String(),
				o.Premium.String(), o.Dividends.String(), o.DividendTaxes.String(), o.CapitalDeployed.String(),
				o.Performance.String()}
		}); err != nil {
			return fmt.Errorf("operations: %w", err)
		}
		for _, id := range completed {
			_, err := tx.ExecContext(ctx, `UPDATE import_sessions SET phase = ?, completed_at = coalesce(completed_at, ?)
				WHERE id = ?`, store.PhaseCompleted, instant(at), id)
			if err != nil {
				return fmt.Errorf("complete session %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace projections of %s in %s: %w", p.Account, s.path, err)
	}
	return nil
}

const insertBroker = `INSERT INTO broker_snapshots (account, currency, date, movement_counter, realized_gains,
	realized_percentage, unrealized_gains, unrealized_gains_percentage, invested, commissions, fees, deposited,
	withdrawn, dividends_received, options_income, other_income, open_trades, net_cash_flow)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

const insertTicker = `INSERT INTO ticker_snapshots (account, ticker, currency, date, total_shares, weight,
	cost_basis, real_cost, dividends, dividend_taxes, options, total_incomes, capital_deployed, realized,
	performance, open_trades, commissions, fees)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

const insertOperation = `INSERT INTO operations (account, seq, ticker, currency, is_open, open_date, close_date,
	realized, commissions, fees, premium, dividends, dividend_taxes, capital_deployed, performance)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

func insertRows(ctx context.Context, tx *sql.Tx, query string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range n {
		if _, err := stmt.ExecContext(ctx, args(i)...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

// Projections implements [store.Store]. The three lists are read in one
// transaction, so they come from one ReplaceProjections.
func (s *Store) Projections(ctx context.Context, account string) (*projections.Result, error) {
	res := &projections.Result{Account: account, Broker: []projections.BrokerSnapshot{},
		Tickers: []projections.TickerSnapshot{}, Operations: []projections.Operation{}}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: projections of %s: %w", account, err)
	}
	defer tx.Rollback()
	if err := s.readBroker(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: broker snapshots of %s: %w", account, err)
	}
	if err := s.readTickers(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: ticker snapshots of %s: %w", account, err)
	}
	if err := s.readOperations(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: operations of %s: %w", account, err)
	}
	return res, nil
}

func (s *Store) readBroker(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT currency, date, movement_counter, realized_gains, realized_percentage,
		unrealized_gains, unrealized_gains_percentage, invested, commissions, fees, deposited, withdrawn,
		dividends_received, options_income, other_income, open_trades, net_cash_flow
		FROM broker_snapshots WHERE account = ? ORDER BY currency, date`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b projections.BrokerSnapshot
		var date string
		var d decimals
		if err := rows.Scan(&b.Currency, &date, &b.MovementCounter, d.next(&b.RealizedGains),
			d.next(&b.RealizedPercentage), d.next(&b.UnrealizedGains), d.next(&b.UnrealizedGainsPercentage),
			d.next(&b.Invested), d.next(&b.Commissions), d.next(&b.Fees), d.next(&b.Deposited),
			d.next(&b.Withdrawn), d.next(&b.DividendsReceived), d.next(&b.OptionsIncome), d.next(&b.OtherIncome),
			&b.OpenTrades, d.next(&b.NetCashFlow)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if b.Date, err = events.ParseDate(date); err != nil {
			return err
		}
		res.Broker = append(res.Broker, b)
	}
	return rows.Err()
}

func (s *Store) readTickers(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT ticker, currency, date, total_shares, weight, cost_basis, real_cost,
		dividends, dividend_taxes, options, total_incomes, capital_deployed, realized, performance, open_trades,
		commissions, fees
		FROM ticker_snapshots WHERE account = ? ORDER BY ticker, currency, date`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t projections.TickerSnapshot
		var date string
		var d decimals
		if err := rows.Scan(&t.Ticker, &t.Currency, &date, d.next(&t.TotalShares), d.next(&t.Weight),
			d.next(&t.CostBasis), d.next(&t.RealCost), d.next(&t.Dividends), d.next(&t.DividendTaxes),
			d.next(&t.Options), d.next(&t.TotalIncomes), d.next(&t.CapitalDeployed), d.next(&t.Realized),
			d.next(&t.Performance), &t.OpenTrades, d.next(&t.Commissions), d.next(&t.Fees)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if t.Date, err = events.ParseDate(date); err != nil {
			return err
		}
		res.Tickers = append(res.Tickers, t)
	}
	return rows.Err()
}

func (s *Store) readOperations(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT ticker, currency, is_open, open_date, close_date, realized,
		commissions, fees, premium, dividends, dividend_taxes, capital_deployed, performance
		FROM operations WHERE account = ? ORDER BY seq`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var o projections.Operation
		var open string
		var closed sql.NullString
		var d decimals
		if err := rows.Scan(&o.Ticker, &o.Currency, &o.IsOpen, &open, &closed, d.next(&o.Realized),
			d.next(&o.Commissions), d.next(&o.Fees), d.next(&o.Premium), d.next(&o.Dividends),
			d.next(&o.DividendTaxes), d.next(&o.CapitalDeployed), d.next(&o.Performance)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if o.OpenDate, err = events.ParseDate(open); err != nil {
			return err
		}
		if closed.Valid {
			if o.CloseDate, err = events.ParseDate(closed.String); err != nil {
				return err
			}
		}
		res.Operations = append(res.Operations, o)
	}
	return rows.Err()
}

// decimals collects the text of decimal columns during a Scan and parses
// them after it.
type decimals struct {
	dst []*decimal.Decimal
	src []*string
}

func (d *decimals) next(dst *decimal.Decimal) *string {
	s := new(string)
	d.dst = append(d.dst, dst)
	d.src = append(d.src, s)
	return s
}

func (d *decimals) parse() error {
	for i, s := range d.src {
		v, err := decimal.NewFromString(*s)
		if err != nil {
			return err
		}
		*d.dst[i] = v
	}
	return nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullDecimal(d decimal.Decimal) sql.NullString {
	if d.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: d.String(), Valid: true}
}

// instant formats t as RFC 3339 UTC with as many fractional digits as it
// has; the zero time is NULL.
func instant(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: t.UTC().Format(time.RFC3339Nano), Valid: true}
}

func parseInstant(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s.String)
}

// accountTables are the tables whose rows belong to one account.
var accountTables = []string{"movements", "import_sessions", "import_chunks", "rejects",
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

// ScanMovements implements [store.Store].
// TODO(session 2): stream from a cursor; this adapter still loads the history.
func (s *Store) ScanMovements(ctx context.Context, account string, kinds []events.Kind, fn func(*events.Movement) error) error {
	ms, err := s.AccountMovements(ctx, account)
	if err != nil {
		return err
	}
	for i := range ms {
		if len(kinds) == 0 || slices.Contains(kinds, ms[i].Kind) {
			if err := fn(&ms[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteProjections implements [store.Store].
// TODO(session 2): write the rows as they come.
func (s *Store) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	c := projections.NewCollector(account)
	if err := emit(c); err != nil {
		return err
	}
	return s.ReplaceProjections(ctx, c.Result(), completed, at)
}
