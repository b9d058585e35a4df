package clickhouse_test

import (
	"bytes"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
)

// writeAccount stores movements of account as one chunk of session, with a
// completed session record and the projections computed from what the
// store then holds.
func writeAccount(t *testing.T, s *clickhouse.Store, account, session string, ms ...events.Movement) {
	t.Helper()
	c := &events.Chunk{Session: session, Account: account, ID: "2025-W35.1", Ordinal: 1, Total: 1, Week: "2025-W35", Part: 1, Movements: ms}
	sess := store.Session{ID: session, Account: account, Broker: events.BrokerTastytrade, File: session + ".csv",
		Phase: store.PhaseSealed, TotalChunks: 1, Movements: len(ms), StartedAt: base}
	rej := store.Reject{Session: session, Account: account, RowReject: events.RowReject{Line: 9, Column: "Date", Value: "x", Reason: "bad date"}}
	err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, Sessions: []store.Session{sess}, Rejects: []store.Reject{rej}, At: base})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.AccountMovements(t.Context(), s, account)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ReplaceProjections(t.Context(), s, projections.Compute(account, stored), []string{session}, base); err != nil {
		t.Fatal(err)
	}
}

// accountState is everything the Store API reads of one account, as text.
func accountState(t *testing.T, s *clickhouse.Store, account string) string {
	t.Helper()
	var b bytes.Buffer
	ms, err := store.AccountMovements(t.Context(), s, account)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		b.WriteString(m.ID + " " + m.Time.String() + " " + m.Quantity.String() + " " + m.Price.String() + "\n")
	}
	ss, err := s.Sessions(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ss {
		b.WriteString(v.ID + " " + v.Phase + " " + v.File + "\n")
		n, err := s.StoredChunks(t.Context(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(string(rune('0'+n)) + " chunks\n")
	}
	r, err := s.Projections(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	if err := projections.WriteJSON(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ReplaceAccountFrom makes one account of a store equal to that account in
// another database: rows changed in the source win, rows the source lacks
// go (physically, not only under FINAL), other accounts stay as they were,
// and an account the source does not hold is removed.
func TestReplaceAccountFrom(t *testing.T) {
	chtest.DSN(t)
	liveDSN := chtest.NewDatabase(t)
	live := open(t, liveDSN, clickhouse.Options{})
	src := open(t, chtest.NewDatabase(t), clickhouse.Options{})
	day := events.NewDate(2025, 8, 25)

	m1, m2, m3 := stock("a", "a1", day, 0), stock("a", "a2", day, 1), stock("a", "a3", day.AddDays(1), 0)
	writeAccount(t, live, "a", "live-a", m1, m2, m3)
	writeAccount(t, live, "b", "live-b", stock("b", "b1", day, 0))
	writeAccount(t, live, "gone", "live-gone", stock("gone", "g1", day, 0))
	m2.Quantity = dec("20") // the source has a2 changed and no a3
	writeAccount(t, src, "a", "src-a", m1, m2)
	wantA, wantB := accountState(t, src, "a"), accountState(t, live, "b")
	if wantA == accountState(t, live, "a") {
		t.Fatal("test bug: the account is already equal to the source")
	}

	if err := live.ReplaceAccountFrom(t.Context(), src, "a", base); err != nil {
		t.Fatal(err)
	}
	if got := accountState(t, live, "a"); got != wantA {
		t.Errorf("account a after the replacement:\n%s\nwant the source's:\n%s", got, wantA)
	}
	if got := accountState(t, live, "b"); got != wantB {
		t.Errorf("account b changed:\n%s\nwant\n%s", got, wantB)
	}
	c := conn(t, liveDSN)
	for table, want := range map[string]uint64{"movements": 2, "import_sessions": 1, "import_chunks": 1, "rejects": 1} {
		if n := count(t, c, "SELECT count() FROM "+table+" WHERE account = 'a'"); n != want {
			t.Errorf("%s holds %d rows of a (without FINAL), want %d: older versions left", table, n, want)
		}
	}

	if err := live.ReplaceAccountFrom(t.Context(), src, "gone", base); err != nil {
		t.Fatal(err)
	}
	accounts, err := live.Accounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0] != "a" || accounts[1] != "b" {
		t.Errorf("accounts %v after removing gone, want [a b]", accounts)
	}
	for _, table := range []string{"movements", "import_sessions", "import_chunks", "rejects", "projection_commits",
		"broker_snapshots", "ticker_snapshots", "operations"} {
		if n := count(t, c, "SELECT count() FROM "+table+" WHERE account = 'gone'"); n != 0 {
			t.Errorf("%s holds %d rows of the removed account", table, n)
		}
	}
	if got := accountState(t, live, "b"); got != wantB {
		t.Errorf("account b changed:\n%s\nwant\n%s", got, wantB)
	}

	if err := live.ReplaceAccountFrom(t.Context(), live, "a", base); err == nil {
		t.Error("replacing an account from its own database: no error")
	}
	if err := live.DropDatabase(t.Context(), live.Database()); err == nil {
		t.Error("DropDatabase of the store's own database: no error")
	}
}
