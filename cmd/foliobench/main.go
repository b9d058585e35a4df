// Command foliobench measures the whole pipeline end to end with real
// processes, and the raw baselines that bound it, on synthetic statements.
//
//	foliobench [flags]                 run the benchmark (see BENCHMARKS.md)
//	foliobench nats --store DIR        the NATS server process the benchmark starts
//	foliobench profile --rows N        pprof profiles of the in-process stages
//	foliobench report FILE.json...     the tables of earlier runs' --json files, together
//	foliobench mem [--runs N] CMD...   peak RSS, anonymous memory and CPU of a command
//
// For each scenario (a number of movements spread over one or several
// accounts) it generates Tastytrade statements with internal/synth, starts a
// NATS JetStream server in its own process (the embedded server of
// internal/natsembed with the defaults of `projector run`: file store,
// fsync on every write), `projector run` against it, and one `ingest`
// process per account, and measures: movements/s from the first ingest
// start to the last session completed in the store; per-chunk store write
// latency (the projector's debug log, FOLIO_LOG_LEVEL=debug); phase-2 time;
// peak RSS of every process (VmHWM from /proc, sampled); and the time
// of `projector replay` of the whole stream. In the same run it measures the
// raw baselines on the same data: encoding/csv over the same files, the
// same chunk bodies published to JetStream with the bare client, and the
// same rows inserted into SQLite (and ClickHouse with --clickhouse) with
// the bare driver; every stage is reported as a ratio to its baseline.
//
// main only wires arguments to the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "foliobench:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "nats" {
		return cmdNATS(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return cmdReport(args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "profile" {
		return cmdProfile(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "mem" {
		return cmdMem(ctx, args[1:], stdout, stderr)
	}
	return cmdBench(ctx, args, stdout, stderr)
}
