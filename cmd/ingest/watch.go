package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/watch"
	"golang.org/x/sync/errgroup"
)

const watchUsage = `usage: ingest watch [flags] DIR

Imports every statement dropped into DIR. A file is taken once it is
completely written (its size and modification time unchanged across two
polls; hidden and temporary names such as .x.csv or x.csv.part are never
taken, so writing under such a name and renaming into place works too). It is
then imported like ` + "`ingest FILE`" + ` and moved to DIR/done/ (imported, or
already imported before) or DIR/failed/ (rejected: invalid rows, not a
statement, a symbolic link...) with <name>.report.txt and <name>.report.json
beside it. A transient failure (NATS unreachable) leaves the file in place and
retries it later. Files left in DIR are picked up on start-up. Stops cleanly
on SIGINT/SIGTERM; an import in progress is cancelled and resumed next time.

Flags:
`

// watchConfig is the configuration of `ingest watch`.
type watchConfig struct {
	importConfig
	// Dir is the drop folder.
	Dir string
	// Interval between polls; RetryAfter after a transient failure.
	Interval   time.Duration
	RetryAfter time.Duration
	// Listen serves /metrics, /healthz and /readyz (HOST:PORT; http.go).
	Listen string
}

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := watchConfig{importConfig: importConfig{PauseAt: os.Getenv(envPauseAt)}}
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), watchUsage)
		fs.PrintDefaults()
	}
	registerImportFlags(fs, &cfg.importConfig)
	fs.DurationVar(&cfg.Interval, "interval", watch.DefaultInterval, "time between two looks at DIR")
	fs.DurationVar(&cfg.RetryAfter, "retry-after", watch.DefaultRetryAfter, "wait before retrying a file after a transient failure")
	fs.StringVar(&cfg.Listen, "listen", "", "serve /metrics, /healthz and /readyz on HOST:PORT (e.g. 0.0.0.0:9090)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{exitBadUsage, err}
	}
	if len(pos) != 1 {
		fs.Usage()
		return &exitError{exitBadUsage, fmt.Errorf("watch: want exactly one DIR, got %d", len(pos))}
	}
	cfg.Dir = pos[0]
	cfg.Files = pos // satisfies importConfig.validate
	if err := cfg.validate(); err != nil {
		fs.Usage()
		return &exitError{exitBadUsage, err}
	}
	if cfg.Interval <= 0 || cfg.RetryAfter <= 0 {
		return &exitError{exitBadUsage, errors.New("--interval and --retry-after must be positive")}
	}
	return runWatch(ctx, cfg, stdout, stderr)
}

func runWatch(ctx context.Context, cfg watchConfig, stdout, stderr io.Writer) error {
	log := newLogger(cfg.conn.LogFormat, stderr)
	c, err := connect(ctx, cfg.conn, log, connectOptions{maxPending: cfg.MaxInFlight, ensure: true})
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer c.Close()
	im := &streams.Importer{JS: c.js, Sessions: c.sessions, Logger: log}
	obs, err := listen(cfg.Listen, log)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	if obs != nil {
		im.Metrics = obs.metrics
	}

	importOne := func(ctx context.Context, path string) (watch.Result, error) {
		res, err := im.Import(ctx, streams.Request{
			Path: path, Account: cfg.Account, Broker: cfg.Broker, SkipInvalid: cfg.SkipInvalid,
			MaxInFlight: cfg.MaxInFlight, OpenBytes: cfg.OpenBytes, Pause: pauseHook(cfg.PauseAt, stderr),
		})
		rep := newReport(path, res, err)
		switch {
		case err == nil:
			return watch.Result{Note: rep.Status, Text: rep.text(), JSON: rep}, nil
		case errors.Is(err, streams.ErrCancelled):
			return watch.Result{}, err
		case streams.Rejection(err):
			return watch.Result{Rejected: true, Note: rep.Status, Text: rep.text(), JSON: rep}, nil
		}
		return watch.Result{}, err // transient: the file stays and is retried
	}
	w, err := watch.New(watch.Config{
		Dir: cfg.Dir, Import: importOne, Interval: cfg.Interval, RetryAfter: cfg.RetryAfter, Logger: log,
		OnFiled: func(name, dest string, r watch.Result) {
			fmt.Fprintf(stdout, "%s: %s -> %s\n", name, r.Note, filepath.Join(filepath.Base(filepath.Dir(dest)), filepath.Base(dest)))
		},
	})
	if err != nil {
		return &exitError{exitFailed, err}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.Run(gctx) })
	if obs != nil {
		g.Go(func() error { return obs.serve(gctx, c.ready) })
	}
	if err := g.Wait(); err != nil {
		return &exitError{exitFailed, err}
	}
	return nil
}
