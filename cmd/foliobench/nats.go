package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/foliostream/foliostream/internal/natsembed"
)

// cmdNATS runs the embedded NATS server as its own process until
// interrupted, printing "NATS_URL <url>" on stdout once it accepts
// connections: `foliobench nats --store DIR [--port N] [--sync=true]`.
func cmdNATS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", "", "JetStream store directory (required)")
	port := fs.Int("port", natsembed.RandomPort, "client port (-1: any free port)")
	sync := fs.Bool("sync", true, "fsync every write (SyncAlways), as `projector run`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := natsembed.Start(natsembed.Config{
		StoreDir: *store, Port: *port, SyncAlways: *sync, ServerName: "foliobench",
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "NATS_URL", srv.ClientURL())
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
