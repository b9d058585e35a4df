package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
)

// scanAll returns what ScanMovements gives, copied.
func scanAll(t *testing.T, s *clickhouse.Store, account string, kinds ...events.Kind) []events.Movement {
	t.Helper()
	var out []events.Movement
	err := s.ScanMovements(t.Context(), account, projections.Query{Kinds: kinds}, func(m *events.Movement) error {
		out = append(out, *m)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanMovements(%s, %v): %v", account, kinds, err)
	}
	return out
}

func TestScanMovementsWindows(t *testing.T) {
	// Windows of 3 rows over days of 1, 2, 4 (more than a window) and 3
	// rows, one movement stored twice (a re-import), mixed kinds: every
	// movement once, in events.Compare order, whatever the window size;
	// with kinds, only those.
	type day struct {
		date events.Date
		n    int
	}
	var ms []events.Movement
	for _, d := range []day{{events.NewDate(2025, 3, 3), 1}, {events.NewDate(2025, 3, 4), 2},
		{events.NewDate(2025, 3, 5), 4}, {events.NewDate(2025, 3, 7), 3}, {events.NewDate(2026, 1, 2), 2}} {
		for i := range d.n {
			// Seconds in reverse, seq against the ID, so that neither the
			// table's order nor the insert order is Compare order.
			m := stock("w", fmt.Sprintf("%032d:stock:0", len(ms)), d.date, (i+1)%2)
			m.Time = events.WallTimeOf(d.date.Time().Add(time.Duration(10-i/2) * time.Hour))
			if i%3 == 2 {
				m.ID = fmt.Sprintf("%032d:cash:0", len(ms))
				m.Kind, m.CashType, m.Code, m.Ticker = events.KindCash, events.CashDeposit, "", ""
				m.Quantity, m.Price, m.Amount = decimal.Decimal{}, decimal.Decimal{}, dec("100.5")
			}
			ms = append(ms, m)
		}
	}
	for _, windowRows := range []int{1, 3, 1000} {
		t.Run(fmt.Sprintf("window=%d", windowRows), func(t *testing.T) {
			s := chtest.NewStore(t, clickhouse.Options{ScanWindowRows: windowRows})
			first := &events.Chunk{Session: "s1", Account: "w", ID: "2025-W10.1", Ordinal: 1, Total: 2, Week: "2025-W10", Part: 1, Movements: ms[:8]}
			second := &events.Chunk{Session: "s1", Account: "w", ID: "2025-W11.1", Ordinal: 2, Total: 2, Week: "2025-W11", Part: 1, Movements: ms[8:]}
			again := &events.Chunk{Session: "s2", Account: "w", ID: "2025-W10.1", Ordinal: 1, Total: 1, Week: "2025-W10", Part: 1, Movements: ms[5:7]}
			other := &events.Chunk{Session: "s3", Account: "x", ID: "2025-W10.1", Ordinal: 1, Total: 1, Week: "2025-W10", Part: 1,
				Movements: []events.Movement{stock("x", "x1", events.NewDate(2025, 3, 4), 0)}}
			for _, c := range []*events.Chunk{second, first, again, other} {
				if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, At: base}); err != nil {
					t.Fatal(err)
				}
			}
			want := slices.Clone(ms)
			slices.SortFunc(want, func(a, b events.Movement) int { return events.Compare(&a, &b) })
			check := func(got, want []events.Movement) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("scanned %d movements, want %d", len(got), len(want))
				}
				for i := range got {
					if !got[i].Equal(&want[i]) {
						t.Fatalf("movement %d = %+v\nwant %+v", i, got[i], want[i])
					}
				}
			}
			check(scanAll(t, s, "w"), want)
			var cash []events.Movement
			for _, m := range want {
				if m.Kind == events.KindCash {
					cash = append(cash, m)
				}
			}
			check(scanAll(t, s, "w", events.KindCash, events.KindDividend), cash)
			check(scanAll(t, s, "w", events.KindStock, events.KindCash), want)
			check(scanAll(t, s, "w", events.KindOption), nil)
			check(scanAll(t, s, "none"), nil)
		})
	}
}

func TestScanMovementsSparseKind(t *testing.T) {
	// A kind on 1,500 dates (more than a window lists) among stocks on
	// every date: each window of the kind's scan lists its dates; every
	// movement of the kind once, in order.
	s := chtest.NewStore(t, clickhouse.Options{})
	var ms, cash []events.Movement
	day := events.NewDate(2020, 1, 1)
	for i := range 3000 {
		m := stock("sparse", fmt.Sprintf("%032d:stock:0", i), day.AddDays(i), 0)
		if i%2 == 1 {
			m.ID = fmt.Sprintf("%032d:cash:0", i)
			m.Kind, m.CashType, m.Code, m.Ticker = events.KindCash, events.CashDeposit, "", ""
			m.Quantity, m.Price, m.Amount = decimal.Decimal{}, decimal.Decimal{}, dec("100.5")
			cash = append(cash, m)
		}
		ms = append(ms, m)
	}
	c := &events.Chunk{Session: "s", Account: "sparse", ID: "2020-W01.1", Ordinal: 1, Total: 1, Week: "2020-W01", Part: 1, Movements: ms}
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, At: base}); err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, s, "sparse", events.KindCash)
	if len(got) != len(cash) {
		t.Fatalf("scanned %d movements, want %d", len(got), len(cash))
	}
	for i := range got {
		if !got[i].Equal(&cash[i]) {
			t.Fatalf("movement %d = %+v\nwant %+v", i, got[i], cash[i])
		}
	}
}

func TestScanMovementsDecimals(t *testing.T) {
	// Every decimal field reads back by value and by text, at the edges of
	// the int64 fast path and of the columns' range, negative and positive,
	// and with more digits than the columns keep (the exact column).
	values := []string{"0", "1", "-1", "25.125", "0.0000000001", "-0.0000000001", "922337203.6854775807",
		"-922337203.6854775808", "922337203.6854775808", "-922337203.6854775809", "1000000000000000000",
		"-123456789012345678901234567.1", "9999999999999999999999999999.9999999999",
		"2.6912939379629688552669919089"}
	s := chtest.NewStore(t, clickhouse.Options{})
	var ms []events.Movement
	for i, v := range values {
		m := stock("dec", fmt.Sprintf("%032d:stock:0", i), events.NewDate(2025, 3, 3), i)
		d := dec(v)
		for j, f := range []*decimal.Decimal{&m.Quantity, &m.Price, &m.Amount, &m.Commissions, &m.Fees, &m.Strike,
			&m.NewStrike, &m.Premium, &m.NetPremium, &m.Multiplier, &m.AmountChanged} {
			*f = d
			if j%2 == 1 {
				*f = d.Neg()
			}
		}
		ms = append(ms, m)
	}
	c := &events.Chunk{Session: "s", Account: "dec", ID: "2025-W10.1", Ordinal: 1, Total: 1, Week: "2025-W10", Part: 1, Movements: ms}
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, At: base}); err != nil {
		t.Fatal(err)
	}
	// A scan of some fields reads those as a full scan does (the exact
	// column too) and leaves the others zero: it selects only their
	// columns.
	sets := []events.Fields{0, events.AllFields,
		events.FieldExpiration | events.FieldStrike | events.FieldOptionType | events.FieldNewStrike,
		events.FieldTicker | events.FieldCurrency | events.FieldOptionType | events.FieldStrike |
			events.FieldExpiration | events.FieldCode}
	for f := events.FieldBroker; f&events.AllFields != 0; f <<= 1 {
		sets = append(sets, f)
	}
	for _, f := range sets {
		var got []events.Movement
		err := s.ScanMovements(t.Context(), "dec", projections.Query{Fields: f}, func(m *events.Movement) error {
			got = append(got, *m)
			return nil
		})
		if err != nil {
			t.Fatalf("ScanMovements(fields %b): %v", f, err)
		}
		if len(got) != len(ms) {
			t.Fatalf("fields %b: scanned %d movements, want %d", f, len(got), len(ms))
		}
		for i := range got {
			want := ms[i]
			f.Trim(&want)
			if !got[i].Equal(&want) || decimalText(&got[i]) != decimalText(&want) {
				t.Errorf("fields %b: movement %d (%s) read back as\n %+v\nwant %+v", f, i, values[i], got[i], want)
			}
		}
	}
}

// decimalText is the text of m's decimals: Equal compares them by value.
func decimalText(m *events.Movement) string {
	return fmt.Sprint(m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees, m.Strike, m.NewStrike,
		m.Premium, m.NetPremium, m.Multiplier, m.AmountChanged)
}

func TestScanMovementsStopsOnError(t *testing.T) {
	// fn's error stops the scan at once and comes back as it is.
	s := chtest.NewStore(t, clickhouse.Options{ScanWindowRows: 2})
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: benchChunks(2, 10), At: base}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.ScanMovements(t.Context(), "bench", projections.Query{}, func(*events.Movement) error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 5 {
		t.Errorf("ScanMovements = %v after %d calls, want the callback's error itself after 5", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.ScanMovements(ctx, "bench", projections.Query{}, func(*events.Movement) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ScanMovements with a cancelled context = %v, want context.Canceled", err)
	}
	// A context cancelled during the scan (windows being read ahead) stops
	// it after the movement being consumed.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls = 0
	err = s.ScanMovements(ctx, "bench", projections.Query{}, func(*events.Movement) error {
		calls++
		if calls == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 5 {
		t.Errorf("ScanMovements cancelled at call 5 = %v after %d calls, want context.Canceled after 5", err, calls)
	}
}

func TestScanMovementsOneConnection(t *testing.T) {
	// The windows read ahead release their connection before they wait for
	// the caller: with a pool of one connection, a scan whose callback
	// queries the store (as phase 2's callback inserts projection rows)
	// still completes, in order.
	s := chtest.NewStore(t, clickhouse.Options{ScanWindowRows: 2, MaxOpenConns: 1})
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: benchChunks(2, 10), At: base}); err != nil {
		t.Fatal(err)
	}
	want := scanAll(t, s, "bench")
	if len(want) != 20 {
		t.Fatalf("scanned %d movements, want 20", len(want))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var got []events.Movement
	err := s.ScanMovements(ctx, "bench", projections.Query{}, func(m *events.Movement) error {
		got = append(got, *m)
		_, err := s.StoredChunks(ctx, "bench")
		return err
	})
	if err != nil {
		t.Fatalf("ScanMovements with queries in the callback: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("scanned %d movements, want %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("movement %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapGrowth runs f with a sample function to call as it goes, and returns
// the largest growth of the live heap over its level before f that sample
// saw.
func heapGrowth(f func(sample func())) uint64 {
	before := liveHeap()
	var peak uint64
	f(func() { peak = max(peak, liveHeap()) })
	if peak < before {
		return 0
	}
	return peak - before
}

func TestScanMovementsBoundedMemory(t *testing.T) {
	// Scanning 10 times the history must not hold 10 times the memory: the
	// live heap while fn runs grows by a window, not by the account.
	const window, perChunk = 2000, 500
	growth := map[int]uint64{}
	for _, chunks := range []int{20, 200} { // 10k and 100k movements
		s := chtest.NewStore(t, clickhouse.Options{ScanWindowRows: window})
		for c := 0; c < chunks; c += 20 {
			batch := make([]*events.Chunk, 0, 20)
			for i := c; i < c+20; i++ {
				batch = append(batch, benchChunk(i, chunks, perChunk))
			}
			if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: batch, At: base}); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		growth[chunks] = heapGrowth(func(sample func()) {
			err := s.ScanMovements(t.Context(), "bench", projections.Query{}, func(*events.Movement) error {
				n++
				if n%1000 == 0 {
					sample()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		if n != chunks*perChunk {
			t.Fatalf("scanned %d movements, wrote %d", n, chunks*perChunk)
		}
		t.Logf("%d movements: live heap grew by %.1f MB during the scan", n, mb(growth[chunks]))
	}
	if limit := 2*growth[20] + 4<<20; growth[200] > limit {
		t.Errorf("live heap grew by %.1f MB scanning 100k movements, %.1f MB scanning 10k: want at most %.1f MB (bounded by the window)",
			mb(growth[200]), mb(growth[20]), mb(limit))
	}
}

// opsResult is projections of account whose operations come, in emission
// order, in no particular (ticker, open date, currency) order.
func opsResult(account string, days int) *projections.Result {
	r := &projections.Result{Account: account}
	third := decimal.NewFromInt(1).DivRound(decimal.NewFromInt(3), 28)
	for i := range days {
		d := events.NewDate(2025, 1, 1).AddDays(i)
		for _, ccy := range []string{"EUR", "USD"} {
			r.Broker = append(r.Broker, projections.BrokerSnapshot{Currency: ccy, Date: d, MovementCounter: i,
				Deposited: decimal.NewFromInt(int64(i)), RealizedPercentage: third})
		}
		for _, ticker := range []string{"B", "A"} {
			r.Tickers = append(r.Tickers, projections.TickerSnapshot{Ticker: ticker, Currency: "USD", Date: d,
				Weight: third, TotalShares: decimal.NewFromInt(int64(i))})
		}
		r.Operations = append(r.Operations, projections.Operation{Ticker: []string{"Z", "A", "M"}[i%3], Currency: "USD",
			OpenDate: events.NewDate(2025, 1, 1).AddDays(days - i%4), Realized: decimal.NewFromInt(int64(i)), Performance: third})
	}
	return r
}

func TestWriteProjectionsInBatches(t *testing.T) {
	// Rows inserted 3 at a time read back as the Collector orders them
	// (operations by ticker, open date, currency, then emission order),
	// every digit kept.
	s := chtest.NewStore(t, clickhouse.Options{ProjectionBatchRows: 3})
	r := opsResult("wb", 10)
	if err := s.WriteProjections(t.Context(), "wb", r.Emit, nil, base); err != nil {
		t.Fatal(err)
	}
	c := projections.NewCollector("wb")
	if err := r.Emit(c); err != nil {
		t.Fatal(err)
	}
	want := c.Result()
	got, err := s.Projections(t.Context(), "wb")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := resultText(got), resultText(want); g != w {
		t.Errorf("read back:\n%s\nwant:\n%s", g, w)
	}
}

// resultText is r in text, every field.
func resultText(r *projections.Result) string {
	var b strings.Builder
	for _, x := range r.Broker {
		fmt.Fprintf(&b, "broker %+v\n", x)
	}
	for _, x := range r.Tickers {
		fmt.Fprintf(&b, "ticker %+v\n", x)
	}
	for _, x := range r.Operations {
		fmt.Fprintf(&b, "operation %+v\n", x)
	}
	return b.String()
}

// versions returns how many versions of account each projection table
// holds.
func versions(t *testing.T, dsn, account string) [3]uint64 {
	t.Helper()
	c := conn(t, dsn)
	var out [3]uint64
	for i, table := range []string{"broker_snapshots", "ticker_snapshots", "operations"} {
		out[i] = count(t, c, "SELECT uniqExact(version) FROM "+table+" WHERE account = ?", account)
	}
	return out
}

func TestWriteProjectionsFailureLeavesOld(t *testing.T) {
	// A computation that fails half-way, a context cancelled half-way, or
	// rows with the same key: the old projections stay current, and the
	// rows already inserted of the new version are dropped.
	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{ProjectionBatchRows: 2})
	old := opsResult("f", 3)
	if err := s.WriteProjections(t.Context(), "f", old.Emit, nil, base); err != nil {
		t.Fatal(err)
	}
	want := resultText(mustProjections(t, s, "f"))
	boom := errors.New("boom")
	half := func(cancel func(), err error) func(projections.Sink) error {
		return func(sink projections.Sink) error {
			r := opsResult("f", 20)
			for i := range r.Tickers {
				if i == 15 {
					if cancel != nil {
						cancel()
					} else if err != nil {
						return err
					}
				}
				if err := sink.Ticker(&r.Tickers[i]); err != nil {
					return err
				}
			}
			dup := r.Broker[0]
			if err := sink.Broker(&dup); err != nil {
				return err
			}
			return sink.Broker(&dup)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	for _, tc := range []struct {
		name string
		ctx  context.Context
		emit func(projections.Sink) error
		want func(error) bool
	}{
		{"emit fails", t.Context(), half(nil, boom), func(err error) bool { return errors.Is(err, boom) }},
		{"cancelled", ctx, half(cancel, nil), func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"duplicate key", t.Context(), half(nil, nil), func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "increasing date order")
		}},
	} {
		err := s.WriteProjections(tc.ctx, "f", tc.emit, nil, base)
		if !tc.want(err) {
			t.Errorf("%s: WriteProjections = %v", tc.name, err)
		}
		if got := resultText(mustProjections(t, s, "f")); got != want {
			t.Errorf("%s: projections after the failed write:\n%s\nwant the old ones:\n%s", tc.name, got, want)
		}
		if v := versions(t, dsn, "f"); v != [3]uint64{1, 1, 1} {
			t.Errorf("%s: versions per table = %v, want only the committed one", tc.name, v)
		}
	}
	// Operations must come in increasing seq: two with one seq would be one
	// row of the table.
	err := s.WriteProjections(t.Context(), "f", func(sink projections.Sink) error {
		op := old.Operations[0]
		if err := sink.Operation(&op, 0); err != nil {
			return err
		}
		return sink.Operation(&op, 0)
	}, nil, base)
	if err == nil || !strings.Contains(err.Error(), "increasing seq") {
		t.Errorf("two operations with seq 0: WriteProjections = %v, want an error", err)
	}
}

func mustProjections(t *testing.T, s *clickhouse.Store, account string) *projections.Result {
	t.Helper()
	r, err := s.Projections(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteProjectionsBoundedMemory(t *testing.T) {
	// Writing 10 times the rows must not hold 10 times the memory while
	// they are emitted: rows go to the server in batches.
	const batch = 1000
	s := chtest.NewStore(t, clickhouse.Options{ProjectionBatchRows: batch})
	growth := map[int]uint64{}
	for _, days := range []int{300, 3000} { // about 7k and 70k rows
		growth[days] = heapGrowth(func(sample func()) {
			if err := s.WriteProjections(t.Context(), "m", synthProjections(days, 20, sample), nil, base); err != nil {
				t.Fatal(err)
			}
		})
		r := mustProjections(t, s, "m")
		if len(r.Broker) != days || len(r.Tickers) != 20*days {
			t.Fatalf("read back %d broker and %d ticker rows, want %d and %d", len(r.Broker), len(r.Tickers), days, 20*days)
		}
		t.Logf("%d days: live heap grew by %.1f MB while emitting", days, mb(growth[days]))
	}
	if limit := 2*growth[300] + 4<<20; growth[3000] > limit {
		t.Errorf("live heap grew by %.1f MB writing 3000 days, %.1f MB writing 300: want at most %.1f MB (bounded by the batches)",
			mb(growth[3000]), mb(growth[300]), mb(limit))
	}
}
