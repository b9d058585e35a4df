package projector_test

// Scale-out and cluster tests: the pipeline (streams.Importer → FOLIO →
// projector → store) on a 3-node JetStream cluster that loses a node, and N
// projectors on N account partitions against one projector.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/nats-io/nats.go/jetstream"
)

// synthFile writes a synthetic Tastytrade statement of rows rows (about 10
// a day, so a few rows make many weekly chunks) and returns its path and its
// movements for account, parsed independently of the pipeline.
func synthFile(t *testing.T, dir, account string, seed uint64, rows int) (string, []events.Movement) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := synth.Tastytrade(&buf, synth.Config{Seed: seed, Rows: rows, RowsPerDay: 10, Tickers: 4}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, account+".csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := parsers.Parse(parsers.Tastytrade{}, bytes.NewReader(buf.Bytes()), parsers.Options{Account: account})
	if err != nil || len(res.RowErrors) > 0 || len(res.Movements) == 0 {
		t.Fatalf("synthetic statement of %s: %v, %d row errors, %d movements", account, err, len(res.RowErrors), len(res.Movements))
	}
	return path, res.Movements
}

// importSealed imports req, retrying transient errors (as `ingest watch`
// does) until the session is sealed; pause, when set, is used on the first
// attempt only.
func importSealed(t *testing.T, ctx context.Context, im *streams.Importer, req streams.Request, pause func(context.Context, string)) *streams.Result {
	t.Helper()
	var res *streams.Result
	attempt := 0
	proctest.CheckFor(t, 90*time.Second, 100*time.Millisecond, func() error {
		attempt++
		r := req
		if attempt == 1 {
			r.Pause = pause
		}
		var err error
		res, err = im.Import(ctx, r)
		if err != nil && streams.Rejection(err) {
			t.Fatalf("import %s rejected: %v", req.Path, err)
		}
		return err
	})
	if attempt > 1 {
		t.Logf("%s sealed after %d attempts", filepath.Base(req.Path), attempt)
	}
	return res
}

// waitCompletedWithin is waitCompleted with a longer deadline (a cluster
// electing leaders).
func waitCompletedWithin(t *testing.T, total time.Duration, st store.Store, ids ...string) {
	t.Helper()
	proctest.CheckFor(t, total, 20*time.Millisecond, func() error {
		for _, id := range ids {
			s, err := st.Session(t.Context(), id)
			if err != nil {
				return fmt.Errorf("session %s: %w", id, err)
			}
			if s.Phase != store.PhaseCompleted {
				return fmt.Errorf("session %s is %s", id, s.Phase)
			}
		}
		return nil
	})
}

// streamMsgs returns the number of messages in the FOLIO stream.
func streamMsgs(t *testing.T, ctx context.Context, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestClusterLosesANode runs the pipeline on a real 3-node JetStream
// cluster (three in-process servers joined by routes) with an R3 stream,
// dead-letter stream and session bucket, and shuts the stream's leader down
// in the middle of an import. The import resumes on the surviving nodes,
// another file is imported with one node down, and the store ends with
// exactly the projections of the statements: nothing lost, nothing doubled.
// The node then comes back and catches up.
func TestClusterLosesANode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := natstest.RunCluster(t, 3)
	urls := c.URLs()
	_, jsI := c.Connect(urls...)                   // ingest: n1 first
	_, jsP := c.Connect(urls[1], urls[2], urls[0]) // projector: n2 first
	r3 := streams.Config{Replicas: 3}
	if _, err := streams.EnsureStream(ctx, jsI, r3); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.EnsureDeadLetterStream(ctx, jsI, r3); err != nil {
		t.Fatal(err)
	}
	kvI, err := streams.EnsureSessionsConfig(ctx, jsI, streams.SessionsConfig{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	kvP, err := streams.OpenSessions(ctx, jsP)
	if err != nil {
		t.Fatal(err)
	}

	st := openSQLite(t, filepath.Join(t.TempDir(), "folio.db"))
	cfg := testConfig()
	cfg.Sessions = kvP
	cfg.Create = r3
	run(t, jsP, st, cfg)

	dir := t.TempDir()
	type file struct {
		account string
		path    string
		want    []events.Movement
	}
	var files []file
	for i, account := range []string{"alpha", "bravo", "charlie"} {
		path, want := synthFile(t, dir, account, uint64(100+i), 600)
		files = append(files, file{account, path, want})
	}
	im := &streams.Importer{JS: jsI, Sessions: kvI}
	request := func(f file) streams.Request {
		return streams.Request{Path: f.path, Account: f.account, Broker: "auto", AckTimeout: 3 * time.Second}
	}

	var ids []string
	res := importSealed(t, ctx, im, request(files[0]), nil)
	ids = append(ids, res.Session.ID)
	waitCompletedWithin(t, 30*time.Second, st, ids...)

	// Lose the stream's leader while bravo's chunks are in flight.
	lost := -1
	var once sync.Once
	killLeader := func(ctx context.Context, point string) {
		if point != "chunk:4" {
			return
		}
		once.Do(func() {
			s, err := jsI.Stream(ctx, events.StreamName)
			if err != nil {
				t.Errorf("stream info: %v", err)
				return
			}
			lost = c.Index(s.CachedInfo().Cluster.Leader)
			if lost < 0 {
				t.Errorf("no leader in %+v", s.CachedInfo().Cluster)
				return
			}
			c.Stop(lost)
		})
	}
	res = importSealed(t, ctx, im, request(files[1]), killLeader)
	if lost < 0 {
		t.Fatal("the leader was not stopped during the import")
	}
	t.Logf("stopped node %d (the stream leader) in the middle of %s (%d chunks)", lost, res.Session.File, res.Session.TotalChunks)
	ids = append(ids, res.Session.ID)
	// One node down: a quorum of two still takes writes.
	res = importSealed(t, ctx, im, request(files[2]), nil)
	ids = append(ids, res.Session.ID)
	waitCompletedWithin(t, 60*time.Second, st, ids...)

	for _, f := range files {
		requireProjections(t, st, f.account, f.want)
	}
	var want uint64
	for _, id := range ids {
		s, err := st.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want += uint64(s.TotalChunks) + 2 // started, chunks, sealed
	}
	if got := streamMsgs(t, ctx, jsP); got != want {
		t.Errorf("stream holds %d messages, want %d (the msg-ID de-duplication must hold across the failover)", got, want)
	}
	requireAllAcked(t, jsP, projector.DefaultDurable)
	for _, id := range ids {
		r, err := kvI.Get(ctx, id)
		if err != nil || r.Phase != store.PhaseCompleted {
			t.Errorf("session record %s: %+v, %v", id, r, err)
		}
	}

	// The node comes back and catches up with the other replicas.
	c.Start(lost)
	c.WaitReady()
	proctest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		s, err := jsP.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		ci := s.CachedInfo().Cluster
		if ci == nil || len(ci.Replicas) != 2 {
			return fmt.Errorf("cluster info %+v", ci)
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s not current (lag %d)", r.Name, r.Lag)
			}
		}
		return nil
	})
	// And the replicated stream replays to the same tables.
	fresh := openSQLite(t, filepath.Join(t.TempDir(), "replay.db"))
	if _, err := projector.Replay(ctx, jsP, fresh, testConfig()); err != nil {
		t.Fatal(err)
	}
	requireSameStores(t, st, fresh)
}

// partitionAccounts are accounts spread over two partitions of a
// partitioned stream.
var partitionAccounts = []string{"anna", "ben", "carla", "dmitri", "eve", "farid"}

// TestPartitionsEqualOneProjector: two projectors, each consuming one of
// two account partitions of a partitioned stream and writing to one shared
// store, end with exactly the tables one projector makes of the same
// stream, and each partition's consumer received only its accounts'
// messages. It runs on SQLite (two connections to one file, as two
// processes would) and, when a test server is configured, on ClickHouse.
func TestPartitionsEqualOneProjector(t *testing.T) {
	specs := []partition.Spec{{Index: 0, Count: 2}, {Index: 1, Count: 2}}
	for _, spec := range specs {
		n := 0
		for _, a := range partitionAccounts {
			if spec.Owns(a) {
				n++
			}
		}
		if n < 2 {
			t.Fatalf("test bug: partition %s owns %d of %v", spec, n, partitionAccounts)
		}
	}
	ctx := t.Context()
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(ctx, env.JS, streams.Config{Partitioned: true}); err != nil {
		t.Fatal(err)
	}
	kv, err := streams.EnsureSessions(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	im := &streams.Importer{JS: env.JS, Sessions: kv}
	want := map[string][]events.Movement{}
	var ids []string
	perAccount := map[string]int{} // messages
	for i, account := range partitionAccounts {
		path, ms := synthFile(t, dir, account, uint64(7+i), 250+50*i)
		want[account] = ms
		res, err := im.Import(ctx, streams.Request{Path: path, Account: account, Broker: "auto"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Session.ID)
		perAccount[account] = res.Session.TotalChunks + 2
	}

	single := openSQLite(t, filepath.Join(t.TempDir(), "single.db"))
	cfg := testConfig()
	cfg.Durable = "single"
	run(t, env.JS, single, cfg)
	waitCompletedWithin(t, 30*time.Second, single, ids...)

	stores := map[string]func(t *testing.T) (a, b store.Store){
		"sqlite": func(t *testing.T) (store.Store, store.Store) {
			path := filepath.Join(t.TempDir(), "shared.db")
			return openSQLite(t, path), openSQLite(t, path)
		},
		"clickhouse": func(t *testing.T) (store.Store, store.Store) {
			dsn := chtest.NewDatabase(t)
			open := func() store.Store {
				s, err := clickhouse.New(t.Context(), dsn, clickhouse.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	}
	for _, name := range []string{"sqlite", "clickhouse"} {
		t.Run(name, func(t *testing.T) {
			a, b := stores[name](t)
			seen := make([]*firstDeliveries, len(specs))
			for i, st := range []store.Store{a, b} {
				spec := specs[i]
				seen[i] = &firstDeliveries{}
				cfg := testConfig()
				cfg.Durable = "part-" + name + "-" + fmt.Sprint(spec.Index)
				cfg.FilterSubjects = spec.FilterSubjects()
				cfg.Owns = spec.Owns
				cfg.Sessions = kv
				cfg.Metrics = seen[i]
				run(t, env.JS, st, cfg)
			}
			waitCompletedWithin(t, 60*time.Second, a, ids...)
			requireSameStores(t, a, single)
			for _, account := range partitionAccounts {
				requireProjections(t, a, account, want[account])
			}
			for i, spec := range specs {
				wantMsgs := 0
				for _, account := range partitionAccounts {
					if spec.Owns(account) {
						wantMsgs += perAccount[account]
					}
				}
				requireAllAcked(t, env.JS, "part-"+name+"-"+fmt.Sprint(spec.Index))
				if got := seen[i].count(); got != wantMsgs {
					t.Errorf("partition %s received %d distinct messages, want its accounts' %d", spec, got, wantMsgs)
				}
			}
		})
	}
}

// firstDeliveries is a projector.Metrics counting first deliveries, that
// is distinct messages received (redeliveries aside).
type firstDeliveries struct {
	mu sync.Mutex
	n  int
}

func (f *firstDeliveries) Received(typ string, delivery uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if delivery == 1 {
		f.n++
	}
}
func (f *firstDeliveries) Written(int, int, time.Duration, error) {}
func (f *firstDeliveries) DeadLettered()                          {}
func (f *firstDeliveries) Projected(int, time.Duration, error)    {}

func (f *firstDeliveries) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// TestPartitionOwnsRecovery: at start-up a partition's projector picks up
// only its own accounts' sessions left sealed in a shared store, never
// another partition's (whose projector may be writing them).
func TestPartitionOwnsRecovery(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := openSQLite(t, filepath.Join(t.TempDir(), "shared.db"))
	var mine, theirs string
	for _, a := range partitionAccounts {
		if (partition.Spec{Index: 0, Count: 2}).Owns(a) {
			mine = a
		} else {
			theirs = a
		}
	}
	var sessions []string
	for i, account := range []string{mine, theirs} {
		s := newStatement(fmt.Sprintf("own%d", i), account, history(account, fmt.Sprintf("o%d", i), events.NewDate(2025, 3, 3), 6))
		// As a projector that stored the session and its chunks, sealed,
		// then died before phase 2.
		var sess store.Session
		for _, e := range []events.Event{s.started, s.sealed} {
			sess = projector.MergeSession(sess, e)
		}
		b := &store.Batch{Chunks: s.chunks, Sessions: []store.Session{sess}, At: time.Now().UTC()}
		if err := st.WriteBatch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s.started.Session)
	}
	spec := partition.Spec{Index: 0, Count: 2}
	cfg := testConfig()
	cfg.FilterSubjects = spec.FilterSubjects()
	cfg.Owns = spec.Owns
	cfg.Create = streams.Config{Partitioned: true}
	run(t, env.JS, st, cfg)
	waitCompletedWithin(t, 10*time.Second, st, sessions[0])
	s, err := st.Session(t.Context(), sessions[1])
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != store.PhaseSealed {
		t.Errorf("the other partition's session is %s, want it left sealed", s.Phase)
	}
	if p, err := st.Projections(t.Context(), theirs); err != nil || len(p.Broker) != 0 {
		t.Errorf("projections of the other partition's account were computed: %d rows, %v", len(p.Broker), err)
	}
}
