package clickhouse

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foliostream/foliostream/internal/store"
)

// Defaults of [Options].
const (
	DefaultCallTimeout   = 30 * time.Second
	DefaultDialTimeout   = 5 * time.Second
	DefaultMaxAttempts   = 5
	DefaultBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultMaxInsertRows = 100_000
	DefaultMaxOpenConns  = 4
	// DefaultScanWindowRows bounds the rows of one read of ScanMovements
	// (which holds up to three windows at a time: see scanReaders).
	DefaultScanWindowRows = 10_000
	// DefaultProjectionBatchRows bounds the rows of one INSERT of
	// WriteProjections, per table.
	DefaultProjectionBatchRows = 10_000
)

// Errors of the package.
var (
	// ErrOutOfRange is returned for a decimal of magnitude 10^28 or more,
	// which no column of the schema holds. It is permanent.
	ErrOutOfRange = errors.New("clickhouse: decimal out of range")
	// ErrNewerSchema is returned by [New] for a database migrated by a newer
	// build (a schema version this build does not know).
	ErrNewerSchema = errors.New("clickhouse: database schema is newer than this build")
	// ErrInvalidDSN is returned by [New] for a DSN it cannot use.
	ErrInvalidDSN = errors.New("clickhouse: invalid DSN")
)

// Options tune a [Store]; the zero value gives the defaults.
type Options struct {
	// CallTimeout bounds every call to the server (one attempt of a query,
	// insert or DDL statement). Default [DefaultCallTimeout].
	CallTimeout time.Duration
	// DialTimeout bounds opening a connection. Default [DefaultDialTimeout].
	DialTimeout time.Duration
	// MaxAttempts is how many times a call is tried when it fails with a
	// transient error. Default [DefaultMaxAttempts]; 1 disables retries.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles up to
	// MaxBackoff. Defaults [DefaultBackoff], [DefaultMaxBackoff].
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxInsertRows bounds the rows of one INSERT block. Default
	// [DefaultMaxInsertRows].
	MaxInsertRows int
	// MaxOpenConns bounds the connection pool. Default [DefaultMaxOpenConns].
	MaxOpenConns int
	// ScanWindowRows bounds how many movements one query of
	// [Store.ScanMovements] reads (a window of whole dates; a date with more
	// rows is read alone); a scan holds up to three windows at a time, two
	// being read while the caller consumes the third. Default
	// [DefaultScanWindowRows].
	ScanWindowRows int
	// ProjectionBatchRows is how many rows of one projection table
	// [Store.WriteProjections] gathers before it inserts them. Default
	// [DefaultProjectionBatchRows].
	ProjectionBatchRows int
	// Logger receives retry warnings; nil discards them.
	Logger *slog.Logger
	// TLS, when set, encrypts the connection with this configuration (a
	// private CA, a client certificate), replacing the DSN's secure=true.
	TLS *tls.Config
}

func (o *Options) setDefaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.MaxInsertRows <= 0 {
		o.MaxInsertRows = DefaultMaxInsertRows
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if o.ScanWindowRows <= 0 {
		o.ScanWindowRows = DefaultScanWindowRows
	}
	if o.ProjectionBatchRows <= 0 {
		o.ProjectionBatchRows = DefaultProjectionBatchRows
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the ClickHouse store. It is safe for concurrent use; writes of one
// account must come from one projector at a time.
type Store struct {
	conn     chdriver.Conn
	database string
	opts     Options

	mu      sync.Mutex
	version uint64 // the last version written or found

	// afterCommitted, when set (by tests), runs in readProjections between
	// reading the committed version and reading its rows.
	afterCommitted func()
}

var _ store.Store = (*Store)(nil)

// databaseName is what New accepts as a database name (it is used unquoted
// in DDL).
var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New connects to the server of dsn (clickhouse://user:password@host:port/
// database?options, the driver's DSN), creates the database if it does not
// exist, applies missing migrations, and returns the store.
func New(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts.setDefaults()
	chOpts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDSN, err)
	}
	if chOpts.Protocol != ch.Native {
		return nil, fmt.Errorf("%w: the store speaks the native protocol (clickhouse://host:9000/db)", ErrInvalidDSN)
	}
	database := chOpts.Auth.Database
	if database == "" {
		database = "default"
	}
	if !databaseName.MatchString(database) {
		return nil, fmt.Errorf("%w: database name %q (letters, digits, '_')", ErrInvalidDSN, database)
	}
	if opts.TLS != nil {
		chOpts.TLS = opts.TLS
	}
	chOpts.DialTimeout = opts.DialTimeout
	chOpts.ReadTimeout = opts.CallTimeout
	chOpts.MaxOpenConns = opts.MaxOpenConns
	chOpts.MaxIdleConns = opts.MaxOpenConns

	if database != "default" {
		// The database must exist before a connection can name it. Create
		// it only when missing: a user without CREATE rights can still use
		// a database made for it.
		bootOpts := *chOpts
		bootOpts.Auth.Database = ""
		boot, err := ch.Open(&bootOpts)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: open %v: %w", chOpts.Addr, err)
		}
		s := &Store{conn: boot, opts: opts}
		var exists uint64
		err = s.do(ctx, "look up database "+database, func(ctx context.Context) error {
			return boot.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", database).Scan(&exists)
		})
		if err == nil && exists == 0 {
			err = s.exec(ctx, "create database "+database, "CREATE DATABASE IF NOT EXISTS "+database)
		}
		boot.Close()
		if err != nil {
			return nil, err
		}
	}
	conn, err := ch.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %v: %w", chOpts.Addr, err)
	}
	s := &Store{conn: conn, database: database, opts: opts}
	if err := s.migrate(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	if err := s.loadVersion(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Database returns the name of the store's database.
func (s *Store) Database() string { return s.database }

// Ping checks that the server answers (one attempt, with the call
// deadline): the projector's readiness check.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: ping: %w", err)
	}
	return nil
}

// Close implements [store.Store].
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: close: %w", err)
	}
	return nil
}

// nextVersion returns a version greater than every version written before:
// at in nanoseconds when it is, the last one plus one otherwise.
func (s *Store) nextVersion(at time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(0)
	if !at.IsZero() && at.UnixNano() > 0 {
		v = uint64(at.UnixNano())
	}
	if v <= s.version {
		v = s.version + 1
	}
	s.version = v
	return v
}

// loadVersion seeds the version counter from what the tables hold, so that a
// new Store's writes supersede an old one's even if the clock went back.
func (s *Store) loadVersion(ctx context.Context) error {
	for _, table := range []string{"movements", "import_chunks", "rejects", "import_sessions", "projection_commits"} {
		var v uint64
		err := s.do(ctx, "read versions", func(ctx context.Context) error {
			return s.conn.QueryRow(ctx, "SELECT max(version) FROM "+table).Scan(&v)
		})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.version = max(s.version, v)
		s.mu.Unlock()
	}
	return nil
}

// exec runs one statement that returns no rows, with retries.
func (s *Store) exec(ctx context.Context, what, query string, args ...any) error {
	return s.do(ctx, what, func(ctx context.Context) error {
		return s.conn.Exec(ctx, query, args...)
	})
}

// do runs fn with a deadline of CallTimeout, retrying transient failures
// with exponential backoff up to MaxAttempts times. The error it returns is
// wrapped once with what and the attempt count.
func (s *Store) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	backoff := s.opts.Backoff
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("clickhouse: %s: %w", what, err)
		}
		callCtx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
		err := fn(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("clickhouse: %s: %w (%w)", what, ctx.Err(), err)
		}
		if !Transient(err) || attempt >= s.opts.MaxAttempts {
			if attempt > 1 {
				return fmt.Errorf("clickhouse: %s (attempt %d): %w", what, attempt, err)
			}
			return fmt.Errorf("clickhouse: %s: %w", what, err)
		}
		s.opts.Logger.WarnContext(ctx, "clickhouse call failed, retrying",
			"op", what, "attempt", attempt, "backoff", backoff, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("clickhouse: %s: %w (after %w)", what, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// transientCodes are the server exception codes worth retrying: the server
// is busy, short of resources or between replicas, not wrong about the query.
var transientCodes = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	164: true, // READONLY (a replica in read-only mode)
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	279: true, // ALL_CONNECTION_TRIES_FAILED
	285: true, // TOO_FEW_LIVE_REPLICAS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	425: true, // SYSTEM_ERROR
	473: true, // DEADLOCK_AVOIDED
	999: true, // KEEPER_EXCEPTION
}

// Transient reports whether err is worth retrying: a network failure, a
// timed-out attempt, or a server exception that says the server is busy or
// short of resources. Query errors (syntax, unknown table, bad data) and a
// cancelled context are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return transientCodes[ex.Code]
	}
	if errors.Is(err, ErrOutOfRange) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, ch.ErrAcquireConnTimeout) ||
		errors.Is(err, ch.ErrConnectionClosed) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
