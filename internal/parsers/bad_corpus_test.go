package parsers_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/internal/parsers"
)

// badDir is the committed corpus of malformed statements (and of valid
// variants, named valid_*). Each input has its expected outcome beside it in
// <name>.want, refreshed with -update; internal/e2e/baddata_test.go feeds
// the same files to the ingest binary.
const badDir = "testdata/bad"

// badInputs lists the corpus inputs (every file but the .want files).
func badInputs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(badDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".want") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 20 {
		t.Fatalf("%d corpus files in %s, want at least 20", len(names), badDir)
	}
	return names
}

// scanOutcome is what a parser makes of a whole file: the file-level error,
// or the movements, row errors and ignored rows.
type scanOutcome struct {
	broker    string
	fileErr   error
	rows      int
	movements []string // "line: id kind amount"
	rowErrs   []*parsers.RowError
	ignored   int
}

func scanFile(t *testing.T, data []byte) scanOutcome {
	t.Helper()
	var out scanOutcome
	head := data[:min(len(data), 64<<10)]
	broker, err := parsers.Detect(head)
	if err != nil {
		out.fileErr = err
		return out
	}
	out.broker = broker
	p, err := parsers.ForBroker(broker)
	if err != nil {
		t.Fatal(err)
	}
	out.fileErr = p.Scan(bytes.NewReader(data), parsers.Options{Account: "acct"}, func(r *parsers.Record) error {
		if r.Line > 0 {
			out.rows++
		}
		switch {
		case r.Err != nil:
			e := *r.Err
			out.rowErrs = append(out.rowErrs, &e)
		case r.Ignored != "":
			out.ignored++
		default:
			for _, m := range r.Movements {
				out.movements = append(out.movements, fmt.Sprintf("%d: %s %s %s %s", r.Line, m.ID, m.Kind, m.Amount, m.Currency))
			}
		}
		return nil
	})
	return out
}

func (o scanOutcome) String() string {
	var b strings.Builder
	if o.broker != "" {
		fmt.Fprintf(&b, "broker: %s\n", o.broker)
	}
	if o.fileErr != nil {
		fmt.Fprintf(&b, "file error: %v\n", o.fileErr)
		return b.String()
	}
	fmt.Fprintf(&b, "rows: %d, movements: %d, ignored: %d, row errors: %d\n", o.rows, len(o.movements), o.ignored, len(o.rowErrs))
	for _, e := range o.rowErrs {
		fmt.Fprintf(&b, "%v\n", e)
	}
	return b.String()
}

var lineNamed = regexp.MustCompile(`\bline [1-9][0-9]*\b|first line`)

// Every malformed statement of the corpus ends in an error that names the
// line (or says the file is empty); every valid variant parses without
// one. The exact messages are pinned in the .want files.
func TestBadCorpus(t *testing.T) {
	for _, name := range badInputs(t) {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(badDir, name))
			if err != nil {
				t.Fatal(err)
			}
			out := scanFile(t, data)
			got := out.String()
			wantFile := filepath.Join(badDir, name+".want")
			if goldenUpdate() {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/parsers -run TestBadCorpus -update)", err)
			}
			if got != string(want) {
				t.Errorf("outcome changed:\n got:\n%s\nwant:\n%s", got, want)
			}

			valid := strings.HasPrefix(name, "valid_")
			header := strings.HasSuffix(name, "_header_only.csv")
			switch {
			case valid:
				if out.fileErr != nil || len(out.rowErrs) > 0 || len(out.movements) == 0 {
					t.Errorf("valid variant: %s", got)
				}
			case header:
				// A valid, empty statement for the parser; ingest refuses it
				// (streams.ErrNoRows), see internal/e2e/baddata_test.go.
				if out.fileErr != nil || out.rows != 0 {
					t.Errorf("header only: %s", got)
				}
			case out.fileErr != nil:
				if !lineNamed.MatchString(out.fileErr.Error()) && !errors.Is(out.fileErr, parsers.ErrEmpty) {
					t.Errorf("file error %q names no line", out.fileErr)
				}
			case len(out.rowErrs) == 0:
				t.Errorf("malformed statement accepted: %s", got)
			default:
				for _, e := range out.rowErrs {
					if e.Line < 2 || !lineNamed.MatchString(e.Error()) {
						t.Errorf("row error %q names no data line", e)
					}
				}
			}
		})
	}
}

// The one bad row among many is reported alone, at its line, and the
// other rows still become movements (so --skip-invalid can import them).
func TestOneBadRowAmongMany(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(badDir, "tastytrade_one_bad_among_many.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out := scanFile(t, data)
	if out.fileErr != nil || len(out.rowErrs) != 1 || out.rows != 600 || len(out.movements) != 599 {
		t.Fatalf("outcome: %s", out)
	}
	e := out.rowErrs[0]
	if e.Line != 318 || e.Column != "Value" || !errors.Is(e.Err, parsers.ErrBadNumber) {
		t.Errorf("row error %v, want line 318 (data row 317), column Value, bad number", e)
	}
}

// A UTF-8 BOM and CRLF line ends change nothing: the same movements, with
// the same IDs and lines, as the plain file.
func TestValidVariantsSameMovements(t *testing.T) {
	for base, variants := range map[string][]string{
		"valid_tastytrade.csv": {"valid_tastytrade_bom.csv", "valid_tastytrade_crlf.csv", "valid_tastytrade_bom_crlf.csv"},
		"valid_ibkr.csv":       {"valid_ibkr_bom_crlf.csv"},
	} {
		plain, err := os.ReadFile(filepath.Join(badDir, base))
		if err != nil {
			t.Fatal(err)
		}
		want := scanFile(t, plain)
		if len(want.movements) == 0 {
			t.Fatalf("%s: no movements", base)
		}
		for _, v := range variants {
			data, err := os.ReadFile(filepath.Join(badDir, v))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(data, plain) {
				t.Fatalf("%s is byte-identical to %s", v, base)
			}
			got := scanFile(t, data)
			if !reflect.DeepEqual(got.movements, want.movements) {
				t.Errorf("%s: movements differ from %s:\n got %q\nwant %q", v, base, got.movements, want.movements)
			}
		}
	}
}

// repeatReader yields n bytes of b, over and over, without holding them.
type repeatReader struct {
	b    []byte
	left int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:min(len(p), n+int(min(r.left, int64(len(p)-n))))], r.b)
		n += c
		r.left -= int64(c)
	}
	return n, nil
}

// A 1 GiB line is one row error at its line: the parser neither holds it
// nor stops, the rows around it are read, and what it allocates does not
// grow with the line. The input is streamed, never written anywhere.
func TestOneGigabyteLine(t *testing.T) {
	const size = 1 << 30
	tt := []struct {
		broker       string
		before, line string // the long line starts with line and goes on with 'x'
		after        string
		wantLine     int
	}{
		{
			broker: "tastytrade",
			before: "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n" +
				"2025-02-01T15:00:00+0000,Money Movement,Deposit,,,,ACH DEPOSIT,100.00,0,,--,0.00,,,,,,,,100.00,USD\n",
			line:     "2025-01-31T15:00:00+0000,Money Movement,Deposit,,,,ACH ",
			after:    ",100.00,0,,--,0.00,,,,,,,,100.00,USD\n2025-01-30T15:00:00+0000,Money Movement,Deposit,,,,ACH DEPOSIT,200.00,0,,--,0.00,,,,,,,,200.00,USD\n",
			wantLine: 3,
		},
		{
			broker: "ibkr",
			before: "Statement,Header,Field Name,Field Value\nStatement,Data,BrokerName,Interactive Brokers\n" +
				"Deposits & Withdrawals,Header,Currency,Settle Date,Description,Amount\n" +
				"Deposits & Withdrawals,Data,GBP,2023-02-27,Electronic Fund Transfer,100\n",
			line:     "Deposits & Withdrawals,Data,GBP,2023-02-28,Electronic ",
			after:    ",348.8\nDeposits & Withdrawals,Data,GBP,2023-03-01,Electronic Fund Transfer,200\n",
			wantLine: 5,
		},
	}
	for _, c := range tt {
		t.Run(c.broker, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(c.before), strings.NewReader(c.line),
				&repeatReader{b: bytes.Repeat([]byte("x"), 64<<10), left: size}, strings.NewReader(c.after))
			p, err := parsers.ForBroker(c.broker)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var rowErrs []*parsers.RowError
			movements := 0
			err = p.Scan(r, parsers.Options{Account: "acct"}, func(rec *parsers.Record) error {
				if rec.Err != nil {
					e := *rec.Err
					e.Value = fmt.Sprintf("%.40s", e.Value)
					rowErrs = append(rowErrs, &e)
				}
				movements += len(rec.Movements)
				return nil
			})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if len(rowErrs) != 1 || rowErrs[0].Line != c.wantLine || !errors.Is(rowErrs[0].Err, parsers.ErrLineTooLong) {
				t.Fatalf("row errors %v, want one line-too-long error at line %d", rowErrs, c.wantLine)
			}
			if movements != 2 {
				t.Errorf("%d movements from the rows around the long line, want 2", movements)
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %v; allocated %d KiB while reading a %d MiB line", c.broker, rowErrs[0], allocated>>10, size>>20)
			if allocated > 64<<20 {
				t.Errorf("allocated %d MiB reading the long line: it is being held", allocated>>20)
			}
		})
	}
}
