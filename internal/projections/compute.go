package projections

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// divPrecision is the number of decimal places every division keeps
// (spec/snapshots.md §0: at least 28 significant digits, never rounded
// afterwards).
const divPrecision = 28

var (
	hundred           = decimal.NewFromInt(100)
	defaultMultiplier = hundred
)

// Compute computes an account's projections from its movements
// (spec/snapshots.md): ticker snapshots, operations and broker snapshots, one
// series per currency, with rows on activity days only (no "today" row: see
// [Result.AsOf]). Movements are deduplicated by ID and processed in
// [events.Compare] order, so the result does not depend on their order or on
// duplicates. Movements of kind [events.KindStrikeAdjustment] rewrite the
// strikes of matching option contracts and are not movements themselves. The
// caller passes one account's movements; Compute does not modify them. It is
// [ComputeTo] over the slice, collected.
func Compute(account string, movements []events.Movement) *Result {
	return collect(account, canonical(movements, 0))
}

// ComputeAsOf is the projections as the original application shows them when
// it runs on day d: [Compute] over the movements of days ≤ d, then
// [Result.AsOf](d). It is exact for any d.
func ComputeAsOf(account string, movements []events.Movement, d events.Date) *Result {
	return collect(account, canonical(movements, d)).AsOf(d)
}

func collect(account string, ms []*events.Movement) *Result {
	c := NewCollector(account)
	if err := ComputeTo(account, sliceScan(ms), c); err != nil {
		// A slice cannot change and a Collector never fails: only more
		// than 2³¹ option contracts can get here.
		panic(err)
	}
	return c.Result()
}

// computer holds the state of the main pass over a history: what the
// following days need, never the past rows.
type computer struct {
	links      *links
	sink       Sink
	tickers    map[string]*tickerState
	active     []*tickerState // tickers with movements on the current day
	currencies map[string]*currencyState
	curOrder   []*currencyState
	groups     map[groupKey]*optGroup
	lastKey    groupKey // the line group returned last, if lastGroup is not nil
	lastGroup  *optGroup
	lastCur    *currencyState // the currency returned last, if not nil
	lastTicker *tickerState   // the ticker returned last, if not nil
	opt        int            // ordinal of the next option contract
	opSeq      int            // emitted operations

	day    []dayMove // the current day's movements
	dayNum int64

	// scratch buffers reused across days
	cons []string
	dayM []int32
	lots []lot
}

// dayMove is one of the current day's movements, with its option
// contract's line.
type dayMove struct {
	m dayMovement
	// option contracts only: the line, the strike after the adjustments, and
	// the linker's bit (an opener some closer took; a closer that found an
	// opener).
	key    groupKey
	strike decimal.Decimal
	bit    bool
}

// dayMovement is what the main pass reads of a movement after add (which
// reads the contract line's fields at once), copied: a scan's movement is
// valid only during its callback.
type dayMovement struct {
	Time                            events.WallTime
	Kind                            events.Kind
	Code                            events.TradeCode
	CashType                        events.CashType
	OptionType                      events.OptionType
	Currency, Ticker, FromCurrency  string
	Quantity, Price, Amount         decimal.Decimal
	Commissions, Fees               decimal.Decimal
	Premium, NetPremium, Multiplier decimal.Decimal
	AmountChanged                   decimal.Decimal
}

func newDayMovement(m *events.Movement) dayMovement {
	return dayMovement{Time: m.Time, Kind: m.Kind, Code: m.Code, CashType: m.CashType, OptionType: m.OptionType,
		Currency: m.Currency, Ticker: m.Ticker, FromCurrency: m.FromCurrency, Quantity: m.Quantity, Price: m.Price,
		Amount: m.Amount, Commissions: m.Commissions, Fees: m.Fees, Premium: m.Premium, NetPremium: m.NetPremium,
		Multiplier: m.Multiplier, AmountChanged: m.AmountChanged}
}

// optGroup is one contract line: (ticker, currency, option type, strike,
// expiration). The realized FIFO works per line.
type optGroup struct {
	expIdx int32 // index of the expiration in the currency's expirations

	// FIFO of queued openers (their code and net premium), codes ignored
	// (§2.3, §3.3).
	fifo []queued
	head int
	// net is +1 per BuyToOpen, −1 per SellToOpen among the finally open
	// (never linked) openers seen so far (§3.3 step 1).
	net int
}

type queued struct {
	code events.TradeCode
	net  decimal.Decimal
}

func newComputer(account string, l *links, sink Sink) *computer {
	return &computer{
		links:      l,
		sink:       sink,
		tickers:    make(map[string]*tickerState),
		currencies: make(map[string]*currencyState),
		groups:     make(map[groupKey]*optGroup),
	}
}

// add takes the next movement of the main pass.
func (c *computer) add(m *events.Movement) error {
	if !slices.Contains(computedKinds, m.Kind) {
		return nil
	}
	dn := dayNumber(m.Time)
	if len(c.day) > 0 && dn != c.dayNum {
		if dn < c.dayNum {
			return fmt.Errorf("%w: movement %s out of order", ErrHistoryChanged, m.ID)
		}
		if err := c.flushDay(); err != nil {
			return err
		}
	}
	c.dayNum = dn
	c.day = append(c.day, dayMove{m: newDayMovement(m)})
	if m.Kind == events.KindOption {
		if c.opt >= c.links.n {
			return fmt.Errorf("%w: more option contracts than the link pass saw", ErrHistoryChanged)
		}
		dm := &c.day[len(c.day)-1]
		dm.key, dm.strike = contract(m, c.links.adjust)
		dm.bit = c.links.bit(c.opt)
		c.opt++
	}
	return nil
}

// finish computes the last day and emits the operations still open.
func (c *computer) finish() error {
	if c.opt != c.links.n {
		return fmt.Errorf("%w: %d option contracts, the link pass saw %d", ErrHistoryChanged, c.opt, c.links.n)
	}
	if len(c.day) > 0 {
		if err := c.flushDay(); err != nil {
			return err
		}
	}
	// Open operations, in a fixed order (emission order breaks ties of
	// equal (ticker, open date, currency), which never occur between
	// series).
	var open []*series
	for _, t := range c.tickers {
		for _, s := range t.series {
			if s.life.open >= 0 {
				open = append(open, s)
			}
		}
	}
	slices.SortFunc(open, func(a, b *series) int {
		return cmp.Or(cmp.Compare(a.ticker, b.ticker), cmp.Compare(a.currency, b.currency))
	})
	for _, s := range open {
		if err := c.emitOperation(&s.life.ops[s.life.open]); err != nil {
			return err
		}
	}
	return nil
}

func (c *computer) emitOperation(o *opState) error {
	op := roundOperation(o.operation())
	c.opSeq++
	return c.sink.Operation(&op, c.opSeq-1)
}

func (c *computer) flushDay() error {
	d := c.day[0].m.Time.Day()
	c.dispatch(d)
	if err := c.tickerDay(d); err != nil {
		return err
	}
	if err := c.brokerDay(d); err != nil {
		return err
	}
	clear(c.day)
	c.day = c.day[:0]
	return nil
}

// tickerState is one ticker: its series (one per currency) and the current
// day's movements.
type tickerState struct {
	name   string
	series []*series
	day    []int32 // indexes into history.ms
	active bool
}

// series is one (ticker, currency) snapshot series: its last row and its
// open operation.
type series struct {
	ticker, currency string
	cur              *currencyState
	last             TickerSnapshot // unrounded
	rows             int
	// openOptions counts opening contracts not yet linked to a closer on or
	// before the current day (§2.5).
	openOptions int
	life        opLife
}

// currencyState is one broker snapshot series (its last row) and the
// current day's sums.
type currencyState struct {
	code string
	last BrokerSnapshot // unrounded
	rows int

	// the day's sums (§3.2), reset after each day
	touched                                        bool
	count                                          int
	deposited, withdrawn, fees, commissions, other decimal.Decimal
	dividends, options, invested, unrealized       decimal.Decimal
	realized                                       decimal.Decimal
	positionsOpen                                  bool

	// options-open test state (§3.3)
	hasOptions    bool
	lastOptionDay events.Date
	exps          []events.Date
	remaining     *decTree // queued NetPremium per expiration index
	openNet       *intTree // groups with net ≠ 0 per expiration index
	pending       []decSum
	pendingSet    []bool
	pendingIdx    []int32
}

type lot struct{ qty, cost decimal.Decimal }

func (c *computer) currency(code string) *currencyState {
	if c.lastCur != nil && c.lastCur.code == code {
		return c.lastCur
	}
	cur := c.currencies[code]
	if cur == nil {
		cur = &currencyState{code: code}
		if exps, ok := c.links.exps[code]; ok {
			cur.exps = exps
			cur.remaining = newDecTree(len(exps))
			cur.openNet = newIntTree(len(exps))
			cur.pending = make([]decSum, len(exps))
			cur.pendingSet = make([]bool, len(exps))
		}
		c.currencies[code] = cur
		c.curOrder = append(c.curOrder, cur)
	}
	c.lastCur = cur
	return cur
}

func (c *computer) ticker(name string) *tickerState {
	if c.lastTicker != nil && c.lastTicker.name == name {
		return c.lastTicker
	}
	t := c.tickers[name]
	if t == nil {
		t = &tickerState{name: name}
		c.tickers[name] = t
	}
	c.lastTicker = t
	return t
}

// dayNumber is the calendar day of a wall time as a day count, for cheap
// grouping.
func dayNumber(w events.WallTime) int64 {
	n := int64(w)
	q := n / 86400
	if n%86400 < 0 {
		q--
	}
	return q
}

// dispatch adds the day's movements to the broker sums of their currency
// and queues ticker movements on their ticker.
func (c *computer) dispatch(d events.Date) {
	for k := range c.day {
		m := &c.day[k].m // one of the computed kinds
		cur := c.currency(m.Currency)
		cur.touched = true
		cur.count++
		if m.Kind != events.KindStock && m.Kind != events.KindOption {
			// Stock and option costs reach the broker through the ticker
			// rows, which sum them anyway (tickerRow).
			cur.commissions = addNZ(cur.commissions, m.Commissions)
			cur.fees = addNZ(cur.fees, m.Fees)
		}
		switch m.Kind {
		case events.KindCash:
			switch m.CashType {
			case events.CashDeposit, events.CashACATMoneyReceived:
				cur.deposited = addNZ(cur.deposited, m.Amount)
			case events.CashWithdrawal, events.CashACATMoneySent:
				cur.withdrawn = addNZ(cur.withdrawn, m.Amount)
			case events.CashFee:
				cur.fees = addNZ(cur.fees, m.Amount)
			case events.CashInterestsGained, events.CashLending:
				cur.other = addNZ(cur.other, m.Amount)
			case events.CashInterestsPaid:
				cur.other = decSub(cur.other, m.Amount)
			}
			continue
		case events.KindConversion:
			// Deviation (spec §7.2 item 7): the amount received is deposited
			// once in its currency and the amount given is withdrawn from the
			// source currency, instead of a double deposit in the target.
			cur.deposited = addNZ(cur.deposited, m.Amount)
			if m.FromCurrency != "" && m.FromCurrency != m.Currency {
				src := c.currency(m.FromCurrency)
				src.touched = true
				src.withdrawn = addNZ(src.withdrawn, decAbs(m.AmountChanged))
			}
			continue
		case events.KindOption:
			cur.hasOptions = true
			cur.lastOptionDay = d
		case events.KindDividend:
			cur.dividends = addNZ(cur.dividends, m.Amount)
		case events.KindDividendTax:
			cur.dividends = decSub(cur.dividends, m.Amount)
		}
		t := c.ticker(m.Ticker)
		if !t.active {
			t.active = true
			c.active = append(c.active, t)
		}
		t.day = append(t.day, int32(k))
	}
}

// tickerDay writes the day's ticker snapshots (spec/snapshots.md §2.1): for
// every ticker with movements on d, every currency it trades in on d (dividend
// taxes alone do not count) or already has a series in.
func (c *computer) tickerDay(d events.Date) error {
	for _, t := range c.active {
		cons := c.cons[:0]
		for _, s := range t.series {
			cons = append(cons, s.currency)
		}
		for _, k := range t.day {
			m := &c.day[k].m
			if m.Kind != events.KindDividendTax && !slices.Contains(cons, m.Currency) {
				cons = append(cons, m.Currency)
			}
		}
		for _, code := range cons {
			dayM := c.dayM[:0]
			for _, k := range t.day {
				if c.day[k].m.Currency == code {
					dayM = append(dayM, k)
				}
			}
			c.dayM = dayM
			var s *series
			for _, x := range t.series {
				if x.currency == code {
					s = x
					break
				}
			}
			var row TickerSnapshot
			var realized decimal.Decimal
			switch {
			case len(dayM) > 0:
				if s == nil {
					s = &series{ticker: t.name, currency: code, cur: c.currency(code), life: opLife{open: -1}}
					t.series = append(t.series, s)
				}
				row, realized = c.tickerRow(s, d, dayM)
			case s != nil:
				row = s.last
				row.Date = d
			default:
				continue
			}
			var prev *TickerSnapshot
			if s.rows > 0 {
				prev = &s.last
			}
			hands, closed := s.life.step(prev, &row, realized)
			if hands {
				s.cur.realized = addNZ(s.cur.realized, realized)
			}
			if closed != nil {
				if err := c.emitOperation(closed); err != nil {
					return err
				}
				// Only the open operation is needed from here on.
				s.life.ops, s.life.open = s.life.ops[:0], -1
			}
			s.last = row
			s.rows++
			out := roundTicker(row)
			if err := c.sink.Ticker(&out); err != nil {
				return err
			}
		}
		c.cons = cons[:0]
		t.day = t.day[:0]
		t.active = false
	}
	clear(c.active)
	c.active = c.active[:0]
	return nil
}

// tickerRow computes one incremental (or, without a previous row, initial)
// ticker snapshot from the day's movements of the series (§2.2–§2.5), and
// adds the day's share positions and costs to the broker sums (§3.2). It
// returns the row and its realized Δ.
func (c *computer) tickerRow(s *series, d events.Date, dayM []int32) (TickerSnapshot, decimal.Decimal) {
	initial := s.rows == 0
	var prev TickerSnapshot
	if !initial {
		prev = s.last
	}
	row := prev
	row.Ticker, row.Currency, row.Date = s.ticker, s.currency, d

	shares := prev.TotalShares
	var pool decimal.Decimal
	if !initial && !prev.CostBasis.IsZero() && !prev.TotalShares.IsZero() {
		pool = decMul(prev.CostBasis, prev.TotalShares)
	}
	var realized decSum
	var dayComm, dayFees, dayPremium decSum // also the broker's (§3.2)
	// The day's capital, added to the row's at the end: an exact sum, the
	// same value and exponent as adding the terms to it one by one (a
	// decSum's exponent is at most 0, the start's; so is the row's).
	var capital decSum
	capitalAdded := false
	cur := s.cur

	// The day's share positions for the broker (§3.2 "day positions").
	lots := c.lots[:0]
	lotHead := 0
	var net decimal.Decimal
	traded := false

	for _, k := range dayM {
		dm := &c.day[k]
		m := &dm.m
		switch m.Kind {
		case events.KindStock:
			traded = true
			q := m.Quantity
			pq := decMul(m.Price, q)
			dayComm.addNZ(m.Commissions)
			dayFees.addNZ(m.Fees)
			if m.Code.BuySide() {
				shares = decAdd(shares, q)
				pool = decAdd(pool, pq)
				net = decAdd(net, q)
				lots = append(lots, lot{qty: q, cost: decAdd(decAdd(pq, m.Commissions), m.Fees)})
			} else {
				shares = decSub(shares, q)
				pool = decSub(pool, pq)
				net = decSub(net, q)
				rem := q
				for rem.Sign() > 0 && lotHead < len(lots) {
					l := &lots[lotHead]
					if l.qty.Cmp(rem) <= 0 {
						rem = decSub(rem, l.qty)
						lotHead++
						continue
					}
					left := decSub(l.qty, rem)
					l.cost = decDivRound(decMul(l.cost, left), l.qty, divPrecision)
					l.qty = left
					rem = decimal.Decimal{}
				}
			}
			if m.Code.Opening() && !pq.IsZero() {
				capital.add(decAbs(pq))
				capitalAdded = true
			}
			if m.Code == events.SellToClose && !initial {
				// Average-cost realized on sales, against the previous
				// snapshot's basis (§2.3).
				g := decSub(decSub(decMul(decSub(m.Price, prev.CostBasis), q), m.Fees), m.Commissions)
				realized.add(g)
			}
		case events.KindOption:
			g := c.group(dm.key)
			dayComm.addNZ(m.Commissions)
			dayFees.addNZ(m.Fees)
			dayPremium.addNZ(m.Premium)
			if m.Code.Opening() {
				if m.Code == events.BuyToOpen || m.OptionType == events.Put {
					mult := m.Multiplier
					if mult.IsZero() {
						mult = defaultMultiplier
					}
					if !dm.strike.IsZero() && !mult.IsZero() { // a product that is not 0
						capital.addMul(dm.strike, mult)
						capitalAdded = true
					}
				}
				g.fifo = append(g.fifo, queued{code: m.Code, net: m.NetPremium})
				cur.pend(g.expIdx, m.NetPremium, false)
				s.openOptions++
				if !dm.bit { // an opener no closer takes: finally open
					delta := 1
					if m.Code == events.SellToOpen {
						delta = -1
					}
					was := g.net
					g.net += delta
					switch {
					case was == 0 && g.net != 0:
						cur.openNet.add(int(g.expIdx), 1)
					case was != 0 && g.net == 0:
						cur.openNet.add(int(g.expIdx), -1)
					}
				}
				continue
			}
			if dm.bit { // a closer that found an opener
				s.openOptions--
			}
			if g.head == len(g.fifo) {
				continue // nothing queued: the closer is ignored (§2.3)
			}
			opener := g.fifo[g.head]
			g.head++
			switch {
			case g.head == len(g.fifo):
				g.fifo, g.head = g.fifo[:0], 0
				if g.net == 0 {
					delete(c.groups, dm.key) // an empty line is a fresh one
					c.lastGroup = nil
				}
			case g.head >= 64 && g.head*2 >= len(g.fifo):
				n := copy(g.fifo, g.fifo[g.head:])
				g.fifo, g.head = g.fifo[:n], 0
			}
			cur.pend(g.expIdx, opener.net, true)
			if !initial {
				pairGain(&realized, opener, m)
			}
		case events.KindDividend:
			row.Dividends = addNZ(row.Dividends, m.Amount)
		case events.KindDividendTax:
			row.DividendTaxes = addNZ(row.DividendTaxes, m.Amount)
		}
	}

	if capitalAdded {
		row.CapitalDeployed = decAdd(row.CapitalDeployed, capital.value())
	}
	comm, fees, premium := dayComm.value(), dayFees.value(), dayPremium.value()
	row.Commissions = addNZ(row.Commissions, comm)
	row.Fees = addNZ(row.Fees, fees)
	row.Options = addNZ(row.Options, premium)
	cur.commissions = addNZ(cur.commissions, comm)
	cur.fees = addNZ(cur.fees, fees)
	cur.options = addNZ(cur.options, premium)
	row.TotalShares = shares
	row.Weight = decimal.Decimal{}
	row.CostBasis = decimal.Decimal{}
	row.RealCost = decimal.Decimal{}
	var ti decSum
	ti.start(row.Options)
	ti.add(row.Dividends)
	ti.sub(row.DividendTaxes)
	ti.sub(row.Commissions)
	ti.sub(row.Fees)
	row.TotalIncomes = ti.value()
	if shares.Sign() > 0 {
		row.CostBasis = decAbs(decDivRound(pool, shares, divPrecision))
		row.RealCost = decSub(row.CostBasis, decDivRound(row.TotalIncomes, shares, divPrecision))
	}
	var gain decimal.Decimal // the day's realized Δ (0 for an initial row)
	if initial {
		row.Realized = decimal.Decimal{}
	} else {
		gain = realized.value()
		row.Realized = addNZ(prev.Realized, gain)
	}
	if initial || !realized.isZero() || capitalAdded {
		row.Performance = percent(row.Realized, row.CapitalDeployed)
	}
	row.OpenTrades = !shares.IsZero() || s.openOptions > 0

	if traded {
		var qty, cost decimal.Decimal
		for _, l := range lots[lotHead:] {
			qty = decAdd(qty, l.qty)
			cost = decAdd(cost, l.cost)
		}
		var avg decimal.Decimal
		if qty.Sign() > 0 {
			avg = decDivRound(cost, qty, divPrecision)
			cur.invested = decAdd(cur.invested, decMul(net, avg))
		}
		if !net.IsZero() {
			cur.positionsOpen = true
			// No market prices: price × |net| is 0 (§3.2, §4).
			cur.unrealized = decSub(cur.unrealized, decMul(avg, net))
		}
	}
	clear(lots)
	c.lots = lots[:0]
	return row, gain
}

// pairGain adds to realized the realized gain of a FIFO pair (§2.3): a
// short opened and bought back, or a long opened and sold; any other pairing
// gains 0. (The sum is exact, so adding the gain's terms one by one gives
// the same value and exponent as adding the gain.)
func pairGain(realized *decSum, opener queued, closer *dayMovement) {
	switch {
	case opener.code == events.SellToOpen && closer.Code == events.BuyToClose:
		realized.add(opener.net)
		realized.subAbs(closer.NetPremium)
	case opener.code == events.BuyToOpen && closer.Code == events.SellToClose:
		realized.add(closer.NetPremium)
		realized.add(opener.net)
	default:
		realized.add(decimal.Decimal{})
	}
}

// group returns a contract line's state, fresh when the line has nothing
// queued and nothing finally open (such a line is dropped).
func (c *computer) group(key groupKey) *optGroup {
	if c.lastGroup != nil && key == c.lastKey {
		return c.lastGroup // the contracts of one row share their line
	}
	g := c.groups[key]
	if g == nil {
		idx, _ := slices.BinarySearch(c.links.exps[key.currency], key.exp)
		g = &optGroup{expIdx: int32(idx)}
		c.groups[key] = g
	}
	c.lastKey, c.lastGroup = key, g
	return g
}

// pend records a change of queued premium at an expiration index (v queued,
// or dequeued when sub), applied to the tree before the day's broker
// snapshot.
func (cur *currencyState) pend(i int32, v decimal.Decimal, sub bool) {
	if !cur.pendingSet[i] {
		cur.pendingSet[i] = true
		cur.pendingIdx = append(cur.pendingIdx, i)
	}
	if sub {
		cur.pending[i].subNZ(v)
	} else {
		cur.pending[i].addNZ(v)
	}
}

func (cur *currencyState) flush() {
	for _, i := range cur.pendingIdx {
		if p := &cur.pending[i]; !p.isZero() {
			cur.remaining.add(int(i), p.value())
		}
		cur.pending[i] = decSum{}
		cur.pendingSet[i] = false
	}
	cur.pendingIdx = cur.pendingIdx[:0]
}

// optionsOpen is the broker's options-open test for day d (§3.3).
func (cur *currencyState) optionsOpen(d events.Date) bool {
	if !cur.hasOptions {
		return false
	}
	cur.flush()
	v := min(d, cur.lastOptionDay)
	if i := cur.openNet.last(); i >= 0 {
		v = min(d, cur.exps[i])
	}
	idx, _ := slices.BinarySearch(cur.exps, v)
	return !cur.remaining.suffix(idx).IsZero()
}

// brokerDay writes the day's broker snapshot of every currency seen so far
// (§3.1): computed when the currency has movements on d or option contracts
// up to d, carried forward otherwise.
func (c *computer) brokerDay(d events.Date) error {
	for _, cur := range c.curOrder {
		if !cur.touched && !cur.hasOptions {
			if cur.rows > 0 {
				cur.last.Date = d
				cur.rows++
				out := roundBroker(cur.last)
				if err := c.sink.Broker(&out); err != nil {
					return err
				}
			}
			continue
		}
		var prev BrokerSnapshot
		if cur.rows > 0 {
			prev = cur.last
		}
		row := BrokerSnapshot{
			Currency:          cur.code,
			Date:              d,
			MovementCounter:   prev.MovementCounter + cur.count,
			RealizedGains:     addNZ(prev.RealizedGains, cur.realized),
			Invested:          addNZ(prev.Invested, cur.invested),
			Commissions:       addNZ(prev.Commissions, cur.commissions),
			Fees:              addNZ(prev.Fees, cur.fees),
			Deposited:         addNZ(prev.Deposited, cur.deposited),
			Withdrawn:         addNZ(prev.Withdrawn, cur.withdrawn),
			DividendsReceived: addNZ(prev.DividendsReceived, cur.dividends),
			OptionsIncome:     addNZ(prev.OptionsIncome, cur.options),
			OtherIncome:       addNZ(prev.OtherIncome, cur.other),
			UnrealizedGains:   cur.unrealized,
		}
		// NetCashFlow moves by the day's cash flows (the same exact sum as
		// recomputing it from the cumulative fields).
		var ncf decSum
		ncf.start(prev.NetCashFlow)
		ncf.addNZ(cur.deposited)
		ncf.subNZ(cur.withdrawn)
		ncf.addNZ(cur.dividends)
		ncf.addNZ(cur.options)
		ncf.addNZ(cur.other)
		ncf.subNZ(cur.commissions)
		ncf.subNZ(cur.fees)
		row.NetCashFlow = ncf.value()
		if row.NetCashFlow.Sign() > 0 {
			row.RealizedPercentage = percent(row.RealizedGains, row.NetCashFlow)
			row.UnrealizedGainsPercentage = percent(row.UnrealizedGains, row.NetCashFlow)
		}
		row.OpenTrades = cur.positionsOpen || cur.optionsOpen(d)
		cur.last = row
		cur.rows++
		out := roundBroker(row)
		if err := c.sink.Broker(&out); err != nil {
			return err
		}

		cur.touched = false
		cur.count = 0
		cur.deposited, cur.withdrawn, cur.fees, cur.commissions, cur.other = decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}
		cur.dividends, cur.options, cur.invested, cur.unrealized, cur.realized = decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}
		cur.positionsOpen = false
	}
	return nil
}

func sortOperations(ops []Operation) {
	slices.SortStableFunc(ops, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(a.Ticker, b.Ticker), cmp.Compare(a.OpenDate, b.OpenDate), cmp.Compare(a.Currency, b.Currency))
	})
}

// percent is a / b × 100, or 0 when b is 0.
func percent(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() || a.IsZero() {
		return decimal.Decimal{}
	}
	return decDivRound(decMul(a, hundred), b, divPrecision)
}

// subNZ subtracts b from a, skipping the work when b is zero.
func subNZ(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return decSub(a, b)
}

// addNZ adds b to a, skipping the work when b is zero.
func addNZ(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return decAdd(a, b)
}
