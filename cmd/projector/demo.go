package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/streams"
	"golang.org/x/sync/errgroup"
)

// defaultDemoFile is the sample statement of `projector demo`, relative to
// the repository root (../shared sits beside the clone).
const defaultDemoFile = "../shared/testdata/oracle/pfizer/input.csv"

// demoConfig is the configuration of `projector demo`.
type demoConfig struct {
	// DataDir keeps the demo's store and stream; "" uses a temporary
	// directory removed at the end.
	DataDir string
	Account string
	File    string
	// Format is table or json.
	Format string
	// Timeout bounds the whole demo.
	Timeout time.Duration
	// Verbose logs the pipeline's lines to stderr.
	Verbose bool
}

func (c *demoConfig) Validate() error {
	if err := events.ValidateAccount(c.Account); err != nil {
		return err
	}
	switch c.Format {
	case "json", "table":
	default:
		return fmt.Errorf("--format %q: want json or table", c.Format)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout %s must be positive", c.Timeout)
	}
	return nil
}

// cmdDemo runs the whole pipeline on the embedded defaults in one process:
// an embedded NATS JetStream server, the projector into an SQLite store, and
// an import of one statement; it waits for the projector to complete the
// session and prints its snapshots. `projector demo [--data DIR]
// [--account NAME] [--format table|json] [FILE]`.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := demoConfig{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DataDir, "data", "", "keep the demo's store and stream in DIR (default: a temporary directory, removed at the end)")
	fs.StringVar(&cfg.Account, "account", "demo", "account the statement is imported into")
	fs.StringVar(&cfg.Format, "format", "table", "output format: table or json")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "give up after this long")
	fs.BoolVar(&cfg.Verbose, "v", false, "log the pipeline's steps to stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: projector demo [--data DIR] [--account NAME] [--format table|json] [FILE]\n"+
			"FILE defaults to %s (run from the repository root)\n", defaultDemoFile)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	switch fs.NArg() {
	case 0:
		cfg.File = defaultDemoFile
	case 1:
		cfg.File = fs.Arg(0)
	default:
		return &exitError{code: 2, err: fmt.Errorf("demo: one statement file at most, got %q", fs.Args())}
	}
	if err := cfg.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("demo: %w", err)}
	}
	return runDemo(ctx, cfg, stdout, stderr)
}

func runDemo(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) (err error) {
	if _, err := os.Stat(cfg.File); err != nil {
		hint := ""
		if cfg.File == defaultDemoFile {
			hint = " (run the demo from the repository root, with ../shared beside it, or give a statement file)"
		}
		return &exitError{code: 2, err: fmt.Errorf("demo: %w%s", err, hint)}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	level := slog.LevelWarn
	if cfg.Verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "foliostream-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	release, err := lockDataDir(dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer release()
	st, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer st.Close()
	// Any free loopback port: the demo works beside anything else running.
	b, err := connect("", dir, -1, log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer b.close()
	sessions, err := streams.EnsureSessions(ctx, b.js)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "foliostream demo: embedded NATS JetStream at %s, SQLite store %s\n", b.srv.ClientURL(), st.Path())

	p, err := projector.New(b.js, st, projector.Config{Sessions: sessions, Logger: log})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pctx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(pctx)
	g.Go(func() error { return p.Run(gctx) })
	defer func() {
		stop()
		if werr := g.Wait(); err == nil && werr != nil {
			err = fmt.Errorf("demo: projector: %w", werr)
		}
	}()

	im := &streams.Importer{JS: b.js, Sessions: sessions, Logger: log}
	res, err := im.Import(gctx, streams.Request{Path: cfg.File, Account: cfg.Account, Broker: "auto"})
	if err != nil {
		return fmt.Errorf("demo: import %s: %w", cfg.File, err)
	}
	fmt.Fprintf(stdout, "ingest: %s imported into account %s as session %s: %d movements in %d chunks (%s)\n",
		filepath.Base(cfg.File), cfg.Account, res.Session.ID, res.Session.Movements, res.Session.TotalChunks, res.Outcome)
	rec, err := sessions.WaitPhase(gctx, res.Session.ID, store.PhaseCompleted)
	if err != nil {
		return fmt.Errorf("demo: waiting for the projector: %w", err)
	}
	fmt.Fprintf(stdout, "projector: session %s completed: movements stored, projections computed\n\n", rec.ID)

	r, err := st.Projections(ctx, cfg.Account)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if len(r.Broker) == 0 {
		return errors.New("demo: the projector stored no snapshots")
	}
	if cfg.Format == "json" {
		return projections.WriteJSON(stdout, r, nil)
	}
	if err := projections.WriteTable(stdout, r, nil); err != nil {
		return err
	}
	if cfg.DataDir != "" {
		fmt.Fprintf(stdout, "\nthe store stays in %s: projector snapshots --data %s --account %s\n", cfg.DataDir, cfg.DataDir, cfg.Account)
	}
	return nil
}
