package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/sqlite"
)

// snapshotsConfig is the configuration of `projector snapshots`.
type snapshotsConfig struct {
	dataFlags
	Account string
	// AsOf, when set, shows the projections as of that day.
	AsOf   events.Date
	Format string
}

func (c *snapshotsConfig) Validate() error {
	if err := c.dataFlags.validate(); err != nil {
		return err
	}
	if err := events.ValidateAccount(c.Account); err != nil {
		return err
	}
	switch c.Format {
	case "json", "table":
	default:
		return fmt.Errorf("--format %q: want json or table", c.Format)
	}
	return nil
}

// errNoAccount: the store holds nothing for the account.
var errNoAccount = errors.New("account not in the store")

// cmdSnapshots prints an account's projections from the store, in the JSON
// contract of `projector compute`: `projector snapshots --account NAME
// [--as-of YYYY-MM-DD] [--format json|table] [--data DIR]`.
func cmdSnapshots(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := snapshotsConfig{}
	fs := flag.NewFlagSet("snapshots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.dataFlags.register(fs, false, true)
	fs.StringVar(&cfg.Account, "account", "", "account name")
	asOf := fs.String("as-of", "", "show the projections as of this day (YYYY-MM-DD)")
	fs.StringVar(&cfg.Format, "format", "json", "output format: json or table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: projector snapshots --account NAME [--as-of YYYY-MM-DD] [--format json|table] [--data DIR | --clickhouse DSN]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("snapshots: unexpected arguments %q", fs.Args())}
	}
	if *asOf != "" {
		d, err := events.ParseDate(*asOf)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--as-of: %w", err)}
		}
		cfg.AsOf = d
	}
	if err := cfg.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("snapshots: %w", err)}
	}
	return runSnapshots(ctx, cfg, stdout)
}

func runSnapshots(ctx context.Context, cfg snapshotsConfig, stdout io.Writer) error {
	var st store.Store
	if cfg.ClickHouse != "" {
		ch, err := clickhouse.New(ctx, cfg.ClickHouse, clickhouse.Options{})
		if err != nil {
			return fmt.Errorf("snapshots: %w", err)
		}
		st = ch
	} else {
		lite, err := sqlite.OpenReadOnly(ctx, cfg.storePath())
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("snapshots: no store at %s (start `projector run` and import a statement first)", cfg.storePath())
		}
		if err != nil {
			return fmt.Errorf("snapshots: %w", err)
		}
		st = lite
	}
	defer st.Close()
	accounts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	if !slices.Contains(accounts, cfg.Account) {
		return fmt.Errorf("snapshots: %q: %w (accounts: %v)", cfg.Account, errNoAccount, accounts)
	}
	r, err := st.Projections(ctx, cfg.Account)
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	var asOf *events.Date
	if !cfg.AsOf.IsZero() {
		asOf = &cfg.AsOf
		if cfg.AsOf >= lastDay(r) {
			r = r.AsOf(cfg.AsOf)
		} else {
			// An earlier day is recomputed from the movements: the stored
			// rows after it would otherwise leak into it (spec §3.3).
			ms, err := store.AccountMovements(ctx, st, cfg.Account)
			if err != nil {
				return fmt.Errorf("snapshots: %w", err)
			}
			r = projections.ComputeAsOf(cfg.Account, ms, cfg.AsOf)
		}
	}
	if cfg.Format == "table" {
		return projections.WriteTable(stdout, r, asOf)
	}
	return projections.WriteJSON(stdout, r, asOf)
}

// lastDay is the latest date in r.
func lastDay(r *projections.Result) events.Date {
	var d events.Date
	for _, b := range r.Broker {
		d = max(d, b.Date)
	}
	for _, t := range r.Tickers {
		d = max(d, t.Date)
	}
	for _, o := range r.Operations {
		d = max(d, o.OpenDate, o.CloseDate)
	}
	return d
}
