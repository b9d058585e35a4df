package parsers_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// The -update flag rewrites the golden files of every parser test
// (go test ./internal/parsers -update). It is registered here unless another
// test file of the package already did (package-level flag.Bool variables
// are initialised before this init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// goldenUpdate reports whether the test run was asked to rewrite golden files.
func goldenUpdate() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	return ok && g.Get() == true
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		head    string
		want    string
		wantErr error
	}{
		{"tastytrade current", "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n2025-01-01T10:00:00+0000,Trade", events.BrokerTastytrade, nil},
		{"tastytrade legacy", "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Currency\n", events.BrokerTastytrade, nil},
		{"tastytrade quoted header", `"Date","Type","Sub Type","Action"` + "\n", events.BrokerTastytrade, nil},
		{"tastytrade lower case", "date,type,sub type,action\n", events.BrokerTastytrade, nil},
		{"tastytrade after blank lines", "\n\r\n  \nDate,Type,Sub Type\n", events.BrokerTastytrade, nil},
		{"ibkr", "Statement,Header,Field Name,Field Value\nStatement,Data,BrokerName,Interactive Brokers\n", events.BrokerIBKR, nil},
		{"ibkr with BOM", "\xef\xbb\xbfStatement,Header,Field Name,Field Value\n", events.BrokerIBKR, nil},
		{"ibkr quoted", `"Statement","Header","Field Name","Field Value"` + "\n", events.BrokerIBKR, nil},
		{"ibkr CRLF", "Statement,Header,Field Name,Field Value\r\n", events.BrokerIBKR, nil},
		{"ibkr head cut mid-line", "Statement,Header,Field Na", events.BrokerIBKR, nil},
		{"tastytrade with BOM", "\xef\xbb\xbfDate,Type,Sub Type,Action\n", events.BrokerTastytrade, nil},
		{"empty", "", "", parsers.ErrEmpty},
		{"only BOM", "\xef\xbb\xbf", "", parsers.ErrEmpty},
		{"blank lines", "\n\n \r\n\t\n", "", parsers.ErrEmpty},
		{"garbage", "foo,bar\n1,2\n", "", parsers.ErrUnrecognized},
		{"binary", "\x00\x01\x02PK\x03\x04", "", parsers.ErrUnrecognized},
		{"other IBKR section first", "Trades,Header,DataDiscriminator\n", "", parsers.ErrUnrecognized},
		{"date column only", "Date\n", "", parsers.ErrUnrecognized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsers.Detect([]byte(tt.head))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Detect error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForBroker(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		wantErr error
	}{
		{events.BrokerTastytrade, events.BrokerTastytrade, nil},
		{events.BrokerIBKR, events.BrokerIBKR, nil},
		{"IBKR", "", parsers.ErrUnknownBroker},
		{"schwab", "", parsers.ErrUnknownBroker},
		{"", "", parsers.ErrUnknownBroker},
		{"auto", "", parsers.ErrUnknownBroker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsers.ForBroker(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ForBroker(%q) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if err != nil {
				if p != nil {
					t.Fatalf("ForBroker(%q) returned a parser with an error", tt.name)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.name)) {
					t.Errorf("error %q does not name the broker", err)
				}
				return
			}
			if p.Broker() != tt.want {
				t.Fatalf("ForBroker(%q).Broker() = %q, want %q", tt.name, p.Broker(), tt.want)
			}
		})
	}
}

// scriptParser is a Parser that replays a fixed list of records.
type scriptParser struct {
	recs []parsers.Record
	err  error
}

func (scriptParser) Broker() string { return "script" }

func (p scriptParser) Scan(r io.Reader, opts parsers.Options, fn func(*parsers.Record) error) error {
	for i := range p.recs {
		rec := p.recs[i] // a copy: the callback must not keep it
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return p.err
}

func TestParse(t *testing.T) {
	m := func(id string, line int) events.Movement {
		return events.Movement{ID: id, Kind: events.KindCash, Line: line}
	}
	rowErr := &parsers.RowError{Line: 3, Column: "Amount", Value: "x", Err: parsers.ErrBadNumber}
	p := scriptParser{recs: []parsers.Record{
		{Line: 2, Movements: []events.Movement{m("a", 2)}},
		{Line: 3, Err: rowErr},
		{Line: 4, Ignored: "summary"},
		{Line: 5, Movements: []events.Movement{m("b", 5), m("c", 5)}},
		{Line: 0, Movements: []events.Movement{m("derived", 0)}}, // a derived record is not a row
	}}
	res, err := parsers.Parse(p, strings.NewReader(""), parsers.Options{Account: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 4 {
		t.Errorf("Rows = %d, want 4", res.Rows)
	}
	var ids []string
	for _, m := range res.Movements {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, ","); got != "a,b,c,derived" {
		t.Errorf("movements = %s, want a,b,c,derived", got)
	}
	if len(res.RowErrors) != 1 || res.RowErrors[0] != *rowErr {
		t.Errorf("row errors = %+v, want [%+v]", res.RowErrors, *rowErr)
	}
	if len(res.Ignored) != 1 || res.Ignored[0] != (parsers.Ignored{Line: 4, Reason: "summary"}) {
		t.Errorf("ignored = %+v, want [{4 summary}]", res.Ignored)
	}

	boom := errors.New("boom")
	if _, err := parsers.Parse(scriptParser{err: boom}, strings.NewReader(""), parsers.Options{}); !errors.Is(err, boom) {
		t.Errorf("Parse error = %v, want %v", err, boom)
	}
}

func TestRowError(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		err  parsers.RowError
		want string
	}{
		{"full", parsers.RowError{Line: 7, Column: "Quantity", Value: "1e5", Err: parsers.ErrBadNumber}, `line 7, column "Quantity", value "1e5": bad number`},
		{"no column", parsers.RowError{Line: 2, Value: "Foo", Err: parsers.ErrUnknownType}, `line 2, value "Foo": unknown row type`},
		{"no value", parsers.RowError{Line: 9, Column: "Date", Err: parsers.ErrBadDate}, `line 9, column "Date": bad date`},
		{"line only", parsers.RowError{Line: 1, Err: parsers.ErrLineTooLong}, `line 1: line too long`},
		{"wrapped reason", parsers.RowError{Line: 3, Column: "Symbol", Value: "X", Err: fmt.Errorf("%w: no such thing", parsers.ErrUnsupported)}, `line 3, column "Symbol", value "X": unsupported row: no such thing`},
		{"long value", parsers.RowError{Line: 4, Value: long, Err: parsers.ErrMalformedCSV}, `line 4, value "` + strings.Repeat("x", 80) + `…": malformed CSV`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %s\nwant      %s", got, tt.want)
			}
			if errors.Unwrap(&tt.err) != tt.err.Err {
				t.Errorf("Unwrap does not return the wrapped error")
			}
			rej := tt.err.Reject()
			if rej.Line != tt.err.Line || rej.Column != tt.err.Column || rej.Reason != tt.err.Err.Error() {
				t.Errorf("Reject() = %+v, from %+v", rej, tt.err)
			}
			if len(rej.Value) > 200+len("…") {
				t.Errorf("Reject().Value is %d bytes, want at most 200 and an ellipsis", len(rej.Value))
			}
		})
	}
	// The sentinels stay matchable through the wrapping of Error.
	e := &parsers.RowError{Line: 1, Err: fmt.Errorf("%w: x", parsers.ErrBadDate)}
	if !errors.Is(e, parsers.ErrBadDate) || errors.Is(e, parsers.ErrBadNumber) {
		t.Errorf("errors.Is through RowError is wrong")
	}
}
