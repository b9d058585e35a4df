package parsers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// IBKR parses Interactive Brokers activity statements (spec/parsers.md §2.5):
// one CSV holding many tables, column 0 naming the section and column 1 the
// row kind (Header, Data, SubTotal, Total, Notes).
//
// Reading. The file is read with encoding/csv (variable field count; lazy
// quotes, because real statements carry bare quotes such as
// `Holland Clearing House "HCH"`); a UTF-8 BOM is stripped and every cell is
// trimmed. Each Header row starts a sub-table of its section: its column
// names are looked up by name, never by position. Only Data rows are records;
// Header, SubTotal, Total and Notes rows produce none. Every Data row yields
// exactly one [Record]:
//
//   - a Data row whose first data cell starts with "Total" ("Total",
//     "Total in USD", "Total (All Assets)") is ignored as a total row;
//   - Trades: rows whose DataDiscriminator is Order or Trade are converted;
//     ClosedLot and Execution rows are ignored (they detail an order already
//     counted, and would double it); the commission is the "Comm/Fee" column,
//     in the row's currency, or a "Comm in <CCY>" column, in CCY.
//   - Stocks: a stock trade of |Quantity| shares at |T. Price| (else
//     |Proceeds| / |Quantity|), Commissions |Comm|, Notes the Code. A buy
//     (Quantity > 0) is BuyToOpen and a sell SellToClose, as the original
//     does, refined by IBKR's Code: a sell whose Code has "O" (and not "C") is
//     a short sale, SellToOpen; a buy whose Code has "C" (and not "O") covers
//     a short, BuyToClose.
//   - Forex: a conversion. For pair B.Q, Quantity < 0 sells B for Q: the
//     movement is Currency Q, Amount |Proceeds|, FromCurrency B,
//     AmountChanged |Quantity|; Quantity > 0 buys B with Q: Currency B,
//     Amount |Quantity|, FromCurrency Q, AmountChanged |Proceeds|.
//   - Equity and Index Options: one option movement per contract (N =
//     floor(|Quantity|), like Tastytrade), from the symbol
//     "UNDERLYING DDMMMYY STRIKE C|P": Premium = Proceeds / |Quantity|
//     (signed), Commissions = |Comm| / |Quantity|, NetPremium = (Proceeds −
//     |Comm|) / |Quantity|, Multiplier from an earlier Open Positions or
//     Financial Instrument Information row of the symbol, else 100. Code as
//     for stocks with IBKR's O/C codes: buy+C BuyToClose else BuyToOpen,
//     sell+O SellToOpen else SellToClose. Expirations, assignments and
//     exercises are Trades rows with their own codes (Ep, A, Ex) and convert
//     the same way. A row of less than one contract is ignored.
//   - any other asset category is a row error wrapping [ErrUnsupported].
//   - A commission in another currency than the movement's (a "Comm in USD"
//     column on a GBP row, or a forex buy of the base currency) cannot be
//     booked on that movement: the row yields one more movement, a cash fee
//     in the commission's currency with Commissions = |Comm|.
//   - Deposits & Withdrawals: Amount ≥ 0 is a deposit, < 0 a withdrawal, of
//     |Amount|, at the settle date, 00:00 (the sign rule, not the original's
//     description keywords).
//   - Dividends (and Payment In Lieu Of Dividends): a dividend of Amount on
//     the ticker written before "(" in the description. A negative Amount (a
//     reversal) stays a dividend with a negative Amount, so gross dividends
//     net out; the original's Tastytrade rule of booking it as tax is not
//     copied.
//   - Withholding Tax: a dividend tax of −Amount: tax withheld (negative in
//     the file) is a positive cost, a refund (positive in the file) a
//     negative one. Dividends net of tax are then exact.
//   - Interest: Amount ≥ 0 is interests gained, < 0 interests paid, of
//     |Amount|.
//   - Fees: a fee booked like a Tastytrade balance adjustment: Amount 0,
//     Fees = −Amount (a charge is a positive fee, a refund a negative one).
//   - every other section is ignored with a reason naming it: statement and
//     personal sections "for privacy", summaries (NAV, Open Positions, Cash
//     Report, rates, Codes, ...) as not movements, Corporate Actions and
//     Transfers as not imported, anything else as an unknown section.
//
// Every movement keeps its row's own currency; nothing is converted. Times
// are the file's naive wall clock ("YYYY-MM-DD, HH:MM:SS", "YYYY-MM-DD
// HH:MM:SS" or "YYYY-MM-DD" at midnight).
//
// Identity (spec/parsers.md §6.2): the fingerprint is "ibkr", "1", the
// section name, then by header name only the listed columns (Trades:
// Account if present, Asset Category, Currency, Symbol, Date/Time, Quantity,
// T. Price, Proceeds, the commission, Code; Deposits & Withdrawals:
// Currency, Settle Date, Description, Amount; Dividends and Interest:
// Currency, Date, Description, Amount; Withholding Tax: the same and Code;
// Fees: Subtitle, Currency, Date, Description, Amount). The occurrence
// scope (see [Occurrences]) is the group IBKR sorts a section's rows by time
// within: the section with the Account (when the section has that column),
// then for Trades the Asset Category, Currency and Symbol, for Fees the
// Subtitle and Currency, for the other cash sections the Currency. Identical
// rows always share a scope, so the occurrence indexes (and the IDs) are
// those of a section-wide scope, while a windowed index
// ([NewWindowedOccurrences], passed in [Options].Index) stays exact on real
// statements, whose sections are sorted by symbol or currency before time.
// Seq counts the earlier rows of the same scope and time.
//
// Limits. A record (a line, or lines joined by a quoted field) longer than
// [MaxLineBytes] is one row error wrapping [ErrLineTooLong] and is never held
// whole, whatever follows (an unterminated quote included); an option row
// of more than 10,000 contracts is a row error. Memory is otherwise bounded
// by the sub-table headers, the option multipliers seen and the occurrence
// index (a windowed one keeps a small window per scope: per symbol traded).
type IBKR struct{}

// Broker implements Parser.
func (IBKR) Broker() string { return events.BrokerIBKR }

// Scan implements Parser.
func (IBKR) Scan(r io.Reader, opts Options, fn func(*Record) error) error {
	s := ibScan{opts: opts, fn: fn, headers: make(map[string]*ibHeader), occ: opts.Index}
	if s.occ == nil {
		s.occ = &Occurrences{}
	}
	return s.run(r)
}

// ibMaxContracts bounds the option contracts one row may expand into: a
// larger quantity is a row error, not millions of movements.
const ibMaxContracts = 10000

// Row errors specific to the IBKR layout.
var (
	errIBNoHeader  = fmt.Errorf("%w: data row before any Header row of its section", ErrUnknownType)
	errIBRowKind   = fmt.Errorf("%w: row kind is not Header, Data, SubTotal, Total or Notes", ErrUnknownType)
	errIBOneCell   = fmt.Errorf("%w: a row needs a section and a row kind", ErrShortRow)
	errIBDisc      = fmt.Errorf("%w: DataDiscriminator is not Order, Trade, ClosedLot or Execution", ErrUnknownType)
	errIBAsset     = fmt.Errorf("%w: asset category not imported (Stocks, Forex, Equity and Index Options are)", ErrUnsupported)
	errIBNoTicker  = fmt.Errorf("%w: no ticker before \"(\" in the description", ErrUnsupported)
	errIBContracts = fmt.Errorf("%w: more than %d option contracts in one row", ErrUnsupported, ibMaxContracts)
	errIBNoPrice   = fmt.Errorf("%w: neither Proceeds nor T. Price is given", ErrShortRow)
)

// ibSection classifies a section by name.
type ibSection uint8

const (
	ibSecUnknown ibSection = iota
	ibSecPrivacy
	ibSecSummary
	ibSecNotImported
	ibSecPositions   // Open Positions: a summary, also a source of option multipliers
	ibSecInstruments // Financial Instrument Information: likewise
	ibSecTrades
	ibSecDeposits
	ibSecDividends
	ibSecWithholding
	ibSecInterest
	ibSecFees
)

var ibSections = map[string]ibSection{
	"Statement":           ibSecPrivacy,
	"Account Information": ibSecPrivacy,
	"Notes":               ibSecPrivacy,
	"Legal Notes":         ibSecPrivacy,
	"Notes/Legal Notes":   ibSecPrivacy,
	"Net Asset Value":     ibSecPrivacy,
	"Change in NAV":       ibSecPrivacy,
	"Location of Customer Assets, Positions and Money": ibSecPrivacy,

	"Mark-to-Market Performance Summary":        ibSecSummary,
	"Realized & Unrealized Performance Summary": ibSecSummary,
	"Month & Year to Date Performance Summary":  ibSecSummary,
	"Cash Report":                 ibSecSummary,
	"Base Currency Exchange Rate": ibSecSummary,
	"Forex Balances":              ibSecSummary,
	"Codes":                       ibSecSummary,
	"Interest Accruals":           ibSecSummary,
	"Change in Dividend Accruals": ibSecSummary,
	"Net Stock Position Summary":  ibSecSummary,
	"Change in Position Value":    ibSecSummary,

	"Corporate Actions": ibSecNotImported,
	"Transfers":         ibSecNotImported,

	"Open Positions":                   ibSecPositions,
	"Financial Instrument Information": ibSecInstruments,

	"Trades":                       ibSecTrades,
	"Deposits & Withdrawals":       ibSecDeposits,
	"Dividends":                    ibSecDividends,
	"Payment In Lieu Of Dividends": ibSecDividends,
	"Withholding Tax":              ibSecWithholding,
	"Interest":                     ibSecInterest,
	"Fees":                         ibSecFees,
}

// ibReason is the ignored-row reason of a section of class c.
func ibReason(section string, c ibSection) string {
	switch c {
	case ibSecPrivacy:
		return section + ": skipped for privacy (statement and personal details are not imported)"
	case ibSecSummary, ibSecPositions, ibSecInstruments:
		return section + ": summary section, not a movement"
	case ibSecNotImported:
		return section + ": not imported (movements of this section are not supported)"
	}
	return section + ": unknown section, not imported"
}

// ibCol is a column the parser reads, found by header name.
type ibCol uint8

const (
	ibColAccount ibCol = iota
	ibColDisc
	ibColAsset
	ibColCurrency
	ibColSymbol
	ibColDateTime
	ibColQuantity
	ibColTPrice
	ibColProceeds
	ibColComm
	ibColCode
	ibColSettleDate
	ibColDate
	ibColDescription
	ibColAmount
	ibColSubtitle
	ibColMult
	ibNumCols
)

var ibColNames = [ibNumCols]string{
	"Account", "DataDiscriminator", "Asset Category", "Currency", "Symbol", "Date/Time", "Quantity",
	"T. Price", "Proceeds", "Comm/Fee", "Code", "Settle Date", "Date", "Description", "Amount",
	"Subtitle", "Mult",
}

var ibColByName = func() map[string]ibCol {
	m := make(map[string]ibCol, ibNumCols+1)
	for i, n := range ibColNames {
		m[n] = ibCol(i)
	}
	m["Multiplier"] = ibColMult
	return m
}()

// ibHeader is the sub-table a Header row starts.
type ibHeader struct {
	names   []string       // column names by data-cell index
	cols    [ibNumCols]int // data-cell index of each known column, -1 if absent
	commCCY string         // CCY of a "Comm in CCY" column; "" for Comm/Fee (the row's currency)
}

func newIBHeader(cells []string) *ibHeader {
	h := &ibHeader{names: make([]string, len(cells))}
	for i := range h.cols {
		h.cols[i] = -1
	}
	for i, name := range cells {
		h.names[i] = name
		c, ok := ibColByName[name]
		if !ok {
			ccy, isComm := strings.CutPrefix(name, "Comm in ")
			if !isComm || ccy == "" {
				continue
			}
			c = ibColComm
			if h.cols[c] < 0 {
				h.commCCY = ccy
			}
		}
		if h.cols[c] < 0 {
			h.cols[c] = i
		}
	}
	return h
}

// name returns the header name of column c.
func (h *ibHeader) name(c ibCol) string {
	if i := h.cols[c]; i >= 0 {
		return h.names[i]
	}
	return ibColNames[c]
}

// has reports whether the sub-table has column c.
func (h *ibHeader) has(c ibCol) bool { return h.cols[c] >= 0 }

// get returns the cell of column c ("" when the column or the cell is missing).
func (h *ibHeader) get(cells []string, c ibCol) string {
	if i := h.cols[c]; i >= 0 && i < len(cells) {
		return cells[i]
	}
	return ""
}

// ibScan is the state of one Scan.
type ibScan struct {
	opts    Options
	fn      func(*Record) error
	headers map[string]*ibHeader // sub-table in force, for imported sections only
	mult    map[string]decimal.Decimal
	occ     *Occurrences
	fp      Fingerprint
	rec     Record
	movs    []events.Movement

	line    int       // line of the current row
	section string    // section of the current row
	class   ibSection // and its class
	h       *ibHeader
	cells   []string

	reason      string // ignored-row reason of the current section, once built
	totalReason string // total-row reason of the current section, once built

	scopeSection string    // the section and parts of the last occurrence scope
	scopeParts   [4]string //
	scope        string    // and the scope
}

func (s *ibScan) run(r io.Reader) error {
	lim := newIBLimiter(r, MaxLineBytes)
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	first := true
	for {
		fields, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.Is(err, ErrLineTooLong):
				if first {
					return fmt.Errorf("%w: the first record is longer than %d bytes", ErrBadHeader, MaxLineBytes)
				}
				if err := s.fail(lim.longLine, "", "", fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, MaxLineBytes)); err != nil {
					return err
				}
				continue
			case errors.As(err, &pe): // not expected with LazyQuotes and no field count
				if first {
					return fmt.Errorf("%w: %w", ErrBadHeader, err)
				}
				if err := s.fail(pe.StartLine+lim.skippedLines(), "", "", fmt.Errorf("%w: %v", ErrMalformedCSV, pe.Err)); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("parsers: ibkr: read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		line += lim.skippedLines()
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
		}
		if first {
			first = false
			if len(fields) < 2 || fields[1] != "Header" {
				return fmt.Errorf("%w: an IBKR statement starts with a Header row, not %q", ErrBadHeader, truncate(strings.Join(fields, ","), 60))
			}
		}
		if len(fields) < 2 {
			if err := s.fail(line, "", fields[0], errIBOneCell); err != nil {
				return err
			}
			continue
		}
		switch fields[1] {
		case "Header":
			s.header(fields[0], fields[2:])
		case "Data":
			if err := s.data(line, fields[0], fields[2:]); err != nil {
				return err
			}
		case "SubTotal", "Total", "Notes":
		default:
			if err := s.fail(line, "", fields[1], errIBRowKind); err != nil {
				return err
			}
		}
	}
	if first {
		return ErrEmpty
	}
	return nil
}

// header starts a sub-table. Only the sections the parser reads keep one.
func (s *ibScan) header(section string, cells []string) {
	if ibSections[section] < ibSecPositions {
		return
	}
	s.headers[section] = newIBHeader(cells)
}

func (s *ibScan) data(line int, section string, cells []string) error {
	s.line, s.cells = line, cells
	if section != s.section || s.class == ibSecUnknown && s.section == "" {
		s.section, s.class = section, ibSections[section]
		s.totalReason, s.reason = "", ""
	}
	class := s.class
	if len(cells) > 0 && strings.HasPrefix(cells[0], "Total") {
		if s.totalReason == "" {
			s.totalReason = section + ": total row"
		}
		return s.ignore(s.totalReason)
	}
	s.h = s.headers[section]
	if class < ibSecTrades {
		if (class == ibSecPositions || class == ibSecInstruments) && s.h != nil {
			s.noteMultiplier()
		}
		if s.reason == "" {
			s.reason = ibReason(section, class)
		}
		return s.ignore(s.reason)
	}
	if s.h == nil {
		return s.fail(line, "", section, errIBNoHeader)
	}
	switch class {
	case ibSecTrades:
		return s.trade()
	case ibSecDeposits:
		return s.deposit()
	case ibSecDividends, ibSecWithholding:
		return s.dividend(class == ibSecWithholding)
	case ibSecInterest:
		return s.interest()
	case ibSecFees:
		return s.fee()
	}
	return s.ignore(ibReason(section, class))
}

// noteMultiplier remembers the multiplier of an option instrument.
func (s *ibScan) noteMultiplier() {
	if !ibIsOption(s.h.get(s.cells, ibColAsset)) {
		return
	}
	sym := s.h.get(s.cells, ibColSymbol)
	m, ok, err := ibParseDecimal(s.h.get(s.cells, ibColMult))
	if sym == "" || !ok || err != nil || m.Sign() <= 0 {
		return
	}
	if s.mult == nil {
		s.mult = make(map[string]decimal.Decimal)
	}
	s.mult[sym] = m
}

func ibIsOption(asset string) bool { return asset == "Equity and Index Options" || asset == "OPT" }

// Records.

func (s *ibScan) ignore(reason string) error {
	s.rec = Record{Line: s.line, Ignored: reason}
	return s.fn(&s.rec)
}

func (s *ibScan) fail(line int, column, value string, err error) error {
	s.rec = Record{Line: line, Err: &RowError{Line: line, Column: column, Value: value, Err: err}}
	return s.fn(&s.rec)
}

// failCol fails the current row on column c.
func (s *ibScan) failCol(c ibCol, err error) error {
	return s.fail(s.line, s.h.name(c), s.h.get(s.cells, c), err)
}

// emit hands over s.movs, after giving them their IDs from the fingerprint
// built in s.fp for a row at time t.
func (s *ibScan) emit(t events.WallTime) error {
	if field, value, bad := badText(s.movs); bad {
		return s.fail(s.line, field, value, ErrInvalidUTF8)
	}
	sum := s.fp.Sum()
	k, seq := s.occ.Next(sum, s.rowScope(), t)
	row := RowID(s.opts.Account, sum, k)
	for i := range s.movs {
		m := &s.movs[i]
		m.ID = MovementID(row, m.Kind, m.Part)
		m.Seq = seq
	}
	s.rec = Record{Line: s.line, Movements: s.movs}
	return s.fn(&s.rec)
}

// rowScope returns the occurrence scope of the current row (see [IBKR]).
func (s *ibScan) rowScope() string {
	var p [4]string
	p[0] = s.h.get(s.cells, ibColAccount)
	switch s.class {
	case ibSecTrades:
		p[1], p[2], p[3] = s.h.get(s.cells, ibColAsset), s.h.get(s.cells, ibColCurrency), s.h.get(s.cells, ibColSymbol)
	case ibSecFees:
		p[1], p[2] = s.h.get(s.cells, ibColSubtitle), s.h.get(s.cells, ibColCurrency)
	default:
		p[1] = s.h.get(s.cells, ibColCurrency)
	}
	if p != s.scopeParts || s.section != s.scopeSection || s.scope == "" {
		s.scopeSection, s.scopeParts = s.section, p
		s.scope = s.section + "\x1f" + p[0] + "\x1f" + p[1] + "\x1f" + p[2] + "\x1f" + p[3]
	}
	return s.scope
}

// movement starts a movement of the current row.
func (s *ibScan) movement(kind events.Kind, t events.WallTime, currency string) events.Movement {
	return events.Movement{
		Account:  s.opts.Account,
		Broker:   events.BrokerIBKR,
		Kind:     kind,
		Time:     t,
		Line:     s.line,
		Currency: currency,
	}
}

// Cell readers. Each returns a non-nil *cellErr when the row must fail.

type ibCellErr struct {
	col ibCol
	err error
}

func (s *ibScan) text(c ibCol) (string, *ibCellErr) {
	i := s.h.cols[c]
	switch {
	case i < 0:
		return "", &ibCellErr{c, fmt.Errorf("%w: the section header has no %q column", ErrShortRow, ibColNames[c])}
	case i >= len(s.cells):
		return "", &ibCellErr{c, fmt.Errorf("%w: %d cells, %q is cell %d", ErrShortRow, len(s.cells)+2, s.h.names[i], i+3)}
	case s.cells[i] == "":
		return "", &ibCellErr{c, errIBEmpty}
	}
	return s.cells[i], nil
}

func (s *ibScan) number(c ibCol) (decimal.Decimal, *ibCellErr) {
	if _, e := s.text(c); e != nil {
		if e.err == errIBEmpty {
			e.err = errIBNoNumber
		}
		return decimal.Decimal{}, e
	}
	d, _, err := ibParseDecimal(s.cells[s.h.cols[c]])
	if err != nil {
		return decimal.Decimal{}, &ibCellErr{c, err}
	}
	return d, nil
}

// optNumber reads an optional number: absent column or empty cell → !ok.
func (s *ibScan) optNumber(c ibCol) (d decimal.Decimal, ok bool, e *ibCellErr) {
	d, ok, err := ibParseDecimal(s.h.get(s.cells, c))
	if err != nil {
		return decimal.Decimal{}, true, &ibCellErr{c, err}
	}
	return d, ok, nil
}

func (s *ibScan) time(c ibCol) (events.WallTime, *ibCellErr) {
	v, e := s.text(c)
	if e != nil {
		if e.err == errIBEmpty {
			e.err = errIBNoDate
		}
		return 0, e
	}
	t, err := ibParseTime(v)
	if err != nil {
		return 0, &ibCellErr{c, err}
	}
	if s.opts.Within != nil && !s.opts.Within(t) {
		return t, &ibCellErr{c, errIBOutside}
	}
	return t, nil
}

// errIBOutside stops the conversion of a row outside Options.Within: it is
// not a row error (failCell hands over an Outside record).
var errIBOutside = errors.New("outside the times asked for")

// failCell fails the current row on e, or hands it over as outside the
// times asked for.
func (s *ibScan) failCell(e *ibCellErr) error {
	if e.err == errIBOutside {
		s.rec = Record{Line: s.line, Outside: true}
		return s.fn(&s.rec)
	}
	return s.failCol(e.col, e.err)
}

// fpNumber adds the number in column c (already validated) to the
// fingerprint: its canonical form, or the empty string when absent.
func (s *ibScan) fpNumber(c ibCol) {
	if v := s.h.get(s.cells, c); v != "" {
		s.fp.Raw(ibCanonNumber(v))
	} else {
		s.fp.Absent()
	}
}

// fpStart starts the fingerprint of the current row.
func (s *ibScan) fpStart() {
	s.fp.Reset()
	s.fp.Raw(events.BrokerIBKR)
	s.fp.Raw("1")
	ibFPText(&s.fp, s.section)
}
