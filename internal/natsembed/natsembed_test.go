package natsembed_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartPublishesAndPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	srv, err := natsembed.Start(natsembed.Config{Port: natsembed.RandomPort, StoreDir: dir, SyncAlways: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want loopback", srv.ClientURL())
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	// A new server on the same store finds the message.
	srv2, err := natsembed.Start(natsembed.Config{Port: natsembed.RandomPort, StoreDir: dir, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Shutdown(); srv2.WaitForShutdown() })
	nc2, err := nats.Connect(srv2.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	s, err := js2.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "hello" {
		t.Fatalf("got %q want hello", msg.Data)
	}
}

func TestMaxPayloadEnforced(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{MaxPayload: 4096})
	if got := env.Conn.MaxPayload(); got != 4096 {
		t.Fatalf("client sees max payload %d want 4096", got)
	}
	err := env.Conn.Publish("x", make([]byte, 4097))
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("publish over max payload: got %v want ErrMaxPayload", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsembed.Config
		want error
	}{
		{"no store", natsembed.Config{}, natsembed.ErrNoStoreDir},
		{"ok", natsembed.Config{StoreDir: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v want %v", err, tt.want)
			}
		})
	}
	if err := (natsembed.Config{StoreDir: "x", Port: 70000}).Validate(); err == nil {
		t.Fatal("port 70000 accepted")
	}
	if _, err := natsembed.Start(natsembed.Config{}); !errors.Is(err, natsembed.ErrNoStoreDir) {
		t.Fatalf("Start without store: %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	port := env.Server.Addr().(*net.TCPAddr).Port
	_, err := natsembed.Start(natsembed.Config{Port: port, StoreDir: t.TempDir(), NoLog: true, ReadyTimeout: time.Second})
	if !errors.Is(err, natsembed.ErrNotReady) {
		t.Fatalf("second server on port %d: got %v want ErrNotReady", port, err)
	}
}

func TestLoggerReceivesServerLines(t *testing.T) {
	var buf proctest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	srv, err := natsembed.Start(natsembed.Config{Port: natsembed.RandomPort, StoreDir: t.TempDir(), Logger: log, ReadyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	out := buf.String()
	if !strings.Contains(out, "component=nats-server") || !strings.Contains(out, "JetStream") {
		t.Fatalf("server lines not logged through slog:\n%s", out)
	}
}
