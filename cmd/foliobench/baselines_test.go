package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/foliostream/foliostream/internal/store/sqlite"
)

// TestRawTableIsTheStores: the bare SQLite baseline writes the table the
// store writes (same columns, same key, same indexes), or the ratio of the
// store to the bare driver compares different work.
func TestRawTableIsTheStores(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, "raw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), rawMovementsDDL); err != nil {
		t.Fatal(err)
	}
	store, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, want := describe(t, raw), describe(t, store)
	if !slices.Equal(got, want) {
		t.Errorf("the baseline's movement_docs table differs from the store's:\nbaseline %q\nstore    %q", got, want)
	}
}

// describe lists the movement_docs table's columns (name, type, not null,
// position in the primary key) and its indexes with their columns and
// conditions.
func describe(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	rows, err := db.QueryContext(t.Context(), `SELECT name, type, "notnull", pk FROM pragma_table_info('movement_docs')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		var notNull, pk int
		if err := rows.Scan(&name, &typ, &notNull, &pk); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("column %s %s notnull=%d pk=%d", name, typ, notNull, pk))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	idx, err := db.QueryContext(t.Context(), `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'movement_docs' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	for idx.Next() {
		var s string
		if err := idx.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := idx.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
