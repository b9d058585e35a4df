package streams_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/synth"
)

// BenchmarkImport imports a synthetic Tastytrade statement of 20,000 and
// 200,000 rows (about 40 and 400 chunks) into an embedded server, a new
// account each time; with
// -benchmem, B/op is what one import allocates (pass 1, pass 2, encoding
// and publishing):
//
//	go test ./internal/streams -run '^$' -bench BenchmarkImport -benchmem -benchtime 5x
//
// The file has no dependency on the importer's internals, so it can be
// copied onto an older commit to compare (BENCHMARKS.md, "What changed in
// session 8" 1).
func BenchmarkImport(b *testing.B) {
	for _, rows := range []int{20000, 200000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) { benchImport(b, rows) })
	}
}

func benchImport(b *testing.B, rows int) {
	r := newRig(b, natsembed.Config{})
	path := filepath.Join(b.TempDir(), "tt.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	st, err := synth.Tastytrade(w, synth.Config{Rows: rows, Seed: 1})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		res, err := r.im.Import(testCtx(b), streams.Request{Path: path, Account: fmt.Sprintf("bench%d", n)})
		if err != nil || res.Outcome != streams.OutcomeSealed {
			b.Fatalf("import %d: %v (%v)", n, err, res)
		}
	}
	b.ReportMetric(float64(st.Rows)*float64(n)/b.Elapsed().Seconds(), "rows/s")
}
