package projections

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// book builds movement histories by hand, the way the Tastytrade parser
// converts rows (spec/snapshots.md §1): one movement per stock, cash,
// dividend or tax row, one per contract for option rows.
type book struct {
	n  int
	ms []events.Movement
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func at(t testing.TB, s string) events.WallTime {
	t.Helper()
	if len(s) == len("2006-01-02") {
		s += "T12:00:00"
	}
	w, err := events.ParseWallTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func day(t testing.TB, s string) events.Date {
	t.Helper()
	d, err := events.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (b *book) add(m events.Movement) {
	b.n++
	m.ID = fmt.Sprintf("%032x:%s:%d", b.n, m.Kind, m.Part)
	m.Account = "acct"
	m.Broker = events.BrokerTastytrade
	if m.Currency == "" {
		m.Currency = "USD"
	}
	b.ms = append(b.ms, m)
}

// stock adds a stock trade: qty shares at price, with positive costs.
func (b *book) stock(t testing.TB, ts, ticker string, code events.TradeCode, qty, price, comm, fees string) {
	b.add(events.Movement{Kind: events.KindStock, Time: at(t, ts), Ticker: ticker, Code: code,
		Quantity: dec(qty), Price: dec(price), Commissions: dec(comm), Fees: dec(fees)})
}

// optionRow adds one option row of n contracts with the row's signed Value
// and its (positive) commissions and fees, split per contract.
func (b *book) optionRow(t testing.TB, ts, ticker string, code events.TradeCode, typ events.OptionType, strike, exp string, n int, value, comm, fees string) {
	t.Helper()
	b.optionRowCur(t, ts, "USD", ticker, code, typ, strike, exp, n, value, comm, fees)
}

func (b *book) optionRowCur(t testing.TB, ts, cur, ticker string, code events.TradeCode, typ events.OptionType, strike, exp string, n int, value, comm, fees string) {
	t.Helper()
	N := decimal.NewFromInt(int64(n))
	v, c, f := dec(value), dec(comm), dec(fees)
	for part := 1; part <= n; part++ {
		b.add(events.Movement{Kind: events.KindOption, Time: at(t, ts), Part: part, Currency: cur, Ticker: ticker,
			Code: code, OptionType: typ, Strike: dec(strike), Expiration: day(t, exp),
			Quantity: decimal.NewFromInt(1), Multiplier: decimal.NewFromInt(100),
			Premium:     v.DivRound(N, 28),
			NetPremium:  v.Sub(c).Sub(f).DivRound(N, 28),
			Commissions: c.DivRound(N, 28), Fees: f.DivRound(N, 28)})
	}
}

func (b *book) cash(t testing.TB, ts string, typ events.CashType, amount, fees string) {
	b.add(events.Movement{Kind: events.KindCash, Time: at(t, ts), CashType: typ, Amount: dec(amount), Fees: dec(fees)})
}

func (b *book) dividend(t testing.TB, ts, ticker, amount string) {
	b.add(events.Movement{Kind: events.KindDividend, Time: at(t, ts), Ticker: ticker, Amount: dec(amount)})
}

func (b *book) tax(t testing.TB, ts, ticker, amount string) {
	b.add(events.Movement{Kind: events.KindDividendTax, Time: at(t, ts), Ticker: ticker, Amount: dec(amount)})
}

func (b *book) adjust(t testing.TB, ts, root string, typ events.OptionType, exp, from, to string) {
	b.add(events.Movement{Kind: events.KindStrikeAdjustment, Time: at(t, ts), Ticker: root, OptionType: typ,
		Expiration: day(t, exp), Strike: dec(from), NewStrike: dec(to), Amount: dec("96")})
}

// tickerRow returns the ticker snapshot of (ticker, USD) on day d.
func tickerRow(t testing.TB, r *Result, ticker, d string) TickerSnapshot {
	t.Helper()
	return tickerRowCur(t, r, ticker, "USD", d)
}

func tickerRowCur(t testing.TB, r *Result, ticker, cur, d string) TickerSnapshot {
	t.Helper()
	dd := day(t, d)
	for _, s := range r.Tickers {
		if s.Ticker == ticker && s.Currency == cur && s.Date == dd {
			return s
		}
	}
	t.Fatalf("no %s %s ticker snapshot on %s; have %v", ticker, cur, d, tickerDates(r, ticker))
	return TickerSnapshot{}
}

func hasTickerRow(r *Result, ticker string, d events.Date) bool {
	for _, s := range r.Tickers {
		if s.Ticker == ticker && s.Date == d {
			return true
		}
	}
	return false
}

func tickerDates(r *Result, ticker string) []string {
	var ds []string
	for _, s := range r.Tickers {
		if s.Ticker == ticker {
			ds = append(ds, s.Currency+" "+s.Date.String())
		}
	}
	return ds
}

func brokerRow(t testing.TB, r *Result, d string) BrokerSnapshot {
	t.Helper()
	return brokerRowCur(t, r, "USD", d)
}

func brokerRowCur(t testing.TB, r *Result, cur, d string) BrokerSnapshot {
	t.Helper()
	dd := day(t, d)
	for _, s := range r.Broker {
		if s.Currency == cur && s.Date == dd {
			return s
		}
	}
	t.Fatalf("no %s broker snapshot on %s", cur, d)
	return BrokerSnapshot{}
}

// requireDec fails unless got equals want exactly (as decimals).
func requireDec(t testing.TB, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dec(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// requireNear fails unless |got − want| < tol (the original's tolerances).
func requireNear(t testing.TB, what string, got decimal.Decimal, want, tol string) {
	t.Helper()
	if got.Sub(dec(want)).Abs().Cmp(dec(tol)) >= 0 {
		t.Errorf("%s = %s, want %s (±%s)", what, got, want, tol)
	}
}

func requireBool(t testing.TB, what string, got, want bool) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func requireInt(t testing.TB, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func jsonOf(t testing.TB, r *Result, asOf *events.Date) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r, asOf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
