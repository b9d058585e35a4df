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
	"github.com/shopspring/decimal"
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
	if err := s.w.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'movement_docs'
		AND name NOT LIKE 'sqlite_autoindex%'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("indexes on movement_docs after the migrations: %d, %v; want 1 (the partial index of adjustments)", n, err)
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

// v4Columns and v4Args are how version 4's store wrote a movement into its
// movements table: the columns and the values, kept here to write a store
// as that build did.
const v4Columns = `id, account, broker, kind, time, utc_offset, seq, part, line, currency, ticker,
	cash_type, code, quantity, price, amount, commissions, fees, option_type, strike, new_strike,
	expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes, session, utc`

func v4Args(f *formatter, m *events.Movement, session string) []any {
	return []any{m.ID, m.Account, m.Broker, string(m.Kind), m.Time.String(), text(m.Offset), m.Seq, m.Part, m.Line,
		m.Currency, text(m.Ticker), text(string(m.CashType)), text(string(m.Code)),
		f.nullDecimal(m.Quantity), f.nullDecimal(m.Price), f.nullDecimal(m.Amount), f.nullDecimal(m.Commissions),
		f.nullDecimal(m.Fees), text(string(m.OptionType)), f.nullDecimal(m.Strike), f.nullDecimal(m.NewStrike),
		nullDate(m.Expiration), f.nullDecimal(m.Premium), f.nullDecimal(m.NetPremium),
		f.nullDecimal(m.Multiplier), text(m.FromCurrency), f.nullDecimal(m.AmountChanged), text(m.Notes),
		session, utcOf(m)}
}

// richHistory is randomHistory with every field drawn from values a
// statement has and a few it hardly has (long quotients, text to escape,
// zeros, the zero time).
func richHistory(rnd *rand.Rand, account string, n int) []events.Movement {
	ms := randomHistory(rnd, account, n, []string{"+0100", "+0000", "", "-05:00", "Z"})
	decs := []string{"0", "1", "-1", "100", "13.33", "-0.02", "0.3333333333333333333333333333",
		"15.626666666666666666666666667", "1e-30", "123456789012345678901234567890", "0.5"}
	strs := []string{"", "MPW", "<&>", "é \"quoted\" \\ back", "Δ -0.30, impact: $96.00", "\u2028", "tab\there"}
	pick := func(s []string) string { return s[rnd.IntN(len(s))] }
	dec := func() decimal.Decimal { return decimal.RequireFromString(pick(decs)) }
	for i := range ms {
		m := &ms[i]
		m.Broker = pick([]string{events.BrokerTastytrade, "ibkr", ""})
		m.Currency, m.Ticker, m.Notes, m.FromCurrency = pick([]string{"USD", "EUR"}), pick(strs), pick(strs), pick(strs)
		m.CashType, m.Code = events.CashType(pick(strs)), events.TradeCode(pick(strs))
		m.OptionType = events.OptionType(pick([]string{"", "call", "put"}))
		m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees = dec(), dec(), dec(), dec(), dec()
		m.Strike, m.NewStrike, m.Premium, m.NetPremium, m.Multiplier, m.AmountChanged = dec(), dec(), dec(), dec(), dec(), dec()
		if rnd.IntN(3) > 0 {
			m.Expiration = m.Time.Day().AddDays(rnd.IntN(60))
		}
		if rnd.IntN(5) == 0 {
			m.Line = 0
		}
	}
	ms[0].Time, ms[0].Offset = 0, ""
	return ms
}

// selectAll returns the rows of query as text, each value with its SQLite
// type as the driver gives it (int64, string, nil), and the column names.
func selectAll(t *testing.T, db *sql.DB, query string) (cols []string, rows []string) {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, err = rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=%T:%v ", cols[i], v, v)
		}
		rows = append(rows, b.String())
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, rows
}

// The movements view of version 5 gives, row for row and type for type,
// what version 4's movements table held for the same history, written by
// this build or migrated from version 4; and the migrated movements scan
// back as they were written.
func TestMovementsViewIsVersion4Table(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	all := append(richHistory(rnd, "uk", 400), richHistory(rnd, "ny", 300)...)
	// Version 4, as its build wrote the history.
	v4 := createAt(t, 4)
	db, err := sql.Open("sqlite", v4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := newFormatter()
	offs := accountOffsets{}
	for i := range all {
		m := &all[i]
		if _, err := db.Exec(insertQuery("movements", v4Columns, 1, ""), v4Args(f, m, "s1")...); err != nil {
			t.Fatal(err)
		}
		offs.add(m.Account, offsetSeconds(m.Offset))
	}
	for _, o := range offs {
		if _, err := db.Exec(widenOffsets, o.account, o.lo, o.hi); err != nil {
			t.Fatal(err)
		}
	}
	const all4 = `SELECT * FROM movements ORDER BY account, utc, id`
	wantCols, want := selectAll(t, db, all4)
	if len(want) != len(all) {
		t.Fatalf("version 4 holds %d rows, want %d", len(want), len(all))
	}
	db.Close()

	// Version 5, written by this build.
	s := openTemp(t)
	writeMovements(t, s, "s1", all[:400])
	writeMovements(t, s, "s1", all[400:])
	// Version 4 migrated.
	migrated, err := Open(t.Context(), v4)
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()
	for name, st := range map[string]*Store{"written": s, "migrated": migrated} {
		cols, got := selectAll(t, st.r, all4)
		if !slices.Equal(cols, wantCols) {
			t.Errorf("%s: columns\n%v\nwant\n%v", name, cols, wantCols)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, want %d", name, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("%s: row %d:\n got %s\nwant %s", name, i, got[i], want[i])
				break
			}
		}
		for _, acct := range []string{"uk", "ny"} {
			var wantMs []events.Movement
			for _, m := range all {
				if m.Account == acct {
					wantMs = append(wantMs, m)
				}
			}
			slices.SortFunc(wantMs, func(a, b events.Movement) int { return events.Compare(&a, &b) })
			var gotMs []events.Movement
			err := st.ScanMovements(t.Context(), acct, projections.Query{}, func(m *events.Movement) error {
				gotMs = append(gotMs, *m)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(gotMs) != len(wantMs) {
				t.Fatalf("%s: %s: scanned %d movements, want %d", name, acct, len(gotMs), len(wantMs))
			}
			for i := range gotMs {
				if !gotMs[i].Equal(&wantMs[i]) {
					t.Fatalf("%s: %s: movement %d:\n got %+v\nwant %+v", name, acct, i, gotMs[i], wantMs[i])
				}
			}
		}
	}
}

// nullDecimal is decimal, with zero as NULL (version 4's movements table,
// which the migration tests write).
func (f *formatter) nullDecimal(d decimal.Decimal) any {
	if d.IsZero() {
		return nil
	}
	return f.decimal(d)
}

// text returns s, or NULL for "".
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}
