package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// observer is the HTTP side of `ingest watch --listen`: /metrics,
// /healthz and /readyz.
type observer struct {
	ln      net.Listener
	reg     *prometheus.Registry
	metrics *metrics.Ingest
	log     *slog.Logger
}

// listen opens addr for the observer ("" means none: nil, nil).
func listen(addr string, log *slog.Logger) (*observer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	reg := metrics.NewRegistry()
	o := &observer{ln: ln, reg: reg, metrics: metrics.NewIngest(reg), log: log}
	log.Info("metrics and health endpoints listening", "addr", ln.Addr().String())
	return o, nil
}

// ready is the readiness check of ingest: connected to NATS, and JetStream
// answers for the stream.
func (c *conn) ready(ctx context.Context) error {
	if !c.nc.IsConnected() {
		return fmt.Errorf("NATS connection %s", c.nc.Status())
	}
	if _, err := c.js.Stream(ctx, events.StreamName); err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamName, err)
	}
	return nil
}

// serve serves until ctx ends: GET /healthz (the process is up), GET /readyz
// (ready returns nil; 503 with the reason otherwise) and GET /metrics.
func (o *observer) serve(ctx context.Context, ready func(context.Context) error) error {
	mux := http.NewServeMux()
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
	mux.Handle("GET /metrics", metrics.Handler(o.reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(o.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http endpoints: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		o.log.Warn("http endpoints shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http endpoints: %w", err)
	}
	return nil
}
