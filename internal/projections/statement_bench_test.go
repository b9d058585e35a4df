package projections

import (
	"bytes"
	"github.com/foliostream/foliostream/internal/proctest"
	"testing"

	"github.com/foliostream/foliostream/internal/parsers"
	synthgen "github.com/foliostream/foliostream/internal/synth"
)

// BenchmarkComputeToStatement is ComputeTo over what the parsers make of a
// synthetic 100k-row Tastytrade statement (internal/synth; 165k
// movements): the amounts phase 2 meets in the pipeline, whose decimals are
// short (synthHistory's carry 28 places).
func BenchmarkComputeToStatement(b *testing.B) {
	var buf bytes.Buffer
	if _, err := synthgen.Tastytrade(&buf, synthgen.Config{Seed: 1, Rows: 100000}); err != nil {
		b.Fatal(err)
	}
	p, err := parsers.ForBroker("tastytrade")
	if err != nil {
		b.Fatal(err)
	}
	res, err := parsers.Parse(p, &buf, parsers.Options{Account: "a"})
	if err != nil {
		b.Fatal(err)
	}
	scan := sliceScan(canonical(res.Movements, 0))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := proctest.CPUTime()
	for b.Loop() {
		if err := ComputeTo("a", scan, &countingSink{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((proctest.CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
