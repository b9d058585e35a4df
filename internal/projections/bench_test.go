package projections

import (
	"testing"

	"github.com/foliostream/foliostream/internal/proctest"
)

// BenchmarkCompute recomputes a whole account (what the projector does on
// every import) over histories of 10k, 100k and 1M movements (see
// synthHistory). Besides wall time it reports cpu-ns/op, the process CPU
// time per operation (GC included), which stays meaningful on a busy
// machine.
func BenchmarkCompute(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		n := c.n
		b.Run(c.name, func(b *testing.B) {
			ms := synthHistory(n, 1)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := proctest.CPUTime()
			for b.Loop() {
				r := Compute("bench", ms)
				if len(r.Broker) == 0 {
					b.Fatal("no snapshots")
				}
			}
			if cpu := proctest.CPUTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkComputeTo is phase 2's computation alone: the three passes of
// ComputeTo over an already canonical history, rows counted and dropped (no
// deduplication, sort or collection, which Compute adds).
func BenchmarkComputeTo(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		n := c.n
		b.Run(c.name, func(b *testing.B) {
			scan := sliceScan(canonical(synthHistory(n, 1), 0))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := proctest.CPUTime()
			for b.Loop() {
				sink := &countingSink{}
				if err := ComputeTo("bench", scan, sink); err != nil {
					b.Fatal(err)
				}
				if sink.rows == 0 {
					b.Fatal("no rows")
				}
			}
			if cpu := proctest.CPUTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "movements/s")
		})
	}
}
