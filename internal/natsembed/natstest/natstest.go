// Package natstest starts an embedded JetStream server for a test: a random
// loopback port, a store under t.TempDir(), no logs, and shutdown (client
// first, then server) in t.Cleanup. Every test gets its own server, so
// streams and buckets never collide between tests.
//
//	env := natstest.Run(t, natsembed.Config{})
//	s, err := streams.EnsureStream(ctx, env.JS, streams.Config{})
package natstest

import (
	"testing"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Env is a running server and one client connected to it.
type Env struct {
	Server *server.Server
	// URL is the server's client URL.
	URL  string
	Conn *nats.Conn
	JS   jetstream.JetStream
}

// Run starts a server for t. Zero fields of cfg get test defaults: Port
// RandomPort, StoreDir t.TempDir(), NoLog unless a Logger is given.
func Run(t testing.TB, cfg natsembed.Config) *Env {
	t.Helper()
	if cfg.Port == 0 {
		cfg.Port = natsembed.RandomPort
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.NoLog = true
	}
	srv, err := natsembed.Start(cfg)
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	env := &Env{Server: srv, URL: srv.ClientURL()}
	t.Cleanup(func() {
		if env.Conn != nil {
			env.Conn.Close()
		}
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	nc, err := nats.Connect(env.URL)
	if err != nil {
		t.Fatalf("connect %s: %v", env.URL, err)
	}
	env.Conn = nc
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	env.JS = js
	return env
}
