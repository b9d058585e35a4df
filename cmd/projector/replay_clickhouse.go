package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/nats-io/nats.go/jetstream"
)

// replayScratchSuffix names the scratch database of an in-place ClickHouse
// replay: the live database's name plus this suffix, on the same server.
const replayScratchSuffix = "_replay"

// scratchDropTimeout bounds dropping the scratch database once the replay
// is over (also after an interrupt).
const scratchDropTimeout = time.Minute

// errConsumerActive: a projector consumes the stream while an in-place
// ClickHouse replay would rewrite the database under it.
var errConsumerActive = errors.New("a projector is consuming the stream")

// runReplayClickHouse is `projector replay --clickhouse DSN`. With --out
// DSN2 it replays into the database of DSN2, which must hold no data. Else
// it replays into a scratch database beside the live one (dropped first if
// an earlier replay left it, and at the end) and then replaces, account by
// account, the live database's rows by the scratch database's
// (clickhouse.Store.ReplaceAccountFrom): every account of either database,
// or only --account.
func runReplayClickHouse(ctx context.Context, cfg replayConfig, stdout, stderr io.Writer) error {
	log := newLogger(cfg.LogFormat, stderr)
	if cfg.Out != "" && !strings.HasPrefix(cfg.Out, "clickhouse://") {
		return &exitError{code: 2, err: fmt.Errorf("replay: with --clickhouse, --out is the DSN of another database (clickhouse://host:port/db), not %q", cfg.Out)}
	}
	// The embedded server's files are the data directory's.
	if cfg.NATSURL == "" {
		release, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return fmt.Errorf("replay: %w (stop `projector run` first)", err)
		}
		defer release()
	}
	b, err := connect(cfg.NATSURL, cfg.DataDir, -1, log, cfg.NATSAuth)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer b.close()
	opts := clickhouse.Options{Logger: log}
	pcfg := projector.Config{Logger: log}
	if cfg.Account != "" {
		pcfg.FilterSubjects = partition.AccountSubjects(cfg.Account) // plain and partitioned streams
	}
	if cfg.Out != "" {
		return replayClickHouseOut(ctx, cfg, b.js, pcfg, opts, stdout)
	}

	if active, err := activeConsumers(ctx, b.js, events.StreamName); err != nil {
		return fmt.Errorf("replay: %w", err)
	} else if len(active) > 0 {
		return fmt.Errorf("replay: %w (durable consumers %v): stop it first, or rebuild into another database with --out DSN", errConsumerActive, active)
	}
	live, err := clickhouse.New(ctx, cfg.ClickHouse, opts)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer live.Close()
	scratchName := live.Database() + replayScratchSuffix
	scratchDSN, err := withDatabase(cfg.ClickHouse, scratchName)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if err := live.DropDatabase(ctx, scratchName); err != nil { // an earlier replay's
		return fmt.Errorf("replay: %w", err)
	}
	scratch, err := clickhouse.New(ctx, scratchDSN, opts)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer func() {
		scratch.Close()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scratchDropTimeout)
		defer cancel()
		if err := live.DropDatabase(dctx, scratchName); err != nil {
			log.Warn("scratch database not dropped", "database", scratchName, "err", err)
		}
	}()

	stats, err := projector.Replay(ctx, b.js, scratch, pcfg)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	printReplayStats(stdout, stats)
	accounts := []string{cfg.Account}
	if cfg.Account == "" {
		rebuilt, err := storeAccounts(ctx, scratch)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		current, err := storeAccounts(ctx, live)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		accounts = union(rebuilt, current)
		if stats.Messages == 0 && len(current) > 0 {
			return fmt.Errorf("replay: %w", errEmptyStream)
		}
	} else if stats.Messages == 0 {
		current, err := storeAccounts(ctx, live)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if slices.Contains(current, cfg.Account) {
			return fmt.Errorf("replay: %w", errEmptyStream)
		}
	}
	for _, account := range accounts {
		if err := live.ReplaceAccountFrom(ctx, scratch, account, time.Now().UTC()); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		fmt.Fprintf(stdout, "account %s replaced in ClickHouse database %s\n", account, live.Database())
	}
	return nil
}

// replayClickHouseOut replays into the database of cfg.Out, which must hold
// no data; the database of cfg.ClickHouse is not touched.
func replayClickHouseOut(ctx context.Context, cfg replayConfig, js jetstream.JetStream, pcfg projector.Config, opts clickhouse.Options, stdout io.Writer) error {
	same, err := sameDatabase(cfg.Out, cfg.ClickHouse)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("replay: %w", err)}
	}
	if same {
		return &exitError{code: 2, err: errors.New("replay: --out names the database of --clickhouse; give a new database, or leave --out out to replace in place")}
	}
	out, err := clickhouse.New(ctx, cfg.Out, opts)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer out.Close()
	if has, err := storeAccounts(ctx, out); err != nil {
		return fmt.Errorf("replay: %w", err)
	} else if len(has) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("replay: --out database %s already holds data (accounts %v)", out.Database(), has)}
	}
	stats, err := projector.Replay(ctx, js, out, pcfg)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	printReplayStats(stdout, stats)
	fmt.Fprintf(stdout, "rebuilt store written to ClickHouse database %s\n", out.Database())
	return nil
}

func printReplayStats(w io.Writer, stats projector.ReplayStats) {
	fmt.Fprintf(w, "replayed %d messages up to stream sequence %d (%d poison skipped, %d sessions still waiting for chunks)\n",
		stats.Messages, stats.LastSequence, stats.Poison, stats.Pending)
}

// storeAccounts lists the accounts a ClickHouse store holds anything of:
// movements or session records.
func storeAccounts(ctx context.Context, st *clickhouse.Store) ([]string, error) {
	accounts, err := st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := st.Sessions(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, s := range sessions {
		accounts = append(accounts, s.Account)
	}
	return union(accounts), nil
}

// union returns the sorted distinct strings of the lists.
func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// activeConsumers lists the durable consumers of the stream that have pull
// requests waiting: projectors consuming it.
func activeConsumers(ctx context.Context, js jetstream.JetStream, stream string) ([]string, error) {
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	var active []string
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable != "" && info.NumWaiting > 0 {
			active = append(active, info.Name)
		}
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("consumers of %s: %w", stream, err)
	}
	return active, nil
}

// withDatabase returns dsn naming database instead of its own.
func withDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("%w: %v", clickhouse.ErrInvalidDSN, err)
	}
	u.Path = "/" + database
	q := u.Query()
	q.Del("database")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// sameDatabase reports whether two DSNs name the same database on the same
// server address.
func sameDatabase(a, b string) (bool, error) {
	key := func(dsn string) (string, error) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%w: %v", clickhouse.ErrInvalidDSN, err)
		}
		db := strings.TrimPrefix(u.Path, "/")
		if v := u.Query().Get("database"); v != "" {
			db = v
		}
		if db == "" {
			db = "default"
		}
		return u.Host + "/" + db, nil
	}
	ka, err := key(a)
	if err != nil {
		return false, err
	}
	kb, err := key(b)
	return ka == kb, err
}
