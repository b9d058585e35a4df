package synth

import (
	"fmt"
	"io"
	"strconv"

	"github.com/foliostream/foliostream/events"
)

const ttHeader = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n"

// Tastytrade writes a Tastytrade transaction history (the current
// 21-column layout) of cfg.Rows rows to w, newest row first as real exports
// are, and reports what it wrote. Dates carry the UK offsets of the samples
// (+0100 from April to October, +0000 otherwise).
func Tastytrade(w io.Writer, cfg Config) (Stats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	m, err := newModel(cfg, false)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Movements: map[events.Kind]int{}}
	o := newOutput(w)
	o.line([]byte(ttHeader))
	var b []byte
	for i := m.lastDay; i >= 0 && o.err == nil; i-- {
		evs := m.day(i, filter{money: true, all: true})
		if len(evs) == 0 {
			continue
		}
		d := m.date(i)
		if st.Last.IsZero() {
			st.Last = d
		}
		st.First = d
		for j := len(evs) - 1; j >= 0; j-- {
			e := &evs[j]
			b = m.ttRow(b[:0], e, d)
			for range e.copies {
				o.line(b)
				st.Rows++
				st.count(m.ttKind(e))
			}
		}
	}
	if err := o.flush(); err != nil {
		return st, fmt.Errorf("synth: write: %w", err)
	}
	return st, nil
}

// count adds the movements one row yields.
func (s *Stats) count(kind events.Kind, n int) {
	s.Movements[kind] += n
}

// ttKind is the kind and number of movements the Tastytrade parser makes of
// one row of e.
func (m *model) ttKind(e *event) (events.Kind, int) {
	switch e.kind {
	case evStockBuy, evStockSell:
		return events.KindStock, 1
	case evOptOpen, evOptClose, evOptExpire:
		return events.KindOption, int(e.qty)
	case evDividend:
		return events.KindDividend, 1
	case evTax:
		return events.KindDividendTax, 1
	}
	return events.KindCash, 1
}

// ttTime appends the date, the UK wall-clock time and offset of a market
// second.
func ttTime(b []byte, d events.Date, sec int32) []byte {
	b = append(b, d.String()...)
	wall := 14*3600 + 30*60 + int(sec)
	b = append(b, 'T')
	b = append2(b, wall/3600)
	b = append(b, ':')
	b = append2(b, wall/60%60)
	b = append(b, ':')
	b = append2(b, wall%60)
	if mo := int(d) / 100 % 100; mo >= 4 && mo <= 10 {
		return append(b, "+0100"...)
	}
	return append(b, "+0000"...)
}

// ttOptionSymbol appends the OCC symbol: root padded to 6, YYMMDD, C/P,
// strike × 1000 in 8 digits.
func ttOptionSymbol(b []byte, root string, exp events.Date, typ byte, strike int64) []byte {
	b = append(b, root...)
	for i := len(root); i < 6; i++ {
		b = append(b, ' ')
	}
	b = append2(b, int(exp)/10000%100)
	b = append2(b, int(exp)/100%100)
	b = append2(b, int(exp)%100)
	b = append(b, typ)
	s := strconv.FormatInt(strike*10, 10) // cents → thousandths
	for i := len(s); i < 8; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// ttShortDate appends MM/DD/YY (padded, as descriptions write it) or
// M/DD/YY (the Expiration Date column).
func ttShortDate(b []byte, d events.Date, padMonth bool) []byte {
	mo := int(d) / 100 % 100
	if padMonth {
		b = append2(b, mo)
	} else {
		b = strconv.AppendInt(b, int64(mo), 10)
	}
	b = append(b, '/')
	b = append2(b, int(d)%100)
	b = append(b, '/')
	return append2(b, int(d)/10000%100)
}

func (m *model) ttRow(b []byte, e *event, d events.Date) []byte {
	b = ttTime(b, d, e.sec)
	b = append(b, ',')
	switch e.kind {
	case evStockBuy, evStockSell:
		return m.ttStock(b, e)
	case evOptOpen, evOptClose, evOptExpire:
		return m.ttOption(b, e)
	case evDividend, evTax:
		t := &m.tickers[e.ticker]
		b = append(b, "Money Movement,Dividend,,"...)
		b = append(b, t.symbol...)
		b = append(b, ",Equity,"...)
		b = append(b, t.name...)
		return ttMoneyTail(append(b, ','), e.amount)
	}
	var desc string
	switch e.kind {
	case evDeposit:
		b, desc = append(b, "Money Movement,Deposit,,,,"...), "ACH DEPOSIT"
		if e.amount >= 1_000_000 {
			desc = "Wire Funds Received"
		}
	case evWithdrawal:
		b, desc = append(b, "Money Movement,Withdrawal,,,,"...), "ACH DISBURSEMENT"
	case evCreditInterest:
		b, desc = append(b, "Money Movement,Credit Interest,,,,"...), "INTEREST ON CREDIT BALANCE"
	case evDebitInterest:
		b, desc = append(b, "Money Movement,Debit Interest,,,,"...), "FROM 05/16 THRU 06/15 @11    %"
	case evFee:
		b, desc = append(b, "Money Movement,Balance Adjustment,,,,"...), "Regulatory fee adjustment"
	case evLending:
		b, desc = append(b, "Money Movement,Fully Paid Stock Lending Income,,,,"...), "FULLYPAID LENDING REBATE"
	}
	b = append(b, desc...)
	return ttMoneyTail(append(b, ','), e.amount)
}

// ttMoneyTail appends Value ... Currency of a money movement.
func ttMoneyTail(b []byte, cents int64) []byte {
	b = appendMoney(b, cents)
	b = append(b, ",0,,--,0.00,,,,,,,,"...)
	b = appendMoney(b, cents)
	return append(b, ",USD\n"...)
}

func (m *model) ttStock(b []byte, e *event) []byte {
	t := &m.tickers[e.ticker]
	shares := e.qty / 10000
	value := shares * e.price
	fees := 1 + shares*8/1000
	buy := e.kind == evStockBuy
	if buy {
		b = append(b, "Trade,Buy to Open,BUY_TO_OPEN,"...)
		value = -value
	} else {
		b = append(b, "Trade,Sell to Close,SELL_TO_CLOSE,"...)
	}
	b = append(b, t.symbol...)
	b = append(b, ",Equity,"...)
	if buy {
		b = append(b, "Bought "...)
	} else {
		b = append(b, "Sold "...)
	}
	b = strconv.AppendInt(b, shares, 10)
	b = append(b, ' ')
	b = append(b, t.symbol...)
	b = append(b, " @ "...)
	b = appendFixed(b, e.price, 2, 2, false)
	b = append(b, ',')
	b = appendMoney(b, value)
	b = append(b, ',')
	b = strconv.AppendInt(b, shares, 10)
	b = append(b, ',')
	if buy {
		b = appendMoney(b, -e.price)
	} else {
		b = appendMoney(b, e.price)
	}
	b = append(b, ",0.00,"...)
	b = appendMoney(b, -fees)
	b = append(b, ",,,,,,,"...)
	b = strconv.AppendInt(b, e.order, 10)
	b = append(b, ',')
	b = appendMoney(b, value-fees)
	return append(b, ",USD\n"...)
}

func (m *model) ttOption(b []byte, e *event) []byte {
	t := &m.tickers[e.ticker]
	ep := e.ep
	exp := m.date(ep.expiry)
	q := e.qty
	typ := "Call"
	if ep.optType == 'P' {
		typ = "Put"
	}
	// Which side: a long position opens with a buy; a short one with a sell.
	buy := (e.kind == evOptOpen) == e.long
	value := q * e.price * 100
	if buy {
		value = -value
	}
	var comm, fees int64
	switch e.kind {
	case evOptOpen:
		comm = min(q, 10) * 100
		fees = q*12 + 1
	case evOptClose:
		fees = q*12 + 1
	}
	if e.kind == evOptExpire {
		b = append(b, "Receive Deliver,Expiration,"...)
		if e.long {
			b = append(b, "SELL_TO_CLOSE,"...)
		} else {
			b = append(b, "BUY_TO_CLOSE,"...)
		}
	} else {
		b = append(b, "Trade,"...)
		switch {
		case e.kind == evOptOpen && buy:
			b = append(b, "Buy to Open,BUY_TO_OPEN,"...)
		case e.kind == evOptOpen:
			b = append(b, "Sell to Open,SELL_TO_OPEN,"...)
		case buy:
			b = append(b, "Buy to Close,BUY_TO_CLOSE,"...)
		default:
			b = append(b, "Sell to Close,SELL_TO_CLOSE,"...)
		}
	}
	b = ttOptionSymbol(b, t.symbol, exp, ep.optType, ep.strike)
	b = append(b, ",Equity Option,"...)
	if e.kind == evOptExpire {
		b = append(b, "Removal of "...)
		b = strconv.AppendInt(b, q, 10)
		b = append(b, ".0 "...)
	} else if buy {
		b = append(b, "Bought "...)
		b = strconv.AppendInt(b, q, 10)
		b = append(b, ' ')
	} else {
		b = append(b, "Sold "...)
		b = strconv.AppendInt(b, q, 10)
		b = append(b, ' ')
	}
	b = append(b, t.symbol...)
	b = append(b, ' ')
	b = ttShortDate(b, exp, true)
	b = append(b, ' ')
	b = append(b, typ...)
	b = append(b, ' ')
	b = appendFixed(b, ep.strike, 2, 2, false)
	if e.kind == evOptExpire {
		b = append(b, " due to expiration.,0.00,"...)
		b = strconv.AppendInt(b, q, 10)
		b = append(b, ",0.00,--,0.00,100,"...)
	} else {
		b = append(b, " @ "...)
		b = appendFixed(b, e.price, 2, 2, false)
		b = append(b, ',')
		b = appendMoney(b, value)
		b = append(b, ',')
		b = strconv.AppendInt(b, q, 10)
		b = append(b, ',')
		avg := e.price * 100
		if buy {
			avg = -avg
		}
		b = appendMoney(b, avg)
		b = append(b, ',')
		b = appendMoney(b, -comm)
		b = append(b, ',')
		b = appendMoney(b, -fees)
		b = append(b, ",100,"...)
	}
	b = append(b, t.symbol...)
	b = append(b, ',')
	b = append(b, t.symbol...)
	b = append(b, ',')
	b = ttShortDate(b, exp, false)
	b = append(b, ',')
	b = appendTrim(b, ep.strike, 2)
	if ep.optType == 'C' {
		b = append(b, ",CALL,"...)
	} else {
		b = append(b, ",PUT,"...)
	}
	if e.kind != evOptExpire {
		b = strconv.AppendInt(b, e.order, 10)
	}
	b = append(b, ',')
	b = appendMoney(b, value-comm-fees)
	return append(b, ",USD\n"...)
}
