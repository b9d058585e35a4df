package events_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/synth"
)

// benchChunk is a realistic chunk: the largest chunk ingest cuts from a
// synthetic Tastytrade statement of 4,000 rows (a full 512 KiB chunk of
// 1,324 movements: 947 option contracts, 261 stock trades, dividends, their
// tax and cash).
var benchChunk = sync.OnceValues(func() (*events.Chunk, error) {
	var csv bytes.Buffer
	if _, err := synth.Tastytrade(&csv, synth.Config{Seed: 1, Rows: 4000}); err != nil {
		return nil, err
	}
	cfg := chunker.Config{Account: "bench", File: "bench.csv"}
	a, err := chunker.Analyze(bytes.NewReader(csv.Bytes()), cfg)
	if err != nil {
		return nil, err
	}
	var best *events.Chunk
	err = chunker.Build(bytes.NewReader(csv.Bytes()), a, cfg, nil, func(c *events.Chunk) error {
		if best == nil || len(c.Movements) > len(best.Movements) {
			best = c
		}
		return nil
	})
	return best, err
})

func loadBenchChunk(b *testing.B) (*events.Chunk, []byte) {
	b.Helper()
	c, err := benchChunk()
	if err != nil {
		b.Fatal(err)
	}
	body, err := events.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	return c, body
}

// BenchmarkMarshalChunk encodes the benchmark chunk with events.Marshal.
func BenchmarkMarshalChunk(b *testing.B) {
	c, body := loadBenchChunk(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Movements)), "movements")
}

// BenchmarkUnmarshalChunk decodes the benchmark chunk's body with
// events.Unmarshal.
func BenchmarkUnmarshalChunk(b *testing.B) {
	c, body := loadBenchChunk(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Unmarshal(string(events.TypeChunk), events.SchemaHeader, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Movements)), "movements")
}

// BenchmarkMarshalChunkJSON is the reference: encoding/json on the same
// chunk (what events.Marshal did before the hand-written encoder).
func BenchmarkMarshalChunkJSON(b *testing.B) {
	c, body := loadBenchChunk(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Movements)), "movements")
}

// BenchmarkUnmarshalChunkJSON is the reference: encoding/json on the same
// body (what events.Unmarshal did before the hand-written decoder).
func BenchmarkUnmarshalChunkJSON(b *testing.B) {
	c, body := loadBenchChunk(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(body, &events.Chunk{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Movements)), "movements")
}
