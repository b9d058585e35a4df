package projections

import (
	"cmp"
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
// caller passes one account's movements; Compute does not modify them.
func Compute(account string, movements []events.Movement) *Result {
	return compute(account, prepare(movements, 0))
}

// ComputeAsOf is the projections as the original application shows them when
// it runs on day d: [Compute] over the movements of days ≤ d, then
// [Result.AsOf](d). It is exact for any d.
func ComputeAsOf(account string, movements []events.Movement, d events.Date) *Result {
	return compute(account, prepare(movements, d)).AsOf(d)
}

func compute(account string, h *history) *Result {
	c := &computer{
		h:          h,
		tickers:    make(map[string]*tickerState),
		currencies: make(map[string]*currencyState),
	}
	c.run()
	return c.result(account)
}

// computer holds the state of one pass over a history.
type computer struct {
	h          *history
	tickers    map[string]*tickerState
	active     []*tickerState // tickers with movements on the current day
	currencies map[string]*currencyState
	curOrder   []*currencyState
	allSeries  []*series

	// scratch buffers reused across days
	cons []string
	dayM []int32
	lots []lot
}

// tickerState is one ticker: its series (one per currency) and the current
// day's movements.
type tickerState struct {
	name   string
	series []*series
	day    []int32 // indexes into history.ms
	active bool
}

// series is one (ticker, currency) snapshot series and its operations.
type series struct {
	ticker, currency string
	cur              *currencyState
	rows             []TickerSnapshot
	// openOptions counts opening contracts not yet linked to a closer on or
	// before the current day (§2.5).
	openOptions int
	life        opLife
}

// currencyState is one broker snapshot series and the current day's sums.
type currencyState struct {
	code string
	rows []BrokerSnapshot

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
	pending       []decimal.Decimal
	pendingSet    []bool
	pendingIdx    []int32
}

type lot struct{ qty, cost decimal.Decimal }

func (c *computer) currency(code string) *currencyState {
	cur := c.currencies[code]
	if cur == nil {
		cur = &currencyState{code: code}
		if exps, ok := c.h.optCurrencies[code]; ok {
			cur.exps = exps
			cur.remaining = newDecTree(len(exps))
			cur.openNet = newIntTree(len(exps))
			cur.pending = make([]decimal.Decimal, len(exps))
			cur.pendingSet = make([]bool, len(exps))
		}
		c.currencies[code] = cur
		c.curOrder = append(c.curOrder, cur)
	}
	return cur
}

func (c *computer) ticker(name string) *tickerState {
	t := c.tickers[name]
	if t == nil {
		t = &tickerState{name: name}
		c.tickers[name] = t
	}
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

func (c *computer) run() {
	ms := c.h.ms
	for i := 0; i < len(ms); {
		dn := dayNumber(ms[i].Time)
		j := i + 1
		for j < len(ms) && dayNumber(ms[j].Time) == dn {
			j++
		}
		d := ms[i].Time.Day()
		c.dispatch(i, j, d)
		c.tickerDay(d)
		c.brokerDay(d)
		i = j
	}
}

// dispatch adds the day's movements [i, j) to the broker sums of their
// currency and queues ticker movements on their ticker.
func (c *computer) dispatch(i, j int, d events.Date) {
	ms := c.h.ms
	for k := i; k < j; k++ {
		m := ms[k] // one of the kinds prepare keeps
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
				cur.other = cur.other.Sub(m.Amount)
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
				src.withdrawn = addNZ(src.withdrawn, m.AmountChanged.Abs())
			}
			continue
		case events.KindOption:
			cur.hasOptions = true
			cur.lastOptionDay = d
		case events.KindDividend:
			cur.dividends = addNZ(cur.dividends, m.Amount)
		case events.KindDividendTax:
			cur.dividends = cur.dividends.Sub(m.Amount)
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
func (c *computer) tickerDay(d events.Date) {
	ms := c.h.ms
	for _, t := range c.active {
		cons := c.cons[:0]
		for _, s := range t.series {
			cons = append(cons, s.currency)
		}
		for _, k := range t.day {
			m := ms[k]
			if m.Kind != events.KindDividendTax && !slices.Contains(cons, m.Currency) {
				cons = append(cons, m.Currency)
			}
		}
		for _, code := range cons {
			dayM := c.dayM[:0]
			for _, k := range t.day {
				if ms[k].Currency == code {
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
					c.allSeries = append(c.allSeries, s)
				}
				row, realized = c.tickerRow(s, d, dayM)
			case s != nil:
				row = s.rows[len(s.rows)-1]
				row.Date = d
			default:
				continue
			}
			var prev *TickerSnapshot
			if n := len(s.rows); n > 0 {
				prev = &s.rows[n-1]
			}
			if s.life.step(prev, &row, realized) {
				s.cur.realized = addNZ(s.cur.realized, realized)
			}
			s.rows = append(s.rows, row)
		}
		c.cons = cons[:0]
		t.day = t.day[:0]
		t.active = false
	}
	clear(c.active)
	c.active = c.active[:0]
}

// tickerRow computes one incremental (or, without a previous row, initial)
// ticker snapshot from the day's movements of the series (§2.2–§2.5), and
// adds the day's share positions and costs to the broker sums (§3.2). It
// returns the row and its realized Δ.
func (c *computer) tickerRow(s *series, d events.Date, dayM []int32) (TickerSnapshot, decimal.Decimal) {
	h := c.h
	initial := len(s.rows) == 0
	var prev TickerSnapshot
	if !initial {
		prev = s.rows[len(s.rows)-1]
	}
	row := prev
	row.Ticker, row.Currency, row.Date = s.ticker, s.currency, d

	shares := prev.TotalShares
	var pool decimal.Decimal
	if !initial && !prev.CostBasis.IsZero() && !prev.TotalShares.IsZero() {
		pool = prev.CostBasis.Mul(prev.TotalShares)
	}
	var realized decimal.Decimal
	var dayComm, dayFees, dayPremium decimal.Decimal // also the broker's (§3.2)
	capitalAdded := false
	cur := s.cur

	// The day's share positions for the broker (§3.2 "day positions").
	lots := c.lots[:0]
	lotHead := 0
	var net decimal.Decimal
	traded := false

	for _, k := range dayM {
		m := h.ms[k]
		switch m.Kind {
		case events.KindStock:
			traded = true
			q := m.Quantity
			pq := m.Price.Mul(q)
			dayComm = addNZ(dayComm, m.Commissions)
			dayFees = addNZ(dayFees, m.Fees)
			if m.Code.BuySide() {
				shares = shares.Add(q)
				pool = pool.Add(pq)
				net = net.Add(q)
				lots = append(lots, lot{qty: q, cost: pq.Add(m.Commissions).Add(m.Fees)})
			} else {
				shares = shares.Sub(q)
				pool = pool.Sub(pq)
				net = net.Sub(q)
				rem := q
				for rem.Sign() > 0 && lotHead < len(lots) {
					l := &lots[lotHead]
					if l.qty.Cmp(rem) <= 0 {
						rem = rem.Sub(l.qty)
						lotHead++
						continue
					}
					left := l.qty.Sub(rem)
					l.cost = l.cost.Mul(left).DivRound(l.qty, divPrecision)
					l.qty = left
					rem = decimal.Decimal{}
				}
			}
			if m.Code.Opening() && !pq.IsZero() {
				row.CapitalDeployed = row.CapitalDeployed.Add(pq.Abs())
				capitalAdded = true
			}
			if m.Code == events.SellToClose && !initial {
				// Average-cost realized on sales, against the previous
				// snapshot's basis (§2.3).
				g := m.Price.Sub(prev.CostBasis).Mul(q).Sub(m.Fees).Sub(m.Commissions)
				realized = realized.Add(g)
			}
		case events.KindOption:
			o := &h.opts[h.opt[k]]
			g := &h.groups[o.group]
			dayComm = addNZ(dayComm, m.Commissions)
			dayFees = addNZ(dayFees, m.Fees)
			dayPremium = addNZ(dayPremium, m.Premium)
			if m.Code.Opening() {
				if m.Code == events.BuyToOpen || m.OptionType == events.Put {
					mult := m.Multiplier
					if mult.IsZero() {
						mult = defaultMultiplier
					}
					if capital := o.strike.Mul(mult); !capital.IsZero() {
						row.CapitalDeployed = row.CapitalDeployed.Add(capital)
						capitalAdded = true
					}
				}
				g.fifo = append(g.fifo, h.opt[k])
				cur.pend(g.expIdx, m.NetPremium, false)
				s.openOptions++
				if !o.closed {
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
			if o.linked {
				s.openOptions--
			}
			if g.head == len(g.fifo) {
				continue // nothing queued: the closer is ignored (§2.3)
			}
			opener := h.opts[g.fifo[g.head]].m
			g.head++
			if g.head == len(g.fifo) {
				g.fifo, g.head = g.fifo[:0], 0
			}
			cur.pend(g.expIdx, opener.NetPremium, true)
			if !initial {
				realized = realized.Add(pairGain(opener, m))
			}
		case events.KindDividend:
			row.Dividends = addNZ(row.Dividends, m.Amount)
		case events.KindDividendTax:
			row.DividendTaxes = addNZ(row.DividendTaxes, m.Amount)
		}
	}

	row.Commissions = addNZ(row.Commissions, dayComm)
	row.Fees = addNZ(row.Fees, dayFees)
	row.Options = addNZ(row.Options, dayPremium)
	cur.commissions = addNZ(cur.commissions, dayComm)
	cur.fees = addNZ(cur.fees, dayFees)
	cur.options = addNZ(cur.options, dayPremium)
	row.TotalShares = shares
	row.Weight = decimal.Decimal{}
	row.CostBasis = decimal.Decimal{}
	row.RealCost = decimal.Decimal{}
	row.TotalIncomes = row.Options.Add(row.Dividends).Sub(row.DividendTaxes).Sub(row.Commissions).Sub(row.Fees)
	if shares.Sign() > 0 {
		row.CostBasis = pool.DivRound(shares, divPrecision).Abs()
		row.RealCost = row.CostBasis.Sub(row.TotalIncomes.DivRound(shares, divPrecision))
	}
	if initial {
		row.Realized = decimal.Decimal{}
	} else {
		row.Realized = addNZ(prev.Realized, realized)
	}
	if initial || !realized.IsZero() || capitalAdded {
		row.Performance = percent(row.Realized, row.CapitalDeployed)
	}
	row.OpenTrades = !shares.IsZero() || s.openOptions > 0

	if traded {
		var qty, cost decimal.Decimal
		for _, l := range lots[lotHead:] {
			qty = qty.Add(l.qty)
			cost = cost.Add(l.cost)
		}
		var avg decimal.Decimal
		if qty.Sign() > 0 {
			avg = cost.DivRound(qty, divPrecision)
			cur.invested = cur.invested.Add(net.Mul(avg))
		}
		if !net.IsZero() {
			cur.positionsOpen = true
			// No market prices: price × |net| is 0 (§3.2, §4).
			cur.unrealized = cur.unrealized.Sub(avg.Mul(net))
		}
	}
	clear(lots)
	c.lots = lots[:0]
	if initial {
		realized = decimal.Decimal{}
	}
	return row, realized
}

// pairGain is the realized gain of a FIFO pair (§2.3): a short opened and
// bought back, or a long opened and sold; any other pairing gains 0.
func pairGain(opener, closer *events.Movement) decimal.Decimal {
	switch {
	case opener.Code == events.SellToOpen && closer.Code == events.BuyToClose:
		return opener.NetPremium.Sub(closer.NetPremium.Abs())
	case opener.Code == events.BuyToOpen && closer.Code == events.SellToClose:
		return closer.NetPremium.Add(opener.NetPremium)
	}
	return decimal.Decimal{}
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
		cur.pending[i] = subNZ(cur.pending[i], v)
	} else {
		cur.pending[i] = addNZ(cur.pending[i], v)
	}
}

func (cur *currencyState) flush() {
	for _, i := range cur.pendingIdx {
		if v := cur.pending[i]; !v.IsZero() {
			cur.remaining.add(int(i), v)
		}
		cur.pending[i] = decimal.Decimal{}
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
func (c *computer) brokerDay(d events.Date) {
	for _, cur := range c.curOrder {
		n := len(cur.rows)
		if !cur.touched && !cur.hasOptions {
			if n > 0 {
				row := cur.rows[n-1]
				row.Date = d
				cur.rows = append(cur.rows, row)
			}
			continue
		}
		var prev BrokerSnapshot
		if n > 0 {
			prev = cur.rows[n-1]
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
		ncf := prev.NetCashFlow
		ncf = addNZ(ncf, cur.deposited)
		ncf = subNZ(ncf, cur.withdrawn)
		ncf = addNZ(ncf, cur.dividends)
		ncf = addNZ(ncf, cur.options)
		ncf = addNZ(ncf, cur.other)
		ncf = subNZ(ncf, cur.commissions)
		row.NetCashFlow = subNZ(ncf, cur.fees)
		if row.NetCashFlow.Sign() > 0 {
			row.RealizedPercentage = percent(row.RealizedGains, row.NetCashFlow)
			row.UnrealizedGainsPercentage = percent(row.UnrealizedGains, row.NetCashFlow)
		}
		row.OpenTrades = cur.positionsOpen || cur.optionsOpen(d)
		cur.rows = append(cur.rows, row)

		cur.touched = false
		cur.count = 0
		cur.deposited, cur.withdrawn, cur.fees, cur.commissions, cur.other = decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}
		cur.dividends, cur.options, cur.invested, cur.unrealized, cur.realized = decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}
		cur.positionsOpen = false
	}
}

// result assembles the sorted, emission-rounded Result.
func (c *computer) result(account string) *Result {
	r := &Result{Account: account, Broker: []BrokerSnapshot{}, Tickers: []TickerSnapshot{}, Operations: []Operation{}}
	curs := slices.Clone(c.curOrder)
	slices.SortFunc(curs, func(a, b *currencyState) int { return cmp.Compare(a.code, b.code) })
	for _, cur := range curs {
		for i := range cur.rows {
			r.Broker = append(r.Broker, roundBroker(cur.rows[i]))
		}
	}
	ss := slices.Clone(c.allSeries)
	slices.SortFunc(ss, func(a, b *series) int {
		return cmp.Or(cmp.Compare(a.ticker, b.ticker), cmp.Compare(a.currency, b.currency))
	})
	for _, s := range ss {
		for i := range s.rows {
			r.Tickers = append(r.Tickers, roundTicker(s.rows[i]))
		}
		for i := range s.life.ops {
			r.Operations = append(r.Operations, roundOperation(s.life.ops[i].operation()))
		}
	}
	sortOperations(r.Operations)
	return r
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
	return a.Mul(hundred).DivRound(b, divPrecision)
}

// subNZ subtracts b from a, skipping the work when b is zero.
func subNZ(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return a.Sub(b)
}

// addNZ adds b to a, skipping the work when b is zero.
func addNZ(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return a.Add(b)
}
