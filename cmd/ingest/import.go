package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
)

const importUsage = `usage: ingest [flags] FILE...

Imports broker statements: each file is analysed whole, then published to the
FOLIO stream as one import session (session.started, one message per weekly
chunk, session.sealed). Running it again on the same file resumes an
interrupted session or says it is already imported. A file with invalid rows
is refused before anything is published, unless --skip-invalid.

Exit status: 0 every file sealed (or already imported); 1 an import failed or
a file has invalid rows; 2 bad usage; 3 a file cannot be read or is not a
statement; 4 interrupted (run the same command again to resume); 5 --wait timed
out.

Flags:
`

// importConfig is the configuration of `ingest FILE...`.
type importConfig struct {
	conn  connFlags
	Files []string
	// Account owns the movements (events.ValidateAccount).
	Account string
	// Broker is auto, tastytrade or ibkr.
	Broker string
	// SkipInvalid publishes the valid rows of files with row errors.
	SkipInvalid bool
	// Wait returns only once the projector completed each session.
	Wait bool
	// Timeout bounds --wait per file (0: no limit).
	Timeout time.Duration
	// MaxInFlight bounds unacknowledged chunk messages.
	MaxInFlight int
	// OpenBytes bounds the chunks pass 2 holds at once (streams.Request).
	OpenBytes int
	// PauseAt is the fault-injection point (env FOLIO_INGEST_PAUSE_AT).
	PauseAt string
}

func (c *importConfig) validate() error {
	if err := c.conn.validate(); err != nil {
		return err
	}
	if err := validBroker(c.Broker); err != nil {
		return err
	}
	if err := events.ValidateAccount(c.Account); err != nil {
		return fmt.Errorf("--account: %w", err)
	}
	if len(c.Files) == 0 {
		return errors.New("no FILE given")
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("--max-in-flight %d: want at least 1", c.MaxInFlight)
	}
	if c.OpenBytes < minOpenBytes {
		return fmt.Errorf("--open-bytes %d: want at least %d (1 MiB)", c.OpenBytes, minOpenBytes)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", c.Timeout)
	}
	return nil
}

// minOpenBytes is the smallest --open-bytes: below it a large statement in
// sections would be read once per week.
const minOpenBytes = 1 << 20

func validBroker(b string) error {
	switch b {
	case "auto", events.BrokerTastytrade, events.BrokerIBKR:
		return nil
	}
	return fmt.Errorf("--broker %q: want auto, %s or %s (%w)", b, events.BrokerTastytrade, events.BrokerIBKR, parsers.ErrUnknownBroker)
}

// registerImportFlags declares the flags import and watch share.
func registerImportFlags(fs *flag.FlagSet, c *importConfig) {
	c.conn.register(fs)
	c.conn.Stream.register(fs)
	fs.StringVar(&c.Account, "account", "default", "account the movements belong to: letters, digits, '-', '_'")
	fs.StringVar(&c.Broker, "broker", "auto", "statement format: auto, tastytrade or ibkr")
	fs.BoolVar(&c.SkipInvalid, "skip-invalid", false, "publish the valid rows of a file with row errors; the rejects are kept in the session")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", streams.DefaultMaxInFlight, "chunk messages published and not yet acknowledged, at most")
	fs.IntVar(&c.OpenBytes, "open-bytes", streams.DefaultOpenBytes, "bytes of chunks pass 2 may fill at once; a statement in sections (IBKR) that needs more is read once per window of weeks")
}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := importConfig{PauseAt: os.Getenv(envPauseAt)}
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	registerImportFlags(fs, &cfg)
	fs.BoolVar(&cfg.Wait, "wait", false, "return only when the projector has completed each session")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "with --wait, give up after this long per file (0: wait as long as it takes)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{exitBadUsage, err}
	}
	cfg.Files = files
	if err := cfg.validate(); err != nil {
		fs.Usage()
		return &exitError{exitBadUsage, err}
	}
	return runImport(ctx, cfg, stdout, stderr)
}

func runImport(ctx context.Context, cfg importConfig, stdout, stderr io.Writer) error {
	log := newLogger(cfg.conn.LogFormat, stderr)
	c, err := connect(ctx, cfg.conn, log, connectOptions{maxPending: cfg.MaxInFlight, ensure: true})
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer c.Close()
	im := &streams.Importer{JS: c.js, Sessions: c.sessions, Logger: log}

	var worst *exitError
	for _, path := range cfg.Files {
		err := importFile(ctx, im, c.sessions, cfg, path, stdout, stderr, log)
		if err == nil {
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) {
			ee = &exitError{exitFailed, err}
		}
		if ee.code == exitCancelled {
			return ee // stop here: the rest is not started
		}
		fmt.Fprintln(stderr, "ingest:", ee.err)
		if worst == nil || ee.code > worst.code {
			worst = ee
		}
	}
	if worst != nil {
		// Each failure was printed already.
		return &exitError{worst.code, errors.New("")}
	}
	return nil
}

// importFile imports one file and prints its outcome.
func importFile(ctx context.Context, im *streams.Importer, sessions *streams.Sessions, cfg importConfig, path string,
	stdout, stderr io.Writer, log *slog.Logger) error {
	req := streams.Request{
		Path: path, Account: cfg.Account, Broker: cfg.Broker, SkipInvalid: cfg.SkipInvalid,
		MaxInFlight: cfg.MaxInFlight, OpenBytes: cfg.OpenBytes, Pause: pauseHook(cfg.PauseAt, stderr),
	}
	var bar *progressBar
	if isTerminal(stderr) {
		bar = newProgressBar(stderr)
		req.Progress = bar.update
	}
	res, err := im.Import(ctx, req)
	if bar != nil {
		bar.finish()
	}
	rep := newReport(path, res, err)
	switch {
	case err == nil:
		fmt.Fprintln(stdout, rep.summary())
	case errors.Is(err, streams.ErrCancelled):
		return &exitError{exitCancelled, err}
	case errors.Is(err, streams.ErrInvalidRows):
		fmt.Fprint(stderr, rep.text())
		return &exitError{exitFailed, fmt.Errorf("%s: %d invalid row(s) of %d; nothing published; fix them, or import with --skip-invalid",
			path, rep.RowErrors, rep.Rows)}
	case streams.Rejection(err) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission):
		return &exitError{exitNotImported, err}
	default:
		return &exitError{exitFailed, err}
	}
	if !cfg.Wait || res.Outcome == streams.OutcomeAlreadyCompleted {
		return nil
	}
	wctx := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	log.Info("waiting for the projector to complete the session", "session", rep.Session, "file", rep.File)
	rec, err := sessions.WaitPhase(wctx, rep.Session, store.PhaseCompleted)
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: session %s completed at %s\n", rep.File, rec.ID, rec.CompletedAt.Format(time.RFC3339))
		return nil
	case ctx.Err() != nil:
		return &exitError{exitCancelled, fmt.Errorf("%s: interrupted while waiting for session %s (it is sealed; the projector will complete it)", path, rep.Session)}
	case errors.Is(err, context.DeadlineExceeded):
		return &exitError{exitWaitTimeout, fmt.Errorf("%s: session %s not completed after %s (is the projector running?)", path, rep.Session, cfg.Timeout)}
	}
	return &exitError{exitFailed, err}
}
