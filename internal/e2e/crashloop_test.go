package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/synth"
)

// Environment knobs of the crash loop.
const (
	// envCrashIterations sets the number of iterations (default
	// defaultCrashIterations); more on demand, e.g. 500 for a soak.
	envCrashIterations     = "FOLIO_CRASHLOOP_ITERATIONS"
	defaultCrashIterations = 50
	// envCrashSeed picks the sequence of faults (default 1); a failing
	// run prints its seed.
	envCrashSeed = "FOLIO_CRASHLOOP_SEED"
)

// statement is a file and the account it is imported into.
type statement struct {
	path, account string
}

// crashStatements writes the synthetic statements of the crash loop and
// adds two samples: three accounts, both brokers, a few hundred movements
// each, spread over many weeks (many chunks, so that kills land between
// chunks).
func crashStatements(t *testing.T) []statement {
	t.Helper()
	dir := t.TempDir()
	gen := func(name, broker string, cfg synth.Config) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		if broker == "ibkr" {
			_, err = synth.IBKR(w, cfg)
		} else {
			_, err = synth.Tastytrade(w, cfg)
		}
		if err == nil {
			err = w.Flush()
		}
		if err2 := f.Close(); err == nil {
			err = err2
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var out []statement
	for i, acct := range []string{"alice", "bob", "dave"} {
		for j := range 3 {
			broker := "tastytrade"
			if (i+j)%3 == 2 {
				broker = "ibkr"
			}
			cfg := synth.Config{Seed: uint64(100*i + j + 1), Rows: 120 + 40*j, Tickers: 4 + j, RowsPerDay: 3,
				Start: synth.DefaultStart.AddDays(200 * j)}
			out = append(out, statement{gen(acct+"-"+strconv.Itoa(j)+"-"+broker+".csv", broker, cfg), acct})
		}
	}
	return append(out, statement{mpwFile, "carol"}, statement{filepath.Join(oracleDir, "options", "input.csv"), "carol"})
}

func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", key, v)
	}
	return n
}

// The crash loop: ingest and the projector are killed with SIGKILL at
// random moments, over and over (FOLIO_CRASHLOOP_ITERATIONS, default 50),
// while five statements of three accounts are imported in a random order;
// after each kill the killed side is started again. Finally every file is
// imported once more to completion. The store must then equal a clean
// single run's exactly (every movement by ID, every session, chunk and
// projection row), and the stream must hold every message once.
func TestCrashLoop(t *testing.T) {
	iterations := envInt(t, envCrashIterations, defaultCrashIterations)
	seed := envInt(t, envCrashSeed, 1)
	files := crashStatements(t)
	start := time.Now()

	rng := rand.New(rand.NewPCG(uint64(seed), 0xc7a5))
	pl := newPipeline(t)
	dir := t.TempDir()
	// Each projector start may arm a pause point (FOLIO_PROJECTOR_PAUSE_AT)
	// where it waits to be killed; otherwise it is killed at a random time.
	projectorTrap := func() []string {
		if rng.IntN(2) == 0 {
			return nil
		}
		points := []string{"buffered:" + strconv.Itoa(1+rng.IntN(12)), "written:" + strconv.Itoa(1+rng.IntN(3)),
			"acked:" + strconv.Itoa(1+rng.IntN(3)), "phase2", "completed"}
		return []string{"FOLIO_PROJECTOR_PAUSE_AT=" + points[rng.IntN(len(points))]}
	}
	p := startProjectorUntil(t, pl.env.URL, dir, projectorTrap(), `"msg":"projector consuming"`, "FOLIO_PROJECTOR_PAUSED")
	// The statements are imported in rounds, each into accounts of its
	// own (alice-r0, alice-r1...): once a round is sealed the next one
	// starts, so that kills keep landing on imports with work to do.
	round := 0
	roundFiles := func(r int) []statement {
		out := make([]statement, len(files))
		for i, f := range files {
			out[i] = statement{f.path, f.account + "-r" + strconv.Itoa(r)}
		}
		return out
	}
	isSealed := func(f statement) bool {
		rec, err := pl.sessions.Get(t.Context(), sessionIDOf(t, f))
		return err == nil && (rec.Phase == store.PhaseSealed || rec.Phase == store.PhaseCompleted)
	}
	typical := 100 * time.Millisecond // how long an import takes, updated as they finish
	var stats struct {
		ingestKills, ingestKillsLive, ingestKillsAtPoint, ingestDone, projectorKills, projectorKillsAtPoint int
	}
	for i := range iterations {
		// Files not sealed yet first: a kill there interrupts real work.
		var todo []statement
		for len(todo) == 0 {
			for _, f := range roundFiles(round) {
				if !isSealed(f) {
					todo = append(todo, f)
				}
			}
			if len(todo) == 0 {
				round++
			}
		}
		f := todo[rng.IntN(len(todo))]
		action := rng.IntN(3) // 0: kill ingest, 1: kill the projector, 2: both
		var env []string
		if action != 1 && rng.IntN(2) == 0 {
			points := []string{"started", "chunk:" + strconv.Itoa(1+rng.IntN(12)), "before-sealed"}
			env = []string{"FOLIO_INGEST_PAUSE_AT=" + points[rng.IntN(len(points))]}
		}
		delay := time.Duration(rng.Int64N(int64(typical)))
		began := time.Now()
		c := startIngest(t, env, "--nats", pl.env.URL, "--account", f.account, "--max-in-flight", "2", "--log-format", "json", f.path)
		if env != nil {
			proctest.CheckFor(t, 30*time.Second, 2*time.Millisecond, func() error {
				select {
				case <-c.Done():
					return nil // the point is past this file's end, or it was imported already
				default:
				}
				if !strings.Contains(c.Stderr.String(), "FOLIO_INGEST_PAUSED") {
					return errNotYet
				}
				stats.ingestKillsAtPoint++
				return nil
			})
		} else {
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-c.Done():
				timer.Stop()
			}
		}
		if action == 1 || action == 2 {
			if strings.Contains(p.Stderr.String(), "FOLIO_PROJECTOR_PAUSED") {
				stats.projectorKillsAtPoint++
			}
			p.Kill()
			stats.projectorKills++
		}
		if action == 0 || action == 2 {
			select {
			case <-c.Done():
			default:
				stats.ingestKillsLive++
			}
			c.Kill()
			stats.ingestKills++
		}
		if action == 1 || action == 2 {
			p = startProjectorUntil(t, pl.env.URL, dir, projectorTrap(), `"msg":"projector consuming"`, "FOLIO_PROJECTOR_PAUSED")
		}
		if action == 1 {
			if code := c.ExitCode(t); code != 0 {
				t.Fatalf("iteration %d (seed %d): ingest of %s exited %d:\n%s", i, seed, f.path, code, c.Stderr.String())
			}
			stats.ingestDone++
			if out := c.Stdout.String(); strings.Contains(out, " sealed: ") {
				typical = (typical + time.Since(began)) / 2
			}
		}
	}
	t.Logf("seed %d, %d iterations in %s: ingest killed %d times (%d while running, %d of them at a pause point), "+
		"projector killed %d times (%d at a pause point), %d imports ran to the end (typical import %s)",
		seed, iterations, time.Since(start).Round(time.Millisecond), stats.ingestKills, stats.ingestKillsLive,
		stats.ingestKillsAtPoint, stats.projectorKills, stats.projectorKillsAtPoint, stats.ingestDone, typical.Round(time.Millisecond))
	if stats.ingestKillsLive < iterations/5 || stats.projectorKills < iterations/5 {
		t.Errorf("too few faults landed: %+v", stats)
	}

	// Every file of every round started once more, to completion, beside a
	// projector without a trap; then the projector finishes.
	p.Kill()
	p = startProjector(t, pl.env.URL, dir, nil)
	var all []statement
	for r := range round + 1 {
		all = append(all, roundFiles(r)...)
	}
	var ids []string
	for _, f := range all {
		r := runIngest(t, nil, "--nats", pl.env.URL, "--account", f.account, "--log-format", "json", f.path)
		if r.code != 0 {
			t.Fatalf("final import of %s: exit %d\n%s", f.path, r.code, r.stderr)
		}
		ids = append(ids, sessionIDFrom(t, r.stdout))
	}
	pl.waitCompleted(t, ids...)
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	p.Stop(t)
	requireNoDuplicates(t, pl.env.JS)
	got := dump(t, filepath.Join(dir, "folio.db"))

	start = time.Now()
	want := referenceRun(t, all)
	t.Logf("reference run (%d rounds of %d statements): %d movements, %d broker snapshot rows, %d ticker rows, %d operations in %s",
		round+1, len(files), len(want["movements"]), len(want["broker_snapshots"]), len(want["ticker_snapshots"]), len(want["operations"]),
		time.Since(start).Round(time.Millisecond))
	requireSameDump(t, got, want)
	if !t.Failed() {
		t.Logf("store equals the clean run: %d movements (0 lost, 0 duplicated), %d sessions, %d chunks, %d+%d+%d projection rows (0 mismatches)",
			len(got["movements"]), len(got["import_sessions"]), len(got["import_chunks"]),
			len(got["broker_snapshots"]), len(got["ticker_snapshots"]), len(got["operations"]))
	}
}

var errNotYet = errors.New("not yet")

// sessionIDFrom returns the session ID ingest printed ("<file>: session ID
// sealed..." or "... already ...").
func sessionIDFrom(t *testing.T, stdout string) string {
	t.Helper()
	_, rest, ok := strings.Cut(stdout, "session ")
	if !ok {
		t.Fatalf("no session in ingest's output %q", stdout)
	}
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// referenceRun imports the statements one by one into a clean pipeline with
// a projector that never fails, and returns its store's dump.
func referenceRun(t *testing.T, files []statement) map[string][]string {
	t.Helper()
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	for _, f := range files {
		res := pl.importFile(t, f.path, f.account)
		pl.waitCompleted(t, res.Session.ID)
	}
	p.Stop(t)
	return dump(t, filepath.Join(dir, "folio.db"))
}

// sessionIDOf names the session ingest makes of f.
func sessionIDOf(t *testing.T, f statement) string {
	t.Helper()
	raw, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return chunker.SessionID(f.account, hex.EncodeToString(sum[:]))
}
