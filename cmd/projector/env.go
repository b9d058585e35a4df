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
	"strconv"
	"strings"
	"time"

	"github.com/foliostream/foliostream/internal/natsconn"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Environment variables and fixed names shared by run, replay, snapshots and
// demo.
const (
	envNATSURL = "FOLIO_NATS_URL"
	// envClickHouse is the ClickHouse DSN that replaces the SQLite store.
	envClickHouse = "FOLIO_CLICKHOUSE_DSN"
	// envPauseAt names a fault-injection point where `projector run`
	// prints pauseMarker and blocks until it is killed or interrupted:
	// "buffered", "written", "acked", "phase2" or "completed", optionally
	// ":N" for the N-th time the point is reached (default 1). For the crash
	// tests.
	envPauseAt  = "FOLIO_PROJECTOR_PAUSE_AT"
	pauseMarker = "FOLIO_PROJECTOR_PAUSED"

	// natsDir is the embedded server's store under the data directory,
	// shared with `ingest --nats embedded`.
	natsDir = "nats"
	// lockFile marks a data directory in use by a projector process.
	lockFile = "projector.lock"
)

// dataFlags are the flags about where the projector keeps its state.
type dataFlags struct {
	// DataDir holds the store (folio.db) and the embedded server's files.
	DataDir string
	// NATSURL is an external server; "" starts an embedded one over DataDir.
	NATSURL string
	// ClickHouse is a ClickHouse DSN; "" means the SQLite store in DataDir.
	ClickHouse string
	// LogFormat is auto, text or json.
	LogFormat string
	// NATSAuth is the credentials and TLS of an external NATS server
	// (flags and env FOLIO_NATS_USER... of package natsconn).
	NATSAuth natsconn.Auth
	// ClickHouseSecrets supplies the ClickHouse password and TLS apart
	// from the DSN.
	ClickHouseSecrets chSecrets
	fs                *flag.FlagSet // for the ClickHouse secrets' variables, in validate
}

func (d *dataFlags) register(fs *flag.FlagSet, withNATS, withClickHouse bool) {
	fs.StringVar(&d.DataDir, "data", "data", "data directory: store "+sqlite.FileName+" and the embedded NATS server's files")
	// Defaults never come from the environment here (validate applies it):
	// --help must not print a DSN or URL with a password in it.
	if withClickHouse {
		fs.StringVar(&d.ClickHouse, "clickhouse", "", "ClickHouse DSN (clickhouse://host:9000/db; env "+envClickHouse+") for the store instead of SQLite in --data")
		d.ClickHouseSecrets.register(fs)
	}
	if withNATS {
		fs.StringVar(&d.NATSURL, "nats", "", "external NATS server URL (env "+envNATSURL+"); empty starts an embedded server over --data")
		d.NATSAuth.Register(fs)
	}
	d.fs = fs
	fs.StringVar(&d.LogFormat, "log-format", "auto", "log format: auto (text on a terminal, json otherwise), text or json")
}

func (d *dataFlags) validate() error {
	if d.fs != nil {
		set := map[string]bool{}
		d.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		// The flags' variables (FOLIO_NATS_URL, FOLIO_CLICKHOUSE_DSN,
		// FOLIO_NATS_USER...) were applied by internal/config at parse
		// time; the ClickHouse password has no flag, only variables.
		d.ClickHouseSecrets.applyEnv(set)
	}
	if err := d.NATSAuth.Validate(); err != nil {
		return err
	}
	if d.DataDir == "" {
		return errors.New("--data is empty")
	}
	switch d.LogFormat {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want auto, text or json", d.LogFormat)
	}
	return nil
}

func (d *dataFlags) storePath() string { return filepath.Join(d.DataDir, sqlite.FileName) }

// projectorStore is the store the projector writes, with its readiness
// check.
type projectorStore interface {
	store.Store
	Ping(ctx context.Context) error
}

// chStore adds a readiness check to the ClickHouse store.
type chStore struct{ *clickhouse.Store }

func (c chStore) Ping(ctx context.Context) error {
	_, err := c.Accounts(ctx)
	return err
}

// openStore opens the ClickHouse store when a DSN is set, else the SQLite
// store in the data directory.
func (d *dataFlags) openStore(ctx context.Context, busy time.Duration, log *slog.Logger) (projectorStore, string, error) {
	if d.ClickHouse != "" {
		dsn, opts, err := d.ClickHouseSecrets.apply(d.ClickHouse)
		if err != nil {
			return nil, "", err
		}
		opts.Logger = log
		st, err := clickhouse.New(ctx, dsn, opts)
		if err != nil {
			return nil, "", scrubDSN(err, dsn)
		}
		return chStore{st}, "clickhouse database " + st.Database(), nil
	}
	st, err := sqlite.OpenOptions(ctx, d.storePath(), sqlite.Options{BusyTimeout: busy, Logger: log})
	if err != nil {
		return nil, "", err
	}
	return st, st.Path(), nil
}

// newLogger returns the process logger: slog to stderr.
func newLogger(format string, stderr io.Writer) *slog.Logger {
	if format == "auto" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	// FOLIO_LOG_LEVEL=debug adds one line per store write (its latency;
	// cmd/foliobench reads them).
	opts := &slog.HandlerOptions{}
	if v := os.Getenv(envLogLevel); v != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err == nil {
			opts.Level = l
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

// envLogLevel sets the log level (debug, info, warn, error; default info).
const envLogLevel = "FOLIO_LOG_LEVEL"

// broker is a connection to NATS and, when it started one, the embedded
// server behind it.
type broker struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// connect reaches the server at url (with auth[0], when given, for its
// credentials and TLS), or starts an embedded one over dataDir/nats
// listening on loopback at port (0: natsembed.DefaultPort, -1: any free
// port).
func connect(url, dataDir string, port int, log *slog.Logger, auth ...natsconn.Auth) (*broker, error) {
	b := &broker{}
	if url == "" {
		srv, err := natsembed.Start(natsembed.Config{
			StoreDir:   filepath.Join(dataDir, natsDir),
			Port:       port,
			SyncAlways: true,
			ServerName: "foliostream",
			Logger:     log,
		})
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = srv.ClientURL()
		log.Info("embedded NATS server listening", "url", url, "store", filepath.Join(dataDir, natsDir))
	}
	ncfg := natsconn.Config{URL: url, Name: "foliostream-projector", Timeout: 5 * time.Second, Logger: log}
	if b.srv == nil && len(auth) > 0 {
		ncfg.Auth = auth[0] // the embedded server is ours, on loopback, without credentials
	}
	nc, err := natsconn.Connect(ncfg)
	if err != nil {
		b.close()
		return nil, err
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.js = js
	return b, nil
}

// url is the server's URL without credentials, for logs.
func (b *broker) url() string { return natsconn.Redact(b.nc.ConnectedUrlRedacted()) }

func (b *broker) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// pauseHook builds the Pause function of projector.Config from the value of
// envPauseAt ("" means none).
func pauseHook(spec string, stderr io.Writer) (func(ctx context.Context, point string), error) {
	if spec == "" {
		return nil, nil
	}
	point, n := spec, 1
	if p, count, ok := strings.Cut(spec, ":"); ok {
		v, err := strconv.Atoi(count)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%s=%q: want POINT or POINT:N with N ≥ 1", envPauseAt, spec)
		}
		point, n = p, v
	}
	switch point {
	case "buffered", "written", "acked", "phase2", "completed":
	default:
		return nil, fmt.Errorf("%s=%q: unknown point %q", envPauseAt, spec, point)
	}
	seen := 0
	return func(ctx context.Context, p string) {
		if p != point {
			return
		}
		seen++
		if seen != n {
			return
		}
		fmt.Fprintf(stderr, "%s %s\n", pauseMarker, spec)
		<-ctx.Done()
	}, nil
}
