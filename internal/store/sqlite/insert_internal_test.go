package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestBulkInsertNamesFailingRow: rows go in statements of 8 rows and the
// rest in one statement at flush; a row the table refuses makes the
// inserter fail with a name for it: the exact row at flush (retried one by
// one, named after the first pending row), the statement's first row and
// its size in a full statement. When nothing fails, every row is written.
func TestBulkInsertNamesFailingRow(t *testing.T) {
	for _, tc := range []struct {
		rows, bad int // bad < 0: none
		want      string
	}{
		{rows: 300, bad: -1},
		{rows: 300, bad: 298, want: "row 2 after r296: "},                // in flush's statement (rows 296-299)
		{rows: 300, bad: 10, want: "r8 or one of the 7 rows after it: "}, // in a full statement (rows 8-15)
		{rows: 5, bad: 4, want: "row 4 after r0: "},
		{rows: 5, bad: 0, want: "r0: "},
		{rows: 1, bad: 0, want: "r0: "},
	} {
		t.Run(fmt.Sprintf("%d-rows-bad-%d", tc.rows, tc.bad), func(t *testing.T) {
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "b.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL CHECK (v <> 'bad'))`); err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			ins := newBulkInsert(t.Context(), tx, "t", "k, v", "").withRows(8)
			defer ins.close()
			var got error
			for i := range tc.rows {
				v := "ok"
				if i == tc.bad {
					v = "bad"
				}
				if err := ins.add(fmt.Sprintf("r%d", i), i, v); err != nil && got == nil {
					got = err
				}
			}
			if err := ins.flush(); err != nil && got == nil {
				got = err
			}
			if tc.bad < 0 {
				if got != nil {
					t.Fatal(got)
				}
				var n int
				if err := tx.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != tc.rows {
					t.Fatalf("%d rows written (%v), want %d", n, err, tc.rows)
				}
				return
			}
			if got == nil || !strings.HasPrefix(got.Error(), tc.want) || !strings.Contains(got.Error(), "CHECK") {
				t.Fatalf("error %v, want it to start with %q and name the CHECK", got, tc.want)
			}
		})
	}
}
