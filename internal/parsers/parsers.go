// Package parsers turns broker statements into movements. It is the first step
// of the pipeline and it is pure: an io.Reader in; movements, row errors and
// ignored rows out; no files, clock or environment.
//
// Every data row of a statement ends as exactly one [Record]: one or more
// movements, a [RowError] (line, column, value, reason; wrapping a sentinel
// such as [ErrBadNumber]) or an ignored row with its reason. Nothing is dropped
// silently and no input makes a parser panic.
//
// The two formats are Tastytrade transaction-history CSVs ([Tastytrade]) and
// Interactive Brokers activity statements ([IBKR]); [Detect] tells them apart
// from the first line, [ForBroker] picks one by name. The rules are those of
// spec/parsers.md; movement IDs follow its §6.2 (see [RowID]).
package parsers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/foliostream/foliostream/events"
)

// Sentinel errors. Row errors wrap one of the row sentinels; Scan returns the
// file-level ones.
var (
	// ErrUnknownBroker: a broker name no parser has.
	ErrUnknownBroker = errors.New("parsers: unknown broker")
	// ErrUnrecognized: the file is neither a Tastytrade nor an IBKR statement.
	ErrUnrecognized = errors.New("parsers: not a Tastytrade or IBKR statement")
	// ErrBadHeader: the header row does not match the format.
	ErrBadHeader = errors.New("parsers: bad header")
	// ErrEmpty: the file has no rows at all.
	ErrEmpty = errors.New("parsers: empty file")

	// ErrShortRow: a row with fewer fields than its layout needs.
	ErrShortRow = errors.New("short row")
	// ErrBadDate: an empty or unparseable date or time.
	ErrBadDate = errors.New("bad date")
	// ErrBadNumber: a value that is not a plain decimal number.
	ErrBadNumber = errors.New("bad number")
	// ErrUnknownType: an unknown Type / Sub Type (or section row kind).
	ErrUnknownType = errors.New("unknown row type")
	// ErrUnsupported: an instrument or row the parser does not import.
	ErrUnsupported = errors.New("unsupported row")
	// ErrMalformedCSV: quoting or field structure the CSV reader rejects.
	ErrMalformedCSV = errors.New("malformed CSV")
	// ErrLineTooLong: a line longer than [MaxLineBytes].
	ErrLineTooLong = errors.New("line too long")
	// ErrInvalidUTF8: text that is not valid UTF-8 (statements are UTF-8;
	// such text would not survive the wire encoding unchanged).
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
)

// Dates outside [MinYear, MaxYear] are bad dates: no statement holds them,
// and they are what a mangled field usually parses to.
const (
	MinYear = 1900
	MaxYear = 2999
)

// plausibleYear reports whether y is within [MinYear, MaxYear].
func plausibleYear(y int) bool { return y >= MinYear && y <= MaxYear }

// badText returns the first text field of ms that is not valid UTF-8, by
// its name in the movement, and its value.
func badText(ms []events.Movement) (field, value string, bad bool) {
	for i := range ms {
		m := &ms[i]
		for _, f := range [...]struct{ name, v string }{
			{"currency", m.Currency}, {"ticker", m.Ticker}, {"notes", m.Notes},
			{"from_currency", m.FromCurrency}, {"offset", m.Offset},
		} {
			if !utf8.ValidString(f.v) {
				return f.name, f.v, true
			}
		}
	}
	return "", "", false
}

// MaxLineBytes bounds one line of a statement. A longer line is a row error
// and the parser does not hold it in memory.
const MaxLineBytes = 1 << 20

// RowError is a row that could not be converted. It names the 1-based line of
// the file, the column (by header name), the offending value and the reason.
type RowError struct {
	Line   int
	Column string
	Value  string
	Err    error
}

func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, ", value %q", truncate(e.Value, 80))
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *RowError) Unwrap() error { return e.Err }

// Reject converts e to the wire form carried in session records.
func (e *RowError) Reject() events.RowReject {
	return events.RowReject{Line: e.Line, Column: e.Column, Value: truncate(e.Value, 200), Reason: e.Err.Error()}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Record is the outcome of one data row: exactly one of Movements (non-empty),
// Err, or Ignored (a reason) is set. Line is the row's 1-based line in the
// file. The record and its slices are only valid during the callback.
type Record struct {
	Line      int
	Movements []events.Movement
	Err       *RowError
	Ignored   string
	// Outside reports a row whose time is not within [Options.Within]:
	// the parser read its time and converted nothing else (it may hold
	// errors it did not look for).
	Outside bool
	// RowKey, when not 0, is a 64-bit digest of the input the record's
	// movements are made of (for a data row: its fields; for a derived
	// record: the rows it is derived from). Every scan of the same
	// statement gives a record the same RowKey, with or without
	// [Options.NoIDs]; a record made of other input gets another one
	// (but with probability 2^-64). With the movements' Line, Seq and Part
	// it determines their values, all but their IDs, whose occurrence
	// index also depends on the earlier rows. A parser that honours NoIDs
	// sets it.
	RowKey uint64
}

// Options configure a scan.
type Options struct {
	// Account scopes movement IDs: the same file scanned for two accounts
	// yields different IDs. It is required.
	Account string
	// Index assigns occurrence indexes and Seq (see [Occurrences]). Nil means
	// a fresh full index, exact for any row order. A streaming caller that
	// must bound memory passes [NewWindowedOccurrences] and checks
	// Index.Unordered() after the scan.
	Index *Occurrences
	// NoIDs asks for movements without IDs (Movement.ID == ""), for a
	// caller that needs only their sizes: an ID is always
	// "<32 hex>:<kind>:<part>". It saves the work of identity (the
	// fingerprints and their SHA-256); Seq and [Record.RowKey] are the
	// same as without it. A parser may ignore it and set IDs anyway.
	NoIDs bool
	// SizeOnly asks for movements fit only to be measured, and implies
	// NoIDs: every decimal field that is zero is zero
	// (decimal.Decimal{}), and every other one holds a stand-in whose
	// default string form (decimal.Decimal.String) has the length of the
	// value's, not the value. Every other field, every row error and
	// ignored row, Seq and [Record.RowKey] are as without it. It saves
	// the decimals' big.Ints (pass 1 of the chunker measures movements,
	// and need not know their amounts). A parser may ignore it and give
	// the values; one that honours it sets Record.RowKey (the values it
	// leaves out must not be needed to tell records apart). Tastytrade
	// honours it, unless the decimal package's printing settings are not
	// the defaults.
	SizeOnly bool
	// ReuseText lets the strings of a record (its movements' text
	// fields, its RowError's Column and Value, its Ignored reason) share
	// memory that the
	// parser overwrites with later rows, as csv.Reader.ReuseRecord lets
	// a record's slice be reused: they are valid only during the
	// callback, and a caller that keeps one clones it (strings.Clone).
	// It saves a copy of the statement's text, a whole file's worth of
	// allocation per scan. A parser may ignore it; Tastytrade honours it.
	ReuseText bool
	// Within, when not nil, asks for the conversion of only the rows
	// whose time t (the time of every movement a row makes) has
	// Within(t): each other row, once its time is read, is handed over
	// as a Record with Outside set and no movements, without a
	// fingerprint or an occurrence index. Identical rows share their
	// time, and so do the rows a Seq counts, so the rows within get the
	// IDs and Seq of a scan without it, provided a windowed index still
	// sees its scopes in time order. Pass 2 of the chunker reads a
	// statement once per window of weeks with it. A parser may ignore
	// it; IBKR honours it.
	Within func(t events.WallTime) bool
}

// Parser reads one broker's statements.
type Parser interface {
	// Broker returns the broker name (events.BrokerTastytrade, events.BrokerIBKR).
	Broker() string
	// Scan reads a whole statement and calls fn once per data row, in file
	// order, then once per derived record (strike adjustments) at the end.
	// Memory use does not grow with the number of rows beyond the small
	// per-row identity index. The returned error is for the file as a whole
	// (unreadable, bad header, or fn's error); bad rows go to fn.
	Scan(r io.Reader, opts Options, fn func(*Record) error) error
}

// ForBroker returns the parser for a broker name.
func ForBroker(name string) (Parser, error) {
	switch name {
	case events.BrokerTastytrade:
		return Tastytrade{}, nil
	case events.BrokerIBKR:
		return IBKR{}, nil
	}
	return nil, fmt.Errorf("%w: %q (want %s or %s)", ErrUnknownBroker, name, events.BrokerTastytrade, events.BrokerIBKR)
}

// Detect names the broker of a statement from its first non-empty line (a UTF-8
// BOM is ignored). It returns ErrEmpty or ErrUnrecognized otherwise.
func Detect(head []byte) (string, error) {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Buffer(make([]byte, 0, 4096), len(head)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		l := strings.ToLower(line)
		switch {
		case strings.HasPrefix(l, "date,type,sub type") || strings.HasPrefix(l, `"date","type","sub type"`):
			return events.BrokerTastytrade, nil
		case strings.HasPrefix(l, "statement,header,") || strings.HasPrefix(l, `"statement","header",`):
			return events.BrokerIBKR, nil
		}
		return "", fmt.Errorf("%w: first line %q", ErrUnrecognized, truncate(line, 60))
	}
	return "", ErrEmpty
}

// Result is a whole statement held in memory: the convenience form of Scan for
// small files and tests.
type Result struct {
	Movements []events.Movement
	RowErrors []RowError
	Ignored   []Ignored
	Rows      int
}

// Ignored is a row that yields no movement, with the reason.
type Ignored struct {
	Line   int
	Reason string
}

// Parse scans a whole statement into memory.
func Parse(p Parser, r io.Reader, opts Options) (*Result, error) {
	res := &Result{}
	err := p.Scan(r, opts, func(rec *Record) error {
		switch {
		case rec.Err != nil:
			res.RowErrors = append(res.RowErrors, *rec.Err)
			res.Rows++
		case rec.Ignored != "":
			res.Ignored = append(res.Ignored, Ignored{Line: rec.Line, Reason: rec.Ignored})
			res.Rows++
		default:
			if rec.Line > 0 {
				res.Rows++
			}
			res.Movements = append(res.Movements, rec.Movements...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
