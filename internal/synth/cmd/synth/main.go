// Command synth writes a deterministic synthetic broker statement to
// standard output and a summary of what it wrote (rows, movements by kind,
// date range) to standard error.
//
//	go run ./internal/synth/cmd/synth --broker tastytrade --rows 1000000 --seed 1 > file.csv
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	broker := fs.String("broker", events.BrokerTastytrade, "statement format: tastytrade or ibkr")
	var cfg synth.Config
	fs.IntVar(&cfg.Rows, "rows", 1000, "transaction rows to write")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the history (same seed, same bytes)")
	start := fs.String("start", synth.DefaultStart.String(), "first day, YYYY-MM-DD")
	fs.IntVar(&cfg.Tickers, "tickers", synth.DefaultTickers, "distinct stock tickers")
	fs.IntVar(&cfg.RowsPerDay, "rows-per-day", synth.DefaultRowsPerDay, "average rows per trading day")
	quiet := fs.Bool("quiet", false, "do not print the summary on standard error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := events.ParseDate(*start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	cfg.Start = d

	var gen func(io.Writer, synth.Config) (synth.Stats, error)
	switch *broker {
	case events.BrokerTastytrade:
		gen = synth.Tastytrade
	case events.BrokerIBKR:
		gen = synth.IBKR
	default:
		return fmt.Errorf("--broker %q: want %s or %s", *broker, events.BrokerTastytrade, events.BrokerIBKR)
	}
	st, err := gen(stdout, cfg)
	if err != nil {
		return err
	}
	if *quiet {
		return nil
	}
	summary := map[string]any{
		"broker": *broker, "seed": cfg.Seed, "rows": st.Rows, "ignored": st.Ignored,
		"movements": st.Total(), "counts": st.Movements, "first": st.First, "last": st.Last,
	}
	enc := json.NewEncoder(stderr)
	return enc.Encode(summary)
}
