package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// TestMain removes the ingest binary the tests that kill a real process
// built (proctest.Build).
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

const tastyHeader = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n"

// writeStatement writes a Tastytrade statement of rows deposits over days
// days (newest first, as exported); rows listed in bad get a broken date.
func writeStatement(t *testing.T, path string, rows, days int, salt string, bad ...int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(tastyHeader)
	start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := rows - 1; i >= 0; i-- {
		date := start.AddDate(0, 0, i*days/rows).Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05") + "+0000"
		for _, j := range bad {
			if i == j {
				date = "not-a-date"
			}
		}
		fmt.Fprintf(&b, "%s,Money Movement,Deposit,,,,ACH DEPOSIT %d %s,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n", date, i, salt, 100+i, 100+i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testServer is an embedded NATS server in the test process.
type testServer struct {
	*natstest.Env
}

func newServer(t *testing.T) *testServer {
	return &testServer{natstest.Run(t, natsembed.Config{})}
}

func (s *testServer) stream(t *testing.T) jetstream.Stream {
	t.Helper()
	st, err := s.JS.Stream(testContext(t), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *testServer) sessions(t *testing.T) *streams.Sessions {
	t.Helper()
	ss, err := streams.OpenSessions(testContext(t), s.JS)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// msgIDs counts the stream's messages by Nats-Msg-Id (0 messages when the
// stream does not exist).
func (s *testServer) msgIDs(t *testing.T) map[string]int {
	t.Helper()
	ctx := testContext(t)
	out := map[string]int{}
	st, err := s.JS.Stream(ctx, events.StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Header.Get(events.HeaderMsgID)]++
	}
	return out
}

// requireSealedOnce checks that session id is sealed and the stream holds
// each of its planned chunks exactly once, plus one started and one sealed.
func (s *testServer) requireSealedOnce(t *testing.T, id string) *streams.SessionRecord {
	t.Helper()
	rec, err := s.sessions(t).Get(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Phase != store.PhaseSealed || rec.ChunksDone() != rec.TotalChunks || rec.TotalChunks == 0 || len(rec.Chunks) != 0 {
		t.Fatalf("session %s: phase %s, %d/%d chunks (acked %q, by ID %v)", id, rec.Phase, rec.ChunksDone(), rec.TotalChunks, rec.Acked, rec.Chunks)
	}
	for n := 1; n <= rec.TotalChunks; n++ {
		if !rec.HasChunk(n) {
			t.Fatalf("session %s: chunk %d of %d not recorded (acked %q)", id, n, rec.TotalChunks, rec.Acked)
		}
	}
	ids := s.msgIDs(t)
	chunks := 0
	for k, n := range ids {
		if !strings.HasPrefix(k, id+"/") {
			continue
		}
		if n != 1 {
			t.Fatalf("%s is in the stream %d times", k, n)
		}
		step := strings.TrimPrefix(k, id+"/")
		if step != streams.StepStarted && step != streams.StepSealed && !strings.HasPrefix(step, "cancelled.") {
			chunks++
		}
	}
	if chunks != rec.TotalChunks || ids[id+"/started"] != 1 || ids[id+"/sealed"] != 1 {
		t.Fatalf("stream holds %d chunks of %d for %s (%v)", chunks, rec.TotalChunks, id, ids)
	}
	return rec
}

// sessionIDOf names the session of a file, as ingest will.
func sessionIDOf(t *testing.T, account, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return chunker.SessionID(account, hex.EncodeToString(sum[:]))
}

// run runs ingest in-process.
func run(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	err := dispatch(ctx, args, &out, &errb)
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// sessionOf returns the session ID the CLI printed for a file.
func sessionOf(t *testing.T, stdout string) string {
	t.Helper()
	_, rest, ok := strings.Cut(stdout, "session ")
	if !ok {
		t.Fatalf("no session in %q", stdout)
	}
	id, _, _ := strings.Cut(rest, " ")
	return id
}

func TestImportSameFileThreeTimes(t *testing.T) {
	srv := newServer(t)
	ctx := testContext(t)
	path := writeStatement(t, filepath.Join(t.TempDir(), "three.csv"), 100, 70, "")
	var id string
	for i := range 3 {
		out, errs, code := run(ctx, "--nats", srv.URL, "--account", "acct1", path)
		if code != 0 {
			t.Fatalf("run #%d: exit %d: %s", i+1, code, errs)
		}
		want := "sealed"
		if i > 0 {
			want = "already imported: session " + id + " is sealed"
		} else {
			id = sessionOf(t, out)
		}
		if !strings.Contains(out, want) {
			t.Fatalf("run #%d: %q does not say %q", i+1, out, want)
		}
	}
	srv.requireSealedOnce(t, id)
	if n := len(srv.msgIDs(t)); n != srv.sessionsRecord(t, id).TotalChunks+2 {
		t.Fatalf("%d distinct messages in the stream", n)
	}
}

func (s *testServer) sessionsRecord(t *testing.T, id string) *streams.SessionRecord {
	t.Helper()
	rec, err := s.sessions(t).Get(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// startChild starts the ingest binary with args, paused at pauseAt (if
// set) and without the caller's NATS URL.
func startChild(t *testing.T, pauseAt string, args ...string) *proctest.Proc {
	t.Helper()
	cmd := exec.Command(proctest.Build(t, "github.com/foliostream/foliostream/cmd/ingest"), args...)
	cmd.Env = append(os.Environ(), envPauseAt+"="+pauseAt, "FOLIO_NATS_URL=")
	return proctest.StartCmd(t, cmd)
}

// pausedAt is the line ingest prints when it pauses at point.
func pausedAt(point string) string { return pauseMarker + " " + point + "\n" }

func TestKill9AndRerun(t *testing.T) {
	// The statement is exported newest first, so chunks are emitted from
	// the highest ordinal down; 20 weeks give 20 chunks.
	tests := []struct {
		name   string
		points []string // killed at each, in turn, before the final run
	}{
		{"after started", []string{"started"}},
		{"first chunk", []string{"chunk:20"}},
		{"mid chunks", []string{"chunk:11"}},
		{"last chunk", []string{"chunk:1"}},
		{"before sealed", []string{"before-sealed"}},
		{"twice", []string{"chunk:15", "chunk:5", "before-sealed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			path := writeStatement(t, filepath.Join(t.TempDir(), "kill.csv"), 140, 140, "")
			args := []string{"--nats", srv.URL, "--account", "acct1", "--log-format", "json", path}
			for _, point := range tt.points {
				c := startChild(t, point, args...)
				c.WaitFor(t, pausedAt(point))
				if err := c.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				if code := c.ExitCode(t); code != -1 {
					t.Fatalf("killed ingest exited %d", code)
				}
			}
			// Killed: a session left publishing, never sealed.
			id := sessionIDOf(t, "acct1", path)
			rec := srv.sessionsRecord(t, id)
			if rec.Phase != store.PhasePublishing || srv.msgIDs(t)[id+"/sealed"] != 0 {
				t.Fatalf("after kill: phase %s, %d chunks recorded", rec.Phase, rec.ChunksDone())
			}
			t.Logf("after kill: %d of %d chunks recorded, %d messages in the stream", rec.ChunksDone(), rec.TotalChunks, len(srv.msgIDs(t)))
			c := startChild(t, "", args...)
			if code := c.ExitCode(t); code != 0 {
				t.Fatalf("rerun exited %d: %s", code, c.Stdout.String())
			}
			out := c.Stdout.String()
			if !strings.Contains(out, "sealed: 20 chunks") {
				t.Fatalf("rerun output %q", out)
			}
			rec = srv.requireSealedOnce(t, sessionOf(t, out))
			if rec.Movements != 140 || rec.PublishedMovements != 140 {
				t.Fatalf("movements %d published %d", rec.Movements, rec.PublishedMovements)
			}
		})
	}
}

func TestSIGINTCancelsThenResumes(t *testing.T) {
	srv := newServer(t)
	path := writeStatement(t, filepath.Join(t.TempDir(), "int.csv"), 140, 140, "")
	args := []string{"--nats", srv.URL, "--account", "acct1", "--log-format", "json", path}
	c := startChild(t, "chunk:12", args...)
	c.WaitFor(t, pausedAt("chunk:12"))
	if err := c.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := c.ExitCode(t); code != exitCancelled {
		t.Fatalf("interrupted ingest exited %d, want %d", code, exitCancelled)
	}
	recs, err := srv.sessions(t).List(testContext(t))
	if err != nil || len(recs) != 1 {
		t.Fatalf("sessions: %v %v", recs, err)
	}
	rec := recs[0]
	if rec.Phase != store.PhaseCancelled || rec.Cancellations != 1 || rec.ChunksDone() != 9 || rec.Acked.String() != "12-20" {
		// Chunks 20..12 were handed to the publisher before the signal.
		t.Fatalf("after SIGINT: phase %s, cancellations %d, %d chunks recorded (%q)", rec.Phase, rec.Cancellations, rec.ChunksDone(), rec.Acked)
	}
	if ids := srv.msgIDs(t); ids[rec.ID+"/cancelled.1"] != 1 || ids[rec.ID+"/sealed"] != 0 {
		t.Fatalf("stream after SIGINT: %v", ids)
	}
	out, errs, code := run(testContext(t), args...)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "(11 published now, 9 before)") {
		t.Fatalf("resume output %q", out)
	}
	srv.requireSealedOnce(t, rec.ID)
}

func TestInvalidRowsAndSkipInvalid(t *testing.T) {
	srv := newServer(t)
	ctx := testContext(t)
	path := writeStatement(t, filepath.Join(t.TempDir(), "bad.csv"), 30, 20, "", 4, 17)
	_, errs, code := run(ctx, "--nats", srv.URL, "--account", "acct1", path)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, errs)
	}
	// Both bad rows are reported with line, column, value and reason. The
	// file is newest first: row i is on line 1 + (rows - i).
	for _, line := range []int{1 + 30 - 4, 1 + 30 - 17} {
		want := fmt.Sprintf("line %d, column \"Date\", value \"not-a-date\": ", line)
		if !strings.Contains(errs, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if ids := srv.msgIDs(t); len(ids) != 0 {
		t.Fatalf("a refused file published %v", ids)
	}
	out, errs, code := run(ctx, "--nats", srv.URL, "--account", "acct1", "--skip-invalid", path)
	if code != 0 {
		t.Fatalf("--skip-invalid: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "2 invalid rows skipped") {
		t.Fatalf("output %q", out)
	}
	rec := srv.requireSealedOnce(t, sessionOf(t, out))
	if rec.Rejected != 2 || len(rec.Rejects) != 2 || rec.Movements != 28 {
		t.Fatalf("record: rejected %d %v movements %d", rec.Rejected, rec.Rejects, rec.Movements)
	}
}

func TestInvalidAccounts(t *testing.T) {
	srv := newServer(t)
	path := writeStatement(t, filepath.Join(t.TempDir(), "a.csv"), 5, 5, "")
	for _, acct := range []string{"a.b", "*", ">", "acct.>", "a b", "x/y"} {
		_, errs, code := run(testContext(t), "--nats", srv.URL, "--account", acct, path)
		if code != exitBadUsage || !strings.Contains(errs, "invalid account name") {
			t.Errorf("account %q: exit %d, stderr %q", acct, code, errs)
		}
	}
	if ids := srv.msgIDs(t); len(ids) != 0 {
		t.Fatalf("published %v", ids)
	}
}

func TestModifiedFile(t *testing.T) {
	srv := newServer(t)
	path := writeStatement(t, filepath.Join(t.TempDir(), "mod.csv"), 140, 140, "")
	args := []string{"--nats", srv.URL, "--account", "acct1", "--log-format", "json", path}
	c := startChild(t, "chunk:10", args...)
	c.WaitFor(t, pausedAt("chunk:10"))
	c.Cmd.Process.Signal(syscall.SIGKILL)
	c.ExitCode(t)
	recs, _ := srv.sessions(t).List(testContext(t))
	old := recs[0].ID

	writeStatement(t, path, 150, 140, "v2")
	out, errs, code := run(testContext(t), args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "earlier session "+old+" of this path failed (file modified since import started)") {
		t.Fatalf("output %q", out)
	}
	rec := srv.sessionsRecord(t, old)
	if rec.Phase != store.PhaseFailed || rec.Error != streams.ReasonFileModified {
		t.Fatalf("old session %s: %q", rec.Phase, rec.Error)
	}
	if ids := srv.msgIDs(t); ids[old+"/failed"] != 1 {
		t.Fatalf("no session.failed for %s: %v", old, ids)
	}
	srv.requireSealedOnce(t, sessionOf(t, out))
}

func TestWait(t *testing.T) {
	srv := newServer(t)
	ctx := testContext(t)
	dir := t.TempDir()
	path := writeStatement(t, filepath.Join(dir, "w.csv"), 20, 20, "")

	// No projector: --wait gives up after its timeout.
	_, errs, code := run(ctx, "--nats", srv.URL, "--account", "acct1", "--wait", "--timeout", "300ms", path)
	if code != exitWaitTimeout {
		t.Fatalf("exit %d want %d: %s", code, exitWaitTimeout, errs)
	}
	// A stand-in projector completes a session once it is sealed.
	ss := srv.sessions(t)
	path2 := writeStatement(t, filepath.Join(dir, "w2.csv"), 20, 20, "2")
	id := sessionIDOf(t, "acct1", path2)
	go func() {
		if _, err := ss.WaitPhase(ctx, id, store.PhaseSealed); err == nil {
			ss.MarkCompleted(ctx, id, time.Now())
		}
	}()
	out, errs, code := run(ctx, "--nats", srv.URL, "--account", "acct1", "--wait", "--timeout", "30s", path2)
	if code != 0 || !strings.Contains(out, "session "+id+" completed at") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	// A completed session: a no-op that says so, and --wait returns at once.
	out, _, code = run(ctx, "--nats", srv.URL, "--account", "acct1", "--wait", path2)
	if code != 0 || !strings.Contains(out, "already imported: session "+id+" is completed") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

func TestStatus(t *testing.T) {
	srv := newServer(t)
	ctx := testContext(t)
	// Before any import there is no bucket: an empty list.
	out, errs, code := run(ctx, "status", "--nats", srv.URL, "--format", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty status: exit %d %q %s", code, out, errs)
	}
	dir := t.TempDir()
	good := writeStatement(t, filepath.Join(dir, "good.csv"), 30, 30, "")
	bad := writeStatement(t, filepath.Join(dir, "bad.csv"), 30, 30, "x", 3)
	out, _, code = run(ctx, "--nats", srv.URL, "--account", "acct1", good)
	if code != 0 {
		t.Fatal(code)
	}
	id := sessionOf(t, out)
	if _, _, code = run(ctx, "--nats", srv.URL, "--account", "acct2", "--skip-invalid", bad); code != 0 {
		t.Fatal(code)
	}

	out, errs, code = run(ctx, "status", "--nats", srv.URL, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var recs []streams.SessionRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(recs) != 2 || recs[0].ID != id || recs[0].File != "good.csv" || recs[0].Phase != store.PhaseSealed ||
		recs[1].Account != "acct2" || recs[1].Rejected != 1 || len(recs[0].SHA256) != 64 {
		t.Fatalf("status json: %+v", recs)
	}
	out, _, code = run(ctx, "status", "--nats", srv.URL, "--session", id)
	if code != 0 || !strings.Contains(out, "PHASE") || !strings.Contains(out, id) || strings.Contains(out, "acct2") ||
		!strings.Contains(out, fmt.Sprintf("%d/%d", recs[0].TotalChunks, recs[0].TotalChunks)) {
		t.Fatalf("status table: %q", out)
	}
	out, _, code = run(ctx, "status", "--nats", srv.URL, "--account", "acct2", "--format", "json")
	if code != 0 || strings.Contains(out, id) || !strings.Contains(out, "bad.csv") {
		t.Fatalf("status --account: %q", out)
	}
}

// watcher runs `ingest watch` in-process until stopped.
type watcher struct {
	cancel context.CancelFunc
	done   chan error
	out    *proctest.SyncBuffer
}

func startWatch(t *testing.T, srv *testServer, dir string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	w := &watcher{cancel: cancel, done: make(chan error, 1), out: &proctest.SyncBuffer{}}
	go func() {
		w.done <- dispatch(ctx, []string{"watch", "--nats", srv.URL, "--account", "acct1", "--interval", "20ms",
			"--log-format", "json", dir}, w.out, io.Discard)
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

func (w *watcher) stop(t *testing.T) {
	t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("watch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("watch did not stop")
	}
}

func fileContains(path, want string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), want) {
		return fmt.Errorf("%s does not contain %q:\n%s", path, want, b)
	}
	return nil
}

func TestWatchFolder(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	src := t.TempDir()
	// Left in the folder before the watcher starts.
	writeStatement(t, filepath.Join(dir, "early.csv"), 30, 30, "early")
	w := startWatch(t, srv, dir)

	// Written under a temporary name, then renamed into place.
	writeStatement(t, filepath.Join(dir, ".one.csv.tmp"), 40, 40, "one")
	if err := os.Rename(filepath.Join(dir, ".one.csv.tmp"), filepath.Join(dir, "one.csv")); err != nil {
		t.Fatal(err)
	}
	// The same content again under another name.
	b, _ := os.ReadFile(filepath.Join(dir, "one.csv"))
	os.WriteFile(filepath.Join(src, "again.csv"), b, 0o644)
	writeStatement(t, filepath.Join(src, "bad.csv"), 10, 10, "bad", 2)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(src, "secret.csv"), b, 0o644)
	os.Symlink(filepath.Join(src, "secret.csv"), filepath.Join(dir, "link.csv"))

	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		for _, f := range []struct{ path, want string }{
			{"done/early.csv.report.txt", "status:    imported"},
			{"done/one.csv.report.txt", "status:    imported"},
			{"failed/link.csv.report.txt", "symbolic link"},
		} {
			if err := fileContains(filepath.Join(dir, f.path), f.want); err != nil {
				return err
			}
		}
		return nil
	})
	// Dropped after the first is filed: the same file is imported once.
	os.Rename(filepath.Join(src, "again.csv"), filepath.Join(dir, "again.csv"))
	os.Rename(filepath.Join(src, "bad.csv"), filepath.Join(dir, "bad.csv"))
	os.Rename(filepath.Join(src, "notes.txt"), filepath.Join(dir, "notes.txt"))
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		for _, f := range []struct{ path, want string }{
			{"done/again.csv.report.txt", "already imported"},
			{"failed/bad.csv.report.txt", `line 9, column "Date", value "not-a-date"`},
			{"failed/bad.csv.report.json", `"status": "rejected"`},
			{"failed/notes.txt.report.txt", "not a Tastytrade or IBKR statement"},
		} {
			if err := fileContains(filepath.Join(dir, f.path), f.want); err != nil {
				return err
			}
		}
		return nil
	})
	w.stop(t)
	for _, name := range []string{"early.csv", "one.csv", "again.csv", "bad.csv", "notes.txt", "link.csv"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in the drop folder", name)
		}
	}
	if b, err := os.ReadFile(filepath.Join(src, "secret.csv")); err != nil || len(b) == 0 {
		t.Fatalf("symlink target touched: %v", err)
	}

	// Restart: a file dropped while stopped is picked up.
	writeStatement(t, filepath.Join(dir, "late.csv"), 25, 25, "late")
	startWatch(t, srv, dir)
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		return fileContains(filepath.Join(dir, "done", "late.csv.report.txt"), "status:    imported")
	})

	// Three sessions, each sealed with its chunks exactly once: again.csv
	// published nothing and the refused files never started one.
	recs, err := srv.sessions(t).List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.File)
	}
	if strings.Join(names, ",") != "early.csv,one.csv,late.csv" {
		t.Fatalf("sessions: %v", names)
	}
	for _, r := range recs {
		srv.requireSealedOnce(t, r.ID)
	}
}
