package parsers_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/synth"
)

var ibBenchFiles sync.Map // rows → []byte

func ibBenchFile(b *testing.B, rows int) []byte {
	b.Helper()
	if v, ok := ibBenchFiles.Load(rows); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	if _, err := synth.IBKR(&buf, synth.Config{Seed: 1, Rows: rows}); err != nil {
		b.Fatal(err)
	}
	ibBenchFiles.Store(rows, buf.Bytes())
	return buf.Bytes()
}

// BenchmarkIBKR scans a synthetic statement (parse + movement IDs) from
// memory. Compare with BenchmarkIBKRRawCSV, plain encoding/csv over the same
// bytes: go test ./internal/parsers -run '^$' -bench 'IBKR' -benchmem
func BenchmarkIBKR(b *testing.B) {
	for _, rows := range []int{10_000, 100_000} {
		data := ibBenchFile(b, rows)
		b.Run(ibRowsName(rows), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				n := 0
				err := parsers.IBKR{}.Scan(bytes.NewReader(data), parsers.Options{Account: "bench"}, func(rec *parsers.Record) error {
					n += len(rec.Movements)
					return nil
				})
				if err != nil || n == 0 {
					b.Fatalf("scan: %v, %d movements", err, n)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkIBKRRawCSV(b *testing.B) {
	for _, rows := range []int{10_000, 100_000} {
		data := ibBenchFile(b, rows)
		b.Run(ibRowsName(rows), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r := csv.NewReader(bytes.NewReader(data))
				r.FieldsPerRecord = -1
				r.LazyQuotes = true
				r.ReuseRecord = true
				for {
					if _, err := r.Read(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func ibRowsName(n int) string {
	if n%1000 == 0 {
		return "rows=" + strconv.Itoa(n/1000) + "k"
	}
	return "rows=" + strconv.Itoa(n)
}

var ibIndex1M = flag.Bool("ibindex1m", false, "BenchmarkIBKRIndexMemory also over 1,000,000 rows")

// BenchmarkIBKRIndexMemory reports what a windowed identity index keeps
// after a scan of a synthetic IBKR statement (the live heap it holds, from
// runtime.MemStats after a collection): a window per occurrence scope, per
// option contract traded.
//
//	go test ./internal/parsers -run '^$' -bench IBKRIndexMemory -benchtime 1x -ibindex1m
func BenchmarkIBKRIndexMemory(b *testing.B) {
	sizes := []int{100_000}
	if *ibIndex1M {
		sizes = append(sizes, 1_000_000)
	}
	for _, rows := range sizes {
		data := ibBenchFile(b, rows)
		b.Run(ibRowsName(rows), func(b *testing.B) {
			var held uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				idx := parsers.NewWindowedOccurrences()
				err := parsers.IBKR{}.Scan(bytes.NewReader(data), parsers.Options{Account: "bench", Index: idx}, func(*parsers.Record) error { return nil })
				if err != nil || idx.Unordered() {
					b.Fatalf("scan: %v (out of time order: %v)", err, idx.Unordered())
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
				runtime.KeepAlive(idx)
			}
			b.ReportMetric(float64(held)/1e6, "index-MB")
		})
	}
}
