// Package clickhouse is the analytics store of the projector: it implements
// [store.Store] on ClickHouse through github.com/ClickHouse/clickhouse-go/v2
// (native protocol) and passes the conformance suite of
// internal/store/storetest, like the embedded SQLite store.
//
// # Server versions
//
// The SQL runs on ClickHouse 18.16 (what Debian ships and CI tests against)
// and on current releases (DESIGN.md §7): batch inserts always name their
// columns and go through the driver's batch API (never INSERT … VALUES
// through Exec), strings are plain String, timestamps are DateTime (no
// DateTime64), amounts are Decimal(38, 10), and the client sends no
// allow_experimental_* setting. Every call carries a deadline
// ([Options.CallTimeout]); transient failures (network, timeouts, too many
// parts, memory limits) are retried with exponential backoff
// ([Options.MaxAttempts]); the driver closes a connection whose batch failed,
// so a retry always starts on a fresh one.
//
// # Schema
//
// Every table is a ReplacingMergeTree keyed for idempotency, so redelivered
// chunks, replays and re-imports leave one row per key; every read that must
// see one row per key uses FINAL. Versioned migrations (table
// schema_migrations) are applied by [New]; each statement is idempotent.
//
//	movements          one row per (account, date, id); partitioned by year
//	import_sessions    one row per session, the latest record wins (version)
//	import_chunks      one row per (session, chunk)
//	rejects            one row per (session, line, column, reason)
//	broker_snapshots   versioned projections: one row per (account, version,
//	ticker_snapshots   currency, date), (account, version, ticker, currency,
//	operations         date) and (account, version, seq); partitioned by
//	                   (account, version)
//	projection_commits one row per complete projection version of an account
//
// and three views, broker_snapshots_current, ticker_snapshots_current and
// operations_current, that show each account's latest complete version.
// docs/queries.md has the analytics queries built on them.
//
// # Atomic projection replacement
//
// ClickHouse has no multi-table transactions, so [Store.WriteProjections]
// writes a new version: it inserts the account's rows under a fresh version
// number as the computation emits them (at most
// [Options.ProjectionBatchRows] rows of a table per INSERT, so memory stays
// flat however many rows there are; the last rows of the three tables are
// inserted at the same time), then commits that version by inserting one row
// into projection_commits with the number of rows of each table, marks the
// sessions completed, and finally drops the partitions of older versions but
// the one it superseded (which readers may still be reading). Readers
// ([Store.Projections] and the *_current views) only read the latest
// committed version, so they see the old projections or the new
// ones, never a mix, and never a version still being written. A write that
// fails before its commit (the computation's error, a cancelled context, a
// failed INSERT) drops its partial version. [Store.Projections] reads the
// three tables in three queries and checks the row counts against the
// commit row: if an old version was dropped under it (two replacements
// during one read), it reads again.
//
// Operations are keyed by seq, their position in the order the computation
// emitted them (unique in a version), and read in the order of
// [projections.Result]: (ticker, open_date, currency, seq).
//
// # Reading an account's history
//
// [Store.ScanMovements] never asks the server for a whole account at once:
// on ClickHouse 18.16, FINAL over a long history (it merges the blocks of
// every part in one stream) or an ORDER BY that is not the sorting key
// exceeds a per-query memory limit of 2 GB at about a million movements. It
// reads the number of rows per date (small), then windows of consecutive
// dates of at most [Options.ScanWindowRows] rows each with FINAL, and sorts
// each window in events.Compare order in Go: a movement's date is the day of
// its time, so windows of whole dates follow each other in that order.
// Two goroutines of the scan read the next two windows, each on its own
// connection, while the caller consumes the current one, so that the
// server's FINAL merge, the driver's decoding and the caller's work overlap
// (this halved the scans of phase 2 at a million movements; the default
// window went from 20,000 to 10,000 rows to keep the memory of the three
// windows near that of the one it replaced). Memory on both sides is
// bounded by a few windows, whatever the history.
//
// A scan reads only what its [projections.Query] asks for: the kinds are a
// condition of both queries (and a window of a scan of some kinds lists the
// dates that hold them rather than their range, so a few strike adjustments
// over years read those days only), and the windows select only the columns
// of the fields asked for, plus id, kind, time, seq and part (and the exact
// column when a decimal is asked for). The table is columnar, so a column not
// selected is neither read from disk, decompressed, merged by FINAL, sent
// nor decoded. The account (the query's) and a single kind asked for are
// not read either. Phase 2's close linking reads the option contracts with
// 6 of the 22 other fields.
//
// # Exact decimals
//
// The projections carry quotients with up to 28 fractional digits, and
// values can exceed what any fixed-scale type holds. Each decimal field is a
// Decimal(38, 10) column: every amount a statement writes is exact in it
// (brokers write at most 8 fractional digits), quotients are rounded half
// away from zero to 10 digits, and the range is ±10^28. When a value does not
// fit exactly, its exact decimal string is also kept in the row's exact
// column, a JSON object of field name to decimal string (empty for most
// rows); the store reads that back, so every digit survives a round trip and
// `projector snapshots` prints the same JSON as with SQLite. A value of 10^28
// or more is refused ([ErrOutOfRange]).
//
// # Batches
//
// [Store.WriteBatch] writes all movements of all chunks of a batch in one
// INSERT (split in blocks of at most [Options.MaxInsertRows] rows), then the
// rejects, then the chunk records, then the session records. ClickHouse has
// no transaction across tables; this order is the store's strongest
// equivalent: a chunk record exists only once its movements are stored, and a
// session record only once its chunks are. Every write is idempotent, so the
// projector retries a failed batch whole.
//
// Rows carry a version: the write's time ([store.Batch.At]) in nanoseconds,
// raised when needed to stay above every version the store has written or
// found at start-up, so the latest record of a session wins even with a
// frozen clock. When two sessions carry the same movement, the row written
// last is kept (its session, chunk and line; every other field is the same).
// One projector writes an account at a time.
//
// # Tests
//
// The tests run against a real server: .ci/run starts one (.ci/clickhouse.sh,
// config in deploy/clickhouse/ci/) and sets FOLIO_CLICKHOUSE_TEST_DSN; without
// it they skip with a loud message. Package chtest gives any test a database
// of its own on that server.
package clickhouse
