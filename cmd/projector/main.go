// Command projector consumes the FOLIO stream with a durable consumer, stores
// movements and computes the projections (broker snapshots, ticker snapshots,
// operations).
//
//	projector compute --account NAME [--as-of DATE] FILE...   preview projections of files, no NATS, no store
//	projector run [flags]                                     consume the stream into the store
//	projector replay [flags]                                  rebuild the store from the stream
//	projector snapshots --account NAME [--as-of DATE]         read projections from the store
//
// main only wires arguments to the subcommands; each lives in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"compute":   cmdCompute,
	"demo":      cmdDemo,
	"run":       cmdRun,
	"replay":    cmdReplay,
	"snapshots": cmdSnapshots,
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// gcPercent is the projector's garbage-collection target when GOGC is not
// set: the heap may grow to 3 times what is live (Go's default is 2).
// Decoding chunks and computing phase 2 allocate fast and keep little, so
// the collector's CPU falls by a third for some 20 MB more at 1.65M
// movements (BENCHMARKS.md); the heap stays bounded as before.
const gcPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "projector:", err)
		os.Exit(code)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(ctx, args[1:], stdout, stderr)
		}
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return &exitError{code: 2, err: fmt.Errorf("usage: projector {%s} [flags]", strings.Join(names, "|"))}
}
