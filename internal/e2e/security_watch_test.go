package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/proctest"
)

// The drop folder of `ingest watch` under hostile conditions: odd bytes in
// file names, symbolic links to files and directories outside it, its
// done/ and failed/ replaced by links to the outside, report names
// pre-planted as links. Nothing outside the folder is read, written or
// moved; every entry ends up filed inside it with a report.
func TestWatchFolderHostile(t *testing.T) {
	pl := newPipeline(t)
	dir := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	b, err := os.ReadFile(filepath.Join(oracleDir, "pfizer", "input.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, outside)

	// done/ is a link to a directory outside: the watcher must not file
	// anything there.
	if err := os.Symlink(outside, filepath.Join(dir, "done")); err != nil {
		t.Fatal(err)
	}
	// failed/ exists, with report names planted as links to the outside.
	if err := os.Mkdir(filepath.Join(dir, "failed"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"link.csv.report.txt", "link.csv.report.json", ".link.csv.report.txt.tmp"} {
		if err := os.Symlink(filepath.Join(outside, "planted-"+n), filepath.Join(dir, "failed", n)); err != nil {
			t.Fatal(err)
		}
	}
	c := startIngest(t, nil, "watch", "--nats", pl.env.URL, "--account", "w", "--interval", "50ms", "--retry-after", "200ms",
		"--log-format", "json", dir)
	// Either it refuses to run on a folder whose done/ leads outside, or
	// it runs without ever writing there.
	refused := false
	proctest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-c.Done():
			refused = true
			return nil
		default:
		}
		if strings.Contains(c.Stderr.String(), "watching for statement files") {
			return nil
		}
		return errNotYet
	})
	if refused {
		if code := c.ExitCode(t); code == 0 || !strings.Contains(c.Stderr.String(), "done") {
			t.Fatalf("watch exited %d on a done/ link without saying why:\n%s", code, c.Stderr.String())
		}
		t.Logf("watch refuses a done/ that is a link: %s", lastLine(c.Stderr.String()))
		// Put a real done/ in place and go on.
		if err := os.Remove(filepath.Join(dir, "done")); err != nil {
			t.Fatal(err)
		}
		c = startIngest(t, nil, "watch", "--nats", pl.env.URL, "--account", "w", "--interval", "50ms", "--retry-after", "200ms",
			"--log-format", "json", dir)
	}

	odd := []string{
		"new\nline.csv", "tab\there.csv", "ctl\x01\x1b[2J.csv", "bad-utf8-\xff\xfe.csv", "-rf.csv", "spa ce & \"quotes\".csv",
		"semi;colon$(rm).csv", "back\\slash.csv", strings.Repeat("long", 60) + ".csv",
	}
	for i, n := range odd {
		// Statements (the same one: imported once, then already imported)
		// and files that are not statements.
		content := string(b)
		if i%2 == 1 {
			content = "not a statement\n"
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
			t.Fatalf("%q: %v", n, err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	proctest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		for _, n := range append(odd, "link.csv", "dirlink") {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				return fmt.Errorf("%q still in the folder", n)
			}
		}
		return nil
	})
	c.Kill()

	// Every entry is filed inside the folder, with a report.
	for _, n := range append(odd, "link.csv", "dirlink") {
		found := false
		for _, sub := range []string{"done", "failed"} {
			matches, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
			for _, m := range matches {
				base := filepath.Base(m)
				if strings.HasPrefix(base, n[:min(len(n), 100)]) && strings.HasSuffix(base, ".report.txt") {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%q: no report inside the folder", n)
		}
	}
	if after := snapshotDir(t, outside); after != before {
		t.Errorf("the outside directory changed:\nbefore %s\nafter  %s", before, after)
	}
	if got, err := os.ReadFile(secret); err != nil || string(got) != string(b) {
		t.Errorf("the link's target was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted-link.csv.report.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report was written through a planted link: %v", err)
	}
	// The link itself went to failed/ as a link (never followed).
	fi, err := os.Lstat(filepath.Join(dir, "failed", "link.csv"))
	if err != nil {
		// freeName may have picked link.2.csv because the report names were taken.
		matches, _ := filepath.Glob(filepath.Join(dir, "failed", "link*.csv"))
		if len(matches) == 0 {
			t.Fatalf("the link is not in failed/: %v", err)
		}
		fi, _ = os.Lstat(matches[0])
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("failed/%s is not the link itself", fi.Name())
	}
}

// snapshotDir describes every entry of dir (name, size, mode).
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, _ := e.Info()
		fmt.Fprintf(&b, "%q %d %s; ", e.Name(), fi.Size(), fi.Mode())
	}
	return b.String()
}
