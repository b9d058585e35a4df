package sqlite_test

import (
	"bytes"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/synth"
)

// statementHistory returns the movements of a synthetic 100,000-row
// Tastytrade statement (internal/synth, seed 1; 165,214 movements) in
// events.Compare order, and their projections (about 10,600 rows): what
// phase 2 reads and writes in the pipeline. Made once per test binary.
var statementHistory = sync.OnceValues(func() (*statementData, error) {
	var csv bytes.Buffer
	if _, err := synth.Tastytrade(&csv, synth.Config{Seed: 1, Rows: 100_000}); err != nil {
		return nil, err
	}
	p, err := parsers.ForBroker("tastytrade")
	if err != nil {
		return nil, err
	}
	res, err := parsers.Parse(p, &csv, parsers.Options{Account: "bench"})
	if err != nil {
		return nil, err
	}
	ms := make([]*events.Movement, len(res.Movements))
	for i := range res.Movements {
		ms[i] = &res.Movements[i]
	}
	slices.SortFunc(ms, events.Compare)
	return &statementData{ms: ms, result: projections.Compute("bench", res.Movements)}, nil
})

type statementData struct {
	ms     []*events.Movement
	result *projections.Result
}

// scan is a projections.ScanFunc over the history (every field delivered).
func (d *statementData) scan(q projections.Query, fn func(*events.Movement) error) error {
	for _, m := range d.ms {
		if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, m.Kind) {
			continue
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (d *statementData) rows() int {
	return len(d.result.Broker) + len(d.result.Tickers) + len(d.result.Operations)
}

// BenchmarkWriteProjectionsStatement replaces an account's projections with
// those of a synthetic statement, already computed (WriteProjections
// through the sink, the previous iteration's rows deleted first), and
// reports rows/s and the process's CPU time per row: the sink alone.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteProjectionsStatement -benchtime 5x -count 5
func BenchmarkWriteProjectionsStatement(b *testing.B) {
	d, err := statementHistory()
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := proctest.CPUTime()
	for b.Loop() {
		if err := store.ReplaceProjections(b.Context(), s, d.result, nil, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.rows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((proctest.CPUTime()-cpu0).Nanoseconds())/float64(d.rows()*b.N), "cpu-ns/row")
}

// BenchmarkComputeWrite is phase 2 without the store's scans: ComputeTo
// over a synthetic statement's history in memory, its rows written by
// WriteProjections as they are computed (sqlite), or dropped (discard).
// It reports per movement the wall time, the process's CPU time, and the
// CPU time of the goroutine that computes (goroutine-cpu-ns: locked to its
// thread, Linux only), which bounds phase 2 when the writer goroutine has
// a core of its own.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkComputeWrite -benchtime 5x -count 5
func BenchmarkComputeWrite(b *testing.B) {
	d, err := statementHistory()
	if err != nil {
		b.Fatal(err)
	}
	n := len(d.ms)
	report := func(b *testing.B, cpu0, gcpu time.Duration) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/movement")
		b.ReportMetric(float64((proctest.CPUTime()-cpu0).Nanoseconds())/float64(n*b.N), "cpu-ns/movement")
		b.ReportMetric(float64(gcpu.Nanoseconds())/float64(n*b.N), "goroutine-cpu-ns/movement")
	}
	b.Run("discard", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0, gcpu := proctest.CPUTime(), time.Duration(0)
		for b.Loop() {
			t0 := threadCPU()
			if err := projections.ComputeTo("bench", d.scan, discard{}); err != nil {
				b.Fatal(err)
			}
			gcpu += threadCPU() - t0
		}
		report(b, cpu0, gcpu)
	})
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		cpu0, gcpu := proctest.CPUTime(), time.Duration(0)
		for b.Loop() {
			t0 := threadCPU()
			err := s.WriteProjections(b.Context(), "bench", func(sink projections.Sink) error {
				return projections.ComputeTo("bench", d.scan, sink)
			}, nil, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			gcpu += threadCPU() - t0
		}
		report(b, cpu0, gcpu)
	})
}

type discard struct{}

func (discard) Broker(*projections.BrokerSnapshot) error    { return nil }
func (discard) Ticker(*projections.TickerSnapshot) error    { return nil }
func (discard) Operation(*projections.Operation, int) error { return nil }
