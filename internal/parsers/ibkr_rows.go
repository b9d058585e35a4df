package parsers

import (
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
)

// Conversions of the imported IBKR sections. Each reads the current row
// (s.line, s.section, s.h, s.cells) and hands exactly one record to s.fn.

var (
	ibOne          = decimal.NewFromInt(1)
	ibHundred      = decimal.NewFromInt(100)
	ibMaxContractD = decimal.NewFromInt(ibMaxContracts)
)

// ibDivPrecision is the number of decimal places of a division (price from
// proceeds, per-contract premium and commission).
const ibDivPrecision = 28

// ibDiv returns x / q rounded to ibDivPrecision places, like
// x.DivRound(q, ibDivPrecision), computing exact quotients by a whole q in
// int64 arithmetic (the common case: a premium over a few contracts).
func ibDiv(x, q decimal.Decimal) decimal.Decimal {
	if c, e, ok := exactdec.Quotient(x, q, ibDivPrecision); ok {
		return decimal.New(c, e)
	}
	return x.DivRound(q, ibDivPrecision)
}

func (s *ibScan) trade() error {
	h := s.h
	if h.has(ibColDisc) {
		switch h.get(s.cells, ibColDisc) {
		case "Order", "Trade":
		case "ClosedLot":
			return s.ignore("Trades: ClosedLot row (a lot closed by a trade already counted)")
		case "Execution":
			return s.ignore("Trades: Execution row (a fill of an order already counted)")
		default:
			return s.failCol(ibColDisc, errIBDisc)
		}
	}
	asset, e := s.text(ibColAsset)
	if e != nil {
		return s.failCell(e)
	}
	var convert func(ibTrade) error
	switch asset {
	case "Stocks", "STK":
		convert = s.stockTrade
	case "Forex", "CASH":
		convert = s.forexTrade
	case "Equity and Index Options", "OPT":
		convert = s.optionTrade
	default:
		return s.failCol(ibColAsset, errIBAsset)
	}
	var tr ibTrade
	if tr.symbol, e = s.text(ibColSymbol); e != nil {
		return s.failCell(e)
	}
	if tr.time, e = s.time(ibColDateTime); e != nil {
		return s.failCell(e)
	}
	if tr.qty, e = s.number(ibColQuantity); e != nil {
		return s.failCell(e)
	}
	if tr.qty.IsZero() {
		return s.failCol(ibColQuantity, errIBZeroQty)
	}
	if tr.price, tr.hasPrice, e = s.optNumber(ibColTPrice); e != nil {
		return s.failCell(e)
	}
	if tr.proceeds, tr.hasProceeds, e = s.optNumber(ibColProceeds); e != nil {
		return s.failCell(e)
	}
	if tr.comm, _, e = s.optNumber(ibColComm); e != nil {
		return s.failCell(e)
	}
	tr.currency = h.get(s.cells, ibColCurrency)
	tr.code = h.get(s.cells, ibColCode)

	s.fpStart()
	if h.has(ibColAccount) {
		ibFPText(&s.fp, h.get(s.cells, ibColAccount))
	}
	ibFPText(&s.fp, asset)
	ibFPText(&s.fp, tr.currency)
	ibFPText(&s.fp, tr.symbol)
	s.fp.Raw(ibWallText(tr.time))
	s.fpNumber(ibColQuantity)
	s.fpNumber(ibColTPrice)
	s.fpNumber(ibColProceeds)
	s.fpNumber(ibColComm)
	ibFPText(&s.fp, tr.code)

	tr.comm = tr.comm.Abs()
	s.movs = s.movs[:0]
	return convert(tr)
}

// ibTrade holds the cells of a Trades row.
type ibTrade struct {
	symbol, currency, code string
	time                   events.WallTime
	qty, price, proceeds   decimal.Decimal
	hasPrice, hasProceeds  bool
	comm                   decimal.Decimal // |Comm|
}

// commCurrency is the currency of the row's commission.
func (s *ibScan) commCurrency(rowCurrency string) string {
	if s.h.commCCY != "" {
		return s.h.commCCY
	}
	return rowCurrency
}

// commissionFee appends the cash fee that books a commission charged in
// another currency than the row's movements.
func (s *ibScan) commissionFee(tr *ibTrade, ccy string) {
	m := s.movement(events.KindCash, tr.time, ccy)
	m.CashType = events.CashFee
	m.Commissions = tr.comm
	m.Notes = "Commission: " + tr.symbol
	s.movs = append(s.movs, m)
}

// ibTradeCode is the code of a trade from its side and IBKR's Code cell
// (O opening, C closing, separated by ";").
func ibTradeCode(buy bool, code string) events.TradeCode {
	var o, c bool
	for part := range strings.SplitSeq(code, ";") {
		switch strings.TrimSpace(part) {
		case "O":
			o = true
		case "C":
			c = true
		}
	}
	if buy {
		if c && !o {
			return events.BuyToClose
		}
		return events.BuyToOpen
	}
	if o && !c {
		return events.SellToOpen
	}
	return events.SellToClose
}

func (s *ibScan) stockTrade(tr ibTrade) error {
	if tr.currency == "" {
		return s.failCol(ibColCurrency, errIBEmpty)
	}
	aq := tr.qty.Abs()
	var price decimal.Decimal
	switch {
	case tr.hasPrice && !tr.price.IsZero():
		price = tr.price.Abs()
	case tr.hasProceeds:
		price = ibDiv(tr.proceeds.Abs(), aq)
	}
	m := s.movement(events.KindStock, tr.time, tr.currency)
	m.Ticker = tr.symbol
	m.Code = ibTradeCode(tr.qty.Sign() > 0, tr.code)
	m.Quantity = aq
	m.Price = price
	m.Notes = tr.code
	ccy := s.commCurrency(tr.currency)
	if ccy == m.Currency {
		m.Commissions = tr.comm
	}
	s.movs = append(s.movs, m)
	if ccy != m.Currency && !tr.comm.IsZero() {
		s.commissionFee(&tr, ccy)
	}
	return s.emit(tr.time)
}

func (s *ibScan) forexTrade(tr ibTrade) error {
	base, quote, err := ibSplitPair(tr.symbol)
	if err != nil {
		return s.failCol(ibColSymbol, err)
	}
	var quoteAmount decimal.Decimal
	switch {
	case tr.hasProceeds:
		quoteAmount = tr.proceeds.Abs()
	case tr.hasPrice:
		quoteAmount = tr.qty.Mul(tr.price).Abs()
	default:
		return s.failCol(ibColProceeds, errIBNoPrice)
	}
	var m events.Movement
	if tr.qty.Sign() < 0 { // sold base for quote
		m = s.movement(events.KindConversion, tr.time, quote)
		m.Amount = quoteAmount
		m.FromCurrency = base
		m.AmountChanged = tr.qty.Abs()
	} else { // bought base with quote
		m = s.movement(events.KindConversion, tr.time, base)
		m.Amount = tr.qty.Abs()
		m.FromCurrency = quote
		m.AmountChanged = quoteAmount
	}
	m.Notes = "Forex: " + tr.symbol
	rowCurrency := tr.currency
	if rowCurrency == "" {
		rowCurrency = quote
	}
	ccy := s.commCurrency(rowCurrency)
	if ccy == m.Currency {
		m.Commissions = tr.comm
	}
	s.movs = append(s.movs, m)
	if ccy != m.Currency && !tr.comm.IsZero() {
		s.commissionFee(&tr, ccy)
	}
	return s.emit(tr.time)
}

func (s *ibScan) optionTrade(tr ibTrade) error {
	opt, err := ibParseOptionSymbol(tr.symbol)
	if err != nil {
		return s.failCol(ibColSymbol, err)
	}
	if tr.currency == "" {
		return s.failCol(ibColCurrency, errIBEmpty)
	}
	aq := tr.qty.Abs()
	if aq.GreaterThan(ibMaxContractD) {
		return s.failCol(ibColQuantity, errIBContracts)
	}
	n := int(aq.IntPart())
	if n == 0 {
		return s.ignore("Trades: option trade of less than one contract")
	}
	mult, ok := s.mult[tr.symbol]
	if !ok {
		mult = ibHundred
	}
	var value decimal.Decimal // signed cash of the row: + received, − paid
	switch {
	case tr.hasProceeds:
		value = tr.proceeds
	case tr.hasPrice:
		value = tr.qty.Mul(tr.price).Mul(mult).Neg()
	default:
		return s.failCol(ibColProceeds, errIBNoPrice)
	}
	ccy := s.commCurrency(tr.currency)
	comm := tr.comm
	if ccy != tr.currency {
		comm = decimal.Zero
	}
	premium := ibDiv(value, aq)
	net := ibDiv(value.Sub(comm), aq)
	perComm := ibDiv(comm, aq)
	code := ibTradeCode(tr.qty.Sign() > 0, tr.code)
	for part := 1; part <= n; part++ {
		m := s.movement(events.KindOption, tr.time, tr.currency)
		m.Part = part
		m.Ticker = opt.underlying
		m.Code = code
		m.Quantity = ibOne
		m.OptionType = opt.typ
		m.Strike = opt.strike
		m.Expiration = opt.expiry
		m.Premium = premium
		m.NetPremium = net
		m.Commissions = perComm
		m.Multiplier = mult
		m.Notes = tr.code
		s.movs = append(s.movs, m)
	}
	if ccy != tr.currency && !tr.comm.IsZero() {
		s.commissionFee(&tr, ccy)
	}
	return s.emit(tr.time)
}

// ibCash holds the cells shared by the cash sections.
type ibCash struct {
	currency, desc string
	time           events.WallTime
	amount         decimal.Decimal
}

// cash reads the currency, the date in column dateCol, the description and
// the amount of a cash-section row.
func (s *ibScan) cash(dateCol ibCol, needDesc bool) (ibCash, *ibCellErr) {
	var c ibCash
	var e *ibCellErr
	if c.currency, e = s.text(ibColCurrency); e != nil {
		return c, e
	}
	if c.time, e = s.time(dateCol); e != nil {
		return c, e
	}
	if needDesc {
		if c.desc, e = s.text(ibColDescription); e != nil {
			return c, e
		}
	} else {
		c.desc = s.h.get(s.cells, ibColDescription)
	}
	if c.amount, e = s.number(ibColAmount); e != nil {
		return c, e
	}
	return c, nil
}

// fpCash adds the cash fields to a started fingerprint in the §6.2 order
// (Currency, date, Description, Amount).
func (s *ibScan) fpCash(c *ibCash) {
	ibFPText(&s.fp, c.currency)
	s.fp.Raw(ibWallText(c.time))
	ibFPText(&s.fp, c.desc)
	s.fpNumber(ibColAmount)
}

func (s *ibScan) deposit() error {
	c, e := s.cash(ibColSettleDate, false)
	if e != nil {
		return s.failCell(e)
	}
	s.fpStart()
	s.fpCash(&c)
	m := s.movement(events.KindCash, c.time, c.currency)
	m.CashType = events.CashDeposit
	if c.amount.Sign() < 0 {
		m.CashType = events.CashWithdrawal
	}
	m.Amount = c.amount.Abs()
	m.Notes = c.desc
	s.movs = append(s.movs[:0], m)
	return s.emit(c.time)
}

func (s *ibScan) dividend(tax bool) error {
	c, e := s.cash(ibColDate, true)
	if e != nil {
		return s.failCell(e)
	}
	ticker := ibTicker(c.desc)
	if ticker == "" {
		return s.failCol(ibColDescription, errIBNoTicker)
	}
	s.fpStart()
	s.fpCash(&c)
	m := s.movement(events.KindDividend, c.time, c.currency)
	m.Amount = c.amount
	if tax {
		ibFPText(&s.fp, s.h.get(s.cells, ibColCode))
		m.Kind = events.KindDividendTax
		m.Amount = c.amount.Neg()
	}
	m.Ticker = ticker
	m.Notes = c.desc
	s.movs = append(s.movs[:0], m)
	return s.emit(c.time)
}

func (s *ibScan) interest() error {
	c, e := s.cash(ibColDate, false)
	if e != nil {
		return s.failCell(e)
	}
	s.fpStart()
	s.fpCash(&c)
	m := s.movement(events.KindCash, c.time, c.currency)
	m.CashType = events.CashInterestsGained
	if c.amount.Sign() < 0 {
		m.CashType = events.CashInterestsPaid
	}
	m.Amount = c.amount.Abs()
	m.Notes = c.desc
	s.movs = append(s.movs[:0], m)
	return s.emit(c.time)
}

func (s *ibScan) fee() error {
	subtitle := s.h.get(s.cells, ibColSubtitle)
	c, e := s.cash(ibColDate, false)
	if e != nil {
		return s.failCell(e)
	}
	s.fpStart()
	ibFPText(&s.fp, subtitle)
	s.fpCash(&c)
	m := s.movement(events.KindCash, c.time, c.currency)
	m.CashType = events.CashFee
	m.Fees = c.amount.Neg()
	m.Notes = c.desc
	s.movs = append(s.movs[:0], m)
	return s.emit(c.time)
}
