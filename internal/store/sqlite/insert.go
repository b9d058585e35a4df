package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// rowsPerInsert is how many rows one multi-row INSERT carries by default
// (the projection tables). A statement costs the driver a fixed overhead
// (database/sql's locks and argument checks, a goroutine watching the
// context, a VDBE reset) that one row does not amortise; 64 rows of up to
// 30 columns do, and keep the statement far below SQLite's limit of 32,766
// bound parameters (64 × 30 = 1,920).
const rowsPerInsert = 64

// movementRowsPerInsert is the rows of one INSERT into movement_docs: its
// rows are 7 values, so 1,024 of them are 7,168 parameters (SQLite allows
// 32,766). They write with about 10 % less CPU per movement than 64 rows,
// 4-7 % less than 256, and 4-8 % less than 2,048 or 4,096
// (BenchmarkWriteBatch, BENCHMARKS.md).
const movementRowsPerInsert = 1024

// insertQuery returns an INSERT of rows rows into table's columns (a
// comma-separated list), followed by tail (an ON CONFLICT clause or "").
func insertQuery(table, columns string, rows int, tail string) string {
	n := strings.Count(columns, ",") + 1
	row := "(" + strings.Repeat("?,", n-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	if tail != "" {
		b.WriteString(" " + tail)
	}
	return b.String()
}

// bulkInsert writes the rows of one table in a transaction: rowsPerInsert
// rows per statement (or what withRows sets), the rest in one statement at
// flush, one by one if that fails, to name the row that did. The values are
// converted when they are added, so the caller may reuse what it passes.
// Its statements are prepared on first use and closed by close.
type bulkInsert struct {
	ctx   context.Context
	tx    *sql.Tx
	query func(rows int) string
	cols  int
	per   int // rows per statement

	many, one *sql.Stmt
	args      []any  // values of the pending rows
	rows      int    // pending rows
	first     string // names the first pending row in errors, if not ""
	written   int    // rows written before the pending ones
	err       error  // the first failure: every later call returns it
}

func newBulkInsert(ctx context.Context, tx *sql.Tx, table, columns, tail string) *bulkInsert {
	return &bulkInsert{
		ctx: ctx, tx: tx, cols: strings.Count(columns, ",") + 1, per: rowsPerInsert,
		query: func(rows int) string { return insertQuery(table, columns, rows, tail) },
	}
}

// withRows makes b write n rows per statement; call it before add.
func (b *bulkInsert) withRows(n int) *bulkInsert {
	b.per = n
	return b
}

// add queues one row; name, if not "", identifies it in an error (rows are
// numbered otherwise). A full statement's rows are written at once.
func (b *bulkInsert) add(name string, values ...any) error {
	if b.err != nil {
		return b.err
	}
	if len(values) != b.cols {
		return b.fail(fmt.Errorf("%d values for %d columns", len(values), b.cols))
	}
	if b.rows == 0 {
		b.first = name
	}
	b.args = append(b.args, values...)
	if b.rows++; b.rows < b.per {
		return nil
	}
	if b.many == nil {
		stmt, err := b.tx.PrepareContext(b.ctx, b.query(b.per))
		if err != nil {
			return b.fail(err)
		}
		b.many = stmt
	}
	if _, err := b.many.ExecContext(b.ctx, b.args...); err != nil {
		return b.fail(fmt.Errorf("%s: %w", b.name(0, b.rows), err))
	}
	b.reset()
	return nil
}

// fail makes err the inserter's error and drops the pending rows.
func (b *bulkInsert) fail(err error) error {
	b.err = err
	b.reset()
	return err
}

// name names pending rows i to j-1 in an error.
func (b *bulkInsert) name(i, j int) string {
	switch {
	case b.first == "" && j-i == 1:
		return fmt.Sprintf("row %d", b.written+i+1)
	case b.first == "":
		return fmt.Sprintf("rows %d to %d", b.written+i+1, b.written+j)
	case i == 0 && j == 1:
		return b.first
	case i == 0:
		return fmt.Sprintf("%s or one of the %d rows after it", b.first, j-1)
	default:
		return fmt.Sprintf("row %d after %s", i, b.first)
	}
}

// flush writes the pending rows: in one statement, or, if that fails (the
// statement changes nothing then), one by one, so that the error names the
// row.
func (b *bulkInsert) flush() error {
	if b.err != nil || b.rows == 0 {
		return b.err
	}
	if b.rows > 1 {
		stmt, err := b.tx.PrepareContext(b.ctx, b.query(b.rows))
		if err != nil {
			return b.fail(err)
		}
		_, err = stmt.ExecContext(b.ctx, b.args...)
		stmt.Close()
		if err == nil {
			b.reset()
			return nil
		}
		if b.ctx.Err() != nil {
			return b.fail(err)
		}
	}
	if b.one == nil {
		stmt, err := b.tx.PrepareContext(b.ctx, b.query(1))
		if err != nil {
			return b.fail(err)
		}
		b.one = stmt
	}
	for i := range b.rows {
		if _, err := b.one.ExecContext(b.ctx, b.args[i*b.cols:(i+1)*b.cols]...); err != nil {
			return b.fail(fmt.Errorf("%s: %w", b.name(i, i+1), err))
		}
	}
	b.reset()
	return nil
}

func (b *bulkInsert) reset() {
	clear(b.args) // drop references to the values
	b.written += b.rows
	b.args, b.rows, b.first = b.args[:0], 0, ""
}

// close closes the prepared statements.
func (b *bulkInsert) close() {
	for _, stmt := range []*sql.Stmt{b.many, b.one} {
		if stmt != nil {
			stmt.Close()
		}
	}
}
