package synth_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/shopspring/decimal"
)

type generator struct {
	name   string
	gen    func(io.Writer, synth.Config) (synth.Stats, error)
	parser parsers.Parser
}

var generators = []generator{
	{events.BrokerTastytrade, synth.Tastytrade, parsers.Tastytrade{}},
	{events.BrokerIBKR, synth.IBKR, parsers.IBKR{}},
}

func generate(t testing.TB, g generator, cfg synth.Config) ([]byte, synth.Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := g.gen(&buf, cfg)
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	return buf.Bytes(), st
}

func TestDeterministic(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			cfg := synth.Config{Seed: 7, Rows: 3000}
			a, sa := generate(t, g, cfg)
			b, sb := generate(t, g, cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("same config, different bytes")
			}
			if !maps.Equal(sa.Movements, sb.Movements) || sa.Rows != sb.Rows || sa.Ignored != sb.Ignored {
				t.Fatalf("same config, different stats: %+v vs %+v", sa, sb)
			}
			for _, other := range []synth.Config{
				{Seed: 8, Rows: 3000},
				{Seed: 7, Rows: 3000, Tickers: 21},
				{Seed: 7, Rows: 3000, RowsPerDay: 150},
				{Seed: 7, Rows: 3000, Start: events.NewDate(2024, time.March, 4)},
			} {
				if c, _ := generate(t, g, other); bytes.Equal(a, c) {
					t.Errorf("%+v writes the same bytes as %+v", other, cfg)
				}
			}
			// A longer history starts the same way: the first days do not
			// depend on how many rows follow (compare the IBKR deposits, or
			// the last, oldest, Tastytrade lines).
			long, _ := generate(t, g, synth.Config{Seed: 7, Rows: 6000})
			if g.name == events.BrokerTastytrade {
				tail := func(b []byte) string {
					l := strings.Split(strings.TrimSpace(string(b)), "\n")
					return strings.Join(l[len(l)-500:], "\n")
				}
				if tail(a) != tail(long) {
					t.Error("the oldest rows changed with Rows")
				}
			}
		})
	}
}

// parse parses a generated statement and checks it against the generator's
// own report: no row errors, every row accounted for, the movements by kind.
func parse(t *testing.T, g generator, data []byte, st synth.Stats) []events.Movement {
	t.Helper()
	res, err := parsers.Parse(g.parser, bytes.NewReader(data), parsers.Options{Account: "synthetic"})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(res.RowErrors) > 0 {
		t.Fatalf("%d row errors, first: %v", len(res.RowErrors), &res.RowErrors[0])
	}
	if len(res.Ignored) != st.Ignored {
		t.Errorf("%d ignored rows, the generator reports %d", len(res.Ignored), st.Ignored)
	}
	if res.Rows != st.Rows+st.Ignored {
		t.Errorf("%d rows read, the generator wrote %d (+%d ignored)", res.Rows, st.Rows, st.Ignored)
	}
	got := map[events.Kind]int{}
	for _, m := range res.Movements {
		got[m.Kind]++
	}
	if !maps.Equal(got, st.Movements) {
		t.Errorf("movements by kind = %v, the generator reports %v", got, st.Movements)
	}
	if len(res.Movements) > 0 {
		days := map[events.Date]bool{}
		for _, m := range res.Movements {
			days[m.Time.Day()] = true
		}
		first, last := slices.Min(slices.Collect(maps.Keys(days))), slices.Max(slices.Collect(maps.Keys(days)))
		if first != st.First || last != st.Last {
			t.Errorf("movements from %s to %s, the generator reports %s to %s", first, last, st.First, st.Last)
		}
	}
	return res.Movements
}

func TestParses(t *testing.T) {
	for _, g := range generators {
		for _, cfg := range []synth.Config{
			{Seed: 1, Rows: 0},
			{Seed: 1, Rows: 1},
			{Seed: 2, Rows: 7},
			{Seed: 3, Rows: 500, RowsPerDay: 30},
			{Seed: 4, Rows: 20000},
			{Seed: 5, Rows: 5000, Tickers: 1, RowsPerDay: 5},
			{Seed: 6, Rows: 5000, Tickers: 300, Start: events.NewDate(2019, time.December, 28)},
		} {
			t.Run(fmt.Sprintf("%s/%+v", g.name, cfg), func(t *testing.T) {
				data, st := generate(t, g, cfg)
				if st.Rows != cfg.Rows {
					t.Fatalf("wrote %d rows, want %d", st.Rows, cfg.Rows)
				}
				ms := parse(t, g, data, st)
				checkConsistent(t, ms)
				checkWindowed(t, g, data, ms)
			})
		}
	}
}

// checkWindowed parses again with a windowed occurrence index: the output is
// in time order within each scope, so the bounded index must not give up
// and must give the same movements.
func checkWindowed(t *testing.T, g generator, data []byte, want []events.Movement) {
	t.Helper()
	idx := parsers.NewWindowedOccurrences()
	res, err := parsers.Parse(g.parser, bytes.NewReader(data), parsers.Options{Account: "synthetic", Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Unordered() {
		t.Fatal("the windowed index found rows out of time order")
	}
	if len(res.Movements) != len(want) {
		t.Fatalf("%d movements with a windowed index, %d with a full one", len(res.Movements), len(want))
	}
	for i := range want {
		if !res.Movements[i].Equal(&want[i]) {
			t.Fatalf("movement %d differs with a windowed index:\n%+v\n%+v", i, res.Movements[i], want[i])
		}
	}
}

// checkConsistent replays the movements in time order and checks that the
// history is one a real account could have: funded first, never selling
// shares it does not hold, closing only options it opened, dividends only on
// held shares.
func checkConsistent(t *testing.T, ms []events.Movement) {
	t.Helper()
	if len(ms) == 0 {
		return
	}
	sorted := slices.Clone(ms)
	slices.SortStableFunc(sorted, func(a, b events.Movement) int { return events.Compare(&a, &b) })
	if first := sorted[0]; first.Kind != events.KindCash || first.CashType != events.CashDeposit {
		t.Errorf("the history starts with %s %s, not a deposit", first.Kind, first.CashType)
	}
	type contract struct {
		ticker, ccy string
		typ         events.OptionType
		strike      string
		exp         events.Date
	}
	shares := map[string]decimal.Decimal{}
	open := map[contract]int{}
	for _, m := range sorted {
		key := m.Ticker + "|" + m.Currency
		switch m.Kind {
		case events.KindStock:
			if m.Code.BuySide() {
				shares[key] = shares[key].Add(m.Quantity)
			} else {
				shares[key] = shares[key].Sub(m.Quantity)
			}
			if shares[key].Sign() < 0 {
				t.Fatalf("%s %s: sold more %s than held (%s)", m.Time, m.ID, m.Ticker, shares[key])
			}
		case events.KindOption:
			c := contract{m.Ticker, m.Currency, m.OptionType, m.Strike.String(), m.Expiration}
			if m.Code.Opening() {
				open[c]++
			} else if open[c]--; open[c] < 0 {
				t.Fatalf("%s %s: closes %+v, which is not open", m.Time, m.ID, c)
			}
			if m.Time.Day() > m.Expiration {
				t.Fatalf("%s %s: option traded after its expiration %s", m.Time, m.ID, m.Expiration)
			}
		case events.KindDividend, events.KindDividendTax:
			if shares[key].Sign() <= 0 {
				t.Fatalf("%s %s: dividend on %s, which is not held", m.Time, m.ID, m.Ticker)
			}
		}
	}
}

// TestMix checks that a mid-size file has every row kind, identical
// duplicate fills, multi-contract rows and expirations, and spreads its rows
// over many weeks at about RowsPerDay a trading day.
func TestMix(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			cfg := synth.Config{Seed: 11, Rows: 50000}
			data, st := generate(t, g, cfg)
			ms := parse(t, g, data, st)
			seen := map[string]int{}
			for _, m := range ms {
				k := string(m.Kind)
				switch m.Kind {
				case events.KindCash:
					k += "/" + string(m.CashType)
				case events.KindStock, events.KindOption:
					k += "/" + string(m.Code)
				}
				if m.Kind == events.KindOption && m.Premium.IsZero() {
					seen["option/expired"]++
				}
				if m.Part > 1 {
					seen["option/multi-contract"]++
				}
				seen[k]++
			}
			want := []string{
				"cash/deposit", "cash/withdrawal", "cash/interests_gained", "cash/interests_paid", "cash/fee",
				"stock/buy_to_open", "stock/sell_to_close",
				"option/sell_to_open", "option/buy_to_close", "option/buy_to_open", "option/sell_to_close",
				"option/expired", "option/multi-contract", "dividend", "dividend_tax",
			}
			if g.name == events.BrokerTastytrade {
				want = append(want, "cash/lending")
			} else {
				want = append(want, "conversion")
			}
			for _, k := range want {
				if seen[k] == 0 {
					t.Errorf("no %s in %d movements (%v)", k, len(ms), seen)
				}
			}
			currencies := map[string]bool{}
			for _, m := range ms {
				currencies[m.Currency] = true
			}
			if g.name == events.BrokerIBKR && len(currencies) != 3 {
				t.Errorf("currencies %v, want USD, GBP and EUR", currencies)
			}

			// Identical rows: the same trade line more than once.
			counts := map[string]int{}
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, ",Trade,") || strings.HasPrefix(l, "Trades,Data,") {
					counts[l]++
				}
			}
			dups := 0
			for _, n := range counts {
				if n > 1 {
					dups++
				}
			}
			if dups == 0 {
				t.Error("no identical duplicate fills")
			}

			// Spread: weekdays only, about RowsPerDay a day, many weeks.
			weeks := map[string]bool{}
			days := map[events.Date]bool{}
			for _, m := range ms {
				d := m.Time.Day()
				if wd := d.Time().Weekday(); wd == time.Saturday || wd == time.Sunday {
					t.Fatalf("movement on a %s: %+v", wd, m)
				}
				weeks[d.ISOWeek()] = true
				days[d] = true
			}
			perDay := st.Rows / len(days)
			if perDay < synth.DefaultRowsPerDay/2 || perDay > synth.DefaultRowsPerDay*2 {
				t.Errorf("%d rows per trading day on average, want about %d", perDay, synth.DefaultRowsPerDay)
			}
			if len(weeks) < 20 {
				t.Errorf("%d rows over %d weeks only", st.Rows, len(weeks))
			}
		})
	}
}

// TestBoundedMemory writes a large file to a sink and samples the heap while
// it does: a generator that held the history would need tens of MiB.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 rows")
	}
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			runtime.GC()
			w := &heapSampler{every: 64 << 10}
			st, err := g.gen(w, synth.Config{Seed: 3, Rows: 300_000})
			if err != nil {
				t.Fatal(err)
			}
			if w.n < 20<<20 {
				t.Fatalf("wrote only %d bytes", w.n)
			}
			const limit = 16 << 20
			if w.peak > limit {
				t.Errorf("peak heap %d MiB while writing %d MiB (%d rows), want under %d MiB", w.peak>>20, w.n>>20, st.Rows, limit>>20)
			}
			t.Logf("%d rows, %d MiB, peak heap in use %.1f MiB", st.Rows, w.n>>20, float64(w.peak)/(1<<20))
		})
	}
}

// heapSampler discards what it is given and samples HeapInuse every so many
// bytes.
type heapSampler struct {
	n, next, every int
	peak           uint64
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.n += len(p)
	if h.n >= h.next {
		h.next = h.n + h.every
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapInuse)
	}
	return len(p), nil
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []synth.Config{
		{Rows: -1},
		{Rows: 1, Tickers: -2},
		{Rows: 1, RowsPerDay: -1},
		{Rows: 1, Tickers: 1 << 20},
		{Rows: 1, Start: 20231345},
	} {
		for _, g := range generators {
			if _, err := g.gen(io.Discard, cfg); !errors.Is(err, synth.ErrConfig) {
				t.Errorf("%s %+v: error %v, want ErrConfig", g.name, cfg, err)
			}
		}
	}
	// A failing writer fails the generator.
	boom := errors.New("boom")
	for _, g := range generators {
		if _, err := g.gen(failWriter{boom}, synth.Config{Rows: 10000}); !errors.Is(err, boom) {
			t.Errorf("%s: error %v, want %v", g.name, err, boom)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
