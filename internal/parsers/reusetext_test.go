package parsers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/synth"
)

// Options.ReuseText against a scan without it: the records must be the same
// while the callback runs, whatever the reads (the one-byte reader makes
// the CSV reader move every line to the front of its buffer, overwriting
// the rows before it), and what the scanner keeps past a row (the special
// dividends, whose records come at the end) must not change.

// ttRecordsCopied scans data read through rd and returns deep copies, made
// in the callback, of every record, and the scan's error.
func ttRecordsCopied(data []byte, rd func([]byte) io.Reader, opts Options) ([]Record, error) {
	var recs []Record
	err := Tastytrade{}.Scan(rd(data), opts, func(r *Record) error {
		recs = append(recs, cloneRecord(r))
		return nil
	})
	return recs, err
}

// cloneRecord copies r and every string it holds.
func cloneRecord(r *Record) Record {
	c := *r
	c.Ignored = strings.Clone(r.Ignored)
	if r.Err != nil {
		c.Err = &RowError{Line: r.Err.Line, Column: strings.Clone(r.Err.Column), Value: strings.Clone(r.Err.Value), Err: r.Err.Err}
	}
	c.Movements = make([]events.Movement, len(r.Movements))
	for i, m := range r.Movements {
		m.ID, m.Account, m.Broker = strings.Clone(m.ID), strings.Clone(m.Account), strings.Clone(m.Broker)
		m.Kind = events.Kind(strings.Clone(string(m.Kind)))
		m.Offset, m.Currency, m.Ticker = strings.Clone(m.Offset), strings.Clone(m.Currency), strings.Clone(m.Ticker)
		m.CashType = events.CashType(strings.Clone(string(m.CashType)))
		m.Code = events.TradeCode(strings.Clone(string(m.Code)))
		m.OptionType = events.OptionType(strings.Clone(string(m.OptionType)))
		m.FromCurrency, m.Notes = strings.Clone(m.FromCurrency), strings.Clone(m.Notes)
		c.Movements[i] = m
	}
	return c
}

// reuseTextDiff describes the first difference between the records of a
// scan without ReuseText (want) and with it (got): "" if none.
func reuseTextDiff(want, got []Record, wantErr, gotErr error) string {
	if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
		return fmt.Sprintf("scan error %v, with ReuseText %v", wantErr, gotErr)
	}
	if len(want) != len(got) {
		return fmt.Sprintf("%d records, %d with ReuseText", len(want), len(got))
	}
	for i := range want {
		a, b := want[i], got[i]
		if (a.Err == nil) != (b.Err == nil) || a.Err != nil && (a.Err.Error() != b.Err.Error() || !sameSentinels(a.Err, b.Err)) {
			return fmt.Sprintf("record %d: row error %v, with ReuseText %v", i, a.Err, b.Err)
		}
		a.Err, b.Err = nil, nil
		if !reflect.DeepEqual(a, b) {
			return fmt.Sprintf("record %d: %+v, with ReuseText %+v", i, a, b)
		}
	}
	return ""
}

// sameSentinels reports whether a and b wrap the same row sentinels.
func sameSentinels(a, b error) bool {
	for _, s := range []error{ErrShortRow, ErrBadDate, ErrBadNumber, ErrUnknownType, ErrUnsupported, ErrMalformedCSV, ErrLineTooLong, ErrInvalidUTF8} {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}

// reuseTextStatement is a synthetic statement of about 900 KB that starts
// with special dividends (kept until the end of the scan) with offsets.
func reuseTextStatement(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := synth.Tastytrade(&buf, synth.Config{Seed: 3, Rows: 5000}); err != nil {
		t.Fatal(err)
	}
	header, rest, _ := strings.Cut(buf.String(), "\n")
	specials := []string{
		ttSpecialRow("2024-12-11T12:01:31+0100", "SELL_TO_CLOSE", "TSLL", `"2,280.00"`, "2", "1/16/26", "10.73", "CALL"),
		ttSpecialRow("2024-12-11T12:01:31+0100", "BUY_TO_OPEN", "TSLL", `"-2,280.00"`, "2", "1/16/26", "10.43", "CALL"),
		ttSpecialRow("2024-12-11T12:01:07-0500", "BUY_TO_CLOSE", "TSLL", "-96.00", "1", "12/20/24", "36", "PUT"),
		ttSpecialRow("2024-12-11T12:01:07-0500", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "PUT"),
		ttSpecialRow("2024-12-10T09:00:00+0000", "SELL_TO_OPEN", "AAPL", "5.00", "1", "12/20/24", "150", "CALL"),
	}
	return []byte(header + "\n" + strings.Join(specials, "\n") + "\n" + rest)
}

func TestTastytradeReuseText(t *testing.T) {
	inputs := map[string][]byte{"synthetic": reuseTextStatement(t)}
	samples, err := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, p := range samples {
		inputs[filepath.Base(p)] = ttReadFile(t, p)
	}
	modes := map[string]Options{
		"ids":       {Account: ttTestAcct},
		"size-only": {Account: ttTestAcct, SizeOnly: true},
	}
	for name, data := range inputs {
		for _, rd := range csvReaders[:3] { // bytes, one-byte, half
			for mode, opts := range modes {
				t.Run(name+"/"+rd.name+"/"+mode, func(t *testing.T) {
					want, wantErr := ttRecordsCopied(data, rd.new, opts)
					opts.ReuseText = true
					got, gotErr := ttRecordsCopied(data, rd.new, opts)
					if d := reuseTextDiff(want, got, wantErr, gotErr); d != "" {
						t.Fatal(d)
					}
				})
			}
		}
	}
}

// TestTastytradeReuseTextInEffect checks that ReuseText does what it says
// (else TestTastytradeReuseText would compare a scan with itself): a
// movement's text kept past the callback without a copy has changed by the
// end of the scan, and without ReuseText it has not.
func TestTastytradeReuseTextInEffect(t *testing.T) {
	data := reuseTextStatement(t)
	for _, reuse := range []bool{false, true} {
		var kept, copied string
		err := Tastytrade{}.Scan(csvReaders[1].new(data), Options{Account: ttTestAcct, SizeOnly: true, ReuseText: reuse}, func(r *Record) error {
			if kept == "" && len(r.Movements) > 0 && r.Line > 10 {
				kept, copied = r.Movements[0].Notes, strings.Clone(r.Movements[0].Notes)
			}
			return nil
		})
		if err != nil || copied == "" {
			t.Fatalf("scan: %v (notes %q)", err, copied)
		}
		if changed := kept != copied; changed != reuse {
			t.Errorf("ReuseText %v: the notes kept from the callback changed: %v (%q, now %q)", reuse, changed, copied, kept)
		}
	}
}

// FuzzTastytradeReuseText compares scans with and without ReuseText through
// a reader chosen by the fuzzer, with IDs or under SizeOnly (as pass 1 of
// the chunker scans).
func FuzzTastytradeReuseText(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	for i, p := range samples {
		f.Add(ttReadFile(f, p), uint8(i))
	}
	f.Add([]byte(ttHeader21+"\n"+ttSpecialRow("2024-12-11T12:01:07+0100", "BUY_TO_CLOSE", "TSLL", "-96.00", "1", "12/20/24", "36", "CALL")+
		"\n"+ttSpecialRow("2024-12-11T12:01:07+0100", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "CALL")+
		"\n"+`2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,"a""b",1,0,,--,0.00,,,,,,,,1,USD`+"\n\"open"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, how uint8) {
		rd := csvReaders[int(how)%3]
		opts := Options{Account: "fuzz", SizeOnly: how&4 != 0}
		want, wantErr := ttRecordsCopied(data, rd.new, opts)
		opts.ReuseText = true
		got, gotErr := ttRecordsCopied(data, rd.new, opts)
		if d := reuseTextDiff(want, got, wantErr, gotErr); d != "" {
			t.Fatalf("%s reader, SizeOnly %v: %s", rd.name, opts.SizeOnly, d)
		}
	})
}
