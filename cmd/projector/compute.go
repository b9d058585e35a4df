package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/projections"
)

// computeConfig is the configuration of `projector compute`.
type computeConfig struct {
	// Account scopes movement IDs and names the result (a subject token).
	Account string
	// AsOf, when set, shows the projections as of that day (rows up to it,
	// plus carried-forward rows dated it).
	AsOf events.Date
	// Format is "json" or "table".
	Format string
	// Broker is "auto" (detect per file), "tastytrade" or "ibkr".
	Broker string
	// Files are the statements, read as one history.
	Files []string
}

// Validate checks the configuration once, before any file is read.
func (c *computeConfig) Validate() error {
	if err := events.ValidateAccount(c.Account); err != nil {
		return err
	}
	switch c.Format {
	case "json", "table":
	default:
		return fmt.Errorf("--format %q: want json or table", c.Format)
	}
	switch c.Broker {
	case "auto", events.BrokerTastytrade, events.BrokerIBKR:
	default:
		return fmt.Errorf("--broker %q: want auto, %s or %s", c.Broker, events.BrokerTastytrade, events.BrokerIBKR)
	}
	if len(c.Files) == 0 {
		return errors.New("no statement files given")
	}
	return nil
}

// errRowErrors reports statements with invalid rows (printed to stderr).
var errRowErrors = errors.New("statements have invalid rows")

// cmdCompute parses statements and prints their projections without NATS or
// a store: `projector compute --account NAME [--as-of YYYY-MM-DD]
// [--format json|table] [--broker auto|tastytrade|ibkr] FILE...`.
func cmdCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := computeConfig{}
	fs := flag.NewFlagSet("compute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Account, "account", "", "account name (letters, digits, '-', '_')")
	asOf := fs.String("as-of", "", "show the projections as of this day (YYYY-MM-DD)")
	fs.StringVar(&cfg.Format, "format", "json", "output format: json or table")
	fs.StringVar(&cfg.Broker, "broker", "auto", "statement format: auto, tastytrade or ibkr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: projector compute --account NAME [--as-of YYYY-MM-DD] [--format json|table] [--broker auto|tastytrade|ibkr] FILE...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	cfg.Files = fs.Args()
	if *asOf != "" {
		d, err := events.ParseDate(*asOf)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--as-of: %w", err)}
		}
		cfg.AsOf = d
	}
	if err := cfg.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("compute: %w", err)}
	}
	return runCompute(ctx, cfg, stdout, stderr)
}

func runCompute(ctx context.Context, cfg computeConfig, stdout, stderr io.Writer) error {
	var movements []events.Movement
	bad := 0
	for _, name := range cfg.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := parseStatement(name, cfg.Broker, cfg.Account)
		if err != nil {
			return fmt.Errorf("compute: %w", err)
		}
		for _, re := range res.RowErrors {
			fmt.Fprintf(stderr, "%s: line %d, column %q, value %q: %v\n", name, re.Line, re.Column, re.Value, re.Err)
		}
		bad += len(res.RowErrors)
		if n := len(res.Ignored); n > 0 {
			fmt.Fprintf(stderr, "%s: %d rows ignored (no movement), e.g. line %d: %s\n", name, n, res.Ignored[0].Line, res.Ignored[0].Reason)
		}
		movements = append(movements, res.Movements...)
	}
	if bad > 0 {
		return &exitError{code: 1, err: fmt.Errorf("compute: %d invalid rows: %w", bad, errRowErrors)}
	}

	var r *projections.Result
	var asOf *events.Date
	if cfg.AsOf.IsZero() {
		r = projections.Compute(cfg.Account, movements)
	} else {
		r = projections.ComputeAsOf(cfg.Account, movements, cfg.AsOf)
		asOf = &cfg.AsOf
	}
	if cfg.Format == "table" {
		return projections.WriteTable(stdout, r, asOf)
	}
	return projections.WriteJSON(stdout, r, asOf)
}

// parseStatement reads one statement file with the chosen (or detected)
// parser.
func parseStatement(name, broker, account string) (*parsers.Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if broker == "auto" {
		head, err := br.Peek(br.Size())
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if broker, err = parsers.Detect(head); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	p, err := parsers.ForBroker(broker)
	if err != nil {
		return nil, err
	}
	res, err := parsers.Parse(p, br, parsers.Options{Account: account})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}
