package parsers

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
)

// ttExpectedDataLines reads data with a plain csv.Reader and returns the
// start line of every data record (parse errors included) after the header,
// and whether a header was found. It is the account the scan must give:
// every data line once.
func ttExpectedDataLines(data []byte) (lines []int, header, headerErr bool) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, ttBOM)))
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return lines, header, headerErr
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if !header {
				return nil, true, true
			}
			lines = append(lines, pe.StartLine)
			continue
		}
		if err != nil {
			return nil, header, true
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ := r.FieldPos(0)
		if !header {
			header = true
			continue
		}
		lines = append(lines, line)
	}
}

func FuzzTastytrade(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	for _, p := range samples {
		f.Add(ttReadFile(f, p))
	}
	for _, s := range []string{
		"",
		ttHeader21,
		"\xef\xbb\xbf" + ttHeader20 + "\r\n",
		ttHeader21 + "\n" + ttSpecialRow("2024-12-11T12:01:07+0000", "BUY_TO_CLOSE", "TSLL", "-96.00", "1", "12/20/24", "36", "CALL") +
			"\n" + ttSpecialRow("2024-12-11T12:01:07+0000", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "CALL"),
		ttHeader21 + "\n" + `2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,"a""b",1,0,,--,0.00,,,,,,,,1,USD` + "\n\"open",
		ttHeader21 + "\nx,y\n\x00\xff\n",
		ttHeader21 + "\n2025-12-11T19:01:03+0000,Trade,Sell to Open,SELL_TO_OPEN,X,Equity Option,d,100.00,3,1,-1.00,-0.13,100,X,X,12/18/25,1234567890123456789.5,PUT,1,1,USD",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var lines []int
		ids := map[string]bool{}
		err := Tastytrade{}.Scan(bytes.NewReader(data), Options{Account: "fuzz"}, func(r *Record) error {
			set := 0
			if r.Err != nil {
				set++
				if r.Err.Line != r.Line {
					t.Errorf("line %d: row error names line %d", r.Line, r.Err.Line)
				}
				if r.Err.Err == nil {
					t.Errorf("line %d: row error without a reason", r.Line)
				}
			}
			if r.Ignored != "" {
				set++
			}
			if len(r.Movements) > 0 {
				set++
			}
			if set != 1 {
				t.Errorf("line %d: %d of movements / error / ignored set, want exactly 1", r.Line, set)
			}
			for i := range r.Movements {
				m := &r.Movements[i]
				if (r.Line == 0) != (m.Kind == events.KindStrikeAdjustment) {
					t.Errorf("line %d: movement of kind %s", r.Line, m.Kind)
				}
				if !ttIDPattern.MatchString(m.ID) || ids[m.ID] {
					t.Errorf("line %d: bad or repeated movement ID %q", r.Line, m.ID)
				}
				ids[m.ID] = true
				if m.Account != "fuzz" || m.Broker != events.BrokerTastytrade || m.Currency == "" {
					t.Errorf("line %d: movement %+v", r.Line, m)
				}
			}
			if r.Line > 0 {
				lines = append(lines, r.Line)
			}
			return nil
		})
		// Pass 1 of the chunker scans under SizeOnly: it must agree with a
		// full scan on everything but the decimals' values.
		if d := sizeOnlyDiff(ttRecordsBoth(data)); d != "" {
			t.Fatalf("SizeOnly: %s", d)
		}
		want, header, headerErr := ttExpectedDataLines(data)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrBadHeader) {
				t.Fatalf("Scan: unexpected file error %v", err)
			}
			if len(lines) != 0 {
				t.Fatalf("Scan failed with %v after %d records", err, len(lines))
			}
			if errors.Is(err, ErrEmpty) && header {
				t.Fatalf("ErrEmpty for a file with a first line")
			}
			return
		}
		if !header || headerErr {
			t.Fatalf("Scan accepted a file whose header does not read as CSV")
		}
		// Every data line exactly once: the special-dividend rows come at the
		// end, so compare as multisets.
		count := map[int]int{}
		for _, l := range lines {
			count[l]++
		}
		for _, l := range want {
			count[l]--
		}
		for l, n := range count {
			if n != 0 {
				t.Fatalf("line %d accounted for %+d times too many (records %v, data lines %v)", l, n, lines, want)
			}
		}
	})
}

// BenchmarkTastytrade scans an in-memory statement of about 10,000 rows: the
// data rows of MPWImportTest.csv repeated under one header. The encoding-csv
// sub-benchmark reads the same bytes with a bare csv.Reader: the raw limit
// the scan is measured against.
func BenchmarkTastytrade(b *testing.B) {
	header, lines := ttSplitSample(b, "MPWImportTest.csv")
	var buf bytes.Buffer
	buf.WriteString(header + "\n")
	rows := 0
	for rows < 10000 {
		for _, l := range lines {
			buf.WriteString(l + "\n")
			rows++
		}
	}
	data := buf.Bytes()
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := Tastytrade{}.Scan(bytes.NewReader(data), Options{Account: "bench"}, func(r *Record) error {
				n++
				return nil
			})
			if err != nil || n != rows {
				b.Fatalf("%d records, err %v; want %d", n, err, rows)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.FieldsPerRecord = -1
			r.ReuseRecord = true
			n := -1
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows {
				b.Fatalf("%d rows, want %d", n, rows)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
