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
	"github.com/foliostream/foliostream/internal/natsconn"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Exit statuses of ingest (import, watch, status). analyze.go documents its
// own, which agree on 1 and 2.
const (
	exitFailed      = 1 // an import failed, or a file has invalid rows (nothing published)
	exitBadUsage    = 2 // bad flags or arguments
	exitNotImported = 3 // a file cannot be read or is not a statement
	exitCancelled   = 4 // interrupted (SIGINT/SIGTERM): the session is resumable
	exitWaitTimeout = 5 // --wait gave up before the projector completed the session
)

// Defaults and environment variables.
const (
	// defaultNATSURL is where `projector run` serves its embedded server.
	defaultNATSURL = "nats://127.0.0.1:4222"
	// embeddedURL as --nats starts a server in this process over --data.
	embeddedURL = "embedded"
	envNATSURL  = "FOLIO_NATS_URL"
	// envPauseAt names a fault-injection point where the import prints
	// pauseMarker and blocks until interrupted: "started", "chunk:N" (N is
	// a chunk ordinal) or "before-sealed". For tests that kill ingest at a
	// precise point.
	envPauseAt  = "FOLIO_INGEST_PAUSE_AT"
	pauseMarker = "FOLIO_INGEST_PAUSED"
)

// connFlags are the flags every NATS-using subcommand shares.
type connFlags struct {
	// URL of the NATS server, or "embedded".
	URL string
	// DataDir holds the embedded server's store (DataDir/nats).
	DataDir string
	// LogFormat is auto, text or json.
	LogFormat string
	// ConnectTimeout bounds reaching the server.
	ConnectTimeout time.Duration
	// Auth is the credentials and TLS of an external server (flags and
	// env FOLIO_NATS_USER... of package natsconn).
	Auth natsconn.Auth
	// Stream is how a missing stream and bucket are created (flags of
	// import and watch, registered by registerImportFlags).
	Stream streamFlags
}

func (c *connFlags) register(fs *flag.FlagSet) {
	// The default is not taken from the environment here (validate does):
	// --help must never print a URL with credentials in it.
	fs.StringVar(&c.URL, "nats", defaultNATSURL,
		"NATS server URL (env "+envNATSURL+"); the default is the projector's embedded server; \""+embeddedURL+"\" starts one in this process over --data")
	fs.StringVar(&c.DataDir, "data", "data", "data directory for --nats "+embeddedURL+" (store in DIR/nats)")
	fs.StringVar(&c.LogFormat, "log-format", "auto", "log format: auto (text on a terminal, json otherwise), text or json")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 5*time.Second, "how long to try to reach the NATS server")
	c.Auth.Register(fs)
}

func (c *connFlags) validate() error {
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want auto, text or json", c.LogFormat)
	}
	if c.URL == "" {
		return errors.New("--nats: empty URL")
	}
	if err := c.Stream.validate(); err != nil {
		return err
	}
	// The environment (FOLIO_NATS_URL, FOLIO_NATS_USER...) was applied to
	// the flags by internal/config when they were parsed.
	return c.Auth.Validate()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// newLogger logs to stderr: text at warn level on a terminal (the progress
// bar says the rest), JSON at info level otherwise.
func newLogger(format string, stderr io.Writer) *slog.Logger {
	tty := isTerminal(stderr)
	if format == "auto" {
		format = "json"
		if tty {
			format = "text"
		}
	}
	level := slog.LevelInfo
	if tty {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// conn is a connection to JetStream with the stream and bucket ensured.
type conn struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	sessions *streams.Sessions
	srv      *server.Server // the embedded server, if any
}

func (c *conn) Close() {
	if c.nc != nil {
		c.nc.Close()
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// connectOptions say what connect prepares.
type connectOptions struct {
	// maxPending bounds async publishes in flight (0: none are made).
	maxPending int
	// ensure creates the stream and the bucket when missing.
	ensure bool
}

// connect reaches the server (or starts the embedded one) and opens the
// session bucket.
func connect(ctx context.Context, cf connFlags, log *slog.Logger, o connectOptions) (*conn, error) {
	c := &conn{}
	url := cf.URL
	if url == embeddedURL {
		srv, err := natsembed.Start(natsembed.Config{
			StoreDir: filepath.Join(cf.DataDir, "nats"), Port: natsembed.RandomPort, SyncAlways: true,
			Logger: log.With("component", "nats-server"),
		})
		if err != nil {
			return nil, err
		}
		c.srv = srv
		url = srv.ClientURL()
	}
	ncfg := natsconn.Config{URL: url, Name: "foliostream-ingest", Timeout: cf.ConnectTimeout,
		ReconnectWait: 500 * time.Millisecond, Logger: log}
	if c.srv == nil {
		ncfg.Auth = cf.Auth // the embedded server is ours, on loopback, without credentials
	}
	nc, err := natsconn.Connect(ncfg)
	if err != nil {
		c.Close()
		hint := ""
		if cf.URL == defaultNATSURL {
			hint = " (is `projector run` running? or pass --nats URL, or --nats " + embeddedURL + ")"
		}
		return nil, fmt.Errorf("%w%s", err, hint)
	}
	c.nc = nc
	var jsOpts []jetstream.JetStreamOpt
	if o.maxPending > 0 {
		jsOpts = append(jsOpts, jetstream.WithPublishAsyncMaxPending(o.maxPending),
			jetstream.WithPublishAsyncTimeout(streams.DefaultAckTimeout))
	}
	js, err := jetstream.New(nc, jsOpts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.js = js
	if o.ensure {
		// Use the stream as it is when it exists (the projector may run it
		// with other settings); create it with the defaults otherwise.
		if _, err := js.Stream(ctx, events.StreamName); errors.Is(err, jetstream.ErrStreamNotFound) {
			if _, err := streams.EnsureStream(ctx, js, cf.Stream.config()); err != nil {
				c.Close()
				return nil, err
			}
		} else if err != nil {
			c.Close()
			return nil, fmt.Errorf("look up stream %s: %w", events.StreamName, err)
		}
		c.sessions, err = openOrCreateSessions(ctx, js, cf.Stream)
	} else {
		c.sessions, err = streams.OpenSessions(ctx, js)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// pauseHook implements envPauseAt: at the named point it prints the marker
// on stderr and blocks until ctx ends.
func pauseHook(point string, stderr io.Writer) func(ctx context.Context, p string) {
	if point == "" {
		return nil
	}
	return func(ctx context.Context, p string) {
		if p != point {
			return
		}
		fmt.Fprintf(stderr, "%s %s\n", pauseMarker, p)
		<-ctx.Done()
	}
}

// parseInterleaved parses flags that may come before or after the
// positional arguments and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	b := bindConfig(fs) // environment and --config file
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, b.Apply()
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
