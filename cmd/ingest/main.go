// Command ingest reads broker statements and publishes them to JetStream as
// import sessions: one message per weekly chunk, de-duplicated, resumable.
//
//	ingest analyze [flags] FILE     print the analysis and chunk plan, publish nothing
//	ingest [flags] FILE...          import files
//	ingest watch [flags] DIR        import files dropped into DIR
//	ingest status [flags]           list import sessions
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
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"analyze": cmdAnalyze,
	"watch":   cmdWatch,
	"status":  cmdStatus,
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// gcPercent is ingest's garbage-collection target when GOGC is not set:
// the heap may grow to 1.5 times what is live (Go's default is 2). Pass 2
// allocates fast and keeps little beyond the chunks in flight, so the peak
// heap is set by the largest live heap a collection sees, and a longer
// statement gives more chances of a large one: at 50 the peak RSS is ~3 MiB
// lower and no longer rises from 1M to 3M rows, for ~8 % more of ingest's
// CPU (BENCHMARKS.md, "ingest's memory"). Unlike a memory limit, it cannot
// make the collector run without end when the live heap is large (a
// statement out of time order needs an identity index that grows with it).
const gcPercent = 50

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
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "ingest:", err)
		}
		os.Exit(code)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(ctx, args[1:], stdout, stderr)
		}
	}
	return cmdImport(ctx, args, stdout, stderr)
}
