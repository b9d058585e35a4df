// Package natsembed runs the real nats-server, with JetStream, inside the
// calling process. It is the default broker of foliostream: the projector
// starts one under its data directory so that one command runs the whole
// pipeline, ingest reaches it at nats://127.0.0.1:4222, and every test that
// needs NATS starts one on a random port in a temporary directory.
//
// # Starting a server
//
//	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, SyncAlways: true, Logger: log})
//	if err != nil { ... }
//	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
//	nc, err := nats.Connect(srv.ClientURL())
//
// [Start] returns only once the server accepts connections. ClientURL is the
// *server.Server method: the URL clients connect to ("nats://127.0.0.1:4222").
//
// # In tests
//
// Use Port -1 (a random free port), a per-test store and shut the server down
// in t.Cleanup (package [github.com/foliostream/foliostream/internal/natsembed/natstest]
// does exactly this and also connects a client):
//
//	srv, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: t.TempDir(), NoLog: true})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
//
// SyncAlways (fsync on every write) is what a real run wants: an
// acknowledged publish then survives a power loss. Tests usually leave it off
// (it only costs time there); the crash tests of cmd/ingest kill the client,
// not the server, so they do not need it either.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults.
const (
	// DefaultHost is the interface the server listens on: loopback only.
	DefaultHost = "127.0.0.1"
	// DefaultPort is NATS's standard client port.
	DefaultPort = 4222
	// DefaultReadyTimeout bounds how long Start waits for the server.
	DefaultReadyTimeout = 10 * time.Second
)

// RandomPort asks for any free port (Config.Port).
const RandomPort = -1

// Errors.
var (
	// ErrNoStoreDir: Config.StoreDir is empty.
	ErrNoStoreDir = errors.New("natsembed: store directory required")
	// ErrNotReady: the server did not accept connections in time.
	ErrNotReady = errors.New("natsembed: server not ready for connections")
)

// Config configures an embedded server.
type Config struct {
	// StoreDir is where JetStream keeps its files (required). The server
	// creates it if needed.
	StoreDir string
	// Host is the listen address; "" means DefaultHost (loopback).
	Host string
	// Port is the client port: 0 means DefaultPort, RandomPort (-1) any
	// free port (read it back with ClientURL).
	Port int
	// SyncAlways makes the file store fsync every write before the publish is
	// acknowledged. A real run sets it; tests may leave it off.
	SyncAlways bool
	// MaxPayload is the largest message the server accepts, in bytes; 0
	// means the server default (1 MiB). The chunker's byte budget must stay
	// below it.
	MaxPayload int32
	// MaxStore bounds JetStream's file storage in bytes; 0 means no limit
	// beyond the disk.
	MaxStore int64
	// ServerName names the server in logs and monitoring; "" lets the server
	// pick one.
	ServerName string
	// NoLog silences the server entirely.
	NoLog bool
	// Logger receives the server's log lines (notice → Info, warn → Warn,
	// error/fatal → Error, debug/trace → Debug). nil with NoLog false means
	// the lines are discarded too.
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the server; 0 means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
}

// Validate reports a configuration Start would refuse.
func (c Config) Validate() error {
	if c.StoreDir == "" {
		return ErrNoStoreDir
	}
	if c.Port < RandomPort || c.Port > 65535 {
		return fmt.Errorf("natsembed: port %d out of range", c.Port)
	}
	if c.MaxPayload < 0 {
		return fmt.Errorf("natsembed: negative max payload %d", c.MaxPayload)
	}
	return nil
}

// Options returns the nats-server options Start uses for cfg (defaults
// applied). It is exported for callers that need to adjust something Config
// does not cover before calling [StartOptions].
func Options(cfg Config) *server.Options {
	cfg.setDefaults()
	return &server.Options{
		ServerName:        cfg.ServerName,
		Host:              cfg.Host,
		Port:              cfg.Port,
		JetStream:         true,
		StoreDir:          cfg.StoreDir,
		SyncAlways:        cfg.SyncAlways,
		MaxPayload:        cfg.MaxPayload,
		JetStreamMaxStore: cfg.MaxStore,
		NoLog:             cfg.NoLog || cfg.Logger == nil,
		// The process owns its signals (signal.NotifyContext in main).
		NoSigs: true,
	}
}

// Start starts an embedded nats-server with JetStream and returns once it
// accepts client connections. The caller stops it with Shutdown and
// WaitForShutdown.
func Start(cfg Config) (*server.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return start(Options(cfg), cfg)
}

// StartOptions starts a server from explicit options (see [Options]); logger
// and timeout are as in Config.
func StartOptions(opts *server.Options, logger *slog.Logger, readyTimeout time.Duration) (*server.Server, error) {
	cfg := Config{StoreDir: opts.StoreDir, Logger: logger, NoLog: opts.NoLog, ReadyTimeout: readyTimeout}
	cfg.setDefaults()
	return start(opts, cfg)
}

func start(opts *server.Options, cfg Config) (*server.Server, error) {
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	if !cfg.NoLog && cfg.Logger != nil {
		debug := cfg.Logger.Enabled(context.Background(), slog.LevelDebug)
		srv.SetLoggerV2(&slogLogger{l: cfg.Logger}, debug, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: %s:%d after %s (store %s)", ErrNotReady, opts.Host, opts.Port, cfg.ReadyTimeout, opts.StoreDir)
	}
	return srv, nil
}

// slogLogger adapts slog to nats-server's Logger.
type slogLogger struct{ l *slog.Logger }

func (s *slogLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(format, v...), "component", "nats-server")
}

func (s *slogLogger) Noticef(format string, v ...any) { s.log(slog.LevelInfo, format, v) }
func (s *slogLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s *slogLogger) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *slogLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *slogLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s *slogLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
