package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/foliostream/foliostream/internal/store"
)

// A store written at schema version 1 (movements keyed by ID) keeps every
// movement when it is opened by this build and migrated to the clustered
// table.
func TestMigrateMovementsClustered(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{schemaVersionTable, migrations[0].sql,
		`INSERT INTO schema_version VALUES (1, 'initial schema', '2025-01-01T00:00:00Z')`,
		`INSERT INTO movements (id, account, broker, kind, time, seq, part, line, currency, amount, session)
		 VALUES ('b:cash:0', 'acct', 'tastytrade', 'cash', '2025-08-26T10:00:00', 0, 0, 3, 'USD', '5', 's1'),
		        ('a:cash:0', 'acct', 'tastytrade', 'cash', '2025-08-25T10:00:00', 0, 0, 2, 'USD', '100.1', 's1')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	ms, err := store.AccountMovements(t.Context(), s, "acct")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.ID+"="+m.Amount.String())
	}
	if len(got) != 2 || got[0] != "a:cash:0=100.1" || got[1] != "b:cash:0=5" {
		t.Errorf("movements after migration = %v, want [a:cash:0=100.1 b:cash:0=5]", got)
	}
	// The upsert by ID still finds the migrated row: no duplicate.
	if _, err := s.w.Exec(insertMovement, "a:cash:0", "acct", "tastytrade", "cash", "2025-08-25T10:00:00", nil, 0, 0, 1,
		"USD", nil, nil, nil, nil, nil, "100.1", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "s0"); err != nil {
		t.Fatal(err)
	}
	var n int
	var session string
	if err := s.w.QueryRow(`SELECT count(*), min(session) FROM movements WHERE id = 'a:cash:0'`).Scan(&n, &session); err != nil {
		t.Fatal(err)
	}
	if n != 1 || session != "s0" {
		t.Errorf("after the upsert: %d rows, session %q; want 1 row from s0 (the smaller session)", n, session)
	}
}
