package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
)

// cmdProfile runs the pipeline's pure stages and the SQLite store in this
// process on a synthetic statement and writes pprof CPU and allocation
// profiles of each: `foliobench profile --rows N --out DIR`. Stages:
// ingest (pass 1 and pass 2 with encoding), decode (events.Unmarshal),
// store (WriteBatch of the chunks, in the projector's batches), phase2 (the
// projector's phase 2: ScanMovements streamed through projections.ComputeTo
// into WriteProjections).
func cmdProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rows := fs.Int("rows", 100000, "synthetic rows")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("out", "prof", "directory for the profiles (STAGE.cpu, STAGE.alloc)")
	batch := fs.Int("batch-size", 64, "chunks per store write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "foliobench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st := &statement{Account: "acct01", Path: filepath.Join(dir, "a.csv"), Bodies: filepath.Join(dir, "a.bodies")}
	if _, err := generate(st.Path, events.BrokerTastytrade, *rows, *seed); err != nil {
		return err
	}
	csvTime, _, err := csvBaseline(st.Path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "encoding/csv: %v\n", csvTime)

	var pt passTimes
	if err := profiled(*out, "ingest", func() error {
		var err error
		pt, err = analyzeAndBuild(st)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "analyze: %v (%.2f of csv)  build: %v  movements: %d  chunks: %d\n",
		pt.Analyze, csvTime.Seconds()/pt.Analyze.Seconds(), pt.Build, st.Movements, st.Chunks)

	var chunks []*events.Chunk
	start := time.Now()
	if err := profiled(*out, "decode", func() error {
		return readBodies(st.Bodies, func(body []byte) error {
			e, err := events.Unmarshal(string(events.TypeChunk), events.SchemaHeader, body)
			if err != nil {
				return err
			}
			chunks = append(chunks, e.(*events.Chunk))
			return nil
		})
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "decode (events.Unmarshal): %v\n", time.Since(start))
	s, err := sqlite.Open(ctx, filepath.Join(dir, "folio.db"))
	if err != nil {
		return err
	}
	defer s.Close()
	start = time.Now()
	if err := profiled(*out, "store", func() error {
		for i := 0; i < len(chunks); i += *batch {
			if err := s.WriteBatch(ctx, &store.Batch{Chunks: chunks[i:min(i+*batch, len(chunks))], At: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store WriteBatch: %v\n", time.Since(start))
	chunks = nil
	start = time.Now()
	var nrows int
	if err := profiled(*out, "phase2", func() error {
		return s.WriteProjections(ctx, st.Account, func(sink projections.Sink) error {
			scan := func(q projections.Query, fn func(*events.Movement) error) error {
				return s.ScanMovements(ctx, st.Account, q, fn)
			}
			return projections.ComputeTo(st.Account, scan, countRows{sink, &nrows})
		}, nil, time.Now())
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "phase 2 (ScanMovements → ComputeTo → WriteProjections): %v (%d movements, %d rows)\n",
		time.Since(start), st.Movements, nrows)
	return nil
}

// countRows counts the rows a sink receives.
type countRows struct {
	projections.Sink
	n *int
}

func (c countRows) Broker(b *projections.BrokerSnapshot) error { *c.n++; return c.Sink.Broker(b) }
func (c countRows) Ticker(t *projections.TickerSnapshot) error { *c.n++; return c.Sink.Ticker(t) }
func (c countRows) Operation(o *projections.Operation, seq int) error {
	*c.n++
	return c.Sink.Operation(o, seq)
}

// profiled runs fn under a CPU profile (DIR/name.cpu) and writes the
// allocation profile after it (DIR/name.alloc).
func profiled(dir, name string, fn func() error) error {
	f, err := os.Create(filepath.Join(dir, name+".cpu"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	err = fn()
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	runtime.GC()
	a, err := os.Create(filepath.Join(dir, name+".alloc"))
	if err != nil {
		return err
	}
	defer a.Close()
	return pprof.Lookup("allocs").WriteTo(a, 0)
}
