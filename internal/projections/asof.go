package projections

import (
	"cmp"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// AsOf returns the projections as of day d: every row dated on or before d,
// plus, for every series (broker: per currency; ticker: per ticker and
// currency) whose last such row is before d, one carried-forward copy dated d
// (the original's "today" row, spec/snapshots.md §2.1 and §3.1). Operations
// are those of the rows kept, with the end-of-run update the carried-forward
// ticker rows cause (§2.7.3): an open operation whose series is carried
// forward gets Performance = Realized / CapitalDeployed × 100.
//
// For d on or after every date of r, AsOf only adds the carried-forward rows
// and that update. For an earlier d the operations are recomputed from the
// kept ticker rows; broker OpenTrades keeps the original's look-ahead (§3.3),
// so use [ComputeAsOf] for the exact view of an earlier day. AsOf does not
// modify r.
func (r *Result) AsOf(d events.Date) *Result {
	out := &Result{Account: r.Account}

	broker := slices.Clone(r.Broker)
	slices.SortStableFunc(broker, func(a, b BrokerSnapshot) int {
		return cmp.Or(cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Date, b.Date))
	})
	out.Broker = make([]BrokerSnapshot, 0, len(broker)+2)
	for i := 0; i < len(broker); {
		j := i
		for j < len(broker) && broker[j].Currency == broker[i].Currency {
			j++
		}
		n := len(out.Broker)
		for _, b := range broker[i:j] {
			if b.Date <= d {
				out.Broker = append(out.Broker, b)
			}
		}
		if len(out.Broker) > n && out.Broker[len(out.Broker)-1].Date < d {
			c := out.Broker[len(out.Broker)-1]
			c.Date = d
			out.Broker = append(out.Broker, c)
		}
		i = j
	}

	tickers := slices.Clone(r.Tickers)
	slices.SortStableFunc(tickers, compareTickerRows)
	out.Tickers = make([]TickerSnapshot, 0, len(tickers)+8)
	type seriesKey struct{ ticker, currency string }
	carried := make(map[seriesKey]bool)
	latest := events.Date(0)
	for _, b := range r.Broker {
		latest = max(latest, b.Date)
	}
	for i := 0; i < len(tickers); {
		j := i
		for j < len(tickers) && tickers[j].Ticker == tickers[i].Ticker && tickers[j].Currency == tickers[i].Currency {
			j++
		}
		n := len(out.Tickers)
		for _, t := range tickers[i:j] {
			latest = max(latest, t.Date)
			if t.Date <= d {
				out.Tickers = append(out.Tickers, t)
			}
		}
		if len(out.Tickers) > n && out.Tickers[len(out.Tickers)-1].Date < d {
			c := out.Tickers[len(out.Tickers)-1]
			c.Date = d
			out.Tickers = append(out.Tickers, c)
			carried[seriesKey{c.Ticker, c.Currency}] = true
		}
		i = j
	}
	for _, op := range r.Operations {
		latest = max(latest, op.OpenDate, op.CloseDate)
	}

	if d >= latest {
		out.Operations = slices.Clone(r.Operations)
		for i := range out.Operations {
			op := &out.Operations[i]
			if op.IsOpen && carried[seriesKey{op.Ticker, op.Currency}] {
				op.Performance = percent(op.Realized, op.CapitalDeployed)
			}
		}
	} else {
		out.Operations = operationsFrom(out.Tickers)
	}
	if out.Operations == nil {
		out.Operations = []Operation{}
	}
	sortOperations(out.Operations)
	return out
}

// operationsFrom runs the operation lifecycle over ticker rows sorted by
// (ticker, currency, date).
func operationsFrom(rows []TickerSnapshot) []Operation {
	var ops []Operation
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Ticker == rows[i].Ticker && rows[j].Currency == rows[i].Currency {
			j++
		}
		life := opLife{open: -1}
		for k := i; k < j; k++ {
			var prev *TickerSnapshot
			var realized decimal.Decimal
			if k > i {
				prev = &rows[k-1]
				realized = rows[k].Realized.Sub(prev.Realized)
			}
			life.step(prev, &rows[k], realized)
		}
		for k := range life.ops {
			ops = append(ops, life.ops[k].operation())
		}
		i = j
	}
	return ops
}

func compareTickerRows(a, b TickerSnapshot) int {
	return cmp.Or(cmp.Compare(a.Ticker, b.Ticker), cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Date, b.Date))
}
