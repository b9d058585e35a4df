package synth

import (
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/foliostream/foliostream/events"
)

// The model: a calendar of trading days, tickers, lanes of episodes and a
// money lane. Every random draw comes from a PCG stream keyed by the seed and
// by what is drawn (a lane's parameters, an episode, a day's money events),
// never from a stream shared across them, so any day can be generated alone.

// PCG stream salts, one per kind of draw.
const (
	saltTicker  = 0x9e3779b97f4a7c15
	saltLane    = 0xbf58476d1ce4e5b9
	saltEpisode = 0x94d049bb133111eb
	saltDay     = 0x2545f4914f6cdd1d
)

// Currencies (IBKR statements trade and hold cash in three).
const (
	ccyUSD = iota
	ccyGBP
	ccyEUR
	numCcy
)

var ccyNames = [numCcy]string{"USD", "GBP", "EUR"}

// Market seconds: seconds after the market opens (09:30 New York, 14:30 in
// the UK wall clock of Tastytrade exports). Trades happen in [0, mktClose).
const (
	mktClose  = 6*3600 + 30*60 // 16:00 New York
	mktExpiry = mktClose + 20*60
	mktMoney  = 7*3600 + 30*60 // end of day: 22:00 UK
)

type laneKind uint8

const (
	laneStock laneKind = iota
	laneShortOpt
	laneLongOpt
)

type ticker struct {
	symbol string
	name   string
	isin   string
	ccy    int
	price  int64 // base price in cents
	phase  int
	period int
	div    int64 // dividend per share, in cents
}

// priceOn is the ticker's price in cents on trading day i: the base price
// moved by a slow triangle wave of ±25%.
func (t *ticker) priceOn(i int) int64 {
	p := int64((i + t.phase) % t.period)
	half := int64(t.period / 2)
	var w int64 // -250..250 permille
	if p < half {
		w = -250 + 500*p/max(half, 1)
	} else {
		w = 250 - 500*(p-half)/max(int64(t.period)-half, 1)
	}
	return max(t.price*(1000+w)/1000, 100)
}

type lane struct {
	kind   laneKind
	ticker int
	length int // window of each episode, in trading days
	offset int // first day of the first window (≥ 1: day 0 funds the account)

	k   int // cached episode
	has bool
	ep  episode
}

// episode is one window of a lane.
type episode struct {
	openDay, closeDay, divDay int // trading days; divDay -1 when none
	openSec, closeSec         int32
	qty                       int64 // stock: shares ×10⁴; option: contracts
	openCopies, closeCopies   int8  // identical rows a fill is written as
	openPrice, closePrice     int64 // cents per share (premium per share for options)
	openComm, closeComm       int64 // cents (IBKR stock commission)
	orderOpen, orderClose     int64

	// options
	expire  bool // expires on its expiration day instead of being closed
	optType byte // 'C' or 'P'
	strike  int64
	expiry  int // trading day of the expiration
}

// evKind is what happened.
type evKind uint8

const (
	evDeposit evKind = iota
	evWithdrawal
	evCreditInterest
	evDebitInterest
	evLending
	evFee // Tastytrade balance adjustment; IBKR Fees row
	evForex
	evStockBuy
	evStockSell
	evDividend
	evTax
	evOptOpen
	evOptClose
	evOptExpire
)

// event is one thing that happened on a trading day, written as copies
// identical rows.
type event struct {
	kind   evKind
	day    int
	sec    int32
	lane   int32 // money events: -1 - their index
	n      int8
	copies int8
	ccy    int8
	ticker int32
	qty    int64 // shares ×10⁴, contracts, or forex units of the base currency (signed: + buy)
	price  int64 // cents; forex: rate ×10⁴
	amount int64 // cents, signed as the statement shows it
	comm   int64 // cents, ≥ 0
	order  int64
	long   bool // options: a long position (BTO/STC) rather than short (STO/BTC)
	ep     *episode
}

type evKey struct {
	lane int32
	n    int8
}

type model struct {
	seed    uint64
	ibkr    bool
	monday  time.Time // Monday of the first week
	off     int       // weekday of day 0 (0 = Monday)
	tickers []ticker
	lanes   []lane
	stock   [][]int // stock lanes of each ticker
	opts    [][]int // option lanes of each ticker
	initial int64   // initial deposit, cents

	pcg *rand.PCG
	r   *rand.Rand

	rows    int
	lastDay int            // last trading day written (-1: none)
	keep    map[evKey]int8 // copies written of the last day's events
	buf     []event
}

// lanesPerRow turns RowsPerDay into a number of lanes: a lane yields about
// one row every 7 to 9 trading days.
const lanesPerRow = 8

func newModel(cfg Config, ibkr bool) (*model, error) {
	m := &model{seed: cfg.Seed, ibkr: ibkr, lastDay: -1}
	m.pcg = rand.NewPCG(0, 0)
	m.r = rand.New(m.pcg)

	t := cfg.Start.Time()
	wd := (int(t.Weekday()) + 6) % 7
	if wd >= 5 {
		t = t.AddDate(0, 0, 7-wd)
		wd = 0
	}
	m.monday, m.off = t.AddDate(0, 0, -wd), wd

	m.tickers = make([]ticker, cfg.Tickers)
	for i := range m.tickers {
		m.tickers[i] = m.newTicker(i)
	}
	n := cfg.RowsPerDay * lanesPerRow
	m.lanes = make([]lane, n)
	m.stock = make([][]int, cfg.Tickers)
	m.opts = make([][]int, cfg.Tickers)
	for i := range m.lanes {
		l := m.newLane(i)
		m.lanes[i] = l
		if l.kind == laneStock {
			m.stock[l.ticker] = append(m.stock[l.ticker], i)
		} else {
			m.opts[l.ticker] = append(m.opts[l.ticker], i)
		}
	}
	m.initial = int64(n) * 1_000_000
	if err := m.plan(cfg.Rows); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *model) seedStream(salt, key uint64) {
	m.pcg.Seed(m.seed^salt, key)
}

// Ticker symbols: real ones first, then made-up three- and four-letter ones.
var tickerSymbols = []string{
	"AAPL", "MSFT", "AMZN", "NVDA", "GOOG", "META", "TSLA", "JPM", "XOM", "PFE",
	"KO", "PEP", "INTC", "AMD", "MPW", "T", "VZ", "DIS", "NKE", "WMT",
	"BAC", "CVX", "MRK", "ABBV", "CSCO", "ORCL", "IBM", "QCOM", "TXN", "SBUX",
}

var foreignSymbols = [numCcy][]string{
	ccyGBP: {"LLOY", "VOD", "BP", "HSBA", "BARC", "GSK", "AZN", "ULVR"},
	ccyEUR: {"SAP", "ASML", "SIE", "ALV", "BNP", "AIR", "MC", "OR"},
}

func (m *model) newTicker(i int) ticker {
	m.seedStream(saltTicker, uint64(i))
	t := ticker{ccy: ccyUSD}
	if m.ibkr && i >= 3 && i%5 == 3 {
		t.ccy = ccyGBP
	}
	if m.ibkr && i >= 4 && i%5 == 4 {
		t.ccy = ccyEUR
	}
	switch {
	case t.ccy != ccyUSD && i/5 < len(foreignSymbols[t.ccy]):
		t.symbol = foreignSymbols[t.ccy][i/5]
	case i < len(tickerSymbols) && t.ccy == ccyUSD:
		t.symbol = tickerSymbols[i]
	default:
		t.symbol = madeUpSymbol(i)
	}
	t.name = t.symbol + " SYNTHETIC HOLDINGS INC"
	country := [numCcy]string{"US", "GB", "DE"}[t.ccy]
	t.isin = fmt.Sprintf("%s%09d%d", country, 100000000+m.r.IntN(900000000), i%10)
	t.price = 500 + m.r.Int64N(40000)
	t.period = 60 + m.r.IntN(200)
	t.phase = m.r.IntN(t.period)
	t.div = 5 + m.r.Int64N(95)
	return t
}

// madeUpSymbol names ticker i with letters only ("ZAB"), distinct from the
// real symbols (they start with Z or Q).
func madeUpSymbol(i int) string {
	b := []byte{"ZQ"[i%2]}
	for v := i / 2; ; v /= 26 {
		b = append(b, byte('A'+v%26))
		if v < 26 {
			break
		}
	}
	if len(b) < 3 {
		b = append(b, 'X')
	}
	return string(b)
}

func (m *model) newLane(i int) lane {
	m.seedStream(saltLane, uint64(i))
	l := lane{}
	// Popular tickers get more lanes: u² skews toward the first ones, with
	// u = x / 2^53 uniform in [0, 1) from the 53 bits Float64 would use;
	// ticker = floor(u² · n) = floor(x² · n / 2^106), in integers.
	l.ticker = skewedIndex(m.r.Uint64()&(1<<53-1), len(m.tickers))
	switch p := m.r.IntN(100); {
	case p < 45 || m.tickers[l.ticker].ccy != ccyUSD:
		l.kind = laneStock
		l.length = 5 + m.r.IntN(56)
	case p < 80:
		l.kind = laneShortOpt
		l.length = 5 + m.r.IntN(41)
	default:
		l.kind = laneLongOpt
		l.length = 5 + m.r.IntN(41)
	}
	l.offset = 1 + m.r.IntN(l.length)
	return l
}

// episodeOf returns lane li's episode covering day i, or nil before its
// first window.
func (m *model) episodeOf(li, i int) *episode {
	l := &m.lanes[li]
	if i < l.offset {
		return nil
	}
	k := (i - l.offset) / l.length
	if !l.has || l.k != k {
		l.k, l.has = k, true
		m.makeEpisode(li, k, &l.ep)
	}
	return &l.ep
}

func (m *model) makeEpisode(li, k int, ep *episode) {
	l := &m.lanes[li]
	m.seedStream(saltEpisode, uint64(li)<<32|uint64(k))
	r := m.r
	t := &m.tickers[l.ticker]
	start := l.offset + k*l.length
	*ep = episode{divDay: -1, openCopies: 1, closeCopies: 1}
	ep.orderOpen = 100000000 + r.Int64N(900000000)
	ep.orderClose = 100000000 + r.Int64N(900000000)
	jitter := func(p int64) int64 { return max(p*(1000+r.Int64N(21)-10)/1000, 1) }

	if l.kind == laneStock {
		a := r.IntN(l.length/3 + 1)
		c := a + r.IntN(l.length-a)
		ep.openDay, ep.closeDay = start+a, start+c
		ep.openSec, ep.closeSec = tradeSecs(r, a == c)
		ep.openPrice = jitter(t.priceOn(ep.openDay))
		ep.closePrice = jitter(t.priceOn(ep.closeDay))
		shares := max((100_000+r.Int64N(900_000))/ep.openPrice, 1)
		if r.IntN(8) == 0 { // two identical fills
			shares += shares % 2
			ep.openCopies = 2
		}
		ep.qty = shares * 10000
		if m.ibkr && ep.openCopies == 1 && r.IntN(20) == 0 { // a fractional share order
			ep.qty += 1 + r.Int64N(9998)
		}
		if r.IntN(8) == 0 && ep.qty%20000 == 0 { // two identical fills of whole shares
			ep.closeCopies = 2
		}
		if m.ibkr {
			ep.openComm = 100 + r.Int64N(100)
			ep.closeComm = 100 + r.Int64N(100)
		}
		if c-a >= 2 && r.IntN(5) < 2 {
			ep.divDay = start + a + 1 + r.IntN(c-a-1)
		}
		return
	}

	ep.expiry = start + l.length - 1
	a := r.IntN(l.length/2 + 1)
	ep.openDay = start + a
	ep.expire = r.IntN(100) < 35
	c := a + r.IntN(l.length-a)
	if ep.expire {
		c = l.length - 1
	}
	ep.closeDay = start + c
	ep.openSec, ep.closeSec = tradeSecs(r, a == c)
	if ep.expire {
		ep.closeSec = mktExpiry
	}
	price := t.priceOn(ep.openDay)
	var pct int64
	ep.optType = 'C'
	if r.IntN(2) == 0 {
		ep.optType = 'P'
	}
	switch {
	case l.kind == laneShortOpt && ep.optType == 'P':
		pct = 90 + r.Int64N(9)
	case l.kind == laneShortOpt:
		pct = 102 + r.Int64N(9)
	default:
		pct = 97 + r.Int64N(7)
	}
	grid := int64(50)
	switch {
	case price >= 20000:
		grid = 500
	case price >= 2500:
		grid = 100
	}
	ep.strike = max((price*pct/100+grid/2)/grid*grid, grid)
	ep.openPrice = 5 + r.Int64N(max(price*3/100, 6))
	if !ep.expire {
		ep.closePrice = 1 + r.Int64N(2*ep.openPrice)
	}
	switch p := r.IntN(100); {
	case p < 55:
		ep.qty = 1
	case p < 75:
		ep.qty = 2
	case p < 95:
		ep.qty = 3 + r.Int64N(3)
	default:
		ep.qty = 10
	}
	if r.IntN(6) == 0 { // two identical fills
		ep.qty += ep.qty % 2
		ep.openCopies = 2
	}
}

// tradeSecs draws the market seconds of an opening and a closing fill; on
// the same day the close comes later.
func tradeSecs(r *rand.Rand, sameDay bool) (open, close int32) {
	if sameDay {
		return int32(r.IntN(mktClose / 2)), int32(mktClose/2 + r.IntN(mktClose/2))
	}
	return int32(r.IntN(mktClose)), int32(r.IntN(mktClose))
}

// date returns the calendar day of trading day i.
func (m *model) date(i int) events.Date {
	b := m.off + i
	return events.DateOf(m.monday.AddDate(0, 0, b/5*7+b%5))
}

// filter selects the events a pass writes.
type filter struct {
	money bool
	lanes []int // lanes to consider (nil: none)
	all   bool  // every lane
}

// day appends the events of trading day i selected by f to m.buf, in
// chronological order (market second, then lane, then order within the
// lane), and returns them. On the last day only the kept copies remain.
func (m *model) day(i int, f filter) []event {
	out := m.buf[:0]
	if f.money {
		out = m.moneyEvents(i, out)
	}
	if f.all {
		for li := range m.lanes {
			out = m.laneEvents(li, i, out)
		}
	} else {
		for _, li := range f.lanes {
			out = m.laneEvents(li, i, out)
		}
	}
	slices.SortFunc(out, func(a, b event) int {
		if c := cmp.Compare(a.sec, b.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lane, b.lane); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	})
	if i == m.lastDay && m.keep != nil {
		w := 0
		for _, e := range out {
			if c := m.keep[evKey{e.lane, e.n}]; c > 0 {
				e.copies = c
				out[w] = e
				w++
			}
		}
		out = out[:w]
	}
	m.buf = out
	return out
}

func (m *model) laneEvents(li, i int, out []event) []event {
	ep := m.episodeOf(li, i)
	if ep == nil {
		return out
	}
	l := &m.lanes[li]
	base := event{day: i, lane: int32(li), ticker: int32(l.ticker), ccy: int8(m.tickers[l.ticker].ccy), ep: ep, copies: 1}
	if l.kind == laneStock {
		if i == ep.openDay {
			e := base
			e.kind, e.sec, e.copies = evStockBuy, ep.openSec, ep.openCopies
			e.qty, e.price, e.comm, e.order = ep.qty/int64(ep.openCopies), ep.openPrice, ep.openComm, ep.orderOpen
			out = append(out, e)
		}
		if i == ep.divDay {
			t := &m.tickers[l.ticker]
			gross := ep.qty * t.div / 10000
			if gross > 0 {
				e := base
				e.kind, e.sec, e.amount = evDividend, mktMoney, gross
				out = append(out, e)
				if tax := gross * 15 / 100; tax > 0 {
					e.kind, e.n, e.amount = evTax, 1, -tax
					out = append(out, e)
				}
			}
		}
		if i == ep.closeDay {
			e := base
			e.kind, e.sec, e.n, e.copies = evStockSell, ep.closeSec, 2, ep.closeCopies
			e.qty, e.price, e.comm, e.order = ep.qty/int64(ep.closeCopies), ep.closePrice, ep.closeComm, ep.orderClose
			out = append(out, e)
		}
		return out
	}
	long := l.kind == laneLongOpt
	if i == ep.openDay {
		e := base
		e.kind, e.sec, e.copies, e.long = evOptOpen, ep.openSec, ep.openCopies, long
		e.qty, e.price, e.order = ep.qty/int64(ep.openCopies), ep.openPrice, ep.orderOpen
		out = append(out, e)
	}
	if i == ep.closeDay {
		e := base
		e.kind, e.sec, e.n, e.long = evOptClose, ep.closeSec, 1, long
		e.qty, e.price, e.order = ep.qty, ep.closePrice, ep.orderClose
		if ep.expire {
			e.kind, e.price, e.order = evOptExpire, 0, 0
		}
		out = append(out, e)
	}
	return out
}

// moneyEvents appends the money lane's events of day i.
func (m *model) moneyEvents(i int, out []event) []event {
	m.seedStream(saltDay, uint64(i))
	r := m.r
	n := int8(0)
	add := func(kind evKind, ccy int, amount int64) {
		out = append(out, event{kind: kind, day: i, sec: mktMoney, lane: -1 - int32(kind), n: n, copies: 1, ccy: int8(ccy), amount: amount})
		n++
	}
	if i == 0 {
		add(evDeposit, ccyUSD, m.initial)
		if m.ibkr {
			add(evDeposit, ccyGBP, m.initial/5)
			add(evDeposit, ccyEUR, m.initial/5)
		}
		return out
	}
	if d, prev := m.date(i), m.date(i-1); int(d)/100 != int(prev)/100 { // a new month
		add(evCreditInterest, ccyUSD, 1+r.Int64N(50000))
		if r.IntN(3) == 0 {
			add(evDebitInterest, ccyUSD, -1-r.Int64N(500))
		}
		if m.ibkr {
			add(evFee, ccyUSD, -150-r.Int64N(850))
			if r.IntN(3) == 0 {
				add(evCreditInterest, ccyGBP, 1+r.Int64N(5000))
			}
		}
	}
	if r.IntN(20) == 0 {
		add(evDeposit, ccyUSD, 50_000+r.Int64N(1_950_000))
	}
	if r.IntN(30) == 0 {
		add(evWithdrawal, ccyUSD, -2_500-r.Int64N(97_500))
	}
	if m.ibkr {
		if r.IntN(4) == 0 {
			ccy := ccyGBP + r.IntN(2)
			units := 1000 + r.Int64N(19000)
			if r.IntN(2) == 0 {
				units = -units // sell the base currency
			}
			e := event{kind: evForex, day: i, sec: int32(r.IntN(mktClose)), lane: -1 - int32(evForex), n: n, copies: 1,
				ccy: int8(ccy), qty: units, comm: 200}
			e.price = [numCcy]int64{ccyGBP: 12600, ccyEUR: 10850}[ccy] - 300 + r.Int64N(601)
			out = append(out, e)
			n++
		}
		if r.IntN(40) == 0 {
			add(evFee, ccyUSD, 1+r.Int64N(500)) // a fee refund
		}
		if r.IntN(30) == 0 {
			add(evDeposit, ccyGBP+r.IntN(2), 50_000+r.Int64N(500_000))
		}
	} else {
		if r.IntN(8) == 0 {
			add(evFee, ccyUSD, -1-r.Int64N(10))
		}
		if r.IntN(25) == 0 {
			add(evLending, ccyUSD, 1+r.Int64N(500))
		}
	}
	return out
}

// plan finds the last day so that exactly rows transaction rows are
// written, and which copies of that day's events make the count.
func (m *model) plan(rows int) error {
	m.rows = rows
	if rows == 0 {
		return nil
	}
	total, quiet := 0, 0
	for i := 0; ; i++ {
		evs := m.day(i, filter{money: true, all: true})
		n := 0
		for _, e := range evs {
			n += int(e.copies)
		}
		if n == 0 {
			if quiet++; quiet > 1000 {
				return fmt.Errorf("%w: no rows in 1000 trading days", ErrConfig)
			}
			continue
		}
		quiet = 0
		if total+n < rows {
			total += n
			continue
		}
		m.keep = make(map[evKey]int8, len(evs))
		left := rows - total
		for _, e := range evs {
			c := min(int(e.copies), left)
			if c == 0 {
				break
			}
			m.keep[evKey{e.lane, e.n}] = int8(c)
			left -= c
		}
		m.lastDay = i
		return nil
	}
}

// skewedIndex returns floor(x² · n / 2^106) for x < 2^53: an index in
// [0, n) drawn with density falling toward n when x is uniform.
func skewedIndex(x uint64, n int) int {
	hi, lo := bits.Mul64(x, x) // x² < 2^106: hi < 2^42
	carry, _ := bits.Mul64(lo, uint64(n))
	return min(int((hi*uint64(n)+carry)>>42), n-1)
}
