package projections

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/exactdec"
	"github.com/shopspring/decimal"
)

// ScanFunc streams an account's history: it calls fn with every movement,
// one per ID, in [events.Compare] order, of the kinds q asks for, with at
// least the fields q asks for (the others may be zero). The movement is
// valid only until fn returns. An error from fn stops the scan and is
// returned. A store's ScanMovements, bound to an account, is a ScanFunc.
type ScanFunc func(q Query, fn func(*events.Movement) error) error

// Query says what a scan of a history delivers.
type Query struct {
	// Kinds are the kinds of the movements delivered; nil means every kind.
	Kinds []events.Kind
	// Fields are the fields delivered besides the identity and order
	// fields; the zero Fields means every field.
	Fields events.Fields
}

// adjustFields are what scanAdjustments reads of a strike adjustment,
// linkFields what close linking reads of an option contract, and
// computeFields what the main pass reads (all but the diagnostic ones).
const (
	adjustFields = events.FieldExpiration | events.FieldStrike | events.FieldOptionType | events.FieldNewStrike
	linkFields   = events.FieldTicker | events.FieldCurrency | events.FieldOptionType | events.FieldStrike |
		events.FieldExpiration | events.FieldCode
	computeFields = events.AllFields &^ (events.FieldBroker | events.FieldOffset | events.FieldLine | events.FieldNotes)
)

// The three scans of ComputeTo, in order.
var (
	adjustQuery = Query{Kinds: []events.Kind{events.KindStrikeAdjustment}, Fields: adjustFields}
	linkQuery   = Query{Kinds: []events.Kind{events.KindOption}, Fields: linkFields}
	mainQuery   = Query{Kinds: computedKinds, Fields: computeFields}
)

// Queries returns the three scans [ComputeTo] makes of a history, in
// order: the strike adjustments, the option contracts for close linking,
// and the main pass (copies: the caller may change them). Store benchmarks
// measure them.
func Queries() (adjustments, linking, main Query) {
	cp := func(q Query) Query {
		q.Kinds = slices.Clone(q.Kinds)
		return q
	}
	return cp(adjustQuery), cp(linkQuery), cp(mainQuery)
}

// computedKinds are the kinds that are movements for the projections;
// others (strike adjustments, kinds this build does not know) make no
// snapshot day.
var computedKinds = []events.Kind{events.KindCash, events.KindConversion, events.KindStock,
	events.KindOption, events.KindDividend, events.KindDividendTax}

// ComputeTo computes an account's projections like [Compute] from a history
// it reads three times through scan: the strike adjustments, the option
// contracts (close linking, which looks ahead: an opener's final state
// depends on closers that come later), then every movement, day by day. Rows
// go to sink as soon as they are final. Its memory is bounded by a day's
// movements, the account's tickers, open option lines and expirations, plus
// one bit per option contract of the history, not by the history's length.
//
// A history that changes between the scans (a different number of option
// contracts) makes ComputeTo fail with [ErrHistoryChanged]; a retry
// computes the new history.
func ComputeTo(account string, scan ScanFunc, sink Sink) error {
	adjust, err := scanAdjustments(scan)
	if err != nil {
		return err
	}
	lk := &linker{adjust: adjust, groups: make(map[groupKey]*linkQueues), exps: make(map[string]map[events.Date]struct{})}
	if err := scan(linkQuery, lk.add); err != nil {
		return err
	}
	c := newComputer(account, lk.result(), sink)
	if err := scan(mainQuery, c.add); err != nil {
		return err
	}
	return c.finish()
}

// ErrHistoryChanged reports that an account's history changed while
// [ComputeTo] read it.
var ErrHistoryChanged = errors.New("projections: history changed during the computation")

// canonical deduplicates by ID (keeping, for conflicting copies, the first in
// canonical order), drops the days after lastDay (when not 0) and sorts
// canonically. It never modifies movements.
func canonical(movements []events.Movement, lastDay events.Date) []*events.Movement {
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
	return ms
}

// sliceScan is a [ScanFunc] over a canonical slice. It delivers only the
// fields asked for, as a store may, so that a computation that reads a
// field its query does not name fails the tests.
func sliceScan(ms []*events.Movement) ScanFunc {
	return func(q Query, fn func(*events.Movement) error) error {
		var trimmed events.Movement
		for _, m := range ms {
			if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, m.Kind) {
				continue
			}
			if q.Fields != 0 {
				trimmed = *m
				q.Fields.Trim(&trimmed)
				m = &trimmed
			}
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
}

type groupKey struct {
	ticker, currency string
	typ              events.OptionType
	strike           strikeID
	exp              events.Date
}

type adjustKey struct {
	exp    events.Date
	strike strikeID
	typ    events.OptionType
}

// strikeID is the numeric identity of a strike: 5.5 and 5.50 are one
// key. A value of at most 18 significant digits is c·10^e with c free of
// trailing zeros (zero is c = e = 0) and long empty; a longer one is its
// decimal.String (which has no trailing fractional zeros) in long. Equal
// values, and only they, have equal keys.
type strikeID struct {
	c    int64
	e    int32
	long string
}

// strikeKey returns d's strikeID.
func strikeKey(d decimal.Decimal) strikeID {
	c, e, ok := exactdec.Small(d)
	if !ok {
		return longStrikeKey(d)
	}
	if c == 0 {
		return strikeID{}
	}
	for c%10 == 0 {
		c /= 10
		e++
	}
	return strikeID{c: c, e: e}
}

// longStrikeKey is strikeKey of a decimal whose coefficient has more than
// 18 digits: it may still have at most 18 significant ones (trailing
// zeros).
func longStrikeKey(d decimal.Decimal) strikeID {
	s := d.String()
	digits, neg := strings.CutPrefix(s, "-")
	intPart, frac, _ := strings.Cut(digits, ".")
	sig := strings.TrimLeft(intPart+frac, "0")
	e := -int64(len(frac))
	for strings.HasSuffix(sig, "0") {
		sig = sig[:len(sig)-1]
		e++
	}
	if len(sig) > 18 || e < math.MinInt32 || e > math.MaxInt32 {
		return strikeID{long: s}
	}
	c, err := strconv.ParseInt(sig, 10, 64)
	if err != nil { // 1 to 18 digits always parse
		panic(err)
	}
	if neg {
		c = -c
	}
	return strikeID{c: c, e: int32(e)}
}

// scanAdjustments reads the special-dividend strike adjustments
// (spec/snapshots.md §1.3): the first one in canonical order for an
// (expiration, strike, type) wins, and applies to the whole history.
func scanAdjustments(scan ScanFunc) (map[adjustKey]decimal.Decimal, error) {
	var adjust map[adjustKey]decimal.Decimal
	err := scan(adjustQuery, func(m *events.Movement) error {
		if m.Kind != events.KindStrikeAdjustment {
			return nil
		}
		if adjust == nil {
			adjust = make(map[adjustKey]decimal.Decimal)
		}
		k := adjustKey{m.Expiration, strikeKey(m.Strike), m.OptionType}
		if _, ok := adjust[k]; !ok {
			adjust[k] = m.NewStrike
		}
		return nil
	})
	return adjust, err
}

// contract is an option contract's line, its strike after the adjustments.
func contract(m *events.Movement, adjust map[adjustKey]decimal.Decimal) (groupKey, decimal.Decimal) {
	strike := m.Strike
	sk := strikeKey(strike)
	if ns, ok := adjust[adjustKey{m.Expiration, sk, m.OptionType}]; ok {
		strike = ns
		sk = strikeKey(ns)
	}
	return groupKey{m.Ticker, m.Currency, m.OptionType, sk, m.Expiration}, strike
}

// linkQueues are a contract line's openers not yet linked to a closer, by
// side, as option ordinals.
type linkQueues struct {
	sto, bto         []int32
	stoHead, btoHead int
}

// linker reproduces close linking (spec/snapshots.md §1.6) over the option
// contracts in canonical order: each closer takes the oldest still-open
// opener of its line, preferring the opposite side (BuyToClose → SellToOpen,
// SellToClose → BuyToOpen), then any. It records the outcome as one bit per
// contract (its ordinal among the history's contracts): an opener that a
// closer took (its final IsOpen is false), or a closer that found an opener.
type linker struct {
	adjust map[adjustKey]decimal.Decimal
	groups map[groupKey]*linkQueues
	exps   map[string]map[events.Date]struct{}
	bits   []uint64
	n      int

	// the last contract's line and queues (nil: none, or dropped), and
	// the last (currency, expiration) recorded in exps
	lastKey groupKey
	lastQ   *linkQueues
	lastCur string
	lastExp events.Date
}

func (l *linker) add(m *events.Movement) error {
	if m.Kind != events.KindOption {
		return nil
	}
	if l.n == math.MaxInt32 {
		return fmt.Errorf("projections: more than %d option contracts in one account", math.MaxInt32)
	}
	k := int32(l.n)
	l.n++
	if k/64 >= int32(len(l.bits)) {
		l.bits = append(l.bits, 0)
	}
	key, _ := contract(m, l.adjust)
	// The contracts of one statement row come one after the other, on one
	// line: the last line and expiration spare the map lookups.
	if l.lastQ == nil || m.Expiration != l.lastExp || m.Currency != l.lastCur {
		es := l.exps[m.Currency]
		if es == nil {
			es = make(map[events.Date]struct{})
			l.exps[m.Currency] = es
		}
		es[m.Expiration] = struct{}{}
		l.lastCur, l.lastExp = m.Currency, m.Expiration
	}
	q := l.lastQ
	if q == nil || key != l.lastKey {
		q = l.groups[key]
		if q == nil {
			q = &linkQueues{}
			l.groups[key] = q
		}
		l.lastKey, l.lastQ = key, q
	}
	switch m.Code {
	case events.SellToOpen:
		q.sto = append(q.sto, k)
		return nil
	case events.BuyToOpen:
		q.bto = append(q.bto, k)
		return nil
	}
	pref, prefHead, other, otherHead := &q.sto, &q.stoHead, &q.bto, &q.btoHead
	if m.Code == events.SellToClose {
		pref, prefHead, other, otherHead = &q.bto, &q.btoHead, &q.sto, &q.stoHead
	}
	opener := int32(-1)
	switch {
	case *prefHead < len(*pref):
		opener = pop(pref, prefHead)
	case *otherHead < len(*other):
		opener = pop(other, otherHead)
	}
	if opener >= 0 {
		l.bits[opener/64] |= 1 << (opener % 64)
		l.bits[k/64] |= 1 << (k % 64)
	}
	if q.stoHead == len(q.sto) && q.btoHead == len(q.bto) {
		delete(l.groups, key) // an empty line is a fresh one
		l.lastQ = nil
	}
	return nil
}

// pop takes the head of a queue, compacting it so that it holds only the
// entries not yet taken (bounded by the open contracts, not the history).
func pop(q *[]int32, head *int) int32 {
	v := (*q)[*head]
	*head++
	switch {
	case *head == len(*q):
		*q, *head = (*q)[:0], 0
	case *head >= 64 && *head*2 >= len(*q):
		n := copy(*q, (*q)[*head:])
		*q, *head = (*q)[:n], 0
	}
	return v
}

// links is what the option pass hands to the main pass.
type links struct {
	adjust map[adjustKey]decimal.Decimal
	bits   []uint64
	n      int
	// the option currencies, each with its sorted distinct expirations
	// (the broker's options-open test indexes by them)
	exps map[string][]events.Date
}

func (l *linker) result() *links {
	out := &links{adjust: l.adjust, bits: l.bits, n: l.n, exps: make(map[string][]events.Date, len(l.exps))}
	for cur, es := range l.exps {
		ds := make([]events.Date, 0, len(es))
		for e := range es {
			ds = append(ds, e)
		}
		slices.Sort(ds)
		out.exps[cur] = ds
	}
	return out
}

func (l *links) bit(k int) bool {
	return l.bits[k/64]&(1<<(k%64)) != 0
}
