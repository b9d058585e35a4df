package parsers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// Special-dividend strike adjustments (spec/parsers.md §1.7).

// ttSpecial is a buffered Receive Deliver / Special Dividend option row.
type ttSpecial struct {
	line     int
	dt       ttDateTime
	root     string // Root Symbol, "UNKNOWN" when blank
	value    decimal.Decimal
	quantity decimal.Decimal
	exp      events.Date // zero when absent
	strike   decimal.Decimal
	strikeOK bool
	callPut  string
	currency string
	rowID    string // "" under NoIDs
	rowKey   uint64
	seq      int
	used     bool
}

func ttSpecialOf(row *ttRow, dc *decCache, rowID *[32]byte, key uint64, seq int) ttSpecial {
	root := row.root
	if root == "" {
		root = "UNKNOWN"
	}
	// The row's text may be the CSV reader's buffer (Options.ReuseText),
	// and these records come at the end of the scan: keep copies.
	dt := row.dt
	dt.offset = strings.Clone(dt.offset)
	var id string
	if rowID != nil {
		id = string(rowID[:])
	}
	return ttSpecial{
		rowID: id,
		line:  row.line, dt: dt, root: strings.Clone(root), value: row.value.dec(dc), quantity: row.quantity.dec(dc),
		exp: row.expiration, strike: row.strike.n.dec(dc), strikeOK: row.strike.ok, callPut: strings.Clone(row.callPut), currency: strings.Clone(row.currency),
		rowKey: key, seq: seq,
	}
}

var ttPairTolerance = decimal.New(1, -2) // |Value₁ + Value₂| ≤ 0.01

// ttPairs pairs the special-dividend rows (given in file order) by steps 1–3
// of §1.7 and returns the pairs as (closing, opening) indexes into sp, in the
// order of the (time, root) groups. It marks paired rows used.
func ttPairs(sp []ttSpecial) [][2]int {
	// Step 1: group by (wall-clock second, root); groups ordered by time,
	// then by first appearance (the original's stable sort by time); members
	// in file order.
	order := make([]int, len(sp))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sp[a].dt.wall, sp[b].dt.wall) })
	type group struct{ members []int }
	var groups []*group
	index := make(map[struct {
		t    events.WallTime
		root string
	}]*group)
	for _, i := range order {
		key := struct {
			t    events.WallTime
			root string
		}{sp[i].dt.wall, sp[i].root}
		g := index[key]
		if g == nil {
			g = &group{}
			index[key] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, i)
	}

	var pairs [][2]int
	for _, g := range groups {
		// Step 2: closing-like (Value < 0) and opening-like (Value > 0).
		// Step 3: every unused closing row against every unused opening
		// row; the inner loop does not stop at a match (§1.7 [Q]).
		for _, c := range g.members {
			if sp[c].value.Sign() >= 0 || sp[c].used {
				continue
			}
			for _, o := range g.members {
				if sp[o].value.Sign() <= 0 || sp[o].used {
					continue
				}
				if ttPairValid(&sp[c], &sp[o]) {
					sp[c].used, sp[o].used = true, true
					pairs = append(pairs, [2]int{c, o})
				}
			}
		}
	}
	return pairs
}

func ttPairValid(c, o *ttSpecial) bool {
	d := c.dt.wall - o.dt.wall
	return c.root == o.root &&
		!c.exp.IsZero() && c.exp == o.exp &&
		c.callPut == o.callPut &&
		d >= -2 && d <= 2 &&
		c.value.Sign() != o.value.Sign() &&
		c.strikeOK && o.strikeOK && !c.strike.Equal(o.strike) &&
		c.value.Add(o.value).Abs().LessThanOrEqual(ttPairTolerance) &&
		c.quantity.Equal(o.quantity)
}

// finish delivers the buffered special-dividend rows' records (file order)
// and one strike-adjustment record per pair (§1.7 step 4).
func (s *ttScanner) finish() error {
	if len(s.special) == 0 {
		return nil
	}
	pairs := ttPairs(s.special)
	for i := range s.special {
		reason := ttReasonSpecialUnpaired
		if s.special[i].used {
			reason = ttReasonSpecialPaired
		}
		if err := s.emitIgnored(s.special[i].line, reason); err != nil {
			return err
		}
	}
	for _, p := range pairs {
		c, o := &s.special[p[0]], &s.special[p[1]]
		orig, nw := c.strike, o.strike
		if nw.GreaterThan(orig) {
			orig, nw = nw, orig
		}
		amount := c.value.Abs()
		var id string
		if !s.noIDs {
			s.fp.Reset()
			s.fp.Raw("tastytrade-strike-adjustment")
			s.fp.Raw("1")
			s.fp.Raw(c.rowID)
			s.fp.Raw(o.rowID)
			id = MovementID(RowID(s.account, s.fp.Sum(), 0), events.KindStrikeAdjustment, 0)
		}
		optType := events.Put
		if c.callPut == "CALL" {
			optType = events.Call
		}
		s.moves = append(s.moves, events.Movement{
			ID:         id,
			Account:    s.account,
			Broker:     events.BrokerTastytrade,
			Kind:       events.KindStrikeAdjustment,
			Time:       c.dt.wall,
			Offset:     c.dt.offset,
			Seq:        c.seq,
			Line:       c.line,
			Currency:   c.currency,
			Ticker:     c.root,
			OptionType: optType,
			Expiration: c.exp,
			Strike:     orig,
			NewStrike:  nw,
			Amount:     amount,
			Notes: fmt.Sprintf("Strike adjusted from %s to %s due to special dividend (Δ %s, impact: $%s)",
				orig.StringFixed(2), nw.StringFixed(2), nw.Sub(orig).StringFixed(2), amount.StringFixed(2)),
		})
		if s.sizeOnly {
			m := &s.moves[len(s.moves)-1]
			m.Strike, m.NewStrike, m.Amount = standInOf(m.Strike), standInOf(m.NewStrike), standInOf(m.Amount)
		}
		// The pair's rows make its identity.
		s.rec = Record{Movements: s.moves, RowKey: nonZero(mix64(mix64(c.rowKey^0x5bd1e9955bd1e995) ^ o.rowKey))}
		if err := s.emit(); err != nil {
			return err
		}
	}
	return nil
}
