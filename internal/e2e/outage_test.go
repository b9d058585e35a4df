package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/synth"
)

// A slow consumer under a burst: the projector stalls (a pause point holds
// its consumer, as a store that answers very slowly would) while a burst of
// statements lands in the stream, several times what it may hold in
// memory. Meanwhile it holds at most what one pull brings, and the
// consumer never has more messages outstanding than MaxAckPending. Then a
// projector catches up on the whole backlog with a peak memory that does
// not follow the backlog's size, and nothing is dropped: the store equals a
// clean run's.
func TestSlowConsumerBurst(t *testing.T) {
	const statements = 12
	dir := t.TempDir()
	var files []statement
	for i := range statements {
		p := filepath.Join(dir, "burst-"+strconv.Itoa(i)+".csv")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		if _, err := synth.Tastytrade(w, synth.Config{Seed: uint64(500 + i), Rows: 1500, RowsPerDay: 20}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		files = append(files, statement{p, "burst" + strconv.Itoa(i%3)})
	}
	want := referenceRun(t, files)

	pl := newPipeline(t)
	data := t.TempDir()
	stalled := startProjectorUntil(t, pl.env.URL, data, []string{"FOLIO_PROJECTOR_PAUSE_AT=buffered:2"}, "FOLIO_PROJECTOR_PAUSED", `"msg":"projector consuming"`)
	before, err := vmHWM(stalled.Cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, pl.importFile(t, f.path, f.account).Session.ID)
	}
	stalled.WaitFor(t, "FOLIO_PROJECTOR_PAUSED")
	s, err := pl.env.JS.Stream(t.Context(), "FOLIO")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	backlog := info.State.Bytes
	c, err := pl.env.JS.Consumer(t.Context(), "FOLIO", "projector")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	during, err := vmHWM(stalled.Cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backlog %d messages, %.1f MiB; stalled projector: %d outstanding (max ack pending %d), peak RSS %d → %d MiB",
		info.State.Msgs, float64(backlog)/(1<<20), ci.NumAckPending, ci.Config.MaxAckPending, before>>10, during>>10)
	if ci.NumAckPending > ci.Config.MaxAckPending || ci.NumPending == 0 {
		t.Errorf("consumer: %d outstanding (max %d), %d waiting", ci.NumAckPending, ci.Config.MaxAckPending, ci.NumPending)
	}
	if grew := (during - before) << 10; grew > int64(backlog)/2 {
		t.Errorf("the stalled projector grew by %d MiB with a %d MiB backlog", grew>>20, backlog>>20)
	}
	stalled.Kill()

	// Catch up, sampling the peak memory.
	p := startProjector(t, pl.env.URL, data, nil)
	pl.waitCompleted(t, ids...)
	proctest.CheckFor(t, 120*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	peak, err := vmHWM(p.Cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("catch-up of a %.1f MiB backlog: projector peak RSS %d MiB", float64(backlog)/(1<<20), peak>>10)
	if peak<<10 > 200<<20 {
		t.Errorf("projector peak RSS %d MiB catching up", peak>>10)
	}
	p.Stop(t)
	requireNoDuplicates(t, pl.env.JS)
	requireSameDump(t, dump(t, filepath.Join(data, "folio.db")), want)
	t.Logf("%d movements, the same as a clean run's", len(want["movements"]))
}

// tcpProxy forwards loopback connections to a server; cut drops every
// connection and refuses new ones until restore. Its goroutines end when
// the test does.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
			p.wg.Go(func() {
				io.Copy(pair[0], pair[1])
				pair[0].Close()
				pair[1].Close()
			})
		}
	}
}

// cut closes every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// ClickHouse goes away (every connection cut, new ones refused: a proxy
// between the projector and the test server, which stays up for the other
// tests) while a statement is being projected, and comes back: the
// projector holds the messages unacknowledged, retries with backoff,
// says when the store is writable again, and its projections then equal
// `projector compute` of the statement exactly.
func TestClickHouseOutage(t *testing.T) {
	dsn := chtest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := newTCPProxy(t, u.Host)
	u.Host = px.addr()
	viaProxy := u.String()

	pl := newPipeline(t)
	p := startProjector(t, pl.env.URL, t.TempDir(), nil, "--clickhouse", viaProxy)
	px.cut()
	res := pl.importFile(t, mpwFile, "acct")
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		if n := strings.Count(p.Stderr.String(), "store write failed"); n < 2 {
			return fmt.Errorf("%d failed writes so far", n)
		}
		return nil
	})
	if r, err := pl.sessions.Get(t.Context(), res.Session.ID); err != nil || r.Phase == store.PhaseCompleted {
		t.Fatalf("session %v, %v while ClickHouse is down", r, err)
	}
	if err := allAcked(t, pl.env.JS); err == nil {
		t.Fatal("messages acknowledged while ClickHouse is down")
	}
	px.restore()
	pl.waitCompleted(t, res.Session.ID)
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	if !strings.Contains(p.Stderr.String(), "store writable again") {
		t.Error("no recovery line in the log")
	}
	p.Stop(t)
	got := mustCLI(t, "snapshots", "--clickhouse", dsn, "--account", "acct")
	if want := mustCLI(t, "compute", "--account", "acct", mpwFile); got != want {
		t.Errorf("projections after the outage differ from compute:\n got %s\nwant %s", got, want)
	}
}
