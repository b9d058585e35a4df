package parsers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// Tastytrade parses Tastytrade transaction-history CSVs (spec/parsers.md §1,
// with the project's decisions): both the current 21-column layout and the
// legacy 20-column layout without Total.
//
// Each data row becomes one [Record]:
//
//   - Money Movement rows: one cash movement (Transfer → deposit, Balance
//     Adjustment → fee with Amount 0 and Fees = −Value), or, for Dividend
//     rows, a dividend (Value > 0) or a dividend tax (Value ≤ 0);
//   - Trade rows (and Receive Deliver / Expiration, booked as Buy to Close)
//     on an option: floor(Quantity) option movements of one contract each,
//     Multiplier 100; on an equity: one stock trade;
//   - Receive Deliver rows on an equity (ACAT): a Buy to Open at price 0;
//   - rows that yield nothing by the rules (assignment/exercise deliveries
//     on options, dividends or share deliveries without a symbol, options of
//     less than one contract) are ignored with the reason;
//   - rows that cannot be read (short row, bad date or number, unknown Type /
//     Sub Type, an instrument type other than Equity, Equity Option and
//     Future Option on a trade or delivery, an equity trade without a
//     symbol, more than 10,000 contracts in a row, malformed CSV, a line
//     over MaxLineBytes) are row errors.
//
// Receive Deliver / Special Dividend option rows depend on the whole file:
// their records (ignored: used for, or without, a strike-adjustment pair)
// come at the end of the scan, in file order, followed by one record (Line 0)
// per pair holding one [events.KindStrikeAdjustment] movement
// (spec/parsers.md §1.7) whose Time, Seq and Line are the closing row's. The
// parser does not rewrite strikes itself: the projections apply the
// adjustments over the account's history.
//
// Movement IDs follow spec/parsers.md §6.2 (see [Tastytrade.Scan]).
type Tastytrade struct{}

// Broker implements Parser.
func (Tastytrade) Broker() string { return events.BrokerTastytrade }

// Scan implements Parser.
//
// Reading: RFC 4180 (encoding/csv), a leading UTF-8 BOM removed, blank lines
// skipped, every field trimmed; Line is the real 1-based line of the file. An
// empty file returns [ErrEmpty]; a header that is not one of the two layouts
// returns an error wrapping [ErrBadHeader]; a header with no data rows is a
// valid, empty statement. A record (a quoted field may span lines) that
// runs past 4×MaxLineBytes, i.e. an unterminated quote, ends the scan with
// one row error for the rest of the file. Memory stays bounded by the line
// limits, the identity index and the special-dividend rows.
//
// Identity: a row's fingerprint is [Fingerprint] over, in order, "tastytrade",
// "1", the Date as the UTC instant (YYYY-MM-DDTHH:MM:SSZ; a Date written
// without an offset counts as UTC), Type, Sub Type,
// Action, Symbol, Instrument Type, Description, Value, Quantity, Average
// Price, Commissions, Fees, Multiplier, Root Symbol, Underlying Symbol,
// Expiration Date (YYYY-MM-DD), Strike Price, Call or Put, Order #, Currency
// (blank → USD); Total and the line number are left out, so a row has the
// same ID in both layouts and in any export that contains it. The row ID is
// [RowID](account, fingerprint, k) with k from [Occurrences] (scope ""), and
// each movement's ID is [MovementID](row ID, kind, part), part 1..N for the
// option contracts of a row and 0 otherwise. A strike adjustment's row ID is
// RowID(account, fingerprint of ("tastytrade-strike-adjustment", "1",
// closing row ID, opening row ID), 0). Seq counts, in file order, the
// earlier rows of the same wall-clock second that parse (row errors do not
// count, ignored rows do).
func (Tastytrade) Scan(r io.Reader, opts Options, fn func(*Record) error) error {
	s := ttScanner{account: opts.Account, fn: fn, occ: opts.Index}
	if s.occ == nil {
		s.occ = &Occurrences{}
	}
	return s.scan(r)
}

// Column indexes of the 21-column layout; the legacy layout has no Total and
// Currency at index 19.
const (
	ttDate = iota
	ttType
	ttSubType
	ttAction
	ttSymbol
	ttInstrument
	ttDescription
	ttValue
	ttQuantity
	ttAvgPrice
	ttCommissions
	ttFees
	ttMultiplier
	ttRoot
	ttUnderlying
	ttExpiration
	ttStrike
	ttCallPut
	ttOrder
	ttTotal
)

// ttColumns are the header names of the 21-column layout.
var ttColumns = [...]string{
	"Date", "Type", "Sub Type", "Action", "Symbol", "Instrument Type", "Description",
	"Value", "Quantity", "Average Price", "Commissions", "Fees", "Multiplier",
	"Root Symbol", "Underlying Symbol", "Expiration Date", "Strike Price", "Call or Put",
	"Order #", "Total", "Currency",
}

// ttMaxContracts bounds the option contracts of one row: each is a movement
// held in memory until the row's record is delivered.
const ttMaxContracts = 10000

// Ignore reasons.
const (
	ttReasonSpecialPaired   = "special dividend: used for strike adjustment"
	ttReasonSpecialUnpaired = "special dividend without a matching pair"
)

// ttClass is what a (Type, Sub Type) pair is (spec/parsers.md §1.5).
type ttClass uint8

const (
	ttClassTrade          ttClass = iota + 1 // a trade, or Receive Deliver / Expiration
	ttClassMoney                             // a money movement
	ttClassReceiveDeliver                    // any other Receive Deliver
)

// ttOpt is an optional decimal column: empty means absent.
type ttOpt struct {
	d  decimal.Decimal
	ok bool
}

// ttRow is a data row after reading and validation.
type ttRow struct {
	line int
	dt   ttDateTime

	typ, subType, action, symbol, instrument, description string
	root, underlying, callPut, order, currency            string

	value, quantity decimal.Decimal
	// Commissions and Fees are kept as absolute values: every rule uses
	// |Commissions| and |Fees|.
	commissions, fees decimal.Decimal
	strike            ttOpt
	expiration        events.Date

	// The canonical text of each number (spec/parsers.md §6.2.2), in
	// column order Value, Quantity, Average Price, Commissions, Fees,
	// Multiplier, Strike Price; "" when an optional one is absent.
	canon [7]string

	class ttClass
	code  events.TradeCode // ttClassTrade
	cash  events.CashType  // ttClassMoney, except dividends
	div   bool             // ttClassMoney / Dividend
}

type ttScanner struct {
	account string
	fn      func(*Record) error

	guard  ttGuard
	cr     *csv.Reader
	legacy bool // 20-column layout
	width  int
	// nextLine is the line after the last record read: where the next
	// record starts, at the earliest.
	nextLine int

	occ     *Occurrences
	fp      Fingerprint
	rec     Record
	moves   []events.Movement
	special []ttSpecial
	row     ttRow

	lastUTC      int64
	lastUTCText  string
	lastDate     events.Date
	lastDateText string
	// The Symbol column of options has runs of spaces; rows come in runs
	// of the same symbol.
	lastSymbol, lastSymbolText string
}

func (s *ttScanner) colName(i int) string {
	if s.legacy && i >= ttTotal {
		return ttColumns[i+1]
	}
	return ttColumns[i]
}

func (s *ttScanner) currencyIndex() int {
	if s.legacy {
		return ttTotal
	}
	return ttTotal + 1
}

func (s *ttScanner) scan(r io.Reader) error {
	s.guard.r = r
	s.cr = csv.NewReader(&s.guard)
	s.cr.FieldsPerRecord = -1
	s.cr.ReuseRecord = true

	if err := s.readHeader(); err != nil {
		return err
	}
	for {
		fields, err := s.cr.Read()
		end := s.cr.InputOffset()
		s.guard.mark(end)
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		switch {
		case errors.Is(err, errTTRecordTooLong):
			line := s.nextLine
			if len(fields) > 0 {
				line, _ = s.cr.FieldPos(0)
			}
			if err := s.emitError(line, "", "", fmt.Errorf("%w: the record starting here is longer than %d bytes (an unterminated quote?); the rest of the file was not read", ErrLineTooLong, ttMaxRecordBytes)); err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return fmt.Errorf("parsers: tastytrade: read after line %d: %w", line, err)
			}
			return s.finish()
		case errors.As(err, &pe):
			s.nextLine = pe.Line + 1
			switch {
			case s.guard.cutBefore(end):
				err = s.emitError(pe.StartLine, "", "", fmt.Errorf("%w: longer than %d bytes", ErrLineTooLong, MaxLineBytes))
			case pe.Line != pe.StartLine:
				err = s.emitError(pe.StartLine, "", "", fmt.Errorf("%w: %v (a quoted field from line %d to line %d, column %d)",
					ErrMalformedCSV, pe.Err, pe.StartLine, pe.Line, pe.Column))
			default:
				err = s.emitError(pe.StartLine, "", "", fmt.Errorf("%w: %v (column %d)", ErrMalformedCSV, pe.Err, pe.Column))
			}
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("parsers: tastytrade: read after line %d: %w", s.nextLine-1, err)
		}
		line := s.advance(fields)
		if s.guard.cutBefore(end) {
			if err := s.emitError(line, "", "", fmt.Errorf("%w: longer than %d bytes", ErrLineTooLong, MaxLineBytes)); err != nil {
				return err
			}
			continue
		}
		if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
			continue // a blank line
		}
		if err := s.handle(line, fields); err != nil {
			return err
		}
	}
	return s.finish()
}

// advance returns the first line of the record just read and notes the line
// after it (for errors that come with no position).
func (s *ttScanner) advance(fields []string) int {
	line, _ := s.cr.FieldPos(0)
	last, _ := s.cr.FieldPos(len(fields) - 1)
	s.nextLine = last + strings.Count(fields[len(fields)-1], "\n") + 1
	return line
}

// readHeader reads the first non-blank record and checks it against the two
// layouts (spec/parsers.md §1.1).
func (s *ttScanner) readHeader() error {
	for {
		fields, err := s.cr.Read()
		end := s.cr.InputOffset()
		s.guard.mark(end)
		switch {
		case err == io.EOF:
			return fmt.Errorf("parsers: tastytrade: %w", ErrEmpty)
		case errors.Is(err, errTTRecordTooLong):
			return fmt.Errorf("parsers: tastytrade: %w: header longer than %d bytes", ErrBadHeader, ttMaxRecordBytes)
		case err != nil:
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("parsers: tastytrade: %w: line %d: %w", ErrBadHeader, pe.StartLine, err)
			}
			return fmt.Errorf("parsers: tastytrade: read header: %w", err)
		}
		line := s.advance(fields)
		if s.guard.cutBefore(end) {
			return fmt.Errorf("parsers: tastytrade: %w: line %d is longer than %d bytes", ErrBadHeader, line, MaxLineBytes)
		}
		if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
			continue
		}
		return s.checkHeader(line, fields)
	}
}

func (s *ttScanner) checkHeader(line int, fields []string) error {
	switch len(fields) {
	case len(ttColumns):
		s.legacy = false
	case len(ttColumns) - 1:
		s.legacy = true
	default:
		return fmt.Errorf("parsers: tastytrade: %w: line %d has %d columns, want %d (or %d without Total)",
			ErrBadHeader, line, len(fields), len(ttColumns), len(ttColumns)-1)
	}
	s.width = len(fields)
	for i, f := range fields {
		if want := s.colName(i); !strings.EqualFold(strings.TrimSpace(f), want) {
			return fmt.Errorf("parsers: tastytrade: %w: line %d column %d is %q, want %q",
				ErrBadHeader, line, i+1, truncate(f, 60), want)
		}
	}
	return nil
}

// emit delivers s.rec and resets it.
func (s *ttScanner) emit() error {
	err := s.fn(&s.rec)
	s.moves = s.moves[:0]
	s.rec = Record{}
	return err
}

func (s *ttScanner) emitError(line int, column, value string, err error) error {
	s.rec = Record{Line: line, Err: &RowError{Line: line, Column: column, Value: value, Err: err}}
	return s.emit()
}

func (s *ttScanner) emitIgnored(line int, reason string) error {
	s.rec = Record{Line: line, Ignored: reason}
	return s.emit()
}

// handle turns one data record into its Record.
func (s *ttScanner) handle(line int, fields []string) error {
	row := &s.row
	if rerr := s.read(row, line, fields); rerr != nil {
		return s.emitError(line, rerr.Column, rerr.Value, rerr.Err)
	}
	s.fingerprint(row)
	fp := s.fp.Sum()
	k, seq := s.occ.Next(fp, "", row.dt.wall)
	rowID := RowID(s.account, fp, k)
	return s.convert(row, rowID, seq)
}

// read validates fields into row. Checks run in a fixed order: width, Date,
// Type / Sub Type, the numbers, Expiration Date.
func (s *ttScanner) read(row *ttRow, line int, fields []string) *RowError {
	if len(fields) < s.width {
		return &RowError{Column: s.colName(len(fields)), Value: truncate(strings.Join(fields, ","), 200),
			Err: fmt.Errorf("%w: %d fields, want %d", ErrShortRow, len(fields), s.width)}
	}
	for i, v := range fields[:s.width] {
		if !utf8.ValidString(v) {
			return &RowError{Column: s.colName(i), Value: v, Err: ErrInvalidUTF8}
		}
	}
	f := func(i int) string { return strings.TrimSpace(fields[i]) }
	*row = ttRow{line: line}

	date := f(ttDate)
	dt, ok := ttParseDateTime(date)
	if !ok || !plausibleYear(dt.wall.Time().Year()) {
		return &RowError{Column: s.colName(ttDate), Value: date, Err: ErrBadDate}
	}
	row.dt = dt

	row.typ, row.subType = f(ttType), f(ttSubType)
	if rerr := s.classify(row); rerr != nil {
		return rerr
	}
	row.action = f(ttAction)
	row.symbol = f(ttSymbol)
	row.instrument = f(ttInstrument)
	row.description = f(ttDescription)
	row.root = f(ttRoot)
	row.underlying = f(ttUnderlying)
	row.callPut = f(ttCallPut)
	row.order = f(ttOrder)
	row.currency = f(s.currencyIndex())
	if row.currency == "" {
		row.currency = "USD"
	}

	for _, c := range [...]struct {
		i     int
		dst   *decimal.Decimal
		canon *string
		abs   bool
	}{
		{ttValue, &row.value, &row.canon[0], false}, {ttQuantity, &row.quantity, &row.canon[1], false},
		{ttCommissions, &row.commissions, &row.canon[3], true}, {ttFees, &row.fees, &row.canon[4], true},
	} {
		v := f(c.i)
		if v == "" || v == "--" {
			*c.canon = "0"
			continue
		}
		if v == "1" {
			*c.dst, *c.canon = ttOne, "1"
			continue
		}
		d, ok := ttParseNumber(v, c.abs)
		if !ok {
			return &RowError{Column: s.colName(c.i), Value: v, Err: ErrBadNumber}
		}
		*c.dst, *c.canon = d, ttCanonNumber(v)
	}
	// Average Price and Multiplier are validated and kept as canonical text:
	// Multiplier is only part of the identity (spec decision 1 sets 100),
	// Average Price is read by stock trades alone.
	for _, c := range [...]struct {
		i     int
		canon *string
	}{{ttAvgPrice, &row.canon[2]}, {ttMultiplier, &row.canon[5]}} {
		switch v := f(c.i); v {
		case "":
		case "--":
			*c.canon = "0"
		default:
			if !ttValidNumber(v) {
				return &RowError{Column: s.colName(c.i), Value: v, Err: ErrBadNumber}
			}
			*c.canon = ttCanonNumber(v)
		}
	}
	switch v := f(ttStrike); v {
	case "":
	case "--":
		row.strike, row.canon[6] = ttOpt{ok: true}, "0"
	default:
		d, ok := ttParseDecimal(v)
		if !ok {
			return &RowError{Column: s.colName(ttStrike), Value: v, Err: ErrBadNumber}
		}
		row.strike, row.canon[6] = ttOpt{d: d, ok: true}, ttCanonNumber(v)
	}
	if v := f(ttExpiration); v != "" {
		d, ok := ttParseExpiration(v)
		if !ok {
			return &RowError{Column: s.colName(ttExpiration), Value: v, Err: ErrBadDate}
		}
		row.expiration = d
	}
	return nil
}

// classify sets the row's class from (Type, Sub Type), compared exactly
// (spec/parsers.md §1.5).
func (s *ttScanner) classify(row *ttRow) *RowError {
	switch row.typ {
	case "Trade":
		row.class = ttClassTrade
		switch row.subType {
		case "Buy to Open":
			row.code = events.BuyToOpen
		case "Sell to Open":
			row.code = events.SellToOpen
		case "Buy to Close":
			row.code = events.BuyToClose
		case "Sell to Close":
			row.code = events.SellToClose
		default:
			return &RowError{Column: s.colName(ttSubType), Value: row.subType, Err: fmt.Errorf("%w: Trade / %q", ErrUnknownType, row.subType)}
		}
	case "Money Movement":
		row.class = ttClassMoney
		switch row.subType {
		case "Deposit", "Transfer":
			row.cash = events.CashDeposit
		case "Withdrawal":
			row.cash = events.CashWithdrawal
		case "Balance Adjustment":
			row.cash = events.CashFee
		case "Credit Interest":
			row.cash = events.CashInterestsGained
		case "Debit Interest":
			row.cash = events.CashInterestsPaid
		case "Fully Paid Stock Lending Income":
			row.cash = events.CashLending
		case "Dividend":
			row.div = true
		default:
			return &RowError{Column: s.colName(ttSubType), Value: row.subType, Err: fmt.Errorf("%w: Money Movement / %q", ErrUnknownType, row.subType)}
		}
	case "Receive Deliver":
		if row.subType == "Expiration" {
			row.class = ttClassTrade
			row.code = events.BuyToClose // whatever the Action says (§1.5)
		} else {
			row.class = ttClassReceiveDeliver
		}
	default:
		return &RowError{Column: s.colName(ttType), Value: row.typ, Err: fmt.Errorf("%w: %q", ErrUnknownType, row.typ)}
	}
	return nil
}

// fingerprint fills s.fp with the canonical fields of row (§6.2.1). Texts
// and numbers are canonicalised as Fingerprint.Text and Fingerprint.Decimal
// do (ttCanonText, ttCanonNumber: the same results without allocating in
// the common case).
func (s *ttScanner) fingerprint(row *ttRow) {
	fp := &s.fp
	fp.Reset()
	fp.Raw(events.BrokerTastytrade)
	fp.Raw("1")
	fp.Raw(s.utcText(row.dt.utc))
	fp.Raw(ttCanonText(row.typ))
	fp.Raw(ttCanonText(row.subType))
	fp.Raw(ttCanonText(row.action))
	if row.symbol != s.lastSymbol {
		s.lastSymbol, s.lastSymbolText = row.symbol, ttCanonText(row.symbol)
	}
	fp.Raw(s.lastSymbolText)
	fp.Raw(ttCanonText(row.instrument))
	fp.Raw(ttCanonText(row.description))
	for _, c := range row.canon[:6] { // Value … Multiplier
		fp.Raw(c)
	}
	fp.Raw(ttCanonText(row.root))
	fp.Raw(ttCanonText(row.underlying))
	fp.Raw(s.dateText(row.expiration))
	fp.Raw(row.canon[6]) // Strike Price
	fp.Raw(ttCanonText(row.callPut))
	fp.Raw(ttCanonText(row.order))
	fp.Raw(ttCanonText(row.currency))
}

// utcText formats a UTC instant as YYYY-MM-DDTHH:MM:SSZ, reusing the last
// result (rows come in runs of equal timestamps).
func (s *ttScanner) utcText(utc int64) string {
	if utc != s.lastUTC || s.lastUTCText == "" {
		var b [32]byte
		s.lastUTC, s.lastUTCText = utc, string(events.WallTime(utc).Time().AppendFormat(b[:0], "2006-01-02T15:04:05Z"))
	}
	return s.lastUTCText
}

// dateText formats an expiration date as YYYY-MM-DD ("" when absent),
// reusing the last result.
func (s *ttScanner) dateText(d events.Date) string {
	if d != s.lastDate {
		s.lastDate, s.lastDateText = d, d.String()
	}
	return s.lastDateText
}

// base returns a movement with the fields every movement of row shares.
func (s *ttScanner) base(row *ttRow, kind events.Kind, seq int) events.Movement {
	return events.Movement{
		Account:     s.account,
		Broker:      events.BrokerTastytrade,
		Kind:        kind,
		Time:        row.dt.wall,
		Offset:      row.dt.offset,
		Seq:         seq,
		Line:        row.line,
		Currency:    row.currency,
		Commissions: row.commissions,
		Fees:        row.fees,
		Notes:       row.description,
	}
}

// convert applies the conversion rules A–G of spec/parsers.md §1.6 and
// delivers the row's record.
func (s *ttScanner) convert(row *ttRow, rowID string, seq int) error {
	line := row.line
	switch row.class {
	case ttClassMoney:
		if row.div {
			return s.dividend(row, rowID, seq)
		}
		m := s.base(row, events.KindCash, seq)
		m.CashType = row.cash
		m.Amount = ttAbs(row.value)
		if row.subType == "Balance Adjustment" {
			m.Amount = decimal.Decimal{}
			m.Fees = row.value.Neg()
		}
		return s.single(line, m, rowID)

	case ttClassTrade:
		switch row.instrument {
		case "Equity Option", "Future Option":
			return s.options(row, rowID, seq)
		case "Equity":
			return s.stock(row, rowID, seq)
		}
		return s.emitError(line, s.colName(ttInstrument), row.instrument,
			fmt.Errorf("%w: instrument type %q", ErrUnsupported, row.instrument))

	case ttClassReceiveDeliver:
		switch row.instrument {
		case "Equity":
			// Rule E: shares received (ACAT and any other delivery) are a
			// Buy to Open at price 0. Without a symbol there is nothing to
			// book, and no cash moves.
			sym := row.symbolOrUnderlying()
			if sym == "" {
				return s.emitIgnored(line, fmt.Sprintf("receive deliver %q of shares without a symbol yields no movement", row.subType))
			}
			m := s.base(row, events.KindStock, seq)
			m.Ticker = sym
			m.Code = events.BuyToOpen
			m.Quantity = ttAbs(row.quantity)
			return s.single(line, m, rowID)
		case "Equity Option", "Future Option":
			if row.subType == "Special Dividend" {
				s.special = append(s.special, ttSpecialOf(row, rowID, seq))
				return nil // its record comes at the end of the scan
			}
			return s.emitIgnored(line, fmt.Sprintf("receive deliver %q on an option (assignment, exercise…) yields no movement", row.subType))
		}
		return s.emitError(line, s.colName(ttInstrument), row.instrument,
			fmt.Errorf("%w: receive deliver %q of instrument type %q", ErrUnsupported, row.subType, row.instrument))
	}
	// Unreachable: classify sets a class or fails.
	return s.emitError(line, s.colName(ttType), row.typ, ErrUnknownType)
}

// symbolOrUnderlying is the row's symbol: Underlying Symbol if set, else
// Symbol (spec/parsers.md §1.3 column 14).
func (row *ttRow) symbolOrUnderlying() string {
	if row.underlying != "" {
		return row.underlying
	}
	return row.symbol
}

func (s *ttScanner) single(line int, m events.Movement, rowID string) error {
	m.ID = MovementID(rowID, m.Kind, 0)
	s.moves = append(s.moves, m)
	s.rec = Record{Line: line, Movements: s.moves}
	return s.emit()
}

// dividend is rule B: a dividend if Value > 0, else a dividend tax; ignored
// without a symbol.
func (s *ttScanner) dividend(row *ttRow, rowID string, seq int) error {
	sym := row.symbolOrUnderlying()
	if sym == "" {
		return s.emitIgnored(row.line, "dividend without a symbol")
	}
	kind := events.KindDividendTax
	if row.value.Sign() > 0 {
		kind = events.KindDividend
	}
	m := s.base(row, kind, seq)
	m.Ticker = sym
	m.Amount = ttAbs(row.value)
	return s.single(row.line, m, rowID)
}

// stock is rule D: one stock trade.
func (s *ttScanner) stock(row *ttRow, rowID string, seq int) error {
	sym := row.symbolOrUnderlying()
	if sym == "" {
		return s.emitError(row.line, s.colName(ttSymbol), "",
			fmt.Errorf("%w: an equity trade without a symbol", ErrUnsupported))
	}
	m := s.base(row, events.KindStock, seq)
	m.Ticker = sym
	m.Code = row.code
	m.Quantity = ttAbs(row.quantity)
	switch {
	case row.canon[2] != "": // Average Price, present
		p, err := decimal.NewFromString(row.canon[2])
		if err != nil { // cannot happen: read validated it
			return s.emitError(row.line, s.colName(ttAvgPrice), row.canon[2], ErrBadNumber)
		}
		m.Price = ttAbs(p)
	case row.quantity.IsZero():
		return s.emitError(row.line, s.colName(ttQuantity), "0",
			fmt.Errorf("%w: an equity trade of quantity 0 with no Average Price has no price", ErrBadNumber))
	default:
		m.Price = ttAbs(ibDiv(row.value, row.quantity)) // exact quotients in int64, else DivRound(x, 28)
	}
	return s.single(row.line, m, rowID)
}

var (
	ttHundred = decimal.NewFromInt(100)
	ttOne     = decimal.NewFromInt(1)
)

// options is rule C: floor(Quantity) records of one contract each.
func (s *ttScanner) options(row *ttRow, rowID string, seq int) error {
	q := row.quantity
	if q.LessThan(ttOne) {
		return s.emitIgnored(row.line, fmt.Sprintf("option trade of quantity %s (less than one contract) yields no movement", CanonicalDecimal(q)))
	}
	nd := q.Floor()
	if nd.GreaterThan(decimal.NewFromInt(ttMaxContracts)) {
		return s.emitError(row.line, s.colName(ttQuantity), CanonicalDecimal(q),
			fmt.Errorf("%w: more than %d contracts in one row", ErrUnsupported, ttMaxContracts))
	}
	n := int(nd.IntPart())

	m := s.base(row, events.KindOption, seq)
	m.Ticker = row.underlying
	if m.Ticker == "" {
		m.Ticker = "UNKNOWN"
	}
	m.Code = row.code
	m.Quantity = ttOne
	m.OptionType = events.Put
	if row.callPut == "CALL" {
		m.OptionType = events.Call
	}
	m.Expiration = row.expiration
	if m.Expiration.IsZero() {
		m.Expiration = row.dt.wall.Day().AddDays(30)
	}
	m.Strike = row.strike.d // zero when absent
	m.Multiplier = ttHundred
	comm, fees := row.commissions, row.fees
	net := row.value
	if !comm.IsZero() {
		net = net.Sub(comm)
	}
	if !fees.IsZero() {
		net = net.Sub(fees)
	}
	// Per contract: x / Quantity to 28 decimal places (the original's .NET
	// decimal division); exact when Quantity is 1.
	div := func(x decimal.Decimal) decimal.Decimal {
		if x.IsZero() || q.Equal(ttOne) {
			return x
		}
		return ibDiv(x, q) // DivRound(x, q, 28), exact quotients without big.Int
	}
	m.Premium, m.NetPremium, m.Commissions, m.Fees = div(row.value), div(net), div(comm), div(fees)
	// The N movement IDs (MovementID(rowID, option, part)) share one
	// allocation.
	var ids strings.Builder
	ids.Grow(n * (len(rowID) + len(events.KindOption) + 2 + len(strconv.Itoa(n))))
	for part := 1; part <= n; part++ {
		start := ids.Len()
		ids.WriteString(rowID)
		ids.WriteByte(':')
		ids.WriteString(string(events.KindOption))
		ids.WriteByte(':')
		ids.WriteString(strconv.Itoa(part))
		m.Part = part
		m.ID = ids.String()[start:]
		s.moves = append(s.moves, m)
	}
	s.rec = Record{Line: row.line, Movements: s.moves}
	return s.emit()
}
