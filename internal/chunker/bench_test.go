package chunker

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/synth"
)

// Benchmarks of pass 1 (parse + IDs + plan), pass 2 and the raw
// encoding/csv limit over the same synthetic Tastytrade bytes:
//
//	go test ./internal/chunker -run '^$' -bench . -benchmem
//	go test ./internal/chunker -run '^$' -bench '/rows=1000000' -benchtime 1x -benchmem -rows1m
//	go test ./internal/chunker -run '^$' -bench 'RawCSV|Analyze' -benchtime 5x -count 5 -benchmem -rows 100000
var (
	rows1M    = flag.Bool("rows1m", false, "also run the benchmarks over 1,000,000 synthetic rows")
	benchRows = flag.Int("rows", 0, "also run the benchmarks over this many synthetic rows")
)

// synthTastytrade is synth.Tastytrade's statement of n rows, seed 1: the
// project's deterministic generator (the same bytes as
// "go run ./internal/synth/cmd/synth --broker tastytrade --rows n --seed 1").
func synthTastytrade(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.Grow(n * 240)
	if _, err := synth.Tastytrade(&buf, synth.Config{Seed: 1, Rows: n}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var synthCache sync.Map // rows → []byte

func synthData(b *testing.B, n int) []byte {
	if v, ok := synthCache.Load(n); ok {
		return v.([]byte)
	}
	data := synthTastytrade(b, n)
	synthCache.Store(n, data)
	return data
}

type benchSize struct {
	name string
	rows int
}

func benchSizes() []benchSize {
	s := []benchSize{{"rows=10000", 10_000}}
	if *benchRows > 0 && *benchRows != 10_000 && *benchRows != 1_000_000 {
		s = append(s, benchSize{fmt.Sprintf("rows=%d", *benchRows), *benchRows})
	}
	if *rows1M || *benchRows == 1_000_000 {
		s = append(s, benchSize{"rows=1000000", 1_000_000})
	}
	return s
}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRawCSV is the limit: plain encoding/csv reading the same bytes
// (ReuseRecord, as the Tastytrade parser reads them), doing nothing else.
func BenchmarkRawCSV(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r := csv.NewReader(bytes.NewReader(data))
				r.FieldsPerRecord = -1
				r.ReuseRecord = true
				n := 0
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
				if n != sz.rows+1 {
					b.Fatalf("read %d records", n)
				}
			}
			reportRows(b, sz.rows)
		})
	}
}

// BenchmarkAnalyzeVsCSV measures the ratio issue 7 sets a target for: the
// time of a bare encoding/csv read over the time of Analyze, on the same
// bytes. Each iteration runs both, one after the other, so that a change of
// the machine's load between them (other processes share its two cores)
// affects both alike; it reports both wall-clock and CPU-time (this
// process's, GC included) ratios.
//
//	go test ./internal/chunker -run '^$' -bench AnalyzeVsCSV -benchtime 10x -count 5 -rows 100000
func BenchmarkAnalyzeVsCSV(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			var csvWall, anWall, csvCPU, anCPU time.Duration
			for b.Loop() {
				w0, c0 := time.Now(), cpuTime(b)
				r := csv.NewReader(bytes.NewReader(data))
				r.FieldsPerRecord = -1
				r.ReuseRecord = true
				for {
					if _, err := r.Read(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				w1, c1 := time.Now(), cpuTime(b)
				a, err := Analyze(bytes.NewReader(data), Config{Account: testAccount})
				if err != nil || a.Rows != sz.rows {
					b.Fatalf("analysis: %v", err)
				}
				w2, c2 := time.Now(), cpuTime(b)
				csvWall += w1.Sub(w0)
				anWall += w2.Sub(w1)
				csvCPU += c1 - c0
				anCPU += c2 - c1
			}
			n := float64(b.N)
			b.ReportMetric(float64(csvWall.Milliseconds())/n, "csv-ms")
			b.ReportMetric(float64(anWall.Milliseconds())/n, "analyze-ms")
			b.ReportMetric(csvWall.Seconds()/anWall.Seconds(), "ratio")
			b.ReportMetric(csvCPU.Seconds()/anCPU.Seconds(), "cpu-ratio")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScan is the parser alone (parse + movement IDs), for comparison.
func BenchmarkScan(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rows := 0
				err := parsers.Tastytrade{}.Scan(bytes.NewReader(data), parsers.Options{Account: testAccount}, func(rec *parsers.Record) error {
					if rec.Err != nil {
						return rec.Err
					}
					rows++
					return nil
				})
				if err != nil || rows != sz.rows {
					b.Fatalf("%d rows, %v", rows, err)
				}
			}
			reportRows(b, sz.rows)
		})
	}
}

// BenchmarkAnalyze is pass 1: hash, parse, IDs, sizes and plan.
func BenchmarkAnalyze(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			var a *Analysis
			for b.Loop() {
				var err error
				a, err = Analyze(bytes.NewReader(data), Config{Account: testAccount})
				if err != nil {
					b.Fatal(err)
				}
			}
			if a.Rows != sz.rows || a.RowErrorCount != 0 {
				b.Fatalf("analysis: %d rows, %d errors", a.Rows, a.RowErrorCount)
			}
			reportRows(b, sz.rows)
			b.ReportMetric(float64(a.Movements)*float64(b.N)/b.Elapsed().Seconds(), "movements/s")
		})
	}
}

// BenchmarkBuild is pass 2: re-parse, assign, verify, sort and emit every
// chunk, with each chunk encoded as the publisher would (events.Marshal).
func BenchmarkBuild(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			a, err := Analyze(bytes.NewReader(data), Config{Account: testAccount})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				chunks := 0
				err := Build(bytes.NewReader(data), a, Config{}, nil, func(c *events.Chunk) error {
					body, err := events.Marshal(c)
					if err != nil {
						return err
					}
					if len(body) > DefaultByteBudget {
						return fmt.Errorf("chunk %s of %d bytes", c.ID, len(body))
					}
					chunks++
					return nil
				})
				if err != nil || chunks != a.Plan.Len() {
					b.Fatalf("%d chunks of %d: %v", chunks, a.Plan.Len(), err)
				}
			}
			reportRows(b, sz.rows)
		})
	}
}

// BenchmarkBuildOnly is pass 2 without the encoding: re-parse, assign,
// verify, sort and emit every chunk to a callback that only counts it, so
// that Build's own cost is apart from events.Marshal's.
func BenchmarkBuildOnly(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := synthData(b, sz.rows)
			a, err := Analyze(bytes.NewReader(data), Config{Account: testAccount})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				chunks, moves := 0, 0
				err := Build(bytes.NewReader(data), a, Config{}, nil, func(c *events.Chunk) error {
					chunks++
					moves += len(c.Movements)
					return nil
				})
				if err != nil || chunks != a.Plan.Len() || moves < a.Movements {
					b.Fatalf("%d chunks of %d, %d movements of %d: %v", chunks, a.Plan.Len(), moves, a.Movements, err)
				}
			}
			reportRows(b, sz.rows)
		})
	}
}

func TestSynthIsValid(t *testing.T) {
	data := synthTastytrade(t, 2000)
	a := analyzeBytes(t, data, Config{})
	if a.Rows != 2000 || a.RowErrorCount != 0 || !strings.HasPrefix(string(data), "Date,Type,Sub Type") {
		t.Fatalf("synthetic statement: %d rows, %d errors", a.Rows, a.RowErrorCount)
	}
	if a.Movements < 2000 || a.Plan.Len() < 2 {
		t.Errorf("synthetic statement: %d movements in %d chunks", a.Movements, a.Plan.Len())
	}
}

// BenchmarkBuildWindowIBKR is pass 2 over a synthetic IBKR statement (in
// sections): in one pass (whole), in windows of a sixteenth of the
// one-pass peak (windows: every window, the cost of the whole import),
// and a single such window (one-window: a pass that converts a sixteenth
// of the rows and only reads the others):
//
//	go test ./internal/chunker -run '^$' -bench BuildWindowIBKR -benchmem -rows 100000
func BenchmarkBuildWindowIBKR(b *testing.B) {
	for _, sz := range benchSizes() {
		var buf bytes.Buffer
		if _, err := synth.IBKR(&buf, synth.Config{Seed: 1, Rows: sz.rows}); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		a, err := Analyze(bytes.NewReader(data), Config{Account: testAccount})
		if err != nil {
			b.Fatal(err)
		}
		windows := a.Windows(max(a.PeakOpenBytes/16, 1))
		for _, run := range []struct {
			name string
			ws   []Window
		}{{"whole", []Window{{}}}, {"windows", windows}, {"one-window", windows[len(windows)/2 : len(windows)/2+1]}} {
			b.Run(sz.name+"/"+run.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					for _, w := range run.ws {
						if err := BuildWindow(bytes.NewReader(data), a, Config{}, w, nil, func(*events.Chunk) error { return nil }); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(len(run.ws)), "passes")
				reportRows(b, sz.rows)
			})
		}
	}
}

// BenchmarkHeldMovement reports what pass 2 holds per movement of an open
// part, for 20,000 synthetic IBKR rows: as structs (the live heap of the
// parsed movements, their decimals and strings included, from
// runtime.MemStats after a collection) and encoded (the bytes of their
// events.AppendMovementJSON objects plus the 4-byte end of each):
//
//	go test ./internal/chunker -run '^$' -bench HeldMovement -benchtime 1x
func BenchmarkHeldMovement(b *testing.B) {
	var buf bytes.Buffer
	if _, err := synth.IBKR(&buf, synth.Config{Seed: 1, Rows: 20000}); err != nil {
		b.Fatal(err)
	}
	var structs, encoded float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := parsers.Parse(parsers.IBKR{}, bytes.NewReader(buf.Bytes()), parsers.Options{Account: testAccount})
		if err != nil {
			b.Fatal(err)
		}
		ms := make([]events.Movement, len(res.Movements)) // exact, as a part's slot
		copy(ms, res.Movements)
		res = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		structs = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(len(ms))
		var enc []byte
		for i := range ms {
			enc = events.AppendMovementJSON(enc, &ms[i], 0)
		}
		encoded = float64(len(enc))/float64(len(ms)) + 4
		runtime.KeepAlive(ms)
	}
	b.ReportMetric(structs, "struct-B/movement")
	b.ReportMetric(encoded, "encoded-B/movement")
}
