package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/proctest"
)

// Concurrent drops. Into one watched folder, at the same instant: the same
// statement under two names, and two different statements of the same
// account. And beside it, with no watcher: two ingest processes started at
// once on one file, and two at once on two files of one account. Every
// file ends up filed (done/) with its report, each session is sealed once
// with each message once in the stream, and the store equals a clean
// single run of the distinct statements.
func TestConcurrentDrops(t *testing.T) {
	a := filepath.Join(oracleDir, "options", "input.csv")
	b := filepath.Join(oracleDir, "pfizer", "input.csv")
	c := mpwFile
	d := filepath.Join(oracleDir, "deposits", "input.csv")
	want := referenceRun(t, []statement{{a, "acct"}, {b, "acct"}, {c, "acct2"}, {d, "acct2"}})

	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)

	// The watcher, with the four drops renamed into place at once.
	drop := t.TempDir()
	w := startIngest(t, nil, "watch", "--nats", pl.env.URL, "--account", "acct", "--interval", "50ms", "--log-format", "json", drop)
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(w.Stderr.String(), "watching for statement files") {
			return errNotYet
		}
		return nil
	})
	staging := t.TempDir()
	names := map[string]string{"a.csv": a, "a-again.csv": a, "b.csv": b, "b (1).csv": b}
	for name, src := range names {
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staging, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for name := range names {
		wg.Go(func() {
			if err := os.Rename(filepath.Join(staging, name), filepath.Join(drop, name)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	// Beside it, concurrent ingest processes: the same file twice, and two
	// files of one account.
	var procs []*proctest.Proc
	for _, f := range []string{c, c, d, d} {
		procs = append(procs, startIngest(t, nil, "--nats", pl.env.URL, "--account", "acct2", "--log-format", "json", f))
	}
	ids := map[string]bool{}
	for _, pr := range procs {
		if code := pr.ExitCode(t); code != 0 {
			t.Fatalf("concurrent ingest exited %d:\n%s", code, pr.Stderr.String())
		}
		ids[sessionIDFrom(t, pr.Stdout.String())] = true
	}
	if len(ids) != 2 {
		t.Fatalf("concurrent imports of 2 files made %d sessions", len(ids))
	}

	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		for name := range names {
			if _, err := os.Stat(filepath.Join(drop, "done", name+".report.txt")); err != nil {
				return fmt.Errorf("%s not filed yet", name)
			}
		}
		return nil
	})
	w.Kill()
	imported, again := 0, 0
	for name := range names {
		rep, err := os.ReadFile(filepath.Join(drop, "done", name+".report.txt"))
		if err != nil {
			t.Fatal(err)
		}
		switch s := string(rep); {
		case strings.Contains(s, "already imported"):
			again++
		case strings.Contains(s, "status:    imported"):
			imported++
		default:
			t.Errorf("%s: report\n%s", name, s)
		}
	}
	if imported != 2 || again != 2 {
		t.Errorf("%d imported and %d already imported, want 2 and 2", imported, again)
	}

	recs, err := pl.sessions.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d sessions, want 4", len(recs))
	}
	var all []string
	for _, r := range recs {
		all = append(all, r.ID)
	}
	pl.waitCompleted(t, all...)
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	p.Stop(t)
	for _, r := range recs {
		if r.TotalChunks != r.ChunksDone() {
			t.Errorf("session %s: %d of %d chunks recorded", r.ID, r.ChunksDone(), r.TotalChunks)
		}
	}
	ids2 := requireNoDuplicates(t, pl.env.JS)
	for _, r := range recs {
		if ids2[r.ID+"/sealed"] != 1 || ids2[r.ID+"/started"] != 1 {
			t.Errorf("session %s: started %d times, sealed %d times in the stream", r.ID, ids2[r.ID+"/started"], ids2[r.ID+"/sealed"])
		}
	}
	// The store: the session rows differ by file name (the watcher saw
	// a.csv, the reference the dataset's input.csv), nothing else may.
	skip := []string{"import_sessions.file"}
	requireSameDump(t, dump(t, filepath.Join(dir, "folio.db"), skip...), dumpWithout(t, want, skip))
	t.Logf("%d movements, the same as a clean run's", len(want["movements"]))
}
