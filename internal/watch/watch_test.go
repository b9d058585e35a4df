package watch_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/watch"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fakeImport records calls and answers from a table by base name.
type fakeImport struct {
	calls   []string
	answers map[string]func(ctx context.Context) (watch.Result, error)
}

func (f *fakeImport) fn(ctx context.Context, path string) (watch.Result, error) {
	name := filepath.Base(path)
	f.calls = append(f.calls, name)
	if a, ok := f.answers[name]; ok {
		return a(ctx)
	}
	return watch.Result{Note: "imported", Text: "imported " + name + "\n", JSON: map[string]string{"file": name}}, nil
}

type fixture struct {
	t     *testing.T
	dir   string
	clock *clock
	imp   *fakeImport
	w     *watch.Watcher
}

const interval = time.Second

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), clock: &clock{t: time.Now().Add(time.Hour)}, imp: &fakeImport{answers: map[string]func(context.Context) (watch.Result, error){}}}
	f.w = f.newWatcher()
	return f
}

func (f *fixture) newWatcher() *watch.Watcher {
	f.t.Helper()
	w, err := watch.New(watch.Config{Dir: f.dir, Import: f.imp.fn, Interval: interval, RetryAfter: time.Minute, Now: f.clock.now})
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

func (f *fixture) poll(ctx context.Context) {
	f.t.Helper()
	if err := f.w.Poll(ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) write(name, data string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) appendTo(name, data string, mtime time.Time) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := fh.WriteString(data); err != nil {
		f.t.Fatal(err)
	}
	fh.Close()
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) wantCalls(want ...string) {
	f.t.Helper()
	if !slices.Equal(f.imp.calls, want) {
		f.t.Fatalf("imports: got %q want %q", f.imp.calls, want)
	}
}

func (f *fixture) wantFile(rel string, contains string) {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, rel))
	if err != nil {
		f.t.Fatalf("want %s: %v", rel, err)
	}
	if !strings.Contains(string(b), contains) {
		f.t.Fatalf("%s = %q, want it to contain %q", rel, b, contains)
	}
}

func (f *fixture) wantGone(name string) {
	f.t.Helper()
	if _, err := os.Lstat(filepath.Join(f.dir, name)); !errors.Is(err, os.ErrNotExist) {
		f.t.Fatalf("%s still in the folder (err %v)", name, err)
	}
}

func TestPartialWriteNotTakenEarly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.write("a.csv", "Date,Type\n")
	f.poll(ctx) // first sight
	f.wantCalls()
	// The copy goes on between polls: never taken while it grows.
	for i := range 3 {
		f.appendTo("a.csv", "row\n", f.clock.t.Add(-time.Duration(10-i)*time.Minute))
		f.poll(ctx)
		f.wantCalls()
	}
	// Unchanged since the previous poll, but modified less than an interval
	// ago: still not taken.
	f.clock.t = time.Now()
	f.appendTo("a.csv", "last\n", f.clock.t)
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls()
	// Stable across two polls and old enough: taken, once.
	f.clock.t = f.clock.t.Add(2 * interval)
	f.poll(ctx)
	f.wantCalls("a.csv")
	f.poll(ctx)
	f.wantCalls("a.csv")
	f.wantGone("a.csv")
	f.wantFile("done/a.csv", "last")
	f.wantFile("done/a.csv.report.txt", "imported a.csv")
	f.wantFile("done/a.csv.report.json", `"file": "a.csv"`)
}

func TestTemporaryNamesThenRename(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []string{".b.csv", "b.csv.tmp", "b.csv.part", "b.csv~", "b.csv.crdownload"} {
		f.write(n, "x")
	}
	for range 3 {
		f.poll(ctx)
	}
	f.wantCalls()
	if err := os.Rename(filepath.Join(f.dir, "b.csv.part"), filepath.Join(f.dir, "b.csv")); err != nil {
		t.Fatal(err)
	}
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("b.csv")
	for _, n := range []string{".b.csv", "b.csv.tmp", "b.csv~", "b.csv.crdownload"} {
		if _, err := os.Stat(filepath.Join(f.dir, n)); err != nil {
			t.Fatalf("temporary %s was touched: %v", n, err)
		}
	}
}

func TestRejectedGoesToFailedAndNamesDoNotCollide(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.imp.answers["bad.csv"] = func(context.Context) (watch.Result, error) {
		return watch.Result{Rejected: true, Note: "invalid rows", Text: "line 3, column \"Date\": bad date\n", JSON: map[string]int{"row_errors": 1}}, nil
	}
	f.write("bad.csv", "bad")
	f.write("good.csv", "good 1")
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("bad.csv", "good.csv")
	f.wantFile("failed/bad.csv", "bad")
	f.wantFile("failed/bad.csv.report.txt", "bad date")
	f.wantFile("failed/bad.csv.report.json", `"row_errors": 1`)
	f.wantFile("done/good.csv", "good 1")

	// The same name dropped again lands beside the first, not over it.
	f.write("good.csv", "good 2")
	f.poll(ctx)
	f.poll(ctx)
	f.wantFile("done/good.csv", "good 1")
	f.wantFile("done/good.2.csv", "good 2")
	f.wantFile("done/good.2.csv.report.txt", "imported")
}

func TestTransientErrorRetried(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fail := true
	f.imp.answers["c.csv"] = func(context.Context) (watch.Result, error) {
		if fail {
			return watch.Result{}, errors.New("nats: no servers available")
		}
		return watch.Result{Note: "imported", Text: "ok"}, nil
	}
	f.write("c.csv", "c")
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("c.csv")
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("c.csv") // waiting for RetryAfter
	if _, err := os.Stat(filepath.Join(f.dir, "c.csv")); err != nil {
		t.Fatalf("file moved after a transient error: %v", err)
	}
	fail = false
	f.clock.t = f.clock.t.Add(2 * time.Minute)
	f.poll(ctx)
	f.wantCalls("c.csv", "c.csv")
	f.wantFile("done/c.csv", "c")
}

func TestRestartPicksUpInterruptedAndLeftovers(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.imp.answers["d.csv"] = func(ctx context.Context) (watch.Result, error) {
		cancel() // the watcher is stopped during this import
		return watch.Result{}, ctx.Err()
	}
	f.write("d.csv", "d")
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("d.csv")
	if _, err := os.Stat(filepath.Join(f.dir, "d.csv")); err != nil {
		t.Fatalf("interrupted file moved: %v", err)
	}
	f.write("e.csv", "e") // dropped while no watcher runs

	delete(f.imp.answers, "d.csv")
	f.imp.calls = nil
	f.w = f.newWatcher()
	ctx2 := context.Background()
	f.poll(ctx2)
	f.wantCalls() // first sight after the restart
	f.poll(ctx2)
	f.wantCalls("d.csv", "e.csv")
	f.wantFile("done/d.csv", "d")
	f.wantFile("done/e.csv", "e")
}

func TestSymlinksAndSpecialFilesRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "secret.csv")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(f.dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	f.write("inside.csv", "in")
	if err := os.Symlink("inside.csv", filepath.Join(f.dir, "rel.csv")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "pipe.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.poll(ctx)
	f.poll(ctx)
	f.wantCalls("inside.csv")
	for _, n := range []string{"link.csv", "rel.csv", "pipe.csv"} {
		f.wantGone(n)
	}
	f.wantFile("failed/link.csv.report.txt", "symbolic link")
	f.wantFile("failed/rel.csv.report.txt", "symbolic link")
	f.wantFile("failed/pipe.csv.report.txt", "not a regular file")
	// The link was moved, not followed: its target is untouched.
	if fi, err := os.Lstat(filepath.Join(f.dir, "failed", "link.csv")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("failed/link.csv is not the link itself: %v %v", fi, err)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "secret" {
		t.Fatalf("link target changed: %q %v", b, err)
	}
	var rep map[string]string
	b, _ := os.ReadFile(filepath.Join(f.dir, "failed", "link.csv.report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || rep["status"] != "refused" {
		t.Fatalf("json report %s: %v", b, err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	imported := make(chan string, 1)
	go func() {
		done <- watch.Run(ctx, watch.Config{Dir: dir, Interval: 10 * time.Millisecond, Import: func(_ context.Context, p string) (watch.Result, error) {
			imported <- filepath.Base(p)
			return watch.Result{Text: "ok"}, nil
		}})
	}()
	if err := os.WriteFile(filepath.Join(dir, "f.csv"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-imported:
		if n != "f.csv" {
			t.Fatalf("imported %q", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("file not taken")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRefusesBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	imp := func(context.Context, string) (watch.Result, error) { return watch.Result{}, nil }
	for _, dir := range []string{"", file, filepath.Join(file, "nope")} {
		if _, err := watch.New(watch.Config{Dir: dir, Import: imp}); err == nil {
			t.Errorf("New(%q) succeeded", dir)
		}
	}
}
