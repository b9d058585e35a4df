package projections

import (
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// history is an account's movement history made ready for the passes: one
// movement per ID, in [events.Compare] order, strike adjustments applied and
// removed, option contracts grouped and close-linked.
type history struct {
	ms []*events.Movement
	// opt[i] is the index in opts of ms[i] when it is an option contract,
	// else -1.
	opt    []int32
	opts   []optRec
	groups []optGroup
	// currencies of option contracts, each with its sorted distinct
	// expirations (the broker's options-open test indexes by them).
	optCurrencies map[string][]events.Date
}

// optRec is what the passes need of one option contract beyond its movement.
type optRec struct {
	m *events.Movement
	// strike after the special-dividend adjustment (spec/snapshots.md §1.3).
	strike decimal.Decimal
	group  int32
	// closed: an opener that some closer linked to (its final IsOpen is
	// false). linked: a closer that found an opener (§1.6).
	closed bool
	linked bool
}

// optGroup is one contract line: (ticker, currency, option type, strike,
// expiration). Close linking and the realized FIFO both work per group.
type optGroup struct {
	currency string
	exp      events.Date
	expIdx   int32 // index of exp in optCurrencies[currency]

	// FIFO of queued openers (indexes into opts), codes ignored (§2.3, §3.3).
	fifo []int32
	head int
	// net is +1 per BuyToOpen, −1 per SellToOpen among the finally open
	// (never linked) openers seen so far (§3.3 step 1).
	net int
}

type groupKey struct {
	ticker, currency string
	typ              events.OptionType
	strike           string
	exp              events.Date
}

type adjustKey struct {
	exp    events.Date
	strike string
	typ    events.OptionType
}

// strikeKey is the numeric identity of a strike: 5.5 and 5.50 are one key.
func strikeKey(d decimal.Decimal) string {
	if d.IsZero() {
		return "0"
	}
	return d.String()
}

// prepare deduplicates by ID (keeping, for conflicting copies, the first in
// canonical order), sorts canonically, applies strike adjustments, and
// close-links the option contracts. It never modifies movements.
func prepare(movements []events.Movement, lastDay events.Date) *history {
	byID := make(map[string]int, len(movements))
	ms := make([]*events.Movement, 0, len(movements))
	for i := range movements {
		m := &movements[i]
		if lastDay != 0 && m.Time.Day() > lastDay {
			continue
		}
		if j, ok := byID[m.ID]; ok {
			if events.Compare(m, ms[j]) < 0 {
				ms[j] = m
			}
			continue
		}
		byID[m.ID] = len(ms)
		ms = append(ms, m)
	}
	slices.SortFunc(ms, events.Compare)

	// Strike adjustments: the first one (in canonical order) for an
	// (expiration, strike, type) wins; they are not movements. Kinds the
	// projections do not know are dropped too (they make no snapshot day).
	var adjust map[adjustKey]decimal.Decimal
	n := 0
	for _, m := range ms {
		switch m.Kind {
		case events.KindCash, events.KindConversion, events.KindStock, events.KindOption,
			events.KindDividend, events.KindDividendTax:
		case events.KindStrikeAdjustment:
			if adjust == nil {
				adjust = make(map[adjustKey]decimal.Decimal)
			}
			k := adjustKey{m.Expiration, strikeKey(m.Strike), m.OptionType}
			if _, ok := adjust[k]; !ok {
				adjust[k] = m.NewStrike
			}
			continue
		default:
			continue
		}
		ms[n] = m
		n++
	}
	clear(ms[n:])
	ms = ms[:n]

	h := &history{ms: ms, opt: make([]int32, len(ms))}
	groupOf := make(map[groupKey]int32)
	expSet := make(map[string]map[events.Date]struct{})
	for i, m := range ms {
		if m.Kind != events.KindOption {
			h.opt[i] = -1
			continue
		}
		strike := m.Strike
		sk := strikeKey(strike)
		if ns, ok := adjust[adjustKey{m.Expiration, sk, m.OptionType}]; ok {
			strike = ns
			sk = strikeKey(ns)
		}
		k := groupKey{m.Ticker, m.Currency, m.OptionType, sk, m.Expiration}
		g, ok := groupOf[k]
		if !ok {
			g = int32(len(h.groups))
			groupOf[k] = g
			h.groups = append(h.groups, optGroup{currency: m.Currency, exp: m.Expiration})
			es := expSet[m.Currency]
			if es == nil {
				es = make(map[events.Date]struct{})
				expSet[m.Currency] = es
			}
			es[m.Expiration] = struct{}{}
		}
		h.opt[i] = int32(len(h.opts))
		h.opts = append(h.opts, optRec{m: m, strike: strike, group: g})
	}

	h.optCurrencies = make(map[string][]events.Date, len(expSet))
	for cur, es := range expSet {
		exps := make([]events.Date, 0, len(es))
		for e := range es {
			exps = append(exps, e)
		}
		slices.Sort(exps)
		h.optCurrencies[cur] = exps
	}
	for i := range h.groups {
		g := &h.groups[i]
		idx, _ := slices.BinarySearch(h.optCurrencies[g.currency], g.exp)
		g.expIdx = int32(idx)
	}
	h.link()
	return h
}

// link reproduces close linking (spec/snapshots.md §1.6): in canonical order,
// each closer takes the oldest still-open opener of its group, preferring the
// opposite side (BuyToClose → SellToOpen, SellToClose → BuyToOpen), then any.
func (h *history) link() {
	type queues struct {
		sto, bto         []int32
		stoHead, btoHead int
	}
	qs := make([]queues, len(h.groups))
	for i, m := range h.ms {
		oi := h.opt[i]
		if oi < 0 {
			continue
		}
		q := &qs[h.opts[oi].group]
		switch m.Code {
		case events.SellToOpen:
			q.sto = append(q.sto, oi)
		case events.BuyToOpen:
			q.bto = append(q.bto, oi)
		default:
			pref, prefHead, other, otherHead := &q.sto, &q.stoHead, &q.bto, &q.btoHead
			if m.Code == events.SellToClose {
				pref, prefHead, other, otherHead = &q.bto, &q.btoHead, &q.sto, &q.stoHead
			}
			var opener int32 = -1
			switch {
			case *prefHead < len(*pref):
				opener = (*pref)[*prefHead]
				*prefHead++
			case *otherHead < len(*other):
				opener = (*other)[*otherHead]
				*otherHead++
			}
			if opener >= 0 {
				h.opts[opener].closed = true
				h.opts[oi].linked = true
			}
		}
	}
}
