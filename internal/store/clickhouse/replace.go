package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foliostream/foliostream/events"
)

// keyedTables are the tables of one row per key that [Store.ReplaceAccountFrom]
// copies row for row, in the order [Store.WriteBatch] writes them (a chunk
// record only after its movements, a session record only after its chunks).
var keyedTables = []string{"movements", "rejects", "import_chunks", "import_sessions"}

// projectionTables hold the versioned projections.
var projectionTables = []string{"broker_snapshots", "ticker_snapshots", "operations"}

// mutationPoll is the first wait between two looks at system.mutations
// while [Store.ReplaceAccountFrom] waits for its deletes; it doubles up to a
// second.
const mutationPoll = 20 * time.Millisecond

// ReplaceAccountFrom replaces every row of account in s (movements, session
// and chunk records, rejects, projections) by the account's rows in src, a
// store on another database of the same server: the rebuild of an account
// by `projector replay --clickhouse`, where src is the database the replay
// was written to. The copy is done by the server (INSERT … SELECT); at is
// the commit time of the copied projections.
//
// The copied rows get one new version, above every version s holds, so they
// supersede the rows of the same keys at once (reads use FINAL). The
// projections are copied under that version and then committed, as
// [Store.WriteProjections] does: a reader sees the old projections or the
// new ones, never a mix. Last, the account's rows of older versions are
// deleted (ALTER TABLE … DELETE, a mutation), which removes the rows whose
// keys src does not have; ReplaceAccountFrom returns once the server has
// finished those mutations. An account src does not hold at all is removed
// from s. Other accounts are not touched.
//
// Nothing else may write the account meanwhile: stop the projector (or the
// partition consuming the account) first.
func (s *Store) ReplaceAccountFrom(ctx context.Context, src *Store, account string, at time.Time) error {
	if err := events.ValidateAccount(account); err != nil {
		return fmt.Errorf("clickhouse: replace account: %w", err)
	}
	if src.database == s.database {
		return fmt.Errorf("clickhouse: replace account %s: source and target are both database %s", account, s.database)
	}
	if err := s.replaceAccountFrom(ctx, src, account, at); err != nil {
		return fmt.Errorf("replace account %s from database %s: %w", account, src.database, err)
	}
	return nil
}

func (s *Store) replaceAccountFrom(ctx context.Context, src *Store, account string, at time.Time) error {
	// Versions written by other processes since New must be superseded too.
	if err := s.loadVersion(ctx); err != nil {
		return err
	}
	previous, _, err := s.committed(ctx, account)
	if err != nil {
		return err
	}
	srcVersion, counts, err := src.committed(ctx, account)
	if err != nil {
		return err
	}
	version := s.nextVersion(at)
	acct := quoteString(account)
	for _, table := range keyedTables {
		err := s.copyRows(ctx, src.database, table, version, "account = "+acct)
		if err != nil {
			return err
		}
	}
	if srcVersion > 0 {
		for i, table := range projectionTables {
			if counts[i] == 0 {
				continue
			}
			where := fmt.Sprintf("account = %s AND version = %d", acct, srcVersion)
			if err := s.copyRows(ctx, src.database, table, version, where); err != nil {
				return err
			}
		}
		// The commit: from here on readers see the copied projections.
		err := s.insert(ctx, "projection_commits", []column{
			{"account", []string{account}}, {"version", []uint64{version}},
			{"broker_rows", []uint32{counts[0]}}, {"ticker_rows", []uint32{counts[1]}},
			{"operation_rows", []uint32{counts[2]}}, {"committed_at", []*time.Time{nullTime(at)}},
		})
		if err != nil {
			return err
		}
	}
	// The rows src does not have, and the superseded ones.
	tables := keyedTables
	if srcVersion == 0 {
		tables = append(tables[:len(tables):len(tables)], "projection_commits")
	}
	for _, table := range tables {
		q := fmt.Sprintf("ALTER TABLE %s DELETE WHERE account = %s AND version < %d", table, acct, version)
		if err := s.exec(ctx, "delete older rows of "+table, q); err != nil {
			return err
		}
	}
	for _, table := range tables {
		if err := s.waitMutations(ctx, table); err != nil {
			return err
		}
	}
	if srcVersion == 0 {
		return s.dropVersionsBefore(ctx, account, version)
	}
	return s.dropVersionsBefore(ctx, account, previous)
}

// copyRows copies the rows of src.table matching where into table, every
// column as it is but version, which is set to version. INSERT … SELECT
// matches columns by position.
func (s *Store) copyRows(ctx context.Context, src, table string, version uint64, where string) error {
	cols, err := s.columnNames(ctx, table)
	if err != nil {
		return err
	}
	exprs := make([]string, len(cols))
	found := false
	for i, c := range cols {
		exprs[i] = c
		if c == "version" {
			// No alias: it would shadow the column in where.
			exprs[i] = fmt.Sprintf("toUInt64(%d)", version)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("copy %s: the table has no version column", table)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s.%s FINAL WHERE %s",
		table, strings.Join(cols, ", "), strings.Join(exprs, ", "), src, table, where)
	return s.exec(ctx, "copy "+table+" from "+src, q)
}

// columnNames lists the columns of one of s's tables (in no particular
// order: 18.16 has no system.columns.position).
func (s *Store) columnNames(ctx context.Context, table string) ([]string, error) {
	var cols []string
	err := s.query(ctx, "columns of "+table, func() { cols = cols[:0] }, func(rows chdriver.Rows) error {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		cols = append(cols, c)
		return nil
	}, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.database, table)
	if err == nil && len(cols) == 0 {
		err = fmt.Errorf("table %s.%s has no columns", s.database, table)
	}
	return cols, err
}

// waitMutations waits until the server has finished every mutation of one
// of s's tables (ClickHouse 18.16 has no mutations_sync setting), polling
// system.mutations until ctx ends.
func (s *Store) waitMutations(ctx context.Context, table string) error {
	wait := mutationPoll
	for {
		var pending uint64
		err := s.do(ctx, "mutations of "+table, func(ctx context.Context) error {
			return s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0",
				s.database, table).Scan(&pending)
		})
		if err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("clickhouse: waiting for %d mutations of %s: %w", pending, table, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// DropDatabase drops the database name (if it exists) on s's server: the
// scratch database of a replay. It refuses s's own database.
func (s *Store) DropDatabase(ctx context.Context, name string) error {
	if !databaseName.MatchString(name) {
		return fmt.Errorf("%w: database name %q (letters, digits, '_')", ErrInvalidDSN, name)
	}
	if name == s.database {
		return fmt.Errorf("clickhouse: drop database %s: it is the store's own", name)
	}
	return s.exec(ctx, "drop database "+name, "DROP DATABASE IF EXISTS "+name)
}
