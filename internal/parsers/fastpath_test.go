package parsers

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/shopspring/decimal"
)

// The fast paths of the Tastytrade scanner against the plain code they
// stand for.

func TestNumMatchesDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	coef := func() int64 {
		switch r.IntN(5) {
		case 0:
			return 0
		case 1:
			return r.Int64N(2000) - 1000
		case 2:
			return r.Int64() - r.Int64() // large, either sign
		case 3:
			return (r.Int64N(2e6) - 1e6) * int64(pow10u[r.IntN(12)]) // trailing zeros
		}
		return r.Int64N(1e12) - 5e11
	}
	var dc decCache
	for range 20000 {
		ac, ae := coef(), int32(r.IntN(40)-30)
		bc, be := coef(), int32(-r.IntN(8))
		a, b := small(ac, ae), small(bc, be)
		ad, bd := decimal.New(ac, ae), decimal.New(bc, be)
		if got := a.dec(&dc); !got.Equal(ad) || (ac != 0 && got.Exponent() != ae) {
			t.Fatalf("small(%d, %d).dec() = %s", ac, ae, got)
		}
		check := func(op string, got num, want decimal.Decimal) {
			t.Helper()
			gd := got.dec(&dc)
			if !gd.Equal(want) || gd.String() != want.String() || got.isZero() != want.IsZero() || got.sign() != want.Sign() {
				t.Fatalf("%s(%s, %s) = %s, want %s", op, ad, bd, gd, want)
			}
			if got.textLen() != len(want.String()) {
				t.Fatalf("%s(%s, %s): textLen %d, want len(%q)", op, ad, bd, got.textLen(), want.String())
			}
			if si := got.standIn(&dc); si.IsZero() != want.IsZero() || len(si.String()) != len(want.String()) {
				t.Fatalf("%s(%s, %s): stand-in %s for %s", op, ad, bd, si, want)
			} else if n, ok := StandInLen(si); !want.IsZero() && (!ok || n != len(want.String())) {
				t.Fatalf("StandInLen(%s) = %d, %v, want %d", si, n, ok, len(want.String()))
			}
		}
		check("num", a, ad)
		check("sub", dc.nsub(a, b), ad.Sub(bd))
		check("neg", dc.nneg(a), ad.Neg())
		check("abs", dc.nabs(a), ad.Abs())
		if q := 1 + r.Int64N(12); true {
			want := ad.DivRound(decimal.New(q, 0), ibDivPrecision)
			if q == 1 && !a.wide {
				want = ad // x itself, even beyond ibDivPrecision places (as exactdec.Quotient)
			}
			check("div", dc.ndiv(a, small(q, 0)), want)
			check("div", dc.ndiv(a, small(q, -1)), ad.DivRound(decimal.New(q, -1), ibDivPrecision)) // not a whole quantity
		}
		if fl, ok := a.floorSmall(); ok && (ac < 0 || fl != ad.Floor().IntPart()) {
			t.Fatalf("floorSmall(%s) = %d", ad, fl)
		} else if !ok && ac >= 0 && !a.wide && ad.Floor().LessThan(decimal.New(1e17, 0)) {
			t.Fatalf("floorSmall(%s) failed", ad)
		}
		if a.isOne() != ad.Equal(decimal.New(1, 0)) {
			t.Fatalf("isOne(%s) = %v", ad, a.isOne())
		}
	}
	for v, want := range map[string]bool{"1": true, "1.0": true, "1.000": true, "10": false, "0.1": false, "-1": false} {
		if n, _ := ttParseNum(v, false); n.isOne() != want {
			t.Errorf("isOne(%s) = %v", v, n.isOne())
		}
	}
	// Decimals beyond 18 digits take the decimal package's own path.
	bigd := numOf(decimal.RequireFromString("123456789012345678901234.5"))
	if got := dc.nsub(bigd, small(5, -1)).dec(&dc); !got.Equal(decimal.RequireFromString("123456789012345678901234")) {
		t.Errorf("sub of a wide decimal = %s", got)
	}
	if got := dc.nsub(small(999999999999999999, 0), small(-999999999999999999, 0)); !got.wide || got.dec(&dc).String() != "1999999999999999998" {
		t.Errorf("a sum past 18 digits = %+v", got)
	}
	if n, ok := StandInLen(decimal.New(1, 2)); ok {
		t.Errorf("StandInLen of a value, not a stand-in: %d", n)
	}
}

// randomNumber is a number as a Tastytrade column may write it.
func randomNumber(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(6) {
	case 0:
		b.WriteByte('-')
	case 1:
		b.WriteByte('+')
	}
	digits := "0123456789"
	for i := range r.IntN(9) {
		if i > 0 && r.IntN(5) == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[r.IntN(10)])
	}
	if r.IntN(2) == 0 {
		b.WriteByte('.')
		for range r.IntN(6) {
			b.WriteByte("0123456789000"[r.IntN(13)])
		}
	}
	if r.IntN(10) == 0 {
		b.WriteString(strings.Repeat("0", 70)) // longer than the stack buffer
	}
	return b.String()
}

func TestTTAppendCanonNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 0
	for range 50000 {
		s := randomNumber(r)
		if !ttValidNumber(s) {
			continue
		}
		n++
		var want Fingerprint
		want.Raw(ttCanonNumber(s))
		if got := ttAppendCanonNumber(nil, s); !bytes.Equal(got, want.buf) {
			t.Fatalf("ttAppendCanonNumber(%q) = %q, want %q", s, got, want.buf)
		}
	}
	if n < 10000 {
		t.Fatalf("only %d valid numbers", n)
	}
}

func TestTTCanonText(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	texts := []string{"", "a", " a", "a ", "a  b", "MPW   251017C00005500", "Sold 2 MSFT 12/18/25 Put 450.00 @ 7.84",
		"12345678 12345678", "1234567  12345678", "12345678  2345678", "1234567 \t2345678", "é", "x\u00a0y"}
	alphabet := []string{"a", "B", "1", " ", " ", " ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u2003", "é", "\x00", "\x1f", "~"}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(30) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		want := CanonicalText(s)
		if got := ttCanonText(s); got != want {
			t.Fatalf("ttCanonText(%q) = %q, want %q", s, got, want)
		}
		var f Fingerprint
		f.Raw(want)
		if got := ttAppendCanonText(nil, s); !bytes.Equal(got, f.buf) {
			t.Fatalf("ttAppendCanonText(%q) = %q, want %q", s, got, f.buf)
		}
	}
}

func TestTTAppendUTC(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	times := []int64{0, -1, 1, 86399, 86400, lo, hi, lo - 1, hi + 1, lo - 86400*400, hi + 86400*400}
	for range 2000 { // runs within a day, then a jump
		base := lo + r.Int64N(hi-lo)
		for range r.IntN(5) {
			times = append(times, base+r.Int64N(86400*2))
		}
	}
	s := &ttScanner{}
	for _, utc := range times {
		var want Fingerprint
		want.Raw(string(events.WallTime(utc).Time().AppendFormat(nil, "2006-01-02T15:04:05Z")))
		if got := s.appendUTC(nil, utc); !bytes.Equal(got, want.buf) {
			t.Fatalf("appendUTC(%d) = %q, want %q", utc, got, want.buf)
		}
	}
}

func TestAppendDateField(t *testing.T) {
	for _, d := range []events.Date{0, 20250825, 19000101, 29991231, 99991231, 101, 5, -20250825, 100000101} {
		var want Fingerprint
		want.Raw(d.String())
		if got := appendDateField(nil, d); !bytes.Equal(got, want.buf) {
			t.Errorf("appendDateField(%d) = %q, want %q", d, got, want.buf)
		}
	}
}

func TestTTParseDateTimeCached(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	inputs := []string{"2024-02-29T10:00:00+0000", "2023-02-29T10:00:00+0000", "2025-04-31T00:00:00-0500",
		"2025-12-11T19:01:03+0000", "2025-12-11T24:01:03+0000", "2025-12-11T19:01:03Z", "2025-12-11 19:01:03",
		"2025-12-11T19:01:03+0100", "2025-12-11X19:01:03+0100", "2025-1a-11T19:01:03+0100", "0000-01-01T00:00:00+0000"}
	for range 5000 {
		day := time.Date(1900+r.IntN(1100), time.Month(1+r.IntN(12)), 1+r.IntN(31), 0, 0, 0, 0, time.UTC)
		for range 1 + r.IntN(4) {
			off := fmt.Sprintf("%+03d%02d", r.IntN(27)-13, []int{0, 30, 45}[r.IntN(3)])
			inputs = append(inputs, day.Add(time.Duration(r.IntN(86400))*time.Second).Format("2006-01-02T15:04:05")+off)
		}
	}
	s := &ttScanner{}
	for _, in := range inputs {
		want, wok := ttParseDateTime(in)
		got, ok := s.parseDateTime(in)
		if ok != wok || got != want {
			t.Fatalf("parseDateTime(%q) = %+v %v, want %+v %v", in, got, ok, want, wok)
		}
		if ok {
			if tm, err := time.Parse("2006-01-02T15:04:05Z0700", in); err == nil && (got.utc != tm.Unix() || got.year != tm.Year()) {
				t.Fatalf("parseDateTime(%q): utc %d year %d, time.Parse %d %d", in, got.utc, got.year, tm.Unix(), tm.Year())
			}
		}
	}
}

// ttScanRecords scans data and keeps every record.
func ttScanRecords(t *testing.T, data []byte, opts Options) []Record {
	t.Helper()
	var recs []Record
	err := Tastytrade{}.Scan(bytes.NewReader(data), opts, func(r *Record) error {
		c := *r
		c.Movements = slices.Clone(r.Movements)
		recs = append(recs, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestTastytradeNoIDs checks that a scan under Options.NoIDs gives the same
// records as one with IDs, but for the IDs, with the same row keys; and
// that every movement ID has the standard form whose size the chunker
// assumes.
func TestTastytradeNoIDs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	var synthetic bytes.Buffer
	if _, err := synth.Tastytrade(&synthetic, synth.Config{Seed: 3, Rows: 3000}); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"synthetic": synthetic.Bytes()}
	for _, f := range files {
		inputs[filepath.Base(f)] = ttReadFile(t, f)
	}
	if len(inputs) < 8 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	idForm := func(m *events.Movement) string {
		return fmt.Sprintf("%32s:%s:%d", "", m.Kind, m.Part)
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			with := ttScanRecords(t, data, Options{Account: ttTestAcct})
			without := ttScanRecords(t, data, Options{Account: ttTestAcct, NoIDs: true})
			if len(with) != len(without) {
				t.Fatalf("%d records with IDs, %d without", len(with), len(without))
			}
			keys := map[uint64]int{}
			for i := range with {
				a, b := with[i], without[i]
				if a.Line != b.Line || a.Ignored != b.Ignored || (a.Err == nil) != (b.Err == nil) ||
					len(a.Movements) != len(b.Movements) || a.RowKey != b.RowKey {
					t.Fatalf("record %d: %+v with IDs, %+v without", i, a, b)
				}
				if len(a.Movements) > 0 {
					if a.RowKey == 0 {
						t.Fatalf("record %d (line %d): no row key", i, a.Line)
					}
					keys[a.RowKey]++
				}
				for j := range a.Movements {
					m, n := a.Movements[j], b.Movements[j]
					if n.ID != "" {
						t.Fatalf("record %d: ID %q under NoIDs", i, n.ID)
					}
					if len(m.ID) != len(idForm(&m)) {
						t.Fatalf("record %d: ID %q is not of the form <32>:<kind>:<part>", i, m.ID)
					}
					n.ID = m.ID
					if !m.Equal(&n) {
						t.Fatalf("record %d: %+v with IDs, %+v without", i, m, n)
					}
				}
			}
			// Rows with the same key are the same text (identical fills).
			lines := strings.Split(string(data), "\n")
			for i := range with {
				if with[i].Line > 0 && keys[with[i].RowKey] > 1 {
					for j := range with {
						if j != i && with[j].RowKey == with[i].RowKey && with[j].Line > 0 &&
							strings.TrimRight(lines[with[j].Line-1], "\r") != strings.TrimRight(lines[with[i].Line-1], "\r") {
							t.Fatalf("lines %d and %d differ but share a row key", with[i].Line, with[j].Line)
						}
					}
				}
			}
		})
	}
}

// TestTastytradeRowKeyCoversEveryField changes each field of a row in turn:
// the row key must change, even for the fields that no movement carries
// (Order #, Symbol, Total).
func TestTastytradeRowKeyCoversEveryField(t *testing.T) {
	row := strings.Split("2025-12-11T19:01:03+0000,Trade,Sell to Open,SELL_TO_OPEN,MSFT  251218P00450000,Equity Option,"+
		"Sold 2 MSFT 12/18/25 Put 450.00 @ 7.84,1568.00,2,784.00,-2.00,-0.25,100,MSFT,MSFT,12/18/25,450,PUT,490724601,1565.75,USD", ",")
	key := func(fields []string) uint64 {
		recs := ttScanRecords(t, []byte(ttHeader21+"\n"+strings.Join(fields, ",")+"\n"), Options{Account: ttTestAcct, NoIDs: true})
		if len(recs) != 1 || recs[0].Err != nil || len(recs[0].Movements) == 0 {
			t.Fatalf("%v: %+v", fields, recs)
		}
		return recs[0].RowKey
	}
	base := key(row)
	for i := range row {
		changed := slices.Clone(row)
		switch i {
		case ttType:
			continue // any other Type is another kind of row
		case ttSubType:
			changed[i] = "Buy to Open"
		case ttInstrument:
			changed[i] = "Future Option"
		case ttDate:
			changed[i] = "2025-12-11T19:01:04+0000"
		case ttQuantity:
			changed[i] = "3"
		case ttExpiration:
			changed[i] = "12/19/25"
		default:
			changed[i] += "1"
		}
		if key(changed) == base {
			t.Errorf("changing %s (%q) keeps the row key", ttColumns[i], changed[i])
		}
	}
	if key(slices.Clone(row)) != base {
		t.Errorf("the same row gives another key")
	}
}
