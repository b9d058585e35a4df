package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/console"
	"github.com/foliostream/foliostream/internal/metrics"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// defaultListen is where `projector run` serves the console and its
// health and metrics endpoints unless --listen says otherwise: loopback
// only (issue 10).
const defaultListen = "127.0.0.1:8080"

// runConfig is the configuration of `projector run`.
type runConfig struct {
	dataFlags
	// NATSPort is the embedded server's client port (loopback): 4222 by
	// default so that `ingest` finds it; -1 picks a free port.
	NATSPort int
	// Listen serves /healthz, /readyz, /metrics and the web console on
	// HOST:PORT (defaultListen, loopback); "" or "off" serves nothing.
	Listen string
	// Durable names the durable consumer.
	Durable string
	// Accounts restricts the consumer to these accounts' subjects (a
	// partition); empty means every account.
	Accounts []string
	// BatchSize, BatchAge and BatchIdle bound a store write (projector.Config).
	BatchSize int
	BatchAge  time.Duration
	BatchIdle time.Duration
	// Phase2MaxDelay bounds how long phase 2 waits for a consumer behind
	// the stream (projector.Config).
	Phase2MaxDelay time.Duration
	// BackOff is the redelivery schedule; its first value is the ack wait.
	BackOff []time.Duration
	// BusyTimeout is how long a store write waits for a lock held by
	// another process before it fails (and the batch is retried).
	BusyTimeout time.Duration
	// PauseAt is the fault-injection point (env FOLIO_PROJECTOR_PAUSE_AT).
	PauseAt string
	// Scale is the partition consumed and how missing streams are created
	// (config.go).
	Scale scaleFlags
	// LagInterval is how often the consumer's state is read for /metrics.
	LagInterval time.Duration
}

func (c *runConfig) Validate() error {
	if err := c.dataFlags.validate(); err != nil {
		return err
	}
	if c.NATSPort < -1 || c.NATSPort > 65535 {
		return fmt.Errorf("--nats-port %d out of range", c.NATSPort)
	}
	for _, a := range c.Accounts {
		if err := events.ValidateAccount(a); err != nil {
			return fmt.Errorf("--accounts: %w", err)
		}
	}
	if c.Listen == "off" {
		c.Listen = ""
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("--listen %q: %w", c.Listen, err)
		}
	}
	if err := c.Scale.validate(); err != nil {
		return err
	}
	if c.LagInterval <= 0 {
		c.LagInterval = lagInterval
	}
	if c.Scale.spec.Partitioned() && len(c.Accounts) > 0 {
		return errors.New("--partition and --accounts exclude each other")
	}
	return c.projectorConfig().Validate()
}

func (c *runConfig) projectorConfig() projector.Config {
	cfg := projector.Config{
		Durable:   c.Scale.durable(c.Durable),
		BatchSize: c.BatchSize,
		BatchAge:  c.BatchAge,
		BatchIdle: c.BatchIdle,
		BackOff:   c.BackOff,
		Create:    c.Scale.create(),

		Phase2MaxDelay: c.Phase2MaxDelay,
	}
	for _, a := range c.Accounts {
		// Both the plain and the partitioned stream's subjects.
		cfg.FilterSubjects = append(cfg.FilterSubjects, partition.AccountSubjects(a)...)
	}
	if len(c.Accounts) > 0 {
		cfg.Owns = func(account string) bool { return slices.Contains(c.Accounts, account) }
	}
	if spec := c.Scale.spec; spec.Partitioned() {
		cfg.FilterSubjects = spec.FilterSubjects()
		cfg.Owns = spec.Owns
	}
	return cfg
}

// durationList is a flag.Value of comma-separated durations.
type durationList []time.Duration

func (d *durationList) String() string {
	parts := make([]string, len(*d))
	for i, v := range *d {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durationList) Set(s string) error {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		v, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*d = out
	return nil
}

// cmdRun consumes the stream into the store until interrupted:
// `projector run [--data DIR] [--nats URL] [--listen HOST:PORT] [--durable NAME]`.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := runConfig{BackOff: projector.DefaultBackOff}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.dataFlags.register(fs, true, true)
	fs.IntVar(&cfg.NATSPort, "nats-port", natsembed.DefaultPort, "client port of the embedded NATS server (loopback only; -1: any free port)")
	fs.StringVar(&cfg.Listen, "listen", defaultListen, "serve /healthz, /readyz, /metrics and the web console on HOST:PORT (loopback by default; 0.0.0.0:8080 for every interface; \"\" or off: none)")
	fs.StringVar(&cfg.Durable, "durable", projector.DefaultDurable, "name of the durable consumer")
	accounts := fs.String("accounts", "", "comma-separated accounts this projector consumes (a partition); empty: all")
	fs.IntVar(&cfg.BatchSize, "batch-size", projector.DefaultBatchSize, "messages per store write, at most")
	fs.DurationVar(&cfg.BatchAge, "batch-age", projector.DefaultBatchAge, "longest a message waits in a batch")
	fs.DurationVar(&cfg.BatchIdle, "batch-idle", projector.DefaultBatchIdle, "caught up with the stream, write the batch once no message came for this long")
	fs.DurationVar(&cfg.Phase2MaxDelay, "phase2-max-delay", projector.DefaultPhase2MaxDelay, "behind the stream, phase 2 waits for the consumer to catch up (one computation for a backlog of imports) at most this long; negative: never waits")
	fs.DurationVar(&cfg.BusyTimeout, "busy-timeout", sqlite.DefaultBusyTimeout, "how long a store write waits for another process's lock before it fails and is retried")
	fs.Var((*durationList)(&cfg.BackOff), "backoff", "redelivery schedule of unacknowledged messages; the first value is the ack wait")
	cfg.Scale.register(fs)
	fs.DurationVar(&cfg.LagInterval, "lag-interval", lagInterval, "with --listen, how often the consumer's lag (pending messages) is read from the server for /metrics")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: projector run [--data DIR] [--nats URL] [--listen HOST:PORT] [--durable NAME] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("run: unexpected arguments %q", fs.Args())}
	}
	if *accounts != "" {
		cfg.Accounts = strings.Split(*accounts, ",")
	}
	cfg.PauseAt = os.Getenv(envPauseAt)
	if err := cfg.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("run: %w", err)}
	}
	return runRun(ctx, cfg, stderr)
}

func runRun(ctx context.Context, cfg runConfig, stderr io.Writer) error {
	log := newLogger(cfg.LogFormat, stderr)
	pause, err := pauseHook(cfg.PauseAt, stderr)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	release, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer release()

	st, where, err := cfg.openStore(ctx, cfg.BusyTimeout, log)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer st.Close()
	b, err := connect(cfg.NATSURL, cfg.DataDir, cfg.NATSPort, log, cfg.NATSAuth)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer b.close()
	if cfg.Scale.spec.Partitioned() {
		if err := checkPartitioned(ctx, b.js, events.StreamName); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("run: --partition %s: %w", cfg.Scale.spec, err)}
		}
	}
	sessions, err := openSessionsBucket(ctx, b.js, cfg.Scale.Replicas)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var reg *prometheus.Registry // metrics, served with --listen
	var pm *metrics.Projector
	if cfg.Listen != "" {
		reg = metrics.NewRegistry()
		pm = metrics.NewProjector(reg)
	}

	pcfg := cfg.projectorConfig()
	pcfg.Sessions = sessions
	pcfg.Logger = log
	pcfg.Pause = pause
	if pm != nil {
		pcfg.Metrics = pm
	}
	p, err := projector.New(b.js, st, pcfg)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("run: %w", err)}
	}
	durable := p.ConsumerConfig().Durable
	log.Info("projector starting", "store", where, "nats", b.url(), "durable", durable, "partition", cfg.Scale.spec.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.Run(gctx) })
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("run: --listen: %w", err)
		}
		log.Info("health endpoints listening", "addr", ln.Addr().String(), "console", "http://"+ln.Addr().String()+"/",
			"serves", "/healthz /readyz /metrics and the console")
		ui, err := console.New(console.Config{Store: st, Sessions: sessions, NATSURL: b.url(), Logger: log})
		if err != nil {
			return fmt.Errorf("run: console: %w", err)
		}
		g.Go(func() error {
			return serveHealth(gctx, ln, healthChecks(p, b, st, durable), log, ui, metrics.Handler(reg))
		})
		g.Go(func() error { return pollConsumer(gctx, b.js, events.StreamName, durable, pm, cfg.LagInterval, log) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	log.Info("projector stopped")
	return nil
}

// healthChecks are the readiness conditions: consuming, connected,
// JetStream answering for the durable consumer (it exists: bound), store
// readable.
func healthChecks(p *projector.Projector, b *broker, st projectorStore, durable string) func(context.Context) error {
	return func(ctx context.Context) error {
		if !p.Ready() {
			return errors.New("consumer not running")
		}
		if !b.nc.IsConnected() {
			return fmt.Errorf("NATS connection %s", b.nc.Status())
		}
		if _, err := b.js.Consumer(ctx, events.StreamName, durable); err != nil {
			return fmt.Errorf("consumer %s: %w", durable, err)
		}
		if err := st.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
}

// serveHealth serves /healthz (the process is up), /readyz (ready()
// returns nil) and /metrics (Prometheus) on ln until ctx ends.
func serveHealth(ctx context.Context, ln net.Listener, ready func(context.Context) error, log *slog.Logger, ui http.Handler, metricsH http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsH)
	mux.Handle("/", ui) // the web console (internal/console): pages and /api/
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(rctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("health endpoints: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("health endpoints shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health endpoints: %w", err)
	}
	return nil
}
