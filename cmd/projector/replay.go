package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store/sqlite"
)

// replayConfig is the configuration of `projector replay`.
type replayConfig struct {
	dataFlags
	// Account, when set, rebuilds only that account.
	Account string
	// Out writes the rebuilt store there instead of replacing the live one:
	// a new file, or with ClickHouse the DSN of a database without data.
	Out string
}

func (c *replayConfig) Validate() error {
	if err := c.dataFlags.validate(); err != nil {
		return err
	}
	if c.Account != "" {
		if err := events.ValidateAccount(c.Account); err != nil {
			return err
		}
	}
	return nil
}

// errEmptyStream: the replay read nothing while the store has data.
var errEmptyStream = errors.New("the stream has no messages for the store (wrong --nats or --data?); the store was left as it was")

// cmdReplay rebuilds the store from the stream's first sequence:
// `projector replay [--data DIR | --clickhouse DSN] [--nats URL] [--account NAME] [--out PATH|DSN]`.
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := replayConfig{}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.dataFlags.register(fs, true, true)
	fs.StringVar(&cfg.Account, "account", "", "rebuild only this account (its rows in the store are replaced, the other accounts' are untouched)")
	fs.StringVar(&cfg.Out, "out", "", "write the rebuilt store to this new file instead of replacing DIR/"+sqlite.FileName+
		" (with --clickhouse: to the database of this DSN, which must hold no data, instead of replacing the accounts of --clickhouse's)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: projector replay [--data DIR | --clickhouse DSN] [--nats URL] [--account NAME] [--out PATH|DSN]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("replay: unexpected arguments %q", fs.Args())}
	}
	if err := cfg.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("replay: %w", err)}
	}
	return runReplay(ctx, cfg, stdout, stderr)
}

func runReplay(ctx context.Context, cfg replayConfig, stdout, stderr io.Writer) error {
	if cfg.ClickHouse != "" {
		return runReplayClickHouse(ctx, cfg, stdout, stderr)
	}
	log := newLogger(cfg.LogFormat, stderr)
	// The data directory is locked unless the replay touches neither its
	// store nor its embedded server.
	if cfg.NATSURL == "" || cfg.Out == "" {
		release, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return fmt.Errorf("replay: %w (stop `projector run` first, or use --nats URL --out PATH)", err)
		}
		defer release()
	}
	out := cfg.Out
	if out == "" {
		out = cfg.storePath() + ".replay"
		if err := removeStoreFiles(out); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	} else if _, err := os.Stat(out); err == nil {
		return &exitError{code: 2, err: fmt.Errorf("replay: --out %s already exists", out)}
	}
	b, err := connect(cfg.NATSURL, cfg.DataDir, -1, log, cfg.NATSAuth)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer b.close()

	fresh, err := sqlite.Open(ctx, out)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	pcfg := projector.Config{Logger: log}
	if cfg.Account != "" {
		pcfg.FilterSubjects = partition.AccountSubjects(cfg.Account) // plain and partitioned streams
	}
	stats, err := projector.Replay(ctx, b.js, fresh, pcfg)
	if cerr := fresh.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if cfg.Out == "" {
			removeStoreFiles(out)
		}
		return fmt.Errorf("replay: %w", err)
	}
	printReplayStats(stdout, stats)
	if cfg.Out != "" {
		fmt.Fprintf(stdout, "rebuilt store written to %s\n", out)
		return nil
	}
	defer removeStoreFiles(out)
	live := cfg.storePath()
	if cfg.Account != "" {
		st, err := sqlite.Open(ctx, live)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		err = st.ReplaceAccountFrom(ctx, out, cfg.Account)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		fmt.Fprintf(stdout, "account %s replaced in %s\n", cfg.Account, live)
		return nil
	}
	if stats.Messages == 0 {
		if has, err := storeHasData(ctx, live); err != nil || has {
			return fmt.Errorf("replay: %w", errors.Join(errEmptyStream, err))
		}
	}
	if err := swapStore(ctx, out, live); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	fmt.Fprintf(stdout, "store %s replaced by the rebuilt one\n", live)
	return nil
}

// storeHasData reports whether the store file at path holds any movement.
func storeHasData(ctx context.Context, path string) (bool, error) {
	st, err := sqlite.OpenReadOnly(ctx, path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer st.Close()
	accounts, err := st.Accounts(ctx)
	return len(accounts) > 0, err
}

// swapStore replaces the store file live by the closed store file fresh:
// live is first opened and closed so that SQLite checkpoints and removes its
// write-ahead log (a stale log must never meet the new file), then fresh is
// renamed over it, which is atomic.
func swapStore(ctx context.Context, fresh, live string) error {
	if _, err := os.Stat(live); err == nil {
		st, err := sqlite.Open(ctx, live)
		if err != nil {
			return err
		}
		if err := st.Close(); err != nil {
			return err
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(live + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(fresh, live); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(live))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeStoreFiles removes a store file and its WAL companions.
func removeStoreFiles(path string) error {
	var errs []error
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
