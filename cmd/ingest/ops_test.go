package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/streams"
)

var listeningAt = regexp.MustCompile(`"msg":"metrics and health endpoints listening","addr":"([^"]+)"`)

// TestWatchServesMetrics: `ingest watch --listen` serves /healthz, /readyz
// and /metrics counting files, sessions and published chunks.
func TestWatchServesMetrics(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(testContext(t))
	stderr := &proctest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"watch", "--nats", srv.URL, "--account", "acct1", "--interval", "20ms",
			"--log-format", "json", "--listen", "127.0.0.1:0", dir}, io.Discard, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	}()
	var base string
	proctest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		m := listeningAt.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("not listening:\n%s", stderr.String())
		}
		base = "http://" + m[1]
		return nil
	})
	writeStatement(t, filepath.Join(dir, "good.csv"), 30, 60, "good")
	writeStatement(t, filepath.Join(dir, "bad.csv"), 10, 10, "bad", 3)
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		for _, p := range []string{"done/good.csv", "failed/bad.csv"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return err
			}
		}
		return nil
	})
	id := sessionIDOf(t, "acct1", filepath.Join(dir, "done", "good.csv"))
	rec := srv.sessionsRecord(t, id)

	if code, body := proctest.Get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := proctest.Get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
	code, body := proctest.Get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for name, want := range map[string]float64{
		`foliostream_files_total{outcome="imported"}`:      1,
		`foliostream_files_total{outcome="rejected"}`:      1,
		`foliostream_files_total{outcome="error"}`:         0,
		`foliostream_sessions_total{outcome="started"}`:    1,
		`foliostream_sessions_total{outcome="sealed"}`:     1,
		`foliostream_chunks_published_total`:               float64(rec.TotalChunks),
		`foliostream_movements_published_total`:            30,
		`foliostream_chunk_publish_duration_seconds_count`: float64(rec.TotalChunks),
	} {
		if got, ok := proctest.MetricValue(body, name); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if rec.TotalChunks < 2 {
		t.Errorf("test bug: %d chunks", rec.TotalChunks)
	}
}

// TestConfigFileAndEnvironment: flags come from the command line, then
// FOLIO_* variables, then the --config file (the subcommand's section, then
// the shared keys); a typo in the section is a usage error.
func TestConfigFileAndEnvironment(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "folio.yaml")
	write := func(text string) {
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("nats: " + srv.URL + "\naccount: shared\nstream-partitioned: true\nimport:\n  account: fromfile\nwatch:\n  interval: 1s\n")
	file := writeStatement(t, filepath.Join(dir, "s.csv"), 5, 5, "cfg")
	ctx := testContext(t)

	// The file's import section wins over its shared key.
	stdout, stderr, code := run(ctx, "--config", cfgPath, file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if rec := srv.sessionsRecord(t, sessionOf(t, stdout)); rec.Account != "fromfile" {
		t.Errorf("account %q, want the file's fromfile", rec.Account)
	}
	// The stream was created partitioned, as the file says.
	if tr := srv.stream(t).CachedInfo().Config.SubjectTransform; tr == nil || tr.Source != partition.TransformSource {
		t.Errorf("stream transform %+v, want the partition one", tr)
	}
	// The environment beats the file, the command line beats both.
	t.Setenv("FOLIO_CONFIG", cfgPath)
	t.Setenv("FOLIO_ACCOUNT", "fromenv")
	stdout, stderr, code = run(ctx, file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if rec := srv.sessionsRecord(t, sessionOf(t, stdout)); rec.Account != "fromenv" {
		t.Errorf("account %q, want the environment's fromenv", rec.Account)
	}
	stdout, stderr, code = run(ctx, "--account", "fromflag", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if rec := srv.sessionsRecord(t, sessionOf(t, stdout)); rec.Account != "fromflag" {
		t.Errorf("account %q, want the command line's fromflag", rec.Account)
	}
	// A bad value names its source; an unknown key of the section is refused.
	t.Setenv("FOLIO_MAX_IN_FLIGHT", "lots")
	if _, stderr, code := run(ctx, file); code != exitBadUsage || !strings.Contains(stderr, "FOLIO_MAX_IN_FLIGHT") {
		t.Errorf("bad variable: exit %d, %s", code, stderr)
	}
	t.Setenv("FOLIO_MAX_IN_FLIGHT", "")
	write("import:\n  acount: typo\n")
	if _, stderr, code := run(ctx, file); code != exitBadUsage || !strings.Contains(stderr, "import.acount") {
		t.Errorf("unknown key: exit %d, %s", code, stderr)
	}
}

// TestExistingBucketKept: ingest creates the session bucket with
// --stream-replicas only when it is missing; it never changes an existing
// one (updating it to R1 would shrink an operator's R3 bucket).
func TestExistingBucketKept(t *testing.T) {
	srv := newServer(t)
	ctx := testContext(t)
	if _, err := streams.EnsureSessionsConfig(ctx, srv.JS, streams.SessionsConfig{History: 9}); err != nil {
		t.Fatal(err)
	}
	file := writeStatement(t, filepath.Join(t.TempDir(), "s.csv"), 5, 5, "kv")
	if _, stderr, code := run(ctx, "--nats", srv.URL, file); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	kv, err := srv.JS.KeyValue(ctx, streams.SessionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 9 {
		t.Errorf("bucket history %d: ingest changed the existing bucket", st.History())
	}
	if _, err := srv.JS.Stream(ctx, events.StreamName); err != nil {
		t.Errorf("stream not created: %v", err)
	}
}

// TestWatchHelpNamesVariables: --help lists every flag with its variable.
func TestWatchHelpNamesVariables(t *testing.T) {
	for _, args := range [][]string{{"watch", "--help"}, {"--help"}, {"status", "--help"}, {"analyze", "--help"}} {
		_, stderr, _ := run(testContext(t), args...)
		lines := strings.Split(stderr, "\n")
		n := 0
		for i, line := range lines {
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			n++
			if i+1 >= len(lines) || !strings.Contains(line+lines[i+1], "env FOLIO_") {
				t.Errorf("%v: %q names no variable", args, line)
			}
		}
		if n < 3 {
			t.Errorf("%v lists %d flags", args, n)
		}
	}
}

// writeSections writes a Tastytrade statement in two sections over the
// same six weeks (deposits, then withdrawals, each newest first), ~2 MB:
// one pass 2 holds every week's open chunk at once, more than 1 MiB.
func writeSections(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(tastyHeader)
	start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	const rows, days = 3000, 42
	for _, kind := range []string{"Deposit", "Withdrawal"} {
		for i := rows - 1; i >= 0; i-- {
			date := start.AddDate(0, 0, i*days/rows).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05")
			fmt.Fprintf(&b, "%s+0000,Money Movement,%s,,,,ACH %s %d %s,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n",
				date, kind, kind, i, strings.Repeat("p", 200), 100+i, 100+i)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenBytes: --open-bytes reaches the importer. A statement in two
// sections over the same weeks holds every week's open chunk at once in
// one pass (~2 MB here); under --open-bytes 1 MiB it is read in windows,
// at the default (8 MiB) once; below 1 MiB the flag is refused.
func TestOpenBytes(t *testing.T) {
	srv := newServer(t)
	file := writeSections(t, filepath.Join(t.TempDir(), "sections.csv"))
	ctx := testContext(t)
	const note = "rows in sections: pass 2 reads the file once per window of chunks"
	_, stderr, code := run(ctx, "--nats", srv.URL, "--account", "small", "--open-bytes", "1048576", file)
	if code != 0 || !strings.Contains(stderr, note) {
		t.Fatalf("--open-bytes 1 MiB: exit %d, want 0 and the file read in windows:\n%s", code, stderr)
	}
	_, stderr, code = run(ctx, "--nats", srv.URL, "--account", "default", file)
	if code != 0 || strings.Contains(stderr, note) {
		t.Fatalf("default --open-bytes: exit %d, want 0 and one pass:\n%s", code, stderr)
	}
	if _, stderr, code := run(ctx, "--nats", srv.URL, "--account", "tiny", "--open-bytes", "1000", file); code != exitBadUsage || !strings.Contains(stderr, "--open-bytes 1000") {
		t.Errorf("--open-bytes 1000: exit %d, %s", code, stderr)
	}
}
