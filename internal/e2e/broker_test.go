package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATSProc starts nats-server with config and waits until it accepts
// connections on port (opts are the client options to probe it with).
func startNATSProc(t *testing.T, config string, port int, opts ...nats.Option) *proctest.Proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, natsServerBinary(t), "-c", path)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	proctest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("nats-server exited:\n%s", p.Stderr.String())
		default:
		}
		nc, err := nats.Connect(url, append(opts, nats.Timeout(time.Second))...)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		_, err = js.AccountInfo(t.Context())
		return err
	})
	return p
}

// jetStreamConfig is a nats-server configuration with JetStream over
// storeDir, fsync on every write, on loopback at port.
func jetStreamConfig(port int, storeDir string, extra string) string {
	return fmt.Sprintf(`listen: "127.0.0.1:%d"
jetstream {
  store_dir: %q
  sync_interval: always
}
%s
`, port, storeDir, extra)
}

// bigStatement writes a synthetic statement of many weekly chunks (one
// trading row a day over about three years): publishing and projecting it
// takes long enough for a broker outage to land in the middle.
func bigStatement(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if _, err := synth.Tastytrade(w, synth.Config{Seed: 77, Rows: 900, Tickers: 6, RowsPerDay: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// broker is a NATS server a restart test can stop and start again on the
// same port and store.
type restartable interface {
	stop(t *testing.T)
	start(t *testing.T)
}

// embeddedBroker is the embedded server in the test process, shut down
// cleanly and restarted on the same store directory.
type embeddedBroker struct {
	port  int
	store string
	srv   *server.Server
}

func (b *embeddedBroker) start(t *testing.T) {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: b.store, Port: b.port, SyncAlways: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = srv
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
}

func (b *embeddedBroker) stop(t *testing.T) {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// processBroker is nats-server in its own process, killed with SIGKILL (a
// crash: nothing flushed on the way out) and started again.
type processBroker struct {
	port  int
	store string
	proc  *proctest.Proc
}

func (b *processBroker) start(t *testing.T) {
	t.Helper()
	b.proc = startNATSProc(t, jetStreamConfig(b.port, b.store, ""), b.port)
}

func (b *processBroker) stop(t *testing.T) { b.proc.Kill() }

// The broker goes away in the middle of an import and of its projection,
// and comes back on the same port with the same store, twice: as the
// embedded server shut down and restarted, and as a separate nats-server
// process killed with SIGKILL and restarted. The ingest and projector
// processes must ride it out by themselves: ingest seals the session (exit
// 0), the projector completes it, the stream holds every message once, and
// the store equals a clean run's.
func TestBrokerRestart(t *testing.T) {
	file := bigStatement(t)
	want := reference(t, "acct", file)
	for _, tc := range []struct {
		name string
		new  func(port int, store string) restartable
	}{
		{"embedded", func(port int, store string) restartable { return &embeddedBroker{port: port, store: store} }},
		{"nats-server process killed", func(port int, store string) restartable { return &processBroker{port: port, store: store} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := proctest.FreePort(t)
			url := fmt.Sprintf("nats://127.0.0.1:%d", port)
			b := tc.new(port, t.TempDir())
			b.start(t)
			setup, err := nats.Connect(url)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := jetstream.New(setup)
			if _, err := streams.EnsureStream(t.Context(), js, streams.Config{}); err != nil {
				t.Fatal(err)
			}
			sessions, err := streams.EnsureSessions(t.Context(), js)
			if err != nil {
				t.Fatal(err)
			}
			setup.Close()

			dir := t.TempDir()
			p := startProjector(t, url, dir, nil)
			ing := startIngest(t, nil, "--nats", url, "--account", "acct", "--max-in-flight", "1", "--log-format", "json", file)

			// Down in the middle: some chunks published and some projected.
			proctest.CheckFor(t, 60*time.Second, 5*time.Millisecond, func() error {
				published, acked, err := progressOf(url)
				if err != nil || published < 40 || acked < 10 {
					return fmt.Errorf("%d chunks in the stream, %d acknowledged by the projector (%v)", published, acked, err)
				}
				t.Logf("broker down with %d chunk messages in the stream, %d messages projected", published, acked)
				return nil
			})
			b.stop(t)
			for _, who := range []struct {
				name string
				log  func() string
			}{{"ingest", ing.Stderr.String}, {"projector", p.Stderr.String}} {
				proctest.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
					select {
					case <-ing.Done():
						return fmt.Errorf("ingest exited during the outage: %v\n%s", ing.Err(), ing.Stderr.String())
					default:
					}
					if !strings.Contains(who.log(), "disconnected from NATS") {
						return fmt.Errorf("%s has not noticed the outage", who.name)
					}
					return nil
				})
			}
			b.start(t)

			if code := ing.ExitCode(t); code != 0 {
				t.Fatalf("ingest exited %d after the broker came back:\n%s", code, ing.Stderr.String())
			}
			id := sessionIDFrom(t, ing.Stdout.String())
			nc, err := nats.Connect(url)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ = jetstream.New(nc)
			sessions, err = streams.OpenSessions(t.Context(), js)
			if err != nil {
				t.Fatal(err)
			}
			pl := &pipeline{sessions: sessions}
			pl.waitCompleted(t, id)
			proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error { return allAcked(t, js) })
			for _, s := range []string{"reconnected to NATS"} {
				if !strings.Contains(p.Stderr.String(), s) || !strings.Contains(ing.Stderr.String(), s) {
					t.Errorf("no %q in the logs", s)
				}
			}
			p.Stop(t)
			requireNoDuplicates(t, js)
			requireSameDump(t, dump(t, filepath.Join(dir, "folio.db")), want)
		})
	}
}

// progressOf returns the number of chunk messages in the stream and the
// projector consumer's ack floor (a connection of its own).
func progressOf(url string) (published, acked uint64, err error) {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return 0, 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("folio.chunk.>"))
	if err != nil {
		return 0, 0, err
	}
	c, err := s.Consumer(ctx, "projector")
	if err != nil {
		return info.State.Msgs, 0, err
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return info.State.Msgs, 0, err
	}
	return info.State.Msgs, ci.AckFloor.Stream, nil
}
