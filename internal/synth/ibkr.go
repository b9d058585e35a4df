package synth

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
)

const (
	ibTradesHeader = "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,C. Price,Proceeds,Comm/Fee,Basis,Realized P/L,Realized P/L %,MTM P/L,Code\n"
	ibForexHeader  = "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,,Proceeds,Comm in USD,,,,MTM in USD,Code\n"
)

var ibCodes = [][2]string{
	{"C", "Closing Trade"}, {"Ep", "Resulted from an Expired Position"}, {"O", "Opening Trade"},
	{"P", "Partial Execution"}, {"Re", "Interest or Dividend Accrual Reversal"},
}

// IBKR writes an Interactive Brokers activity statement of cfg.Rows
// transaction rows to w, in the real multi-section layout: Statement and
// Account Information, Trades (Stocks per currency and symbol with SubTotal
// and Total rows, Equity and Index Options, Forex under its own "Comm in
// USD" header), Deposits & Withdrawals, Dividends, Withholding Tax,
// Interest and Fees (each with Total rows per currency), Financial
// Instrument Information and Codes. The base currency is USD; stocks and
// cash are also held in GBP and EUR, and forex trades convert between them.
func IBKR(w io.Writer, cfg Config) (Stats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	m, err := newModel(cfg, true)
	if err != nil {
		return Stats{}, err
	}
	g := &ibWriter{m: m, o: newOutput(w), st: Stats{Movements: map[events.Kind]int{}}}
	g.statement()
	g.stocks()
	g.options()
	g.forex()
	g.cash("Deposits & Withdrawals", "Deposits & Withdrawals,Header,Currency,Settle Date,Description,Amount\n", "", evDeposit, evWithdrawal)
	g.dividends("Dividends", "Dividends,Header,Currency,Date,Description,Amount\n", evDividend)
	g.dividends("Withholding Tax", "Withholding Tax,Header,Currency,Date,Description,Amount,Code\n", evTax)
	g.cash("Interest", "Interest,Header,Currency,Date,Description,Amount\n", "", evCreditInterest, evDebitInterest)
	g.cash("Fees", "Fees,Header,Subtitle,Currency,Date,Description,Amount\n", "Other Fees", evFee, evFee)
	g.instruments()
	if err := g.o.flush(); err != nil {
		return g.st, fmt.Errorf("synth: write: %w", err)
	}
	if g.st.Rows != m.rows {
		return g.st, fmt.Errorf("synth: internal error: wrote %d rows, planned %d", g.st.Rows, m.rows)
	}
	return g.st, nil
}

type ibWriter struct {
	m  *model
	o  *output
	st Stats
	b  []byte
}

// row writes one transaction row (n copies) yielding kind movements.
func (g *ibWriter) row(b []byte, copies int8, day int, counts ...ibCount) {
	for range copies {
		g.o.line(b)
		g.st.Rows++
		for _, c := range counts {
			g.st.count(c.kind, c.n)
		}
	}
	d := g.m.date(day)
	if g.st.First.IsZero() || d < g.st.First {
		g.st.First = d
	}
	if d > g.st.Last {
		g.st.Last = d
	}
}

type ibCount struct {
	kind events.Kind
	n    int
}

// ignored writes a data row the parser ignores.
func (g *ibWriter) ignored(line string) {
	g.o.line([]byte(line))
	g.st.Ignored++
}

// each calls fn with the selected events of every day, in order.
func (g *ibWriter) each(f filter, fn func(e *event, d events.Date)) {
	for i := 0; i <= g.m.lastDay && g.o.err == nil; i++ {
		evs := g.m.day(i, f)
		if len(evs) == 0 {
			continue
		}
		d := g.m.date(i)
		for j := range evs {
			fn(&evs[j], d)
		}
	}
}

func longDate(d events.Date) string { return d.Time().Format("January 2, 2006") }

func (g *ibWriter) statement() {
	last := g.m.date(max(g.m.lastDay, 0))
	g.o.line([]byte("Statement,Header,Field Name,Field Value\n"))
	g.ignored("Statement,Data,BrokerName,Interactive Brokers LLC\n")
	g.ignored("Statement,Data,BrokerAddress,\"One Pickwick Plaza, Greenwich, CT 06830\"\n")
	g.ignored("Statement,Data,Title,Activity Statement\n")
	g.ignored(fmt.Sprintf("Statement,Data,Period,\"%s - %s\"\n", longDate(g.m.date(0)), longDate(last)))
	g.ignored(fmt.Sprintf("Statement,Data,WhenGenerated,\"%s, 20:15:00 EST\"\n", last))
	g.o.line([]byte("Account Information,Header,Field Name,Field Value\n"))
	g.ignored("Account Information,Data,Name,Synthetic Trader\n")
	g.ignored("Account Information,Data,Account,U0000000\n")
	g.ignored("Account Information,Data,Account Type,Individual\n")
	g.ignored("Account Information,Data,Base Currency,USD\n")
}

// ibTime appends the quoted "YYYY-MM-DD, HH:MM:SS" New York time of a
// market second.
func ibTime(b []byte, d events.Date, sec int32) []byte {
	wall := 9*3600 + 30*60 + int(sec)
	b = append(b, '"')
	b = append(b, d.String()...)
	b = append(b, ", "...)
	b = append2(b, wall/3600)
	b = append(b, ':')
	b = append2(b, wall/60%60)
	b = append(b, ':')
	b = append2(b, wall%60)
	return append(b, '"')
}

// tickersBy returns the tickers of a currency sorted by symbol.
func (m *model) tickersBy(ccy int) []int {
	var ts []int
	for i := range m.tickers {
		if m.tickers[i].ccy == ccy {
			ts = append(ts, i)
		}
	}
	slices.SortFunc(ts, func(a, b int) int { return strings.Compare(m.tickers[a].symbol, m.tickers[b].symbol) })
	return ts
}

// ibSums accumulates the columns of SubTotal and Total rows.
type ibSums struct {
	rows          int
	qty, proceeds int64 // quantity at qtyScale, amounts at scale
	comm, basis   int64
	realized, mtm int64
	qtyScale      int
	scale         int
}

func (s *ibSums) add(o ibSums) {
	s.rows += o.rows
	s.qty += o.qty
	s.proceeds += o.proceeds
	s.comm += o.comm
	s.basis += o.basis
	s.realized += o.realized
	s.mtm += o.mtm
}

// total appends "...,<qty>,,,<proceeds>,<comm>,<basis>,<realized>,,<mtm>,\n".
func (s *ibSums) total(b []byte, withQty bool) []byte {
	if withQty {
		b = appendTrim(b, s.qty, s.qtyScale)
	}
	b = append(b, ",,,"...)
	b = appendTrim(b, s.proceeds, s.scale)
	b = append(b, ',')
	b = appendTrim(b, -s.comm, s.scale)
	b = append(b, ',')
	b = appendTrim(b, s.basis, s.scale)
	b = append(b, ',')
	b = appendTrim(b, s.realized, s.scale)
	b = append(b, ",,"...)
	b = appendTrim(b, s.mtm, s.scale)
	return append(b, ",\n"...)
}

// Stock amounts are at scale 6: shares ×10⁴ times cents.
const ibStockScale = 6

func (g *ibWriter) stocks() {
	g.o.line([]byte(ibTradesHeader))
	m := g.m
	for ccy := range numCcy {
		var ccyTotal ibSums
		for _, ti := range m.tickersBy(ccy) {
			t := &m.tickers[ti]
			sub := ibSums{qtyScale: 4, scale: ibStockScale}
			g.each(filter{lanes: m.stock[ti]}, func(e *event, d events.Date) {
				if e.kind != evStockBuy && e.kind != evStockSell {
					return
				}
				qty := e.qty
				if e.kind == evStockSell {
					qty = -qty
				}
				cprice := t.priceOn(e.day)
				proceeds := -qty * e.price
				comm := e.comm * 10000 // cents → scale 6
				var basis, realized int64
				code := "O"
				if e.kind == evStockBuy {
					basis = -proceeds + comm
				} else {
					basis = qty * e.ep.openPrice // negative: the cost of the shares sold
					realized = proceeds - comm + basis
					code = "C"
				}
				if e.copies > 1 {
					code += ";P"
				}
				mtm := qty * (cprice - e.price)
				b := append(g.b[:0], "Trades,Data,Order,Stocks,"...)
				b = append(b, ccyNames[ccy]...)
				b = append(b, ',')
				b = append(b, t.symbol...)
				b = append(b, ',')
				b = ibTime(b, d, e.sec)
				b = append(b, ',')
				b = appendTrim(b, qty, 4)
				b = append(b, ',')
				b = appendTrim(b, e.price, 2)
				b = append(b, ',')
				b = appendTrim(b, cprice, 2)
				b = append(b, ',')
				b = appendTrim(b, proceeds, ibStockScale)
				b = append(b, ',')
				b = appendTrim(b, -comm, ibStockScale)
				b = append(b, ',')
				b = appendTrim(b, basis, ibStockScale)
				b = append(b, ',')
				b = appendTrim(b, realized, ibStockScale)
				b = append(b, ",0,"...)
				b = appendTrim(b, mtm, ibStockScale)
				b = append(b, ',')
				b = append(b, code...)
				b = append(b, '\n')
				g.b = b
				g.row(b, e.copies, e.day, ibCount{events.KindStock, 1})
				n := int64(e.copies)
				sub.add(ibSums{rows: int(n), qty: n * qty, proceeds: n * proceeds, comm: n * comm, basis: n * basis, realized: n * realized, mtm: n * mtm})
			})
			if sub.rows > 0 {
				b := append(g.b[:0], "Trades,SubTotal,,Stocks,"...)
				b = append(b, ccyNames[ccy]...)
				b = append(b, ',')
				b = append(b, t.symbol...)
				b = append(b, ",,"...)
				g.o.line(sub.total(b, true))
				ccyTotal.add(sub)
				ccyTotal.qtyScale, ccyTotal.scale = 4, ibStockScale
			}
		}
		if ccyTotal.rows > 0 {
			b := append(g.b[:0], "Trades,Total,,Stocks,"...)
			b = append(b, ccyNames[ccy]...)
			b = append(b, ",,,"...)
			g.o.line(ccyTotal.total(b, false))
		}
	}
}

var ibMonths = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// ibOptionSymbol appends "SYM DDMMMYY STRIKE C".
func ibOptionSymbol(b []byte, root string, exp events.Date, typ byte, strike int64) []byte {
	b = append(b, root...)
	b = append(b, ' ')
	b = append2(b, int(exp)%100)
	b = append(b, ibMonths[int(exp)/100%100-1]...)
	b = append2(b, int(exp)/10000%100)
	b = append(b, ' ')
	b = appendTrim(b, strike, 2)
	b = append(b, ' ', typ)
	return b
}

// Option amounts are in cents: contracts × premium cents × 100.
func (g *ibWriter) options() {
	g.o.line([]byte(ibTradesHeader))
	m := g.m
	var total ibSums
	for _, ti := range m.tickersBy(ccyUSD) {
		t := &m.tickers[ti]
		sub := ibSums{qtyScale: 0, scale: 2}
		g.each(filter{lanes: m.opts[ti]}, func(e *event, d events.Date) {
			ep := e.ep
			// A long position buys to open and sells to close; a short one
			// the other way round.
			buy := (e.kind == evOptOpen) == e.long
			qty := e.qty
			if !buy {
				qty = -qty
			}
			proceeds := -qty * e.price * 100
			var comm int64
			code := "O"
			switch e.kind {
			case evOptOpen:
				comm = 65 * e.qty
			case evOptClose:
				comm, code = 65*e.qty, "C"
			case evOptExpire:
				code = "C;Ep"
			}
			if e.copies > 1 {
				code += ";P"
			}
			var basis, realized int64
			if e.kind == evOptOpen {
				basis = -proceeds + comm
			} else {
				basis = qty * ep.openPrice * 100 // the opening proceeds of the contracts closed
				realized = proceeds - comm + basis
			}
			b := append(g.b[:0], "Trades,Data,Order,Equity and Index Options,USD,"...)
			b = ibOptionSymbol(b, t.symbol, m.date(ep.expiry), ep.optType, ep.strike)
			b = append(b, ',')
			b = ibTime(b, d, e.sec)
			b = append(b, ',')
			b = strconv.AppendInt(b, qty, 10)
			b = append(b, ',')
			b = appendTrim(b, e.price, 2)
			b = append(b, ',')
			b = appendTrim(b, e.price, 2)
			b = append(b, ',')
			b = appendTrim(b, proceeds, 2)
			b = append(b, ',')
			b = appendTrim(b, -comm, 2)
			b = append(b, ',')
			b = appendTrim(b, basis, 2)
			b = append(b, ',')
			b = appendTrim(b, realized, 2)
			b = append(b, ",0,0,"...)
			b = append(b, code...)
			b = append(b, '\n')
			g.b = b
			g.row(b, e.copies, e.day, ibCount{events.KindOption, int(e.qty)})
			n := int64(e.copies)
			sub.add(ibSums{rows: int(n), qty: n * qty, proceeds: n * proceeds, comm: n * comm, basis: n * basis, realized: n * realized})
		})
		if sub.rows > 0 {
			b := append(g.b[:0], "Trades,SubTotal,,Equity and Index Options,USD,"...)
			b = append(b, t.symbol...)
			b = append(b, ",,"...)
			g.o.line(sub.total(b, true))
			total.add(sub)
			total.scale = 2
		}
	}
	if total.rows > 0 {
		g.o.line(total.total(append(g.b[:0], "Trades,Total,,Equity and Index Options,USD,,,"...), false))
	}
}

func (g *ibWriter) forex() {
	g.o.line([]byte(ibForexHeader))
	total := ibSums{scale: 4}
	g.each(filter{money: true}, func(e *event, d events.Date) {
		if e.kind != evForex {
			return
		}
		proceeds := -e.qty * e.price // USD ×10⁴
		b := append(g.b[:0], "Trades,Data,Order,Forex,USD,"...)
		b = append(b, ccyNames[e.ccy]...)
		b = append(b, ".USD,"...)
		b = ibTime(b, d, e.sec)
		b = append(b, ',')
		b = strconv.AppendInt(b, e.qty, 10)
		b = append(b, ',')
		b = appendTrim(b, e.price, 4)
		b = append(b, ",,"...)
		b = appendTrim(b, proceeds, 4)
		b = append(b, ',')
		b = appendTrim(b, -e.comm, 2)
		b = append(b, ",,,,0,\n"...)
		g.b = b
		// Buying the base currency receives it; the USD commission then is
		// a fee of its own.
		if e.qty > 0 && e.comm != 0 {
			g.row(b, e.copies, e.day, ibCount{events.KindConversion, 1}, ibCount{events.KindCash, 1})
		} else {
			g.row(b, e.copies, e.day, ibCount{events.KindConversion, 1})
		}
		total.add(ibSums{rows: 1, proceeds: proceeds, comm: e.comm * 100})
	})
	if total.rows > 0 {
		g.o.line(total.total(append(g.b[:0], "Trades,Total,,Forex,USD,,,"...), false))
	}
}

// cash writes a money section: rows of the two event kinds, by currency,
// each currency closed by a Total data row. subtitle is the Fees section's
// first column.
func (g *ibWriter) cash(section, header, subtitle string, kinds ...evKind) {
	g.o.line([]byte(header))
	for ccy := range numCcy {
		var sum int64
		rows := 0
		g.each(filter{money: true}, func(e *event, d events.Date) {
			if int(e.ccy) != ccy || !slices.Contains(kinds, e.kind) {
				return
			}
			b := append(g.b[:0], section...)
			b = append(b, ",Data,"...)
			if subtitle != "" {
				b = append(b, subtitle...)
				b = append(b, ',')
			}
			b = append(b, ccyNames[ccy]...)
			b = append(b, ',')
			b = append(b, d.String()...)
			b = append(b, ',')
			b = append(b, g.m.ibDescription(e, d)...)
			b = append(b, ',')
			b = appendTrim(b, e.amount, 2)
			b = append(b, '\n')
			g.b = b
			g.row(b, e.copies, e.day, ibCount{events.KindCash, 1})
			sum += e.amount
			rows++
		})
		if rows > 0 {
			b := append(g.b[:0], section...)
			b = append(b, ",Data,Total,,,"...)
			if subtitle != "" {
				b = append(b, ',')
			}
			b = appendTrim(b, sum, 2)
			g.ignored(string(append(b, '\n')))
		}
	}
}

func (m *model) ibDescription(e *event, d events.Date) string {
	month := d.Time().AddDate(0, -1, 0).Format("Jan-2006")
	switch e.kind {
	case evDeposit:
		return "Electronic Fund Transfer"
	case evWithdrawal:
		return "Disbursement Initiated by Synthetic Trader"
	case evCreditInterest:
		return ccyNames[e.ccy] + " Credit Interest for " + month
	case evDebitInterest:
		return ccyNames[e.ccy] + " Debit Interest for " + month
	case evFee:
		if e.amount > 0 {
			return "Market data fee refund for " + month
		}
		return "Market data fee: NYSE (Network A/CTA) for " + month
	}
	return ""
}

// dividends writes the Dividends or Withholding Tax section.
func (g *ibWriter) dividends(section, header string, kind evKind) {
	g.o.line([]byte(header))
	m := g.m
	for ccy := range numCcy {
		var lanes []int
		for _, ti := range m.tickersBy(ccy) {
			lanes = append(lanes, m.stock[ti]...)
		}
		var sum int64
		rows := 0
		g.each(filter{lanes: lanes}, func(e *event, d events.Date) {
			if e.kind != kind {
				return
			}
			t := &m.tickers[e.ticker]
			b := append(g.b[:0], section...)
			b = append(b, ",Data,"...)
			b = append(b, ccyNames[ccy]...)
			b = append(b, ',')
			b = append(b, d.String()...)
			b = append(b, ',')
			b = append(b, t.symbol...)
			b = append(b, '(')
			b = append(b, t.isin...)
			b = append(b, ") Cash Dividend "...)
			b = append(b, ccyNames[ccy]...)
			b = append(b, ' ')
			b = appendFixed(b, t.div, 2, 2, false)
			if kind == evTax {
				b = append(b, " per Share - "...)
				b = append(b, [numCcy]string{"US", "GB", "DE"}[ccy]...)
				b = append(b, " Tax,"...)
			} else {
				b = append(b, " per Share (Ordinary Dividend),"...)
			}
			b = appendTrim(b, e.amount, 2)
			if kind == evTax {
				b = append(b, ',')
			}
			b = append(b, '\n')
			g.b = b
			if kind == evTax {
				g.row(b, e.copies, e.day, ibCount{events.KindDividendTax, 1})
			} else {
				g.row(b, e.copies, e.day, ibCount{events.KindDividend, 1})
			}
			sum += e.amount
			rows++
		})
		if rows > 0 {
			b := append(g.b[:0], section...)
			b = append(b, ",Data,Total,,,"...)
			b = appendTrim(b, sum, 2)
			if kind == evTax {
				b = append(b, ',')
			}
			g.ignored(string(append(b, '\n')))
		}
	}
}

func (g *ibWriter) instruments() {
	m := g.m
	g.o.line([]byte("Financial Instrument Information,Header,Asset Category,Symbol,Description,Conid,Security ID,Listing Exch,Multiplier,Type,Code\n"))
	exch := [numCcy]string{"NASDAQ", "LSE", "IBIS"}
	for ccy := range numCcy {
		for _, ti := range m.tickersBy(ccy) {
			t := &m.tickers[ti]
			g.ignored(fmt.Sprintf("Financial Instrument Information,Data,Stocks,%s,%s,%d,%s,%s,1,COMMON,\n", t.symbol, t.name, 100000+ti, t.isin, exch[ccy]))
		}
	}
	g.o.line([]byte("Codes,Header,Code,Meaning,Code (Cont.),Meaning (Cont.)\n"))
	for _, c := range ibCodes {
		g.ignored("Codes,Data," + c[0] + "," + c[1] + "\n")
	}
}
