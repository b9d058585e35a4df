package parsers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
// Reading: RFC 4180, exactly as encoding/csv reads it (the same records and
// errors, by a faster reader of this package), a leading UTF-8 BOM removed,
// blank lines skipped, every field trimmed; Line is the real 1-based line
// of the file. An
// empty file returns [ErrEmpty]; a header that is not one of the two layouts
// returns an error wrapping [ErrBadHeader]; a header with no data rows is a
// valid, empty statement. A record (a quoted field may span lines) that
// runs past 4×MaxLineBytes, i.e. an unterminated quote, ends the scan with
// one row error for the rest of the file. Memory stays bounded by the line
// limits, the identity index and the special-dividend rows. Under
// [Options.ReuseText] the fields of a record are read in place from the
// reader's buffer, with no copy of the text.
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
// count, ignored rows do). Under [Options.NoIDs] no fingerprint is made and
// IDs are left empty. [Record.RowKey] is a 64-bit hash of the row's fields
// as read (of the two rows, for a strike adjustment).
func (Tastytrade) Scan(r io.Reader, opts Options, fn func(*Record) error) error {
	sizeOnly := opts.SizeOnly && sizeOnlyDefaults()
	s := &ttScanner{account: opts.Account, noIDs: opts.NoIDs || sizeOnly, sizeOnly: sizeOnly, reuseText: opts.ReuseText, fn: fn, occ: opts.Index}
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
	n  num
	ok bool
}

// ttRow is a data row after reading and validation.
type ttRow struct {
	line int
	dt   ttDateTime

	typ, subType, action, symbol, instrument, description string
	root, underlying, callPut, order, currency            string

	value, quantity num
	// Commissions and Fees are kept as absolute values: every rule uses
	// |Commissions| and |Fees|.
	commissions, fees num
	strike            ttOpt
	expiration        events.Date

	// The text of each number for the fingerprint, in column order
	// Value, Quantity, Average Price, Commissions, Fees, Multiplier, Strike
	// Price: its canonical text (spec/parsers.md §6.2.2; "" when an
	// optional one is absent), or, when bit i of canonNum is set, the
	// number as written, canonicalised as it is added.
	canon    [7]string
	canonNum uint8

	class ttClass
	code  events.TradeCode // ttClassTrade
	cash  events.CashType  // ttClassMoney, except dividends
	div   bool             // ttClassMoney / Dividend
}

type ttScanner struct {
	account  string
	noIDs    bool
	sizeOnly bool // Options.SizeOnly: decimals are stand-ins (see out)
	// Options.ReuseText: a record's fields are substrings of the CSV
	// reader's buffer, which later rows overwrite; what the scanner
	// keeps past a row (the special dividends) it clones.
	reuseText bool
	fn        func(*Record) error

	guard  ttGuard
	cr     *csvReader
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
	dec     decCache
	divs    [256]ttDivSlot // see divOut
	idBuf   []byte
	// The row being converted: its ID (nil under NoIDs) and RowKey.
	rowID    *[32]byte
	rowIDBuf [32]byte
	rowKey   uint64

	// The day of the last date-time read (parseDateTime).
	dayText string
	days    int64
	dayYear int
	// The last date-time of the usual form read, and its text (a copy:
	// the row's may be reused, Options.ReuseText).
	lastDT     ttDateTime
	lastDTText [24]byte
	lastDTOK   bool

	lastUTC      int64
	lastUTCDay   int64  // days since 1970-01-01 of lastUTC
	lastUTCText  []byte // "20:YYYY-MM-DDTHH:MM:SSZ" of lastUTC
	lastUTCPlain bool   // lastUTCText has that form (a year of 0000-9999)
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
	s.cr = newCSVReader(&s.guard)
	s.cr.reuse = s.reuseText

	if err := s.readHeader(); err != nil {
		return err
	}
	for {
		err := s.cr.next()
		end := s.cr.InputOffset()
		s.guard.mark(end)
		if err == io.EOF {
			break
		}
		if err != nil {
			done, err := s.readError(r, err, end)
			if done || err != nil {
				return err
			}
			continue
		}
		line := s.advance()
		if s.guard.cutBefore(end) {
			if err := s.emitError(line, "", "", fmt.Errorf("%w: longer than %d bytes", ErrLineTooLong, MaxLineBytes)); err != nil {
				return err
			}
			continue
		}
		if s.cr.nfields() == 1 && strings.TrimSpace(s.cr.field(0)) == "" {
			continue // a blank line
		}
		if err := s.handle(line); err != nil {
			return err
		}
	}
	return s.finish()
}

// readError handles an error of the CSV reader, whose record ends at input
// offset end: a row error, or the end of the scan (done) with the scan's
// result.
func (s *ttScanner) readError(r io.Reader, err error, end int64) (done bool, _ error) {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errTTRecordTooLong):
		line := s.nextLine
		if s.cr.nfields() > 0 {
			line, _ = s.cr.FieldPos(0)
		}
		if err := s.emitError(line, "", "", fmt.Errorf("%w: the record starting here is longer than %d bytes (an unterminated quote?); the rest of the file was not read", ErrLineTooLong, ttMaxRecordBytes)); err != nil {
			return true, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return true, fmt.Errorf("parsers: tastytrade: read after line %d: %w", line, err)
		}
		return true, s.finish()
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
		return err != nil, err
	}
	return true, fmt.Errorf("parsers: tastytrade: read after line %d: %w", s.nextLine-1, err)
}

// advance returns the first line of the record just read and notes the line
// after it (for errors that come with no position).
func (s *ttScanner) advance() int {
	n := s.cr.nfields()
	line, _ := s.cr.FieldPos(0)
	last, _ := s.cr.FieldPos(n - 1)
	s.nextLine = last + 1
	if !s.cr.oneLine() {
		s.nextLine += strings.Count(s.cr.field(n-1), "\n")
	}
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
		line := s.advance()
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
func (s *ttScanner) handle(line int) error {
	row := &s.row
	// RowKey is the record's key: a change to any of its fields changes
	// it, and it is the same with and without IDs. The same pass over the
	// text tells read whether it is ASCII.
	key, ascii := s.cr.key()
	key = nonZero(key)
	if rerr := s.read(row, line, ascii); rerr != nil {
		return s.emitError(line, rerr.Column, rerr.Value, rerr.Err)
	}
	if s.noIDs {
		// No fingerprint: Seq needs only the time, and the occurrence
		// index (by the record's key here) is not used.
		seq := s.occ.nextSeq("", row.dt.wall)
		return s.convert(row, nil, key, seq)
	}
	s.fingerprint(row)
	fp := s.fp.Sum()
	k, seq := s.occ.Next(fp, "", row.dt.wall)
	s.rowIDBuf = rowIDHex(s.account, fp, k)
	return s.convert(row, &s.rowIDBuf, key, seq)
}

// read validates fields into row. Checks run in a fixed order: width, Date,
// Type / Sub Type, the numbers, Expiration Date. ascii reports that the
// record's text is all ASCII.
func (s *ttScanner) read(row *ttRow, line int, ascii bool) *RowError {
	cr := s.cr
	if n := cr.nfields(); n < s.width {
		return &RowError{Column: s.colName(n), Value: truncate(strings.Join(cr.fields(), ","), 200),
			Err: fmt.Errorf("%w: %d fields, want %d", ErrShortRow, n, s.width)}
	}
	// Every field is a substring of the record's text: if that is valid
	// UTF-8, so is each field.
	if !ascii && !utf8.ValidString(cr.text()) {
		for i := range s.width {
			if v := cr.field(i); !utf8.ValidString(v) {
				return &RowError{Column: s.colName(i), Value: v, Err: ErrInvalidUTF8}
			}
		}
	}
	*row = ttRow{line: line}

	date := cr.trimmed(ttDate)
	dt, ok := s.parseDateTime(date)
	if !ok || !plausibleYear(dt.year) {
		return &RowError{Column: s.colName(ttDate), Value: date, Err: ErrBadDate}
	}
	row.dt = dt

	row.typ, row.subType = cr.trimmed(ttType), cr.trimmed(ttSubType)
	if rerr := s.classify(row); rerr != nil {
		return rerr
	}
	row.action = cr.trimmed(ttAction)
	row.symbol = cr.trimmed(ttSymbol)
	row.instrument = cr.trimmed(ttInstrument)
	row.description = cr.trimmed(ttDescription)
	row.root = cr.trimmed(ttRoot)
	row.underlying = cr.trimmed(ttUnderlying)
	row.callPut = cr.trimmed(ttCallPut)
	row.order = cr.trimmed(ttOrder)
	row.currency = cr.trimmed(s.currencyIndex())
	if row.currency == "" {
		row.currency = "USD"
	}

	if rerr := s.number(row, cr.trimmed(ttValue), ttValue, 0, &row.value, false); rerr != nil {
		return rerr
	}
	if rerr := s.number(row, cr.trimmed(ttQuantity), ttQuantity, 1, &row.quantity, false); rerr != nil {
		return rerr
	}
	if rerr := s.number(row, cr.trimmed(ttCommissions), ttCommissions, 3, &row.commissions, true); rerr != nil {
		return rerr
	}
	if rerr := s.number(row, cr.trimmed(ttFees), ttFees, 4, &row.fees, true); rerr != nil {
		return rerr
	}
	// Average Price and Multiplier are validated and kept as text:
	// Multiplier is only part of the identity (spec decision 1 sets 100),
	// Average Price is read by stock trades alone.
	if rerr := s.optNumber(row, cr.trimmed(ttAvgPrice), ttAvgPrice, 2); rerr != nil {
		return rerr
	}
	if rerr := s.optNumber(row, cr.trimmed(ttMultiplier), ttMultiplier, 5); rerr != nil {
		return rerr
	}
	switch v := cr.trimmed(ttStrike); v {
	case "":
	case "--":
		row.strike, row.canon[6] = ttOpt{ok: true}, "0"
	default:
		n, ok := ttParseNum(v, false)
		if !ok {
			return &RowError{Column: s.colName(ttStrike), Value: v, Err: ErrBadNumber}
		}
		row.strike, row.canon[6] = ttOpt{n: n, ok: true}, v
		row.canonNum |= 1 << 6
	}
	if v := cr.trimmed(ttExpiration); v != "" {
		d, ok := ttParseExpiration(v)
		if !ok {
			return &RowError{Column: s.colName(ttExpiration), Value: v, Err: ErrBadDate}
		}
		row.expiration = d
	}
	return nil
}

// parseDateTime is ttParseDateTime, remembering the last date-time of the
// usual form and its day: rows come in runs of the same day, and often of
// the same second.
func (s *ttScanner) parseDateTime(v string) (ttDateTime, bool) {
	if len(v) != 24 {
		return ttParseDateTime(v)
	}
	if s.lastDTOK && v == string(s.lastDTText[:]) {
		dt := s.lastDT
		dt.offset = v[19:] // this row's text, not the last one's
		return dt, true
	}
	if s.dayText == "" || v[:10] != s.dayText {
		days, y, ok := ttFastDate(v)
		if !ok {
			return ttParseDateTime(v)
		}
		s.dayText, s.days, s.dayYear = strings.Clone(v[:10]), days, y
	}
	if dt, ok := ttFastClock(v, s.days, s.dayYear); ok {
		s.lastDT, s.lastDTOK = dt, true
		copy(s.lastDTText[:], v)
		return dt, true
	}
	return ttParseDateTime(v)
}

// number reads a number column that counts as zero when empty or "--" into
// dst (its absolute value if abs), and its fingerprint text into
// row.canon[ci].
func (s *ttScanner) number(row *ttRow, v string, col, ci int, dst *num, abs bool) *RowError {
	switch v {
	case "", "--":
		row.canon[ci] = "0"
	case "1":
		*dst, row.canon[ci] = num{c: 1}, "1"
	default:
		d, ok := ttParseNum(v, abs)
		if !ok {
			return &RowError{Column: s.colName(col), Value: v, Err: ErrBadNumber}
		}
		*dst, row.canon[ci] = d, v
		row.canonNum |= 1 << ci
	}
	return nil
}

// optNumber validates an optional number column ("" is absent, "--" is
// zero) and keeps its fingerprint text in row.canon[ci].
func (s *ttScanner) optNumber(row *ttRow, v string, col, ci int) *RowError {
	switch v {
	case "":
	case "--":
		row.canon[ci] = "0"
	default:
		if !ttValidNumber(v) {
			return &RowError{Column: s.colName(col), Value: v, Err: ErrBadNumber}
		}
		row.canon[ci] = v
		row.canonNum |= 1 << ci
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
// do (ttCanonText, ttAppendCanonNumber: the same results without allocating
// in the common case).
func (s *ttScanner) fingerprint(row *ttRow) {
	b := append(s.fp.buf[:0], "10:"+events.BrokerTastytrade+"1:1"...) // Raw(broker), Raw("1")
	b = s.appendUTC(b, row.dt.utc)
	b = ttAppendCanonText(b, row.typ)
	b = ttAppendCanonText(b, row.subType)
	b = ttAppendCanonText(b, row.action)
	b = ttAppendCanonText(b, row.symbol)
	b = ttAppendCanonText(b, row.instrument)
	b = ttAppendCanonText(b, row.description)
	for i := range 6 { // Value … Multiplier
		b = row.appendCanon(b, i)
	}
	b = ttAppendCanonText(b, row.root)
	b = ttAppendCanonText(b, row.underlying)
	b = appendDateField(b, row.expiration)
	b = row.appendCanon(b, 6) // Strike Price
	b = ttAppendCanonText(b, row.callPut)
	b = ttAppendCanonText(b, row.order)
	b = ttAppendCanonText(b, row.currency)
	s.fp.buf = b
}

// appendCanon appends the fingerprint field of number column i.
func (row *ttRow) appendCanon(b []byte, i int) []byte {
	if row.canonNum&(1<<i) != 0 {
		return ttAppendCanonNumber(b, row.canon[i])
	}
	b = appendLenPrefix(b, len(row.canon[i]))
	return append(b, row.canon[i]...)
}

// appendUTC appends the fingerprint field of a UTC instant,
// YYYY-MM-DDTHH:MM:SSZ, reusing the last result (rows come in runs of equal
// timestamps).
func (s *ttScanner) appendUTC(b []byte, utc int64) []byte {
	if utc == s.lastUTC && len(s.lastUTCText) > 0 {
		return append(b, s.lastUTCText...)
	}
	day, sec := utc/86400, utc%86400
	if sec < 0 {
		day, sec = day-1, sec+86400
	}
	t := s.lastUTCText
	switch {
	case s.lastUTCPlain && day == s.lastUTCDay:
		// The same day: only the time of day changes.
		t = appendDigits(t[:len("20:2006-01-02T")], int(sec/3600), 2)
		t = append(t, ':')
		t = appendDigits(t, int(sec/60%60), 2)
		t = append(t, ':')
		t = appendDigits(t, int(sec%60), 2)
		t = append(t, 'Z')
	default:
		var ok bool
		t, ok = appendClock(append(t[:0], "20:"...), utc)
		s.lastUTCPlain = ok
		if ok {
			t = append(t, 'Z')
		} else { // a year outside 0000-9999
			var tb [40]byte
			text := events.WallTime(utc).Time().AppendFormat(tb[:0], "2006-01-02T15:04:05Z")
			t = appendLenPrefix(t[:0], len(text))
			t = append(t, text...)
		}
	}
	s.lastUTC, s.lastUTCDay, s.lastUTCText = utc, day, t
	return append(b, t...)
}

// appendDateField appends the fingerprint field of an expiration date,
// YYYY-MM-DD ("" when absent).
func appendDateField(b []byte, d events.Date) []byte {
	switch {
	case d.IsZero():
		return append(b, "0:"...)
	case d > 0 && int(d)/10000 <= 9999:
		b = append(b, "10:"...)
		b = appendDigits(b, int(d)/10000, 4)
		b = append(b, '-')
		b = appendDigits(b, int(d)/100%100, 2)
		b = append(b, '-')
		return appendDigits(b, int(d)%100, 2)
	}
	t := d.String()
	b = appendLenPrefix(b, len(t))
	return append(b, t...)
}

// out is the decimal a movement gets for n: n itself, or under
// Options.SizeOnly a stand-in of the same printed length.
func (s *ttScanner) out(n num) decimal.Decimal {
	if s.sizeOnly {
		return n.standIn(&s.dec)
	}
	return n.dec(&s.dec)
}

// divOut is s.out(s.dec.ndiv(x, q)), remembered for small x and q:
// per-contract commissions and fees divide the same amounts by the same
// quantities on row after row.
func (s *ttScanner) divOut(x, q num) decimal.Decimal {
	if x.wide || q.wide {
		return s.out(s.dec.ndiv(x, q))
	}
	h := (uint64(x.c)*0x9e3779b97f4a7c15 ^ uint64(uint32(x.e))*0xc2b2ae3d27d4eb4f ^ uint64(q.c)*0xff51afd7ed558ccd ^ uint64(uint32(q.e))) >> (64 - 8)
	sl := &s.divs[h]
	if !sl.ok || sl.x != x || sl.q != q {
		*sl = ttDivSlot{x: x, q: q, out: s.divOutMiss(x, q), ok: true}
	}
	return sl.out
}

// divOutMiss is s.out(s.dec.ndiv(x, q)); under Options.SizeOnly the
// stand-in is found from the quotient's length (divTextLen), with no
// big.Int for an inexact quotient.
func (s *ttScanner) divOutMiss(x, q num) decimal.Decimal {
	if s.sizeOnly {
		if l, ok := divTextLen(x, q); ok && l < len(standIns) {
			return standIns[l]
		}
	}
	return s.out(s.dec.ndiv(x, q))
}

// ttDivSlot remembers a per-contract quotient as a movement's decimal.
type ttDivSlot struct {
	x, q num
	out  decimal.Decimal
	ok   bool
}

// add appends to s.moves a movement with the fields every movement of row
// shares and returns it.
func (s *ttScanner) add(row *ttRow, kind events.Kind, seq int) *events.Movement {
	m := s.addShared(row, kind, seq)
	m.Commissions, m.Fees = s.out(row.commissions), s.out(row.fees)
	return m
}

// addShared is add without Commissions and Fees, for the option rule, which
// sets them per contract.
func (s *ttScanner) addShared(row *ttRow, kind events.Kind, seq int) *events.Movement {
	s.moves = append(s.moves, events.Movement{
		Account:  s.account,
		Broker:   events.BrokerTastytrade,
		Kind:     kind,
		Time:     row.dt.wall,
		Offset:   row.dt.offset,
		Seq:      seq,
		Line:     row.line,
		Currency: row.currency,
		Notes:    row.description,
	})
	return &s.moves[len(s.moves)-1]
}

// convert applies the conversion rules A–G of spec/parsers.md §1.6 and
// delivers the row's record.
func (s *ttScanner) convert(row *ttRow, rowID *[32]byte, key uint64, seq int) error {
	s.rowID, s.rowKey = rowID, key
	line := row.line
	switch row.class {
	case ttClassMoney:
		if row.div {
			return s.dividend(row, seq)
		}
		m := s.add(row, events.KindCash, seq)
		m.CashType = row.cash
		m.Amount = s.out(s.dec.nabs(row.value))
		if row.subType == "Balance Adjustment" {
			m.Amount = decimal.Decimal{}
			m.Fees = s.out(s.dec.nneg(row.value))
		}
		return s.single(line, m)

	case ttClassTrade:
		switch row.instrument {
		case "Equity Option", "Future Option":
			return s.options(row, seq)
		case "Equity":
			return s.stock(row, seq)
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
			m := s.add(row, events.KindStock, seq)
			m.Ticker = sym
			m.Code = events.BuyToOpen
			m.Quantity = s.out(s.dec.nabs(row.quantity))
			return s.single(line, m)
		case "Equity Option", "Future Option":
			if row.subType == "Special Dividend" {
				s.special = append(s.special, ttSpecialOf(row, &s.dec, rowID, key, seq))
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

// single delivers the record of a row with one movement, m (the last of
// s.moves).
func (s *ttScanner) single(line int, m *events.Movement) error {
	if s.rowID != nil {
		s.idBuf = appendMovementID(s.idBuf[:0], s.rowID, m.Kind, 0)
		m.ID = string(s.idBuf)
	}
	s.rec = Record{Line: line, Movements: s.moves, RowKey: s.rowKey}
	return s.emit()
}

// dividend is rule B: a dividend if Value > 0, else a dividend tax; ignored
// without a symbol.
func (s *ttScanner) dividend(row *ttRow, seq int) error {
	sym := row.symbolOrUnderlying()
	if sym == "" {
		return s.emitIgnored(row.line, "dividend without a symbol")
	}
	kind := events.KindDividendTax
	if row.value.sign() > 0 {
		kind = events.KindDividend
	}
	m := s.add(row, kind, seq)
	m.Ticker = sym
	m.Amount = s.out(s.dec.nabs(row.value))
	return s.single(row.line, m)
}

// stock is rule D: one stock trade.
func (s *ttScanner) stock(row *ttRow, seq int) error {
	sym := row.symbolOrUnderlying()
	if sym == "" {
		return s.emitError(row.line, s.colName(ttSymbol), "",
			fmt.Errorf("%w: an equity trade without a symbol", ErrUnsupported))
	}
	var price num
	switch {
	case row.canon[2] != "": // Average Price, present
		switch v := row.canon[2]; {
		case row.canonNum&(1<<2) == 0: // "--"
		default:
			p, ok := ttParseNum(v, true)
			if !ok { // cannot happen: read validated it
				return s.emitError(row.line, s.colName(ttAvgPrice), v, ErrBadNumber)
			}
			price = p
		}
	case row.quantity.isZero():
		return s.emitError(row.line, s.colName(ttQuantity), "0",
			fmt.Errorf("%w: an equity trade of quantity 0 with no Average Price has no price", ErrBadNumber))
	default:
		price = s.dec.nabs(s.dec.ndiv(row.value, row.quantity)) // exact quotients in int64, else DivRound(x, 28)
	}
	m := s.add(row, events.KindStock, seq)
	m.Ticker = sym
	m.Code = row.code
	m.Quantity = s.out(s.dec.nabs(row.quantity))
	m.Price = s.out(price)
	return s.single(row.line, m)
}

var (
	ttHundred = decimal.NewFromInt(100)
	ttOne     = decimal.NewFromInt(1)
)

// options is rule C: floor(Quantity) records of one contract each.
func (s *ttScanner) options(row *ttRow, seq int) error {
	q := row.quantity
	fl, ok := q.floorSmall()
	if !ok { // wide or negative, or a floor past int64
		switch qd := q.dec(&s.dec); {
		case qd.LessThan(ttOne):
			fl = 0
		case qd.Floor().GreaterThan(decimal.NewFromInt(ttMaxContracts)):
			fl = ttMaxContracts + 1
		default:
			fl = qd.Floor().IntPart()
		}
	}
	if fl < 1 {
		return s.emitIgnored(row.line, fmt.Sprintf("option trade of quantity %s (less than one contract) yields no movement", CanonicalDecimal(q.dec(&s.dec))))
	}
	if fl > ttMaxContracts {
		return s.emitError(row.line, s.colName(ttQuantity), CanonicalDecimal(q.dec(&s.dec)),
			fmt.Errorf("%w: more than %d contracts in one row", ErrUnsupported, ttMaxContracts))
	}
	n := int(fl)

	m := s.addShared(row, events.KindOption, seq) // Commissions, Fees: below
	m.Ticker = row.underlying
	if m.Ticker == "" {
		m.Ticker = "UNKNOWN"
	}
	m.Code = row.code
	m.Quantity, m.Multiplier = ttOne, ttHundred
	if s.sizeOnly {
		m.Quantity, m.Multiplier = standIns[1], standIns[3]
	}
	m.OptionType = events.Put
	if row.callPut == "CALL" {
		m.OptionType = events.Call
	}
	m.Expiration = row.expiration
	if m.Expiration.IsZero() {
		m.Expiration = row.dt.wall.Day().AddDays(30)
	}
	m.Strike = s.out(row.strike.n) // zero when absent
	comm, fees := row.commissions, row.fees
	net := row.value
	if !comm.isZero() {
		net = s.dec.nsub(net, comm)
	}
	if !fees.isZero() {
		net = s.dec.nsub(net, fees)
	}
	// Per contract: x / Quantity to 28 decimal places (the original's .NET
	// decimal division); exact when Quantity is 1.
	one := q.isOne()
	div := func(x num) decimal.Decimal {
		if x.isZero() || one {
			return s.out(x)
		}
		return s.divOut(x, q) // DivRound(x, q, 28), exact quotients without big.Int
	}
	m.Premium, m.NetPremium, m.Commissions, m.Fees = div(row.value), div(net), div(comm), div(fees)
	first := len(s.moves) - 1
	for part := 2; part <= n; part++ {
		s.moves = append(s.moves, s.moves[first])
	}
	for i := range n {
		s.moves[first+i].Part = i + 1
	}
	if rowID := s.rowID; rowID != nil {
		// The N movement IDs (MovementID(rowID, option, part)) share one
		// allocation.
		b := s.idBuf[:0]
		for part := 1; part <= n; part++ {
			b = appendMovementID(b, rowID, events.KindOption, part)
		}
		s.idBuf = b
		ids := string(b)
		start := 0
		for i := range n {
			end := start + len(rowID) + 1 + len(events.KindOption) + 1 + decimalDigits(i+1)
			s.moves[first+i].ID = ids[start:end]
			start = end
		}
	}
	s.rec = Record{Line: row.line, Movements: s.moves, RowKey: s.rowKey}
	return s.emit()
}

// decimalDigits is the number of decimal digits of n > 0.
func decimalDigits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}
