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

func main() {
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
