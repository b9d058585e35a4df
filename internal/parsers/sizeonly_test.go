package parsers

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/shopspring/decimal"
)

// Options.SizeOnly against a full scan: the chunker plans with the first
// and publishes what the second gives, so the two must agree on everything
// but the decimals' values.

// ttRecordsBoth scans data with NoIDs and with SizeOnly and returns both
// record lists and both scan errors.
func ttRecordsBoth(data []byte) (full, sized []Record, fullErr, sizedErr error) {
	scan := func(opts Options) ([]Record, error) {
		var recs []Record
		err := Tastytrade{}.Scan(bytes.NewReader(data), opts, func(r *Record) error {
			c := *r
			c.Movements = append([]events.Movement(nil), r.Movements...)
			if r.Err != nil {
				e := *r.Err
				c.Err = &e
			}
			recs = append(recs, c)
			return nil
		})
		return recs, err
	}
	full, fullErr = scan(Options{Account: ttTestAcct, NoIDs: true})
	sized, sizedErr = scan(Options{Account: ttTestAcct, SizeOnly: true})
	return full, sized, fullErr, sizedErr
}

// sizeOnlyDiff describes the first difference between a full scan's records
// and a SizeOnly scan's, beyond what SizeOnly may change: "" if none.
func sizeOnlyDiff(full, sized []Record, fullErr, sizedErr error) string {
	if fmt.Sprint(fullErr) != fmt.Sprint(sizedErr) {
		return fmt.Sprintf("scan error %v, under SizeOnly %v", fullErr, sizedErr)
	}
	if len(full) != len(sized) {
		return fmt.Sprintf("%d records, %d under SizeOnly", len(full), len(sized))
	}
	for i := range full {
		a, b := &full[i], &sized[i]
		if a.Line != b.Line || a.Ignored != b.Ignored || a.RowKey != b.RowKey || len(a.Movements) != len(b.Movements) ||
			(a.Err == nil) != (b.Err == nil) {
			return fmt.Sprintf("record %d: %+v, under SizeOnly %+v", i, *a, *b)
		}
		if a.Err != nil && (a.Err.Line != b.Err.Line || a.Err.Column != b.Err.Column || a.Err.Value != b.Err.Value ||
			a.Err.Err.Error() != b.Err.Err.Error()) {
			return fmt.Sprintf("record %d: row error %v, under SizeOnly %v", i, a.Err, b.Err)
		}
		for j := range a.Movements {
			m, n := a.Movements[j], b.Movements[j]
			for _, f := range [...]struct {
				name string
				v, s *decimal.Decimal
			}{
				{"quantity", &m.Quantity, &n.Quantity}, {"price", &m.Price, &n.Price}, {"amount", &m.Amount, &n.Amount},
				{"commissions", &m.Commissions, &n.Commissions}, {"fees", &m.Fees, &n.Fees}, {"strike", &m.Strike, &n.Strike},
				{"new_strike", &m.NewStrike, &n.NewStrike}, {"premium", &m.Premium, &n.Premium},
				{"net_premium", &m.NetPremium, &n.NetPremium}, {"multiplier", &m.Multiplier, &n.Multiplier},
				{"amount_changed", &m.AmountChanged, &n.AmountChanged},
			} {
				l, ok := StandInLen(*f.s)
				switch {
				case f.v.IsZero():
					if *f.s != (decimal.Decimal{}) {
						return fmt.Sprintf("record %d movement %d: %s is zero, under SizeOnly %s", i, j, f.name, f.s)
					}
				case ok:
					if l != len(f.v.String()) {
						return fmt.Sprintf("record %d movement %d: %s %s, under SizeOnly a stand-in of length %d", i, j, f.name, f.v, l)
					}
				case !f.s.Equal(*f.v) || len(f.v.String()) < len(standIns): // a long value is its own stand-in
					return fmt.Sprintf("record %d movement %d: %s %s, under SizeOnly %s", i, j, f.name, f.v, f.s)
				}
				*f.s = *f.v
			}
			if !m.Equal(&n) {
				return fmt.Sprintf("record %d movement %d: %+v, under SizeOnly %+v", i, j, m, n)
			}
		}
	}
	return ""
}

// TestTastytradeSizeOnly compares SizeOnly scans with full ones over every
// Tastytrade statement of the test data, the bad corpus and synthetic
// statements.
func TestTastytradeSizeOnly(t *testing.T) {
	inputs := map[string][]byte{}
	for _, pattern := range []string{
		filepath.Join(ttSharedDir, "tastytrade", "*.csv"),
		filepath.Join(ttSharedDir, "oracle", "*", "input.csv"),
		filepath.Join("testdata", "tastytrade", "*.csv"),
		filepath.Join("testdata", "bad", "tastytrade_*.csv"),
	} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			inputs[f] = ttReadFile(t, f)
		}
	}
	for seed := range uint64(4) {
		var b bytes.Buffer
		if _, err := synth.Tastytrade(&b, synth.Config{Seed: seed + 1, Rows: 5000}); err != nil {
			t.Fatal(err)
		}
		inputs[fmt.Sprintf("synthetic seed %d", seed+1)] = b.Bytes()
	}
	if len(inputs) < 15 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	standIns := 0
	for name, data := range inputs {
		full, sized, fullErr, sizedErr := ttRecordsBoth(data)
		if d := sizeOnlyDiff(full, sized, fullErr, sizedErr); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		for _, r := range sized {
			for _, m := range r.Movements {
				if _, ok := StandInLen(m.Amount); ok {
					standIns++
				}
				if m.ID != "" {
					t.Fatalf("%s: an ID under SizeOnly", name)
				}
			}
		}
	}
	if standIns < 1000 {
		t.Errorf("only %d stand-ins: SizeOnly is not in effect", standIns)
	}
}

// TestSizeOnlyEdgeRows covers the rows whose decimals leave the int64 paths:
// long numbers, inexact per-contract divisions, sums past 18 digits, and
// quantities of every kind.
func TestSizeOnlyEdgeRows(t *testing.T) {
	row := func(value, qty, comm, fees, avg, strike string) string {
		return "2025-12-11T19:01:03+0000,Trade,Sell to Open,SELL_TO_OPEN,MSFT  251218P00450000,Equity Option," +
			"Sold MSFT," + value + "," + qty + "," + avg + "," + comm + "," + fees + ",100,MSFT,MSFT,12/18/25," + strike + ",PUT,1,1,USD"
	}
	stock := func(value, qty, avg string) string {
		return "2025-12-11T19:01:04+0000,Trade,Buy to Open,BUY_TO_OPEN,MSFT,Equity,Bought MSFT," + value + "," + qty + "," + avg + ",-1.00,-0.10,,,,,,,2,1,USD"
	}
	rows := []string{
		row("1568.00", "2", "-2.00", "-0.25", "784.00", "450"),
		row("100.00", "3", "-1.00", "-0.13", "33.33", "450.5"),
		row("100", "7", "-1", "-0.1", "", "--"),
		row("1234567890123456789012.5", "3", "-2.00", "-0.25", "1", "450"),
		row("999999999999999999", "1", "-999999999999999999", "-0.01", "1", "450"),
		row("-999999999999999999", "2", "999999999999999999", "0", "1", "1"),
		row("0.0000000000000000000000000000001", "2", "0", "0", "1", "1"),
		row("5", "2.5", "0", "0", "1", "1"),
		row("5", "1.0000000000000000000001", "0", "0", "1", "1"),
		row("5", "0.5", "0", "0", "1", "1"),
		row("5", "10001", "0", "0", "1", "1"),
		row("5", "99999999999999999999999", "0", "0", "1", "1"),
		row("5", "-3", "0", "0", "1", "1"),
		row("5", "1,000", "0", "0", "1", "1"),
		row("1e5", "1", "0", "0", "1", "1"),
		row("-0.00", "1", "-0", "--", "--", "0.000"),
		stock("100.00", "3", ""),
		stock("-100.00", "7", ""),
		stock("1234567890123456789012.5", "3", ""),
		stock("100", "0", ""),
		stock("100", "0.3", ""),
		stock("100", "2", "12345678901234567890123456789012345678901234567890123456789012345678901234567890.5"),
		stock("100", "2", "--"),
		"2025-12-11T19:01:05+0000,Money Movement,Balance Adjustment,,,,Adj,-12.345,0,,--,0.00,,,,,,,,1,USD",
		"2025-12-11T19:01:05+0000,Money Movement,Dividend,,MSFT,,Div,0.00,0,,--,0.00,,,,,,,,1,USD",
		"2025-12-11T19:01:05+0000,Money Movement,Dividend,,MSFT,,Div,-1.5,0,,--,0.00,,,,,,,,1,USD",
		"2025-12-11T19:01:05+0000,Receive Deliver,ACAT,,MSFT,Equity,In,0,-123.4500,,--,0.00,,,,,,,,1,USD",
		ttSpecialRow("2024-12-11T12:01:07+0000", "BUY_TO_CLOSE", "TSLL", "-96.00", "1", "12/20/24", "36", "CALL"),
		ttSpecialRow("2024-12-11T12:01:07+0000", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "CALL"),
	}
	var b bytes.Buffer
	b.WriteString(ttHeader21 + "\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	full, sized, fullErr, sizedErr := ttRecordsBoth(b.Bytes())
	if d := sizeOnlyDiff(full, sized, fullErr, sizedErr); d != "" {
		t.Fatal(d)
	}
	moves, errs, wide := 0, 0, 0
	for _, r := range full {
		moves += len(r.Movements)
		if r.Err != nil {
			errs++
		}
		for _, m := range r.Movements {
			if len(m.Premium.String()) > 20 || len(m.Price.String()) > 20 || len(m.Amount.String()) > 20 {
				wide++
			}
		}
	}
	if moves < 20 || errs < 2 || wide < 4 {
		t.Errorf("%d movements, %d row errors, %d wide values: the rows do not cover what they should", moves, errs, wide)
	}
}
