package parsers

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// The fast paths of the IBKR parser must agree exactly with the shared
// identity helpers they stand in for: movement IDs depend on it.

func TestIBCanonNumber(t *testing.T) {
	fixed := []string{
		"0", "-0", "+0", "0.00", "-0.00", "--", "5", "5.", ".5", "-.5", "+.5", "05.50", "1,300.00", "-1,100.00",
		"20,910.00", "1e5", "36.546043856", "-1.993341262", "0.000001", "100", "1000000", "007", "12345678901234567890.123",
		"-0.0000000000000000000000000000001", "99999999999999999999", "1,2,3", ",5", "5,", "1.2.3", "", "-", "+", ".",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0000123456789.,-+"
	for range 20000 {
		n := 1 + r.IntN(14)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		fixed = append(fixed, string(b))
	}
	checked := 0
	for _, s := range fixed {
		d, ok, err := ibParseDecimal(s)
		if err != nil || !ok {
			continue
		}
		checked++
		if got, want := ibCanonNumber(s), CanonicalDecimal(d); got != want {
			t.Errorf("ibCanonNumber(%q) = %q, want %q", s, got, want)
		}
		// ibParseDecimal itself agrees with decimal's own parser.
		want, err := decimal.NewFromString(strings.ReplaceAll(s, ",", ""))
		if s == "--" {
			want, err = decimal.Zero, nil
		}
		if err != nil || !want.Equal(d) {
			t.Errorf("ibParseDecimal(%q) = %s, decimal says %s (%v)", s, d, want, err)
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d numbers checked", checked)
	}
}

func TestIBFPText(t *testing.T) {
	texts := []string{"", "a", "a b", "a  b", " a", "a ", "a\tb", "a\u00a0b", "é", "Electronic Fund Transfer",
		"MPW   251017C00005500", "x\ny", "AAPL(US0378331005) Cash Dividend USD 0.23 per Share (Ordinary Dividend)"}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "B", " ", " ", "\t", "\u00a0", "\u2003", "é", "(", "1", "\r", "\n"}
	for range 5000 {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		texts = append(texts, strings.TrimSpace(b.String())) // cells are trimmed before use
	}
	for _, s := range texts {
		var fast, slow Fingerprint
		ibFPText(&fast, s)
		slow.Text(s)
		if !bytes.Equal(fast.buf, slow.buf) {
			t.Errorf("ibFPText(%q) adds %q, Text adds %q", s, fast.buf, slow.buf)
		}
	}
}

func TestIBWallText(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	times := []int64{0, 1, -1, 86399, 86400, 951782400 /* 2000-02-29 */, 4107456000 /* 2100-02-28 */, lo, hi}
	for range 20000 {
		times = append(times, lo+r.Int64N(hi-lo))
	}
	for _, s := range times {
		w := events.WallTime(s)
		if got, want := ibWallText(w), w.String(); got != want {
			t.Fatalf("ibWallText(%d) = %s, want %s", s, got, want)
		}
	}
}

func TestIBDiv(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := [][2]string{{"500", "2"}, {"-120", "1"}, {"-250", "2.5"}, {"100", "3"}, {"1", "4"}, {"1", "7"},
		{"-1.993341262", "3"}, {"0", "5"}, {"123456789012345678", "7"}, {"0.1", "10000"}, {"1e-27", "8"}}
	for range 20000 {
		x := decimal.New(r.Int64N(2_000_000_000)-1_000_000_000, -int32(r.IntN(12)))
		q := decimal.NewFromInt(1 + r.Int64N(40))
		cases = append(cases, [2]string{x.String(), q.String()})
	}
	for _, c := range cases {
		x, q := decimal.RequireFromString(c[0]), decimal.RequireFromString(c[1])
		if got, want := ibDiv(x, q), x.DivRound(q, ibDivPrecision); !got.Equal(want) || got.String() != want.String() {
			t.Errorf("ibDiv(%s, %s) = %s, want %s", x, q, got, want)
		}
	}
}

// ibRawRecords is the oracle of the limiter: encoding/csv (lazy quotes)
// over the input, each record with the length of its raw bytes (without
// the blank lines before it and the newline after it).
func ibRawRecords(t testing.TB, data []byte) (recs [][]string, lens []int) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	prev := int64(0)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs, lens
		}
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		span := data[prev:r.InputOffset()]
		prev = r.InputOffset()
		for {
			switch {
			case bytes.HasPrefix(span, []byte("\n")):
				span = span[1:]
				continue
			case bytes.HasPrefix(span, []byte("\r\n")):
				span = span[2:]
				continue
			}
			break
		}
		span = bytes.TrimSuffix(span, []byte("\n"))
		recs = append(recs, slices.Clone(rec))
		lens = append(lens, len(span))
	}
}

// FuzzIBKRLimiter checks the limiter's CSV state machine against
// encoding/csv itself: read through a limiter of a small limit, every record
// of the input comes out unchanged when its raw length is within the limit,
// and as exactly one ErrLineTooLong otherwise, with nothing lost or added.
func FuzzIBKRLimiter(f *testing.F) {
	for _, s := range []string{
		"a,b,c\nd,e\n",
		"\"q, q\",x\n\"multi\nline\",y\r\nz",
		"Holland Clearing House \"HCH\",x\n\"a\"\"b\",\"c\"d\"\n",
		"\"\r\nx\"\r\n\"\ry\",\"\n",
		"\n\r\n,,,\n\"unterminated,a\nb\n",
		"0123456789012345678901234567890123456789\nshort\n\"0123456789\n0123456789\n0123456789\"\nend",
	} {
		f.Add([]byte(s), uint8(8))
		f.Add([]byte(s), uint8(30))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		maxLen := int(limit%48) + 1
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		want, lens := ibRawRecords(t, data)

		lim := newIBLimiter(bytes.NewReader(data), maxLen)
		lim.buf = make([]byte, 7) // small reads: state carried across them
		r := csv.NewReader(lim)
		r.FieldsPerRecord = -1
		r.LazyQuotes = true
		i := 0
		for ; ; i++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if i >= len(want) {
				t.Fatalf("record %d (%q, %v) beyond the oracle's %d", i, rec, err, len(want))
			}
			tooLong := lens[i] > maxLen
			// The last record's final newline may belong to an
			// unterminated quoted field rather than end the record: the
			// oracle cannot tell, so one byte either way is accepted there.
			ambiguous := i == len(want)-1 && bytes.HasSuffix(data, []byte("\n")) && lens[i] == maxLen
			switch {
			case ambiguous:
			case errors.Is(err, ErrLineTooLong):
				if !tooLong {
					t.Fatalf("record %d %q (%d bytes) cut at limit %d", i, want[i], lens[i], maxLen)
				}
			case err != nil:
				t.Fatalf("record %d: %v", i, err)
			case tooLong:
				t.Fatalf("record %d %q (%d bytes) not cut at limit %d", i, want[i], lens[i], maxLen)
			case !slices.Equal(rec, want[i]):
				t.Fatalf("record %d = %q, want %q", i, rec, want[i])
			}
		}
		if i != len(want) {
			t.Fatalf("%d records through the limiter, %d in the input", i, len(want))
		}
	})
}
