// Package storetest is the conformance suite of [store.Store]: every store
// the projector can write to (the embedded SQLite store, the ClickHouse store,
// a test fake) runs [Run] and so keeps the same promises: idempotent writes,
// chunk and session records, projections replaced atomically and read back
// exactly, movements one per ID in [events.Compare] order.
//
// The suite knows nothing of any particular store. It needs a factory that
// returns a fresh, empty store per call and registers its own cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "folio.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Times in the suite have whole-second precision (what a ClickHouse DateTime
// keeps) and are compared with time.Time.Equal. Decimals are compared by
// value and by String(), so a store must keep every digit (up to the 28
// fractional digits the projections produce), not round to a fixed scale.
//
// One subtest reads projections from a second goroutine while the first
// replaces them: a store must allow reads concurrent with the projector's
// writes (the snapshots command and health checks do that).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/shopspring/decimal"
)

// Run runs every conformance test against stores made by newStore. Each
// subtest gets its own fresh store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"EmptyStore", testEmptyStore},
		{"WriteBatchIdempotent", testWriteBatchIdempotent},
		{"MovementRoundTrip", testMovementRoundTrip},
		{"AccountMovementsOrderAndDedup", testAccountMovementsOrderAndDedup},
		{"OverlappingSessions", testOverlappingSessions},
		{"ChunkRecords", testChunkRecords},
		{"SessionRecords", testSessionRecords},
		{"ReplaceProjectionsMarksCompleted", testReplaceProjectionsMarksCompleted},
		{"ReplaceProjectionsReplaces", testReplaceProjectionsReplaces},
		{"ProjectionsRoundTripExact", testProjectionsRoundTripExact},
		{"ReplaceProjectionsCancelled", testReplaceProjectionsCancelled},
		{"ReplaceProjectionsAtomicForReaders", testReplaceProjectionsAtomic},
		{"Accounts", testAccounts},
		{"ScanMovementsKinds", testScanMovementsKinds},
		{"ScanMovementsStops", testScanMovementsStops},
		{"ScanMovementsCancelled", testScanMovementsCancelled},
		{"ScanMovementsFields", testScanMovementsFields},
		{"ManyMovementsIdempotent", testManyMovementsIdempotent},
		{"MovementInTwoTimeZones", testMovementInTwoTimeZones},
		{"WriteProjectionsEmitError", testWriteProjectionsEmitError},
		{"WriteProjectionsOperationOrder", testWriteProjectionsOperationOrder},
		{"WriteProjectionsWhileScanning", testWriteProjectionsWhileScanning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// base is the suite's reference instant (whole seconds, UTC).
var base = time.Date(2025, 8, 25, 10, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func wt(s string) events.WallTime {
	w, err := events.ParseWallTime(s)
	if err != nil {
		panic(err)
	}
	return w
}

// movement builds a stock movement of account with the given ID and time.
func movement(account, id, at string, seq int) events.Movement {
	return events.Movement{
		ID: id, Account: account, Broker: events.BrokerTastytrade, Kind: events.KindStock,
		Time: wt(at), Seq: seq, Line: 2 + seq, Currency: "USD", Ticker: "PFE", Code: events.BuyToOpen,
		Quantity: dec("10"), Price: dec("25.125"), Commissions: dec("1.00"), Fees: dec("0.12"),
	}
}

func chunk(session, account, id string, ordinal, total int, ms ...events.Movement) *events.Chunk {
	return &events.Chunk{
		Session: session, Account: account, ID: id, Ordinal: ordinal, Total: total,
		Week: id[:8], Part: 1, Movements: ms,
	}
}

func write(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	if b.At.IsZero() {
		b.At = base
	}
	if err := s.WriteBatch(t.Context(), b); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
}

func movements(t *testing.T, s store.Store, account string) []events.Movement {
	t.Helper()
	ms, err := store.AccountMovements(t.Context(), s, account)
	if err != nil {
		t.Fatalf("AccountMovements(%q): %v", account, err)
	}
	return ms
}

func storedChunks(t *testing.T, s store.Store, session string) int {
	t.Helper()
	n, err := s.StoredChunks(t.Context(), session)
	if err != nil {
		t.Fatalf("StoredChunks(%q): %v", session, err)
	}
	return n
}

func readProjections(t *testing.T, s store.Store, account string) *projections.Result {
	t.Helper()
	r, err := s.Projections(t.Context(), account)
	if err != nil {
		t.Fatalf("Projections(%q): %v", account, err)
	}
	return r
}

// requireMovements fails unless got and want hold equal movements in the
// same order.
func requireMovements(t *testing.T, got, want []events.Movement) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d movements %v, want %d %v", len(got), ids(got), len(want), ids(want))
	}
	for i := range want {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("movement %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func ids(ms []events.Movement) []string {
	out := make([]string, len(ms))
	for i := range ms {
		out[i] = ms[i].ID
	}
	return out
}

func testEmptyStore(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ms := movements(t, s, "nobody"); len(ms) != 0 {
		t.Errorf("AccountMovements on an empty store = %d movements, want 0", len(ms))
	}
	if n := storedChunks(t, s, "nosession"); n != 0 {
		t.Errorf("StoredChunks on an empty store = %d, want 0", n)
	}
	if _, err := s.Session(ctx, "nosession"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session of an unknown ID: err %v, want store.ErrNotFound", err)
	}
	sessions, err := s.Sessions(ctx, "")
	if err != nil || len(sessions) != 0 {
		t.Errorf("Sessions on an empty store = %v, %v; want none", sessions, err)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil || len(accounts) != 0 {
		t.Errorf("Accounts on an empty store = %v, %v; want none", accounts, err)
	}
	r := readProjections(t, s, "nobody")
	if r.Account != "nobody" || len(r.Broker)+len(r.Tickers)+len(r.Operations) != 0 {
		t.Errorf("Projections of an unknown account = %+v, want empty lists for account nobody", r)
	}
}

func testWriteBatchIdempotent(t *testing.T, s store.Store) {
	m1 := movement("acct", "a1:stock:0", "2025-08-25T10:00:00", 0)
	m2 := movement("acct", "a2:stock:0", "2025-08-26T10:00:00", 0)
	m3 := movement("acct", "a3:stock:0", "2025-09-02T10:00:00", 0)
	sess := store.Session{
		ID: "s1", Account: "acct", Broker: events.BrokerTastytrade, File: "a.csv", SHA256: "ab",
		Phase: store.PhasePublishing, TotalChunks: 2, Movements: 3, StartedAt: base,
	}
	b := func() *store.Batch {
		return &store.Batch{
			Chunks: []*events.Chunk{
				chunk("s1", "acct", "2025-W35.1", 1, 2, m1, m2),
				chunk("s1", "acct", "2025-W36.1", 2, 2, m3),
			},
			Sessions: []store.Session{sess},
			Rejects:  []store.Reject{{Session: "s1", Account: "acct", RowReject: events.RowReject{Line: 7, Column: "Value", Value: "x", Reason: "bad number"}}},
		}
	}
	write(t, s, b())
	first := movements(t, s, "acct")
	write(t, s, b())
	write(t, s, b())
	requireMovements(t, movements(t, s, "acct"), first)
	requireMovements(t, first, []events.Movement{m1, m2, m3})
	if n := storedChunks(t, s, "s1"); n != 2 {
		t.Errorf("StoredChunks after the same batch three times = %d, want 2", n)
	}
	sessions, err := s.Sessions(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 {
		t.Fatalf("Sessions after the same batch three times = %d records, want 1", len(sessions))
	}
	requireSession(t, sessions[0], sess)
}

func testMovementRoundTrip(t *testing.T, s store.Store) {
	// One movement of every kind, with every field its kind uses set, and
	// decimals that a lossy store would change.
	all := []events.Movement{
		{ID: "c1:cash:0", Account: "rt", Broker: events.BrokerTastytrade, Kind: events.KindCash,
			Time: wt("2024-04-22T09:30:00"), Offset: "-0400", Line: 2, Currency: "USD",
			CashType: events.CashDeposit, Amount: dec("844.56"), Notes: "ACH deposit"},
		{ID: "s1:stock:0", Account: "rt", Broker: events.BrokerIBKR, Kind: events.KindStock,
			Time: wt("2024-04-22T10:00:00"), Seq: 1, Line: 3, Currency: "EUR", Ticker: "SAP",
			Code: events.SellToClose, Quantity: dec("0.3333333333333333333333333333"),
			Price: dec("123456789012.000000000000000001"), Commissions: dec("1.50"), Fees: dec("0.0000001")},
		{ID: "o1:option:1", Account: "rt", Broker: events.BrokerTastytrade, Kind: events.KindOption,
			Time: wt("2024-04-23T11:00:00"), Part: 1, Line: 4, Currency: "USD", Ticker: "SOFI",
			Code: events.SellToOpen, Quantity: dec("1"), Commissions: dec("1"), Fees: dec("0.14"),
			OptionType: events.Put, Strike: dec("7.00"), Expiration: events.NewDate(2024, 5, 3),
			Premium: dec("23"), NetPremium: dec("21.86"), Multiplier: dec("100")},
		{ID: "d1:dividend:0", Account: "rt", Broker: events.BrokerTastytrade, Kind: events.KindDividend,
			Time: wt("2024-04-24T00:00:00"), Currency: "USD", Ticker: "MPW", Amount: dec("12.73")},
		{ID: "d1:dividend_tax:0", Account: "rt", Broker: events.BrokerTastytrade, Kind: events.KindDividendTax,
			Time: wt("2024-04-24T00:00:00"), Currency: "USD", Ticker: "MPW", Amount: dec("1.91")},
		{ID: "x1:conversion:0", Account: "rt", Broker: events.BrokerIBKR, Kind: events.KindConversion,
			Time: wt("2024-04-25T12:00:00"), Currency: "EUR", Amount: dec("920.10"),
			FromCurrency: "USD", AmountChanged: dec("1000")},
		{ID: "a1:strike_adjustment:0", Account: "rt", Broker: events.BrokerTastytrade, Kind: events.KindStrikeAdjustment,
			Time: wt("2024-12-12T00:00:00"), Currency: "USD", Ticker: "TSLL", OptionType: events.Call,
			Strike: dec("7.00"), NewStrike: dec("6.73"), Expiration: events.NewDate(2025, 1, 17),
			Amount: dec("-232.00000000000000000000000004")},
	}
	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("rt-s", "rt", "2024-W17.1", 1, 2, all[:6]...),
		chunk("rt-s", "rt", "2024-W50.1", 2, 2, all[6]),
	}})
	got := movements(t, s, "rt")
	requireMovements(t, got, all)
	for i := range got {
		for _, f := range []struct {
			name      string
			got, want decimal.Decimal
		}{
			{"quantity", got[i].Quantity, all[i].Quantity}, {"price", got[i].Price, all[i].Price},
			{"amount", got[i].Amount, all[i].Amount}, {"strike", got[i].Strike, all[i].Strike},
			{"net_premium", got[i].NetPremium, all[i].NetPremium},
		} {
			if f.got.String() != f.want.String() {
				t.Errorf("%s %s: got %s, want %s", got[i].ID, f.name, f.got, f.want)
			}
		}
	}
}

func testAccountMovementsOrderAndDedup(t *testing.T, s store.Store) {
	// Same wall time, told apart by Seq, then Part, then ID; written in a
	// scrambled order across chunks and batches, with repeats.
	at := "2025-08-25T10:00:00"
	a := movement("ord", "aaaa:stock:0", at, 1)
	b := movement("ord", "bbbb:option:2", at, 0)
	b.Kind, b.Part = events.KindOption, 2
	c := movement("ord", "cccc:option:1", at, 0)
	c.Kind, c.Part = events.KindOption, 1
	d := movement("ord", "dddd:cash:0", "2025-08-24T23:59:59", 5)
	e := movement("ord", "0000:stock:0", "2025-08-25T10:00:01", 0)
	f := movement("ord", "ffff:stock:0", at, 1) // ties with a on time and seq: ID decides
	other := movement("other", "zzzz:stock:0", at, 0)

	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("o-s", "ord", "2025-W35.1", 2, 3, e, a, f),
		chunk("other-s", "other", "2025-W35.1", 1, 1, other),
	}})
	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("o-s", "ord", "2025-W35.2", 3, 3, b, c, a),
		chunk("o-s", "ord", "2025-W34.1", 1, 3, d),
		chunk("o-s", "ord", "2025-W35.1", 2, 3, e, a, f),
	}})
	want := []events.Movement{d, c, b, a, f, e}
	if !slices.IsSortedFunc(want, func(x, y events.Movement) int { return events.Compare(&x, &y) }) {
		t.Fatal("test bug: want is not in events.Compare order")
	}
	requireMovements(t, movements(t, s, "ord"), want)
	requireMovements(t, movements(t, s, "other"), []events.Movement{other})
}

func testOverlappingSessions(t *testing.T, s store.Store) {
	// Two statements of one account that share a movement (same ID, seen at
	// different lines): one history, one row per ID.
	shared := movement("ov", "shared:stock:0", "2025-08-26T10:00:00", 0)
	sharedLater := shared
	sharedLater.Line = 40
	onlyA := movement("ov", "onlya:stock:0", "2025-08-25T10:00:00", 0)
	onlyB := movement("ov", "onlyb:stock:0", "2025-08-27T10:00:00", 0)
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("ov-a", "ov", "2025-W35.1", 1, 1, onlyA, shared)}})
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("ov-b", "ov", "2025-W35.1", 1, 1, sharedLater, onlyB)}})
	got := movements(t, s, "ov")
	if len(got) != 3 {
		t.Fatalf("got %d movements %v, want 3 (one per ID)", len(got), ids(got))
	}
	// Line is diagnostic: either statement's line is acceptable.
	got[1].Line = shared.Line
	requireMovements(t, got, []events.Movement{onlyA, shared, onlyB})
	if a, b := storedChunks(t, s, "ov-a"), storedChunks(t, s, "ov-b"); a != 1 || b != 1 {
		t.Errorf("StoredChunks = %d, %d; want 1 per session (chunk IDs are per session)", a, b)
	}
}

func testChunkRecords(t *testing.T, s store.Store) {
	m := movement("ch", "m1:stock:0", "2025-08-25T10:00:00", 0)
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("ch-s", "ch", "2025-W35.1", 1, 4, m)}})
	if n := storedChunks(t, s, "ch-s"); n != 1 {
		t.Fatalf("StoredChunks after one chunk = %d, want 1", n)
	}
	// A chunk without movements still counts: the plan may hold one (all of
	// its rows rejected with --skip-invalid).
	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("ch-s", "ch", "2025-W36.1", 2, 4),
		chunk("ch-s", "ch", "2025-W35.1", 1, 4, m),
		chunk("ch-s", "ch", "2025-W37.1", 3, 4, movement("ch", "m2:stock:0", "2025-09-08T10:00:00", 0)),
	}})
	if n := storedChunks(t, s, "ch-s"); n != 3 {
		t.Errorf("StoredChunks after 3 distinct chunks (one repeated) = %d, want 3", n)
	}
	if n := storedChunks(t, s, "ch-other"); n != 0 {
		t.Errorf("StoredChunks of another session = %d, want 0", n)
	}
	// An empty batch is a no-op, not an error.
	write(t, s, &store.Batch{})
}

func requireSession(t *testing.T, got, want store.Session) {
	t.Helper()
	timesEqual := got.StartedAt.Equal(want.StartedAt) && got.SealedAt.Equal(want.SealedAt) &&
		got.CompletedAt.Equal(want.CompletedAt)
	g, w := got, want
	g.StartedAt, g.SealedAt, g.CompletedAt = time.Time{}, time.Time{}, time.Time{}
	w.StartedAt, w.SealedAt, w.CompletedAt = time.Time{}, time.Time{}, time.Time{}
	if g != w || !timesEqual {
		t.Errorf("session %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func testSessionRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	s1 := store.Session{ID: "sess-b", Account: "acct1", Broker: events.BrokerTastytrade, File: "b.csv",
		SHA256: "bb", Phase: store.PhasePublishing, TotalChunks: 3, Movements: 10, Rejected: 1, StartedAt: base}
	s2 := store.Session{ID: "sess-a", Account: "acct1", Broker: events.BrokerIBKR, File: "a.csv",
		SHA256: "aa", Phase: store.PhasePublishing, TotalChunks: 1, Movements: 2, StartedAt: base}
	s3 := store.Session{ID: "sess-c", Account: "acct2", Broker: events.BrokerTastytrade, File: "c.csv",
		SHA256: "cc", Phase: store.PhasePublishing, TotalChunks: 1, Movements: 1, StartedAt: base.Add(-time.Hour)}
	write(t, s, &store.Batch{Sessions: []store.Session{s1, s2, s3}})

	got, err := s.Session(ctx, "sess-b")
	if err != nil {
		t.Fatal(err)
	}
	requireSession(t, got, s1)

	// A later record of the same session replaces it (phase moves on).
	s1.Phase, s1.SealedAt = store.PhaseSealed, base.Add(time.Minute)
	write(t, s, &store.Batch{Sessions: []store.Session{s1}})
	got, err = s.Session(ctx, "sess-b")
	if err != nil {
		t.Fatal(err)
	}
	requireSession(t, got, s1)

	failed := s2
	failed.Phase, failed.Error = store.PhaseFailed, "file modified"
	write(t, s, &store.Batch{Sessions: []store.Session{failed}})

	all, err := s.Sessions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// Ordered by start time, then ID.
	if g := sessionIDs(all); !slices.Equal(g, []string{"sess-c", "sess-a", "sess-b"}) {
		t.Errorf("Sessions(\"\") = %v, want [sess-c sess-a sess-b]", g)
	}
	acct1, err := s.Sessions(ctx, "acct1")
	if err != nil {
		t.Fatal(err)
	}
	if g := sessionIDs(acct1); !slices.Equal(g, []string{"sess-a", "sess-b"}) {
		t.Fatalf("Sessions(acct1) = %v, want [sess-a sess-b]", g)
	}
	requireSession(t, acct1[0], failed)
	requireSession(t, acct1[1], s1)
}

func sessionIDs(ss []store.Session) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].ID
	}
	return out
}

// result builds a small projections result whose values depend on n, so two
// results of different n differ in every row.
func result(account string, n int) *projections.Result {
	r := &projections.Result{Account: account}
	for i := range n {
		d := events.NewDate(2025, 8, 25).AddDays(i)
		v := decimal.NewFromInt(int64(100*n + i))
		r.Broker = append(r.Broker, projections.BrokerSnapshot{
			Currency: "USD", Date: d, MovementCounter: n + i, RealizedGains: v, RealizedPercentage: dec("0.5"),
			UnrealizedGains: decimal.Zero, UnrealizedGainsPercentage: decimal.Zero, Invested: v, Commissions: dec("1"),
			Fees: dec("0.12"), Deposited: v, Withdrawn: decimal.Zero, DividendsReceived: decimal.Zero,
			OptionsIncome: v.Neg(), OtherIncome: decimal.Zero, OpenTrades: i%2 == 0, NetCashFlow: v,
		})
		r.Tickers = append(r.Tickers, projections.TickerSnapshot{
			Ticker: "PFE", Currency: "USD", Date: d, TotalShares: v, Weight: decimal.Zero, CostBasis: v,
			RealCost: v, Dividends: decimal.Zero, DividendTaxes: decimal.Zero, Options: v, TotalIncomes: v,
			CapitalDeployed: v, Realized: v, Performance: dec("8.776"), OpenTrades: i%2 == 1,
			Commissions: dec("1"), Fees: dec("0.12"),
		})
	}
	r.Operations = append(r.Operations, projections.Operation{
		Ticker: "PFE", Currency: "USD", IsOpen: n%2 == 0, OpenDate: events.NewDate(2025, 8, 25),
		Realized: decimal.NewFromInt(int64(n)), Commissions: dec("2"), Fees: dec("0.24"), Premium: dec("175.52"),
		Dividends: decimal.Zero, DividendTaxes: decimal.Zero, CapitalDeployed: dec("2000"), Performance: dec("8.776"),
	})
	if n%2 == 1 {
		r.Operations[0].CloseDate = events.NewDate(2025, 10, 3)
	}
	return r
}

func replace(t *testing.T, s store.Store, r *projections.Result, completed []string, at time.Time) {
	t.Helper()
	if err := store.ReplaceProjections(t.Context(), s, r, completed, at); err != nil {
		t.Fatalf("ReplaceProjections(%s): %v", r.Account, err)
	}
}

func testReplaceProjectionsMarksCompleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	sealed := store.Session{ID: "done-1", Account: "pc", Broker: events.BrokerTastytrade, File: "a.csv",
		SHA256: "aa", Phase: store.PhaseSealed, TotalChunks: 1, Movements: 1, StartedAt: base, SealedAt: base}
	pending := sealed
	pending.ID, pending.Phase, pending.SealedAt = "pending-1", store.PhasePublishing, time.Time{}
	write(t, s, &store.Batch{Sessions: []store.Session{sealed, pending}})
	at := base.Add(2 * time.Minute)
	replace(t, s, result("pc", 2), []string{"done-1"}, at)

	got, err := s.Session(ctx, "done-1")
	if err != nil {
		t.Fatal(err)
	}
	want := sealed
	want.Phase, want.CompletedAt = store.PhaseCompleted, at
	requireSession(t, got, want)
	got, err = s.Session(ctx, "pending-1")
	if err != nil {
		t.Fatal(err)
	}
	requireSession(t, got, pending)
}

// requireResult fails unless got equals want row for row, decimals equal by
// value and by String().
func requireResult(t *testing.T, got, want *projections.Result) {
	t.Helper()
	if err := diffResult(got, want); err != nil {
		t.Fatal(err)
	}
}

// diffResult describes the first difference between two results, or returns
// nil when they are equal (decimals by value and by String()).
func diffResult(got, want *projections.Result) error {
	if got.Account != want.Account {
		return fmt.Errorf("account: got %q, want %q", got.Account, want.Account)
	}
	if len(got.Broker) != len(want.Broker) || len(got.Tickers) != len(want.Tickers) || len(got.Operations) != len(want.Operations) {
		return fmt.Errorf("%s: got %d broker, %d ticker, %d operation rows; want %d, %d, %d", want.Account,
			len(got.Broker), len(got.Tickers), len(got.Operations), len(want.Broker), len(want.Tickers), len(want.Operations))
	}
	for i := range want.Broker {
		g, w := got.Broker[i], want.Broker[i]
		if err := diffFields(fmt.Sprintf("broker[%d]", i), brokerFields(&g), brokerFields(&w)); err != nil {
			return err
		}
	}
	for i := range want.Tickers {
		g, w := got.Tickers[i], want.Tickers[i]
		if err := diffFields(fmt.Sprintf("ticker[%d]", i), tickerFields(&g), tickerFields(&w)); err != nil {
			return err
		}
	}
	for i := range want.Operations {
		g, w := got.Operations[i], want.Operations[i]
		if err := diffFields(fmt.Sprintf("operation[%d]", i), operationFields(&g), operationFields(&w)); err != nil {
			return err
		}
	}
	return nil
}

type field struct {
	name string
	v    any // string, int, bool, events.Date or decimal.Decimal
}

func diffFields(row string, got, want []field) error {
	for i := range want {
		g, w := got[i].v, want[i].v
		gd, isDec := g.(decimal.Decimal)
		if isDec {
			wd := w.(decimal.Decimal)
			if !gd.Equal(wd) || gd.String() != wd.String() {
				return fmt.Errorf("%s.%s: got %s, want %s", row, want[i].name, gd, wd)
			}
			continue
		}
		if g != w {
			return fmt.Errorf("%s.%s: got %v, want %v", row, want[i].name, g, w)
		}
	}
	return nil
}

func brokerFields(b *projections.BrokerSnapshot) []field {
	return []field{
		{"currency", b.Currency}, {"date", b.Date}, {"movement_counter", b.MovementCounter},
		{"realized_gains", b.RealizedGains}, {"realized_percentage", b.RealizedPercentage},
		{"unrealized_gains", b.UnrealizedGains}, {"unrealized_gains_percentage", b.UnrealizedGainsPercentage},
		{"invested", b.Invested}, {"commissions", b.Commissions}, {"fees", b.Fees},
		{"deposited", b.Deposited}, {"withdrawn", b.Withdrawn}, {"dividends_received", b.DividendsReceived},
		{"options_income", b.OptionsIncome}, {"other_income", b.OtherIncome}, {"open_trades", b.OpenTrades},
		{"net_cash_flow", b.NetCashFlow},
	}
}

func tickerFields(s *projections.TickerSnapshot) []field {
	return []field{
		{"ticker", s.Ticker}, {"currency", s.Currency}, {"date", s.Date}, {"total_shares", s.TotalShares},
		{"weight", s.Weight}, {"cost_basis", s.CostBasis}, {"real_cost", s.RealCost},
		{"dividends", s.Dividends}, {"dividend_taxes", s.DividendTaxes}, {"options", s.Options},
		{"total_incomes", s.TotalIncomes}, {"capital_deployed", s.CapitalDeployed},
		{"realized", s.Realized}, {"performance", s.Performance}, {"open_trades", s.OpenTrades},
		{"commissions", s.Commissions}, {"fees", s.Fees},
	}
}

func operationFields(o *projections.Operation) []field {
	return []field{
		{"ticker", o.Ticker}, {"currency", o.Currency}, {"is_open", o.IsOpen}, {"open_date", o.OpenDate},
		{"close_date", o.CloseDate}, {"realized", o.Realized}, {"commissions", o.Commissions},
		{"fees", o.Fees}, {"premium", o.Premium}, {"dividends", o.Dividends},
		{"dividend_taxes", o.DividendTaxes}, {"capital_deployed", o.CapitalDeployed},
		{"performance", o.Performance},
	}
}

func testReplaceProjectionsReplaces(t *testing.T, s store.Store) {
	other := result("keep", 2)
	replace(t, s, other, nil, base)
	replace(t, s, result("rp", 3), nil, base)
	requireResult(t, readProjections(t, s, "rp"), result("rp", 3))
	// Fewer rows the second time: replaced, not accumulated.
	replace(t, s, result("rp", 1), nil, base)
	requireResult(t, readProjections(t, s, "rp"), result("rp", 1))
	// The same result twice changes nothing.
	replace(t, s, result("rp", 1), nil, base)
	requireResult(t, readProjections(t, s, "rp"), result("rp", 1))
	// An empty result clears the account.
	replace(t, s, &projections.Result{Account: "rp"}, nil, base)
	requireResult(t, readProjections(t, s, "rp"), &projections.Result{Account: "rp"})
	// Other accounts are untouched throughout.
	requireResult(t, readProjections(t, s, "keep"), other)
}

func testProjectionsRoundTripExact(t *testing.T, s store.Store) {
	// Values as the projections produce them: unrounded quotients with 28
	// fractional digits, long .NET-style decimals, trailing zeros, signs,
	// and money far from the 18-digit range.
	r := &projections.Result{Account: "exact"}
	r.Broker = []projections.BrokerSnapshot{{
		Currency: "USD", Date: events.NewDate(2024, 4, 22), MovementCounter: 16,
		RealizedGains: dec("23.65"), RealizedPercentage: dec("2.6912939379629688552669919089"),
		UnrealizedGains: dec("-864.83"), UnrealizedGainsPercentage: dec("-0.0000000000000000000000000001"),
		Invested: dec("18200.88"), Commissions: dec("1.50"), Fees: dec("0.700"),
		Deposited: dec("878.79"), Withdrawn: dec("100"), DividendsReceived: dec("232.00000000000000000000000004"),
		OptionsIncome: dec("63.00"), OtherIncome: dec("0"), OpenTrades: true,
		NetCashFlow: dec("123456789012345678901234.5678901234567890123456789"),
	}}
	r.Tickers = []projections.TickerSnapshot{{
		Ticker: "/MESZ5", Currency: "USD", Date: events.NewDate(2025, 10, 31),
		TotalShares: dec("0"), Weight: dec("0"), CostBasis: dec("16.5454545454545454545454545455"),
		RealCost: dec("-3.3333333333333333333333333333"), Dividends: dec("0"), DividendTaxes: dec("0"),
		Options: dec("-554.00"), TotalIncomes: dec("-555.12"), CapitalDeployed: dec("9375000.00"),
		Realized: dec("175.52"), Performance: dec("8.776"), OpenTrades: false,
		Commissions: dec("1.00"), Fees: dec("0.12"),
	}}
	r.Operations = []projections.Operation{{
		Ticker: "/MESZ5", Currency: "USD", IsOpen: false, OpenDate: events.NewDate(2025, 8, 25),
		CloseDate: events.NewDate(2025, 10, 3), Realized: dec("175.52"), Commissions: dec("2.00"),
		Fees: dec("0.24"), Premium: dec("177.76"), Dividends: dec("0"), DividendTaxes: dec("0"),
		CapitalDeployed: dec("2000.00"), Performance: dec("8.7760000000000000000000000000"),
	}, {
		Ticker: "/MESZ5", Currency: "USD", IsOpen: true, OpenDate: events.NewDate(2025, 10, 3),
		Realized: dec("0"), Commissions: dec("1"), Fees: dec("0.12"), Premium: dec("-1"),
		Dividends: dec("0"), DividendTaxes: dec("0"), CapitalDeployed: dec("651000.00"), Performance: dec("0"),
	}}
	replace(t, s, r, nil, base)
	got := readProjections(t, s, "exact")
	requireResult(t, got, r)
	if !got.Operations[1].CloseDate.IsZero() {
		t.Errorf("open operation close date = %v, want zero", got.Operations[1].CloseDate)
	}
}

func testReplaceProjectionsCancelled(t *testing.T, s store.Store) {
	old := result("cx", 3)
	replace(t, s, old, nil, base)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := store.ReplaceProjections(ctx, s, result("cx", 1), nil, base); err == nil {
		t.Fatal("ReplaceProjections with a cancelled context returned nil")
	}
	requireResult(t, readProjections(t, s, "cx"), old)
}

func testReplaceProjectionsAtomic(t *testing.T, s store.Store) {
	r3, r5 := result("at", 3), result("at", 5)
	replace(t, s, r3, nil, base)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		reads := 0
		for {
			r, err := s.Projections(ctx, "at")
			if ctx.Err() != nil {
				done <- nil
				return
			}
			if err != nil {
				done <- fmt.Errorf("Projections during replacement (read %d): %w", reads, err)
				return
			}
			if diffResult(r, r3) != nil && diffResult(r, r5) != nil {
				done <- fmt.Errorf("read %d saw a mix of two results: %d broker, %d ticker, %d operation rows",
					reads, len(r.Broker), len(r.Tickers), len(r.Operations))
				return
			}
			reads++
		}
	}()
	for i := range 20 {
		next := r5
		if i%2 == 1 {
			next = r3
		}
		replace(t, s, next, nil, base)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	requireResult(t, readProjections(t, s, "at"), r3)
}

func testAccounts(t *testing.T, s store.Store) {
	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("z-s", "zeta", "2025-W35.1", 1, 1, movement("zeta", "z1:stock:0", "2025-08-25T10:00:00", 0)),
		chunk("a-s", "alpha", "2025-W35.1", 1, 1, movement("alpha", "a1:stock:0", "2025-08-25T10:00:00", 0)),
		chunk("m-s", "mid", "2025-W35.1", 1, 1, movement("mid", "m1:stock:0", "2025-08-25T10:00:00", 0)),
	}})
	// A session without movements and projections alone name no account.
	write(t, s, &store.Batch{Sessions: []store.Session{{ID: "e-s", Account: "empty", Phase: store.PhasePublishing, StartedAt: base}}})
	replace(t, s, result("projonly", 1), nil, base)
	got, err := s.Accounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alpha", "mid", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Accounts = %v, want %v", got, want)
	}
}

// scanned returns the movements ScanMovements gives for account and kinds,
// copied (the store may reuse the one it passes).
func scanned(t *testing.T, s store.Store, account string, kinds ...events.Kind) []events.Movement {
	t.Helper()
	var out []events.Movement
	err := s.ScanMovements(t.Context(), account, projections.Query{Kinds: kinds}, func(m *events.Movement) error {
		out = append(out, *m)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanMovements(%q, %v): %v", account, kinds, err)
	}
	return out
}

// mixed returns n movements of account of four kinds, one per second from
// base, in events.Compare order.
func mixed(account string, n int) []events.Movement {
	out := make([]events.Movement, n)
	for i := range out {
		at := events.WallTimeOf(base.Add(time.Duration(i/3) * time.Second)).String()
		m := movement(account, fmt.Sprintf("%032x:stock:0", i), at, i%3)
		switch i % 4 {
		case 1:
			m.ID = fmt.Sprintf("%032x:option:1", i)
			m.Kind, m.Code, m.Part, m.OptionType = events.KindOption, events.SellToOpen, 1, events.Put
			m.Quantity, m.Price, m.Strike, m.Expiration = dec("1"), decimal.Zero, dec("25"), events.NewDate(2025, 9, 19)
			m.Premium, m.NetPremium, m.Multiplier = dec("23"), dec("21.86"), dec("100")
		case 2:
			m.ID = fmt.Sprintf("%032x:cash:0", i)
			m.Kind, m.Ticker, m.Code, m.CashType = events.KindCash, "", "", events.CashDeposit
			m.Quantity, m.Price, m.Commissions, m.Fees, m.Amount = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero, decimal.New(int64(i), -2)
		case 3:
			m.ID = fmt.Sprintf("%032x:dividend:0", i)
			m.Kind, m.Code, m.Amount = events.KindDividend, "", dec("12.73")
			m.Quantity, m.Price, m.Commissions, m.Fees = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero
		}
		out[i] = m
	}
	return out
}

func ofKinds(ms []events.Movement, kinds ...events.Kind) []events.Movement {
	var out []events.Movement
	for _, m := range ms {
		if slices.Contains(kinds, m.Kind) {
			out = append(out, m)
		}
	}
	return out
}

func testScanMovementsKinds(t *testing.T, s store.Store) {
	all := mixed("kinds", 40)
	other := mixed("kinds-other", 4)
	write(t, s, &store.Batch{Chunks: []*events.Chunk{
		chunk("k-s", "kinds", "2025-W35.1", 1, 1, all...),
		chunk("ko-s", "kinds-other", "2025-W35.1", 1, 1, other...),
	}})
	requireMovements(t, scanned(t, s, "kinds"), all)
	requireMovements(t, scanned(t, s, "kinds", events.KindOption, events.KindCash),
		ofKinds(all, events.KindOption, events.KindCash))
	requireMovements(t, scanned(t, s, "kinds", events.KindDividend), ofKinds(all, events.KindDividend))
	if got := scanned(t, s, "kinds", events.KindDividendTax); len(got) != 0 {
		t.Errorf("ScanMovements of a kind the account has none of: %d movements, want 0", len(got))
	}
}

// everyField returns n movements of account with every field set (not
// zero), each field's value different from movement to movement.
func everyField(account string, n int) []events.Movement {
	out := mixed(account, n)
	for i := range out {
		m := &out[i]
		d := func(s string) decimal.Decimal { return dec(s).Add(decimal.New(int64(i+1), -3)) }
		m.Offset, m.Line, m.Ticker = "+0100", 10+i, fmt.Sprintf("T%d", i)
		m.CashType, m.Code, m.OptionType = events.CashFee, events.SellToClose, events.Call
		m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees = d("1"), d("2"), d("3"), d("4"), d("5")
		m.Strike, m.NewStrike, m.Expiration = d("6"), d("7"), events.NewDate(2025, 10, 1+i%28)
		m.Premium, m.NetPremium, m.Multiplier = d("-8"), d("9"), d("100")
		m.FromCurrency, m.AmountChanged, m.Notes = "EUR", d("11"), fmt.Sprintf("note %d", i)
	}
	return out
}

// testScanMovementsFields: a scan that asks for some fields delivers those
// exactly as stored (it may deliver more), for each field on its own and
// for the sets phase 2 asks for.
func testScanMovementsFields(t *testing.T, s store.Store) {
	all := everyField("fields", 24)
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("f-s", "fields", "2025-W35.1", 1, 1, all...)}})
	sets := []events.Fields{0, events.AllFields,
		events.FieldTicker | events.FieldCurrency | events.FieldOptionType | events.FieldStrike | events.FieldExpiration | events.FieldCode,
		events.FieldExpiration | events.FieldStrike | events.FieldOptionType | events.FieldNewStrike}
	for f := events.FieldBroker; f&events.AllFields != 0; f <<= 1 {
		sets = append(sets, f)
	}
	for _, f := range sets {
		for _, kinds := range [][]events.Kind{nil, {events.KindOption}} {
			var got []events.Movement
			err := s.ScanMovements(t.Context(), "fields", projections.Query{Kinds: kinds, Fields: f}, func(m *events.Movement) error {
				got = append(got, *m)
				return nil
			})
			if err != nil {
				t.Fatalf("ScanMovements(fields %b, kinds %v): %v", f, kinds, err)
			}
			want := all
			if kinds != nil {
				want = ofKinds(all, kinds...)
			}
			if len(got) != len(want) {
				t.Fatalf("ScanMovements(fields %b, kinds %v): %d movements, want %d", f, kinds, len(got), len(want))
			}
			for i := range want {
				w := want[i]
				f.Trim(&w)
				f.Trim(&got[i])
				if !got[i].Equal(&w) {
					t.Fatalf("ScanMovements(fields %b, kinds %v), movement %d:\n got %+v\nwant %+v", f, kinds, i, got[i], w)
				}
			}
		}
	}
}

func testScanMovementsStops(t *testing.T, s store.Store) {
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("st-s", "stop", "2025-W35.1", 1, 1, mixed("stop", 10)...)}})
	errStop := errors.New("stop here")
	calls := 0
	err := s.ScanMovements(t.Context(), "stop", projections.Query{}, func(*events.Movement) error {
		if calls++; calls == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop {
		t.Errorf("ScanMovements returned %v, want fn's error unwrapped", err)
	}
	if calls != 3 {
		t.Errorf("fn was called %d times, want 3 (the scan stops at its error)", calls)
	}
}

func testScanMovementsCancelled(t *testing.T, s store.Store) {
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("cx-s", "cancel", "2025-W35.1", 1, 1, mixed("cancel", 10)...)}})
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := s.ScanMovements(ctx, "cancel", projections.Query{}, func(*events.Movement) error {
		if calls++; calls == 2 {
			cancel()
		}
		return nil
	})
	if err == nil {
		t.Errorf("ScanMovements cancelled after %d of 10 movements returned nil", calls)
	}
	cancel()
}

// Many movements, more than a store writes in one statement, written in
// batches cut one way and then redelivered cut another way, with
// repeats inside one chunk: one movement per ID, in order.
func testManyMovementsIdempotent(t *testing.T, s store.Store) {
	all := mixed("many", 1000)
	chunks := []*events.Chunk{
		chunk("many-s", "many", "2025-W35.1", 1, 3, all[:130]...),
		chunk("many-s", "many", "2025-W35.2", 2, 3, all[130:193]...),
		chunk("many-s", "many", "2025-W35.3", 3, 3, all[193:]...),
	}
	write(t, s, &store.Batch{Chunks: chunks[:1]})
	write(t, s, &store.Batch{Chunks: chunks[1:]})
	requireMovements(t, scanned(t, s, "many"), all)
	// Redelivered in one batch, and a chunk that repeats movements of its
	// own (a statement's row exported twice over two files).
	again := append(append([]events.Movement{}, all[500:700]...), all[600:650]...)
	write(t, s, &store.Batch{Chunks: append(chunks, chunk("many-s2", "many", "2025-W35.1", 1, 1, again...))})
	requireMovements(t, scanned(t, s, "many"), all)
	if n := storedChunks(t, s, "many-s"); n != 3 {
		t.Errorf("StoredChunks = %d, want 3", n)
	}
}

// One movement exported twice with different account time-zone settings:
// the same ID (the ID hashes the UTC instant, spec/parsers.md §6.2), another
// wall-clock time and offset on the same day. The store keeps one of them.
func testMovementInTwoTimeZones(t *testing.T, s store.Store) {
	london := movement("tz", "7a7a:stock:0", "2025-08-25T15:30:00", 0)
	london.Offset = "+0100"
	newYork := london
	newYork.Time, newYork.Offset, newYork.Line = wt("2025-08-25T10:30:00"), "-0400", 9
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("tz-a", "tz", "2025-W35.1", 1, 1, london)}})
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("tz-b", "tz", "2025-W35.1", 1, 1, newYork)}})
	got := scanned(t, s, "tz")
	if len(got) != 1 || !(got[0].Equal(&london) || got[0].Equal(&newYork)) {
		t.Fatalf("movements after the same movement in two time zones: %+v, want one of %+v and %+v", got, london, newYork)
	}
}

// sinkRows is an emit function that sends r's rows and then fails with err
// (if not nil).
func sinkRows(r *projections.Result, err error) func(projections.Sink) error {
	return func(sink projections.Sink) error {
		if e := r.Emit(sink); e != nil {
			return e
		}
		return err
	}
}

func testWriteProjectionsEmitError(t *testing.T, s store.Store) {
	ctx := t.Context()
	sealed := store.Session{ID: "ee-1", Account: "ee", Broker: events.BrokerTastytrade, File: "a.csv",
		SHA256: "aa", Phase: store.PhaseSealed, TotalChunks: 1, Movements: 1, StartedAt: base, SealedAt: base}
	write(t, s, &store.Batch{Sessions: []store.Session{sealed}})
	old := result("ee", 3)
	replace(t, s, old, nil, base)
	errBoom := errors.New("computation failed")
	err := s.WriteProjections(ctx, "ee", sinkRows(result("ee", 5), errBoom), []string{"ee-1"}, base.Add(time.Hour))
	if !errors.Is(err, errBoom) {
		t.Fatalf("WriteProjections with a failing emit: %v, want the emit's error", err)
	}
	requireResult(t, readProjections(t, s, "ee"), old)
	got, err := s.Session(ctx, "ee-1")
	if err != nil {
		t.Fatal(err)
	}
	requireSession(t, got, sealed)
}

// Operations come in emission order with their seq, which is not the
// order Projections returns: (ticker, open date, currency, seq).
func testWriteProjectionsOperationOrder(t *testing.T, s store.Store) {
	op := func(ticker, currency string, open events.Date, realized string) projections.Operation {
		return projections.Operation{Ticker: ticker, Currency: currency, IsOpen: true, OpenDate: open,
			Realized: dec(realized), Commissions: dec("1"), Fees: dec("0.12"), Premium: dec("0"),
			Dividends: dec("0"), DividendTaxes: dec("0"), CapitalDeployed: dec("100"), Performance: dec("0")}
	}
	jan1, jan5, mar1 := events.NewDate(2025, 1, 1), events.NewDate(2025, 1, 5), events.NewDate(2025, 3, 1)
	emitted := []projections.Operation{
		op("PFE", "USD", jan5, "1"), // seq 0
		op("AAPL", "USD", mar1, "2"),
		op("AAPL", "USD", jan1, "3"),
		op("AAPL", "EUR", jan1, "4"),
		op("AAPL", "USD", jan1, "5"), // ties with seq 2: seq decides
		op("/MESZ5", "USD", mar1, "6"),
	}
	err := s.WriteProjections(t.Context(), "oo", func(sink projections.Sink) error {
		for i := range emitted {
			if err := sink.Operation(&emitted[i], i); err != nil {
				return err
			}
		}
		return nil
	}, nil, base)
	if err != nil {
		t.Fatal(err)
	}
	want := &projections.Result{Account: "oo", Operations: []projections.Operation{
		emitted[5], emitted[3], emitted[2], emitted[4], emitted[1], emitted[0],
	}}
	requireResult(t, readProjections(t, s, "oo"), want)
}

// Phase 2 scans the account's movements and emits rows as it goes, inside
// one WriteProjections, while readers read: the scan runs while the write
// is open, and readers see the old projections until it returns.
func testWriteProjectionsWhileScanning(t *testing.T, s store.Store) {
	ctx := t.Context()
	all := mixed("ws", 300)
	write(t, s, &store.Batch{Chunks: []*events.Chunk{chunk("ws-s", "ws", "2025-W35.1", 1, 1, all...)}})
	old, next := result("ws", 2), result("ws", 7)
	replace(t, s, old, nil, base)
	err := s.WriteProjections(ctx, "ws", func(sink projections.Sink) error {
		var seen []events.Movement
		err := s.ScanMovements(ctx, "ws", projections.Query{}, func(m *events.Movement) error {
			seen = append(seen, *m)
			if i := len(seen) - 1; i < len(next.Tickers) {
				if err := sink.Ticker(&next.Tickers[i]); err != nil {
					return err
				}
			}
			if len(seen) == 150 {
				// Half-way: some new rows are written, none is visible.
				r, err := s.Projections(ctx, "ws")
				if err != nil {
					return fmt.Errorf("Projections during the write: %w", err)
				}
				if err := diffResult(r, old); err != nil {
					return fmt.Errorf("Projections during the write, want the old ones: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(seen) != len(all) {
			return fmt.Errorf("the scan inside the write gave %d movements, want %d", len(seen), len(all))
		}
		for i := range all {
			if !seen[i].Equal(&all[i]) {
				return fmt.Errorf("the scan inside the write: movement %d is %+v, want %+v", i, seen[i], all[i])
			}
		}
		for i := range next.Broker {
			if err := sink.Broker(&next.Broker[i]); err != nil {
				return err
			}
		}
		for i := range next.Operations {
			if err := sink.Operation(&next.Operations[i], i); err != nil {
				return err
			}
		}
		return nil
	}, nil, base)
	if err != nil {
		t.Fatal(err)
	}
	requireResult(t, readProjections(t, s, "ws"), next)
}
