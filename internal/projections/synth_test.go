package projections

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// synthHistory builds a deterministic, consistent movement history of about
// n movements for one account: deposits, fees and interest; stock buys and
// sales of shares actually held; option rows of 1–5 contracts (short puts,
// covered calls, long calls and verticals) bought back, sold or expired with
// expiration rows; quarterly dividends with withholding; a small second
// currency. About 40 movements per weekday, so the history's length grows
// with n (10k ≈ 1 year, 100k ≈ 10 years, 1M ≈ 100 years).
func synthHistory(n int, seed uint64) []events.Movement {
	g := &synth{rng: rand.New(rand.NewPCG(seed, 0x5eed)), day: time.Date(2010, 1, 4, 0, 0, 0, 0, time.UTC)}
	g.tickers = []string{"AAPL", "MSFT", "AMD", "TSLA", "SOFI", "MPW", "PFE", "KO", "T", "F",
		"PLTR", "NVDA", "INTC", "BAC", "XOM", "CVX", "DIS", "NKE", "SBUX", "WMT"}
	g.price = make(map[string]decimal.Decimal)
	g.shares = make(map[string]int64)
	for i, tk := range g.tickers {
		g.price[tk] = decimal.NewFromInt(int64(10 + 9*i))
	}
	for len(g.ms) < n {
		g.tradingDay()
		g.day = g.day.AddDate(0, 0, 1)
		for g.day.Weekday() == time.Saturday || g.day.Weekday() == time.Sunday {
			g.day = g.day.AddDate(0, 0, 1)
		}
	}
	return g.ms[:n:n]
}

type synthOption struct {
	ticker string
	code   events.TradeCode // the opening code
	typ    events.OptionType
	strike decimal.Decimal
	exp    time.Time
	n      int
}

type synth struct {
	rng     *rand.Rand
	day     time.Time
	sec     int
	row     int
	ms      []events.Movement
	tickers []string
	price   map[string]decimal.Decimal
	shares  map[string]int64
	open    []synthOption
}

func (g *synth) cents(lo, hi int) decimal.Decimal {
	return decimal.New(int64(lo*100+g.rng.IntN((hi-lo)*100+1)), -2)
}

func (g *synth) next() events.WallTime {
	g.sec += 1 + g.rng.IntN(60)
	return events.WallTimeOf(g.day.Add(9*time.Hour + time.Duration(g.sec)*time.Second))
}

func (g *synth) emit(m events.Movement, parts int) {
	g.row++
	m.Account = "bench"
	m.Broker = events.BrokerTastytrade
	if m.Currency == "" {
		m.Currency = "USD"
	}
	if parts == 0 {
		m.ID = fmt.Sprintf("%032x:%s:0", g.row, m.Kind)
		g.ms = append(g.ms, m)
		return
	}
	for p := 1; p <= parts; p++ {
		c := m
		c.Part = p
		c.ID = fmt.Sprintf("%032x:%s:%d", g.row, m.Kind, p)
		g.ms = append(g.ms, c)
	}
}

func (g *synth) option(o synthOption, code events.TradeCode, value, comm, fees decimal.Decimal) {
	N := decimal.NewFromInt(int64(o.n))
	g.emit(events.Movement{Kind: events.KindOption, Time: g.next(), Ticker: o.ticker, Code: code,
		OptionType: o.typ, Strike: o.strike, Expiration: events.DateOf(o.exp),
		Quantity: decimal.NewFromInt(1), Multiplier: decimal.NewFromInt(100),
		Premium:     value.DivRound(N, 28),
		NetPremium:  value.Sub(comm).Sub(fees).DivRound(N, 28),
		Commissions: comm.DivRound(N, 28), Fees: fees.DivRound(N, 28)}, o.n)
}

func (g *synth) tradingDay() {
	g.sec = 0
	// Prices drift.
	for _, tk := range g.tickers {
		p := g.price[tk].Add(decimal.New(int64(g.rng.IntN(41)-20), -2))
		if p.LessThan(decimal.NewFromInt(2)) {
			p = decimal.NewFromInt(2)
		}
		g.price[tk] = p
	}
	if g.rng.IntN(5) == 0 {
		g.emit(events.Movement{Kind: events.KindCash, Time: g.next(), CashType: events.CashDeposit, Amount: g.cents(100, 5000)}, 0)
	}
	if g.rng.IntN(40) == 0 {
		g.emit(events.Movement{Kind: events.KindCash, Time: g.next(), CashType: events.CashWithdrawal, Amount: g.cents(50, 500)}, 0)
	}
	if g.rng.IntN(20) == 0 {
		g.emit(events.Movement{Kind: events.KindCash, Time: g.next(), CashType: events.CashFee, Fees: decimal.New(2, -2)}, 0)
	}
	if g.day.Day() == 1 || (g.day.Day() <= 3 && g.day.Weekday() == time.Monday) {
		g.emit(events.Movement{Kind: events.KindCash, Time: g.next(), CashType: events.CashInterestsGained, Amount: g.cents(1, 20)}, 0)
	}
	if g.rng.IntN(10) == 0 {
		g.emit(events.Movement{Kind: events.KindCash, Time: g.next(), Currency: "EUR", CashType: events.CashDeposit, Amount: g.cents(10, 500)}, 0)
		g.emit(events.Movement{Kind: events.KindStock, Time: g.next(), Currency: "EUR", Ticker: "SAP", Code: events.BuyToOpen,
			Quantity: decimal.NewFromInt(int64(1 + g.rng.IntN(5))), Price: g.cents(100, 120), Commissions: decimal.NewFromInt(1)}, 0)
	}

	// Expirations: every position expiring today gets its expiration row
	// (a BuyToClose with premium 0, whatever the side).
	keep := g.open[:0]
	for _, o := range g.open {
		if !o.exp.After(g.day) {
			g.option(o, events.BuyToClose, decimal.Zero, decimal.Zero, decimal.Zero)
			continue
		}
		keep = append(keep, o)
	}
	g.open = keep

	// Close some positions early.
	keep = g.open[:0]
	for _, o := range g.open {
		if g.rng.IntN(12) != 0 {
			keep = append(keep, o)
			continue
		}
		code, value := events.BuyToClose, g.cents(0, 3).Mul(decimal.NewFromInt(int64(-100*o.n)))
		if o.code == events.BuyToOpen {
			code, value = events.SellToClose, value.Neg()
		}
		g.option(o, code, value, decimal.Zero, decimal.New(int64(13*o.n), -2))
	}
	g.open = keep

	// Stock trades and new options on a few tickers.
	for range 4 {
		tk := g.tickers[g.rng.IntN(len(g.tickers))]
		p := g.price[tk]
		switch g.rng.IntN(4) {
		case 0, 1:
			q := int64(1 + g.rng.IntN(100))
			g.emit(events.Movement{Kind: events.KindStock, Time: g.next(), Ticker: tk, Code: events.BuyToOpen,
				Quantity: decimal.NewFromInt(q), Price: p, Fees: decimal.New(int64(g.rng.IntN(50)), -2)}, 0)
			g.shares[tk] += q
		case 2:
			if held := g.shares[tk]; held > 0 {
				q := 1 + g.rng.Int64N(held)
				g.emit(events.Movement{Kind: events.KindStock, Time: g.next(), Ticker: tk, Code: events.SellToClose,
					Quantity: decimal.NewFromInt(q), Price: p.Add(decimal.New(int64(g.rng.IntN(201)-100), -2)),
					Commissions: decimal.NewFromInt(1), Fees: decimal.New(12, -2)}, 0)
				g.shares[tk] -= q
			}
		case 3:
		}
		// Options expire on a Friday 1–8 weeks out.
		exp := g.day.AddDate(0, 0, 7*(1+g.rng.IntN(8)))
		for exp.Weekday() != time.Friday {
			exp = exp.AddDate(0, 0, 1)
		}
		o := synthOption{ticker: tk, exp: exp, n: 1 + g.rng.IntN(5), strike: p.Round(0)}
		switch g.rng.IntN(4) {
		case 0, 1: // short put
			o.code, o.typ = events.SellToOpen, events.Put
			o.strike = o.strike.Sub(decimal.NewFromInt(1))
			g.option(o, events.SellToOpen, g.cents(10, 200).Mul(decimal.NewFromInt(int64(o.n))), decimal.NewFromInt(int64(o.n)), decimal.New(int64(14*o.n), -2))
		case 2: // covered call or long call
			o.typ = events.Call
			o.strike = o.strike.Add(decimal.NewFromInt(2))
			if g.shares[tk] >= int64(100*o.n) {
				o.code = events.SellToOpen
				g.option(o, events.SellToOpen, g.cents(10, 100).Mul(decimal.NewFromInt(int64(o.n))), decimal.NewFromInt(int64(o.n)), decimal.New(int64(14*o.n), -2))
			} else {
				o.code = events.BuyToOpen
				g.option(o, events.BuyToOpen, g.cents(10, 100).Mul(decimal.NewFromInt(int64(-o.n))), decimal.NewFromInt(int64(o.n)), decimal.New(int64(14*o.n), -2))
			}
		case 3: // put vertical
			o.code, o.typ = events.SellToOpen, events.Put
			g.option(o, events.SellToOpen, g.cents(50, 150).Mul(decimal.NewFromInt(int64(o.n))), decimal.NewFromInt(int64(o.n)), decimal.New(int64(14*o.n), -2))
			long := o
			long.code = events.BuyToOpen
			long.strike = o.strike.Sub(decimal.NewFromInt(2))
			g.option(long, events.BuyToOpen, g.cents(5, 50).Mul(decimal.NewFromInt(int64(-o.n))), decimal.NewFromInt(int64(o.n)), decimal.New(int64(14*o.n), -2))
			g.open = append(g.open, long)
		}
		g.open = append(g.open, o)
	}

	// Quarterly dividends on held shares, with 15 % withheld.
	if g.day.Day() <= 7 && g.day.Month()%3 == 0 && g.day.Weekday() == time.Tuesday {
		for _, tk := range g.tickers {
			if q := g.shares[tk]; q > 0 {
				amt := decimal.New(q*int64(5+len(tk)), -2)
				ts := g.next()
				g.emit(events.Movement{Kind: events.KindDividend, Time: ts, Ticker: tk, Amount: amt}, 0)
				g.emit(events.Movement{Kind: events.KindDividendTax, Time: ts, Seq: 1, Ticker: tk, Amount: amt.Mul(decimal.New(15, -2))}, 0)
			}
		}
	}
}
