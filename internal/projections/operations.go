package projections

import (
	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// opLife runs the operation lifecycle of one (ticker, currency) series
// (spec/snapshots.md §2.6–§2.7).
//
// Operations derive from the ticker snapshot sequence alone: a snapshot's
// differences from the previous one are exactly the day's realized Δ,
// capital, premium, commissions, fees, dividends and taxes that the original
// hands to its lifecycle (all zero for a carried-forward row). So an
// operation's cumulative fields are the differences between its last row and
// the row before its CREATE, and the same code serves [Compute] and
// [Result.AsOf].
//
// Deviation (allowed by §2.7.5 item 8): operations are keyed by (ticker,
// currency), not by ticker alone; single-currency accounts are unaffected.
type opLife struct {
	ops  []opState
	open int // index of the open operation in ops, or -1
}

// opState is one operation: the row before its CREATE (zero when the CREATE
// was the series' first row) and the last row applied to it.
type opState struct {
	base, last TickerSnapshot
	isOpen     bool
	updated    bool // an UPDATE or CLOSE happened: Performance is set
	openDate   events.Date
	closeDate  events.Date
}

// step applies the snapshot row, whose predecessor in the series is prev (nil
// for the first row); realized is row.Realized − prev.Realized (0 for the
// first row). It reports whether the lifecycle hands realized to the broker
// snapshot (§2.7.4): after every CREATE, UPDATE or CLOSE; and, when the row
// closes an operation, that operation (final from then on).
func (l *opLife) step(prev, row *TickerSnapshot, realized decimal.Decimal) (hands bool, closed *opState) {
	wasOpen := prev != nil && prev.OpenTrades
	switch {
	case !wasOpen && row.OpenTrades:
		// CREATE (§2.7.3): Performance stays 0 until an UPDATE or CLOSE.
		op := opState{last: *row, isOpen: true, openDate: row.Date}
		if prev != nil {
			op.base = *prev
		}
		l.ops = append(l.ops, op)
		l.open = len(l.ops) - 1
		return true, nil
	case wasOpen && l.open >= 0:
		// UPDATE, and CLOSE when the row turns closed.
		op := &l.ops[l.open]
		op.last = *row
		op.updated = true
		if !row.OpenTrades {
			op.isOpen = false
			op.closeDate = row.Date
			l.open = -1
			return true, op
		}
		return true, nil
	}
	return false, nil
}

// operation materializes an operation's fields.
func (o *opState) operation() Operation {
	b, l := &o.base, &o.last
	op := Operation{
		Ticker:          l.Ticker,
		Currency:        l.Currency,
		IsOpen:          o.isOpen,
		OpenDate:        o.openDate,
		CloseDate:       o.closeDate,
		Realized:        subNZ(l.Realized, b.Realized),
		Commissions:     subNZ(l.Commissions, b.Commissions),
		Fees:            subNZ(l.Fees, b.Fees),
		Premium:         subNZ(l.Options, b.Options),
		Dividends:       subNZ(l.Dividends, b.Dividends),
		DividendTaxes:   subNZ(l.DividendTaxes, b.DividendTaxes),
		CapitalDeployed: subNZ(l.CapitalDeployed, b.CapitalDeployed),
	}
	if o.updated {
		op.Performance = percent(op.Realized, op.CapitalDeployed)
	}
	return op
}
