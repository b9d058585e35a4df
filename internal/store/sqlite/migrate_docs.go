package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foliostream/foliostream/events"
)

// migrateDocs is the Go step of the migration to version 5: it copies every
// row of version 4's movements table into movement_docs, its fields as
// the document the store writes (formatter.movementArgs), in key order.
// The rows are read as ScanMovements read them at version 4
// (movementScanner: the columns of every field).
func migrateDocs(ctx context.Context, tx *sql.Tx) error {
	sc := newMovementScanner(0)
	rows, err := tx.QueryContext(ctx, `SELECT `+sc.names+`, session FROM movements ORDER BY account, utc, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	ins := newBulkInsert(ctx, tx, "movement_docs", movementInsertColumns, "")
	defer ins.close()
	f := newFormatter()
	width := sc.width()
	row := make([]any, width+1)
	dest := make([]any, len(row))
	for i := range row {
		dest[i] = &row[i]
	}
	var m struct{ m events.Movement }
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := sc.decode(row[:width], &m.m); err != nil {
			return err
		}
		session, err := str(row[width])
		if err != nil {
			return fmt.Errorf("movement %s: column session: %w", m.m.ID, err)
		}
		// The utc column as it is (utcOf recomputes the same value from the
		// time and offset, unless the table was changed by hand).
		args := f.movementArgs(&m.m, sc.utc, session)
		if err := ins.add(m.m.ID, args...); err != nil {
			return fmt.Errorf("movement %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := ins.flush(); err != nil {
		return fmt.Errorf("movement %w", err)
	}
	return nil
}
