package sqlite

import (
	"bytes"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// createAt writes a store file at schema version v (the migrations up to
// it, as an older build left it) and runs the extra statements.
func createAt(t *testing.T, v int, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	qs := []string{schemaVersionTable}
	for i := range v {
		qs = append(qs, migrations[i].sql,
			fmt.Sprintf(`INSERT INTO schema_version VALUES (%d, '%s', '2025-01-01T00:00:00Z')`, i+1, migrations[i].description))
	}
	for _, q := range append(qs, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

// A store written at schema version 1 (movements keyed by ID) keeps every
// movement when it is opened by this build and migrated, and the upsert
// still finds a migrated row.
func TestMigrateMovementsClustered(t *testing.T) {
	path := createAt(t, 1,
		`INSERT INTO movements (id, account, broker, kind, time, seq, part, line, currency, amount, session)
		 VALUES ('b:cash:0', 'acct', 'tastytrade', 'cash', '2025-08-26T10:00:00', 0, 0, 3, 'USD', '5', 's1'),
		        ('a:cash:0', 'acct', 'tastytrade', 'cash', '2025-08-25T10:00:00', 0, 0, 2, 'USD', '100.1', 's1')`)
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
	// The upsert still finds the migrated row: no duplicate, and the row of
	// the smaller session wins.
	m := ms[0]
	m.Line = 1
	err = s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{{Session: "s0", Account: "acct",
		ID: "2025-W35.1", Ordinal: 1, Total: 1, Week: "2025-W35", Part: 1, Movements: []events.Movement{m}}}})
	if err != nil {
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

// The migration to version 3 computes the utc column in SQL exactly as
// utcOf computes it for new rows, for every offset a parser writes and for
// text no parser writes.
func TestMigrateUTC(t *testing.T) {
	offsets := []string{"", "Z", "+0000", "+0100", "-0400", "-0430", "+0545", "+1400", "-1200", "+01:00",
		"-05:30", "+9999", "+1", "+01", "+010", "0100", "x0100", "+01000", "+ab00", "+01:0", "+01-00",
		"-00:00", "+0\u00e90", "\u00b10100", "+\u0661\u0660\u0660"}
	rnd := rand.New(rand.NewPCG(7, 7))
	const alphabet = "+-:0123456789Z "
	for range 300 {
		b := make([]byte, rnd.IntN(8))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		offsets = append(offsets, string(b))
	}
	stmts := []string{}
	var want []int64
	for i, o := range offsets {
		wall := events.WallTimeOf(time.Date(1970+i%120, time.Month(1+i%12), 1+i%28, i%24, i%60, i%60, 0, time.UTC))
		m := events.Movement{Time: wall, Offset: o}
		want = append(want, utcOf(&m))
		offset := "NULL"
		if o != "" {
			offset = "'" + o + "'"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO movements (id, account, broker, kind, time, utc_offset, seq, part,
			line, currency, session) VALUES ('m%03d', 'acct', 'tastytrade', 'cash', '%s', %s, 0, 0, %d, 'USD', 's1')`,
			i, wall, offset, i+2))
	}
	path := createAt(t, 2, stmts...)
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, o := range offsets {
		var got int64
		if err := s.w.QueryRow(`SELECT utc FROM movements WHERE id = ?`, fmt.Sprintf("m%03d", i)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want[i] {
			t.Errorf("offset %q: migrated utc %d, utcOf %d", o, got, want[i])
		}
	}
}

func TestOffsetSeconds(t *testing.T) {
	for _, tt := range []struct {
		offset string
		want   int64
	}{
		{"", 0}, {"Z", 0}, {"+0100", 3600}, {"-0430", -16200}, {"+05:45", 20700}, {"-00:30", -1800},
		{"+1", 0}, {"0100", 0}, {"+01:0", 0}, {"+0a00", 0}, {"+01000", 0},
	} {
		if got := offsetSeconds(tt.offset); got != tt.want {
			t.Errorf("offsetSeconds(%q) = %d, want %d", tt.offset, got, tt.want)
		}
	}
}

// A store written at schema version 3 (movements by wall time, a unique
// index by instant) keeps every movement when it is migrated to one B-tree
// by instant: the scan delivers them in events.Compare order, the offsets
// of each account are recorded, and the upsert still finds a migrated row.
func TestMigrateKeyByInstant(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	var all []events.Movement
	stmts := []string{}
	for _, acct := range []struct {
		name    string
		offsets []string
	}{{"uk", []string{"+0100", "+0000"}}, {"ny", []string{"-0400", "-05:00"}}, {"naive", []string{""}}} {
		ms := randomHistory(rnd, acct.name, 300, acct.offsets)
		for i := range ms {
			m := &ms[i]
			offset := "NULL"
			if m.Offset != "" {
				offset = "'" + m.Offset + "'"
			}
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO movements (id, account, broker, kind, time, utc_offset, seq,
				part, line, currency, ticker, session, utc) VALUES ('%s', '%s', 'tastytrade', '%s', '%s', %s, %d, %d, %d,
				'USD', 'T', 's1', %d)`, m.ID, m.Account, m.Kind, m.Time, offset, m.Seq, m.Part, m.Line, utcOf(m)))
		}
		all = append(all, ms...)
	}
	var logged bytes.Buffer
	s, err := OpenOptions(t.Context(), createAt(t, 3, stmts...), Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	// A migration of an existing store can take a while: it is announced.
	for _, want := range []string{`msg="migrating the store's schema"`, "from=3 to=4", `msg="store schema migrated"`, "version=4"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log does not say %s:\n%s", want, logged.String())
		}
	}
	var n int
	if err := s.w.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'movements'
		AND name NOT LIKE 'sqlite_autoindex%'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("indexes on movements after the migration: %d, %v; want 1 (the partial index of adjustments)", n, err)
	}
	for _, acct := range []string{"uk", "ny", "naive"} {
		var want []events.Movement
		lo, hi := int64(1<<62), int64(-1<<62)
		for _, m := range all {
			if m.Account == acct {
				want = append(want, m)
				lo, hi = min(lo, offsetSeconds(m.Offset)), max(hi, offsetSeconds(m.Offset))
			}
		}
		slices.SortFunc(want, func(a, b events.Movement) int { return events.Compare(&a, &b) })
		var wantIDs []string
		for _, m := range want {
			wantIDs = append(wantIDs, m.ID)
		}
		if got := scanIDs(t, s, acct, projections.Query{}); !slices.Equal(got, wantIDs) {
			t.Errorf("%s: %d movements after the migration, want %d, or out of order", acct, len(got), len(wantIDs))
		}
		var gotLo, gotHi int64
		if err := s.r.QueryRow(`SELECT min_offset, max_offset FROM movement_offsets WHERE account = ?`, acct).Scan(&gotLo, &gotHi); err != nil {
			t.Fatal(err)
		}
		if gotLo != lo || gotHi != hi {
			t.Errorf("%s: offsets [%d, %d] after the migration, want [%d, %d]", acct, gotLo, gotHi, lo, hi)
		}
	}
	// The upsert finds a migrated row: no duplicate, and the row of the
	// smaller session wins.
	m := all[0]
	m.Line = 1
	writeMovements(t, s, "s0", []events.Movement{m})
	var session string
	if err := s.w.QueryRow(`SELECT count(*), min(session) FROM movements WHERE id = ?`, m.ID).Scan(&n, &session); err != nil {
		t.Fatal(err)
	}
	if n != 1 || session != "s0" {
		t.Errorf("after the upsert: %d rows, session %q; want 1 row from s0 (the smaller session)", n, session)
	}
}
