package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/streams"
)

// runningProjector is `projector run` in this process.
type runningProjector struct {
	cancel context.CancelFunc
	done   chan error
	stderr *proctest.SyncBuffer
	addr   string // --listen's address, once known
}

var listening = regexp.MustCompile(`"msg":"health endpoints listening","addr":"([^"]+)"`)

// startRun runs `projector run args...` until stop; with --listen it waits
// for the HTTP address. Without --listen (or FOLIO_LISTEN) it passes
// --listen off, so that parallel tests never compete for the default port.
func startRun(t *testing.T, args ...string) *runningProjector {
	t.Helper()
	i := slices.Index(args, "--listen")
	listen := i >= 0 && i+1 < len(args) && args[i+1] != "" && args[i+1] != "off"
	if _, env := os.LookupEnv("FOLIO_LISTEN"); i < 0 && !env {
		args = append([]string{"--listen", "off"}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningProjector{cancel: cancel, done: make(chan error, 1), stderr: &proctest.SyncBuffer{}}
	go func() {
		r.done <- dispatch(ctx, append([]string{"run", "--log-format", "json"}, args...), io.Discard, r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	if listen {
		proctest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			select {
			case err := <-r.done:
				t.Fatalf("projector run ended: %v\n%s", err, r.stderr.String())
			default:
			}
			m := listening.FindStringSubmatch(r.stderr.String())
			if m == nil {
				return errors.New("not listening yet")
			}
			r.addr = m[1]
			return nil
		})
		if want := `"console":"http://` + r.addr + `/"`; !strings.Contains(r.stderr.String(), want) {
			t.Errorf("the log does not name the console's URL (%s):\n%s", want, r.stderr.String())
		}
	}
	return r
}

// stop cancels the run, as SIGTERM does, and returns its error.
func (r *runningProjector) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("projector run did not stop within 30s")
	}
	return nil
}

func (r *runningProjector) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return proctest.Get(t, "http://"+r.addr+path)
}

const opsStatement = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n"

// importStatement publishes a statement of deposits spread over weeks into
// account and returns its session ID.
func importStatement(t *testing.T, env *natstest.Env, account string, rows int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(opsStatement)
	start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := rows - 1; i >= 0; i-- {
		date := start.AddDate(0, 0, 3*i).Format("2006-01-02T15:04:05") + "+0000"
		fmt.Fprintf(&b, "%s,Money Movement,Deposit,,,,ACH DEPOSIT %d,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n", date, i, 100+i, 100+i)
	}
	path := filepath.Join(t.TempDir(), account+".csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	kv, err := streams.OpenSessions(t.Context(), env.JS)
	if err != nil {
		kv, err = streams.EnsureSessions(t.Context(), env.JS)
	}
	if err != nil {
		t.Fatal(err)
	}
	im := &streams.Importer{JS: env.JS, Sessions: kv}
	res, err := im.Import(t.Context(), streams.Request{Path: path, Account: account, Broker: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Session.ID
}

func waitStoreCompleted(t *testing.T, dbPath string, ids ...string) *sqlite.Store {
	t.Helper()
	var st *sqlite.Store
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st == nil {
			s, err := sqlite.OpenReadOnly(t.Context(), dbPath)
			if err != nil {
				return err
			}
			st = s
			t.Cleanup(func() { st.Close() })
		}
		for _, id := range ids {
			s, err := st.Session(t.Context(), id)
			if err != nil {
				return err
			}
			if s.Phase != store.PhaseCompleted {
				return fmt.Errorf("session %s is %s", id, s.Phase)
			}
		}
		return nil
	})
	return st
}

// TestRunServesMetrics: `projector run --listen` serves /healthz, /readyz
// and /metrics with the projector's measurements, and stops cleanly when
// its context ends (SIGTERM).
func TestRunServesMetrics(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(t.Context(), env.JS, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	id := importStatement(t, env, "acct", 40)
	data := t.TempDir()
	r := startRun(t, "--nats", env.URL, "--data", data, "--listen", "127.0.0.1:0", "--batch-age", "20ms",
		"--backoff", "2s", "--lag-interval", "50ms")
	st := waitStoreCompleted(t, filepath.Join(data, sqlite.FileName), id)
	ms, err := store.AccountMovements(t.Context(), st, "acct")
	if err != nil || len(ms) != 40 {
		t.Fatalf("%d movements stored, %v", len(ms), err)
	}
	session, err := st.Session(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	if code, body := r.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	proctest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if code, body := r.get(t, "/readyz"); code != 200 {
			return fmt.Errorf("/readyz: %d %q", code, body)
		}
		return nil
	})
	want := map[string]float64{
		`foliostream_movements_persisted_total`:      40,
		`foliostream_chunks_persisted_total`:         float64(session.TotalChunks),
		`foliostream_messages_total{type="chunk"}`:   float64(session.TotalChunks),
		`foliostream_messages_total{type="session"}`: 2,
		`foliostream_messages_total{type="poison"}`:  0,
		`foliostream_sessions_completed_total`:       1,
		`foliostream_dead_letters_total`:             0,
		`foliostream_consumer_pending_messages`:      0,
		`foliostream_consumer_ack_pending_messages`:  0,
	}
	proctest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		code, body := r.get(t, "/metrics")
		if code != 200 {
			return fmt.Errorf("/metrics: %d", code)
		}
		for sample, v := range want {
			got, ok := proctest.MetricValue(body, sample)
			if !ok || got != v {
				return fmt.Errorf("%s = %v (present %v), want %v", sample, got, ok, v)
			}
		}
		for _, hist := range []string{"foliostream_store_write_duration_seconds_count", "foliostream_phase2_duration_seconds_count"} {
			if n, ok := proctest.MetricValue(body, hist); !ok || n < 1 {
				return fmt.Errorf("%s = %v", hist, n)
			}
		}
		return nil
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("run after its context ended: %v", err)
	}
	if !strings.Contains(r.stderr.String(), `"msg":"projector stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", r.stderr.String())
	}
}

// TestRunConfigFileAndPartition: a --config file sets run's flags, the
// environment beats it, and --partition consumes one partition of a
// partitioned stream with its own durable consumer and filters.
func TestRunConfigFileAndPartition(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	cfgPath := filepath.Join(t.TempDir(), "foliostream.yaml")
	conf := "nats: " + env.URL + "\nlog-format: json\nrun:\n  durable: fromfile\n  partition: 1/2\n  batch-size: 5\n  nats-port: -1\n"
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOLIO_DURABLE", "fromenv") // the environment beats the file
	data := t.TempDir()
	startRun(t, "--config", cfgPath, "--data", data, "--batch-age", "20ms", "--backoff", "2s")
	var filters []string
	proctest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		c, err := env.JS.Consumer(t.Context(), events.StreamName, "fromenv-1of2")
		if err != nil {
			return err
		}
		ci, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		filters = ci.Config.FilterSubjects
		return nil
	})
	if want := (partition.Spec{Index: 1, Count: 2}).FilterSubjects(); strings.Join(filters, " ") != strings.Join(want, " ") {
		t.Errorf("filters %v, want %v", filters, want)
	}
	s, err := env.JS.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if tr := s.CachedInfo().Config.SubjectTransform; tr == nil || tr.Destination != partition.TransformDestination {
		t.Errorf("the projector created the stream without the partition transform: %+v", tr)
	}

	// An account of partition 1 is projected by it.
	var account string
	for _, a := range []string{"a1", "a2", "a3", "a4", "a5", "a6"} {
		if (partition.Spec{Index: 1, Count: 2}).Owns(a) {
			account = a
		}
	}
	id := importStatement(t, env, account, 12)
	waitStoreCompleted(t, filepath.Join(data, sqlite.FileName), id)
}

// TestRunRefusesPartitionOfPlainStream: --partition on a stream created
// without the transform would consume nothing; it is refused (exit 2).
func TestRunRefusesPartitionOfPlainStream(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(t.Context(), env.JS, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := dispatch(t.Context(), []string{"run", "--nats", env.URL, "--data", t.TempDir(), "--partition", "0/2", "--log-format", "json", "--listen", "off"}, io.Discard, &stderr)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !errors.Is(err, errNotPartitioned) {
		t.Fatalf("run --partition on a plain stream: %v (stderr %s)", err, stderr.String())
	}
	for _, bad := range [][]string{{"--partition", "2/2"}, {"--partition", "0/2", "--accounts", "a"}, {"--stream-replicas", "0"}} {
		err := dispatch(t.Context(), append([]string{"run", "--nats", env.URL, "--data", t.TempDir()}, bad...), io.Discard, io.Discard)
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("run %v: %v, want a usage error", bad, err)
		}
	}
}

// TestHelpNamesVariables: every flag of every subcommand shows its
// environment variable in --help.
func TestHelpNamesVariables(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -([a-z][a-z0-9-]*)`)
	for _, sub := range []string{"run", "replay", "snapshots", "compute", "demo"} {
		var stderr bytes.Buffer
		dispatch(t.Context(), []string{sub, "--help"}, io.Discard, &stderr)
		lines := strings.Split(stderr.String(), "\n")
		n := 0
		for i, line := range lines {
			m := flagLine.FindStringSubmatch(line)
			if m == nil || m[1] == "v" {
				continue
			}
			n++
			usage := line
			if i+1 < len(lines) {
				usage += lines[i+1]
			}
			if !strings.Contains(usage, "(env FOLIO_") && !strings.Contains(usage, "env FOLIO_") {
				t.Errorf("%s --help: -%s names no variable: %q", sub, m[1], usage)
			}
		}
		if n < 3 {
			t.Errorf("%s --help lists %d flags:\n%s", sub, n, stderr.String())
		}
	}
}

// TestRunListenDefault: `projector run` serves the console on loopback
// port 8080 unless told otherwise; --listen "" or off, or FOLIO_LISTEN=off
// (the flag's variable), serve nothing.
func TestRunListenDefault(t *testing.T) {
	var help bytes.Buffer
	dispatch(t.Context(), []string{"run", "--help"}, io.Discard, &help)
	if want := `(default "127.0.0.1:8080")`; !strings.Contains(help.String(), want) {
		t.Errorf("run --help does not show the default %s:\n%s", want, help.String())
	}
	env := natstest.Run(t, natsembed.Config{})
	for _, tt := range []struct {
		name string
		env  string
		args []string
	}{
		{"--listen off", "", []string{"--listen", "off"}},
		{`--listen ""`, "", []string{"--listen", ""}},
		{"FOLIO_LISTEN=off", "off", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("FOLIO_LISTEN", tt.env)
			}
			r := startRun(t, append([]string{"--nats", env.URL, "--data", t.TempDir()}, tt.args...)...)
			proctest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
				if !strings.Contains(r.stderr.String(), `"msg":"projector consuming"`) {
					return errors.New("not consuming yet")
				}
				return nil
			})
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(r.stderr.String(), "health endpoints listening") {
				t.Errorf("listening although disabled:\n%s", r.stderr.String())
			}
		})
	}
}

// TestRunConfigReachesProjector: the batching and phase-2 flags end up in
// the projector's configuration.
func TestRunConfigReachesProjector(t *testing.T) {
	c := runConfig{BatchSize: 7, BatchAge: time.Second, BatchIdle: 3 * time.Millisecond,
		Phase2MaxDelay: -time.Second, BackOff: []time.Duration{time.Minute}}
	got := c.projectorConfig()
	if got.BatchSize != 7 || got.BatchAge != time.Second || got.BatchIdle != 3*time.Millisecond ||
		got.Phase2MaxDelay != -time.Second || len(got.BackOff) != 1 {
		t.Errorf("projector config %+v from %+v", got, c)
	}
}
