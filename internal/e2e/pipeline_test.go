package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var mpwFile = filepath.Join(oracleDir, "mpw", "input.csv")

// republish publishes every chunk and lifecycle event of a statement again
// under fresh message IDs, past the stream's de-duplication: what a replay
// of an old stream or an import whose session record was lost delivers.
func republish(t *testing.T, js jetstream.JetStream, path, account, tag string) {
	t.Helper()
	cfg := chunker.Config{Account: account, File: filepath.Base(path), ByteBudget: chunker.DefaultByteBudget}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := chunker.Analyze(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	send := func(e events.Event, id string) {
		if _, err := streams.Publish(t.Context(), js, "", e, id+"#"+tag); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	send(&events.SessionStarted{Session: a.SessionID, Account: account, Broker: a.Broker, File: a.File,
		SHA256: a.SHA256, Rows: a.Rows, Movements: a.Movements, Chunks: a.Plan.Len(), Plan: a.Plan.Fingerprint(), StartedAt: now}, events.MsgID(a.SessionID, "started"))
	err = chunker.Build(f, a, cfg, func(string) bool { return false }, func(c *events.Chunk) error {
		send(c, events.MsgID(c.Session, c.ID))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	send(&events.SessionSealed{Session: a.SessionID, Account: account, Chunks: a.Plan.Len(), Movements: a.Movements,
		SealedAt: now}, events.MsgID(a.SessionID, "sealed"))
}

// The same file imported three times, and then delivered twice more past
// the duplicate window, leaves exactly the tables of one clean import.
func TestSameFileThreeTimes(t *testing.T) {
	want := reference(t, "acct", mpwFile)
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	var id string
	for i := range 3 {
		res := pl.importFile(t, mpwFile, "acct")
		if i > 0 && !res.Outcome.AlreadyImported() {
			t.Errorf("import %d: outcome %s, want already imported", i+1, res.Outcome)
		}
		id = res.Session.ID
		pl.waitCompleted(t, id)
	}
	for _, tag := range []string{"again-1", "again-2"} {
		republish(t, pl.env.JS, mpwFile, "acct", tag)
	}
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	p.Stop(t)
	requireSameDump(t, dump(t, filepath.Join(dir, "folio.db")), want)
}

// allAcked reports an error while the projector's consumer has messages
// pending or unacknowledged.
func allAcked(t *testing.T, js jetstream.JetStream) error {
	c, err := js.Consumer(t.Context(), events.StreamName, "projector")
	if err != nil {
		return err
	}
	info, err := c.Info(t.Context())
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("%d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
	}
	return nil
}

// Two overlapping statements of one account (cut from one export at day
// boundaries) give the movements and projections of the whole export
// imported once.
func TestOverlappingStatements(t *testing.T) {
	header, rows := readStatement(t, mpwFile)
	day := func(row string) string { return row[:10] }
	// Rows are newest first; cut at day boundaries a third and two thirds in.
	cut := func(i int) int {
		for i < len(rows) && i > 0 && day(rows[i]) == day(rows[i-1]) {
			i++
		}
		return i
	}
	c1, c2 := cut(len(rows)/3), cut(2*len(rows)/3)
	recent := writeStatement(t, "recent.csv", header, rows[:c2])
	older := writeStatement(t, "older.csv", header, rows[c1:])
	if c1 == 0 || c2 <= c1 || c2 >= len(rows) {
		t.Fatalf("bad cuts %d, %d of %d rows", c1, c2, len(rows))
	}
	// The tables that depend on the files (sessions, chunks, lines) differ
	// by construction; movements (but the line and session they were kept
	// from) and every projection must not.
	skip := []string{"import_sessions", "import_chunks", "rejects", "movements.line", "movements.session"}
	full := reference(t, "acct", mpwFile)
	for table := range full {
		if slices.Contains(skip, table) {
			delete(full, table)
		}
	}
	want := dumpWithout(t, full, skip)

	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	a := pl.importFile(t, older, "acct")
	b := pl.importFile(t, recent, "acct")
	pl.waitCompleted(t, a.Session.ID, b.Session.ID)
	p.Stop(t)
	requireSameDump(t, dump(t, filepath.Join(dir, "folio.db"), skip...), want)
}

// dumpWithout drops the listed "table.column" values from a full dump's
// rows.
func dumpWithout(t *testing.T, d map[string][]string, skip []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, rows := range d {
		for _, row := range rows {
			var kept []string
			for _, f := range strings.Split(strings.TrimSuffix(row, "|"), "|") {
				col, _, _ := strings.Cut(f, "=")
				if !slices.Contains(skip, table+"."+col) {
					kept = append(kept, f)
				}
			}
			out[table] = append(out[table], strings.Join(kept, "|")+"|")
		}
	}
	return out
}

// The projector is killed with SIGKILL at several points (mid-batch, after
// a write before its ack, after the ack before phase 2, during phase 2,
// after phase 2 before the session record is updated) while a statement of
// many chunks flows; restarted, it completes the session and its store
// equals a clean run's: no movement lost, none doubled, the same
// projections.
func TestKillAndRestart(t *testing.T) {
	want := reference(t, "acct", mpwFile)
	for _, point := range []string{"buffered:7", "written:2", "acked:3", "phase2", "completed"} {
		t.Run(point, func(t *testing.T) {
			pl := newPipeline(t)
			dir := t.TempDir()
			p := startProjector(t, pl.env.URL, dir, []string{"FOLIO_PROJECTOR_PAUSE_AT=" + point})
			res := pl.importFile(t, mpwFile, "acct")
			p.WaitFor(t, "FOLIO_PROJECTOR_PAUSED "+point)
			p.Kill()
			if r, err := pl.sessions.Get(t.Context(), res.Session.ID); err != nil || r.Phase == store.PhaseCompleted {
				t.Fatalf("session record before the restart: %v, %v; want not completed", r, err)
			}
			p = startProjector(t, pl.env.URL, dir, nil)
			pl.waitCompleted(t, res.Session.ID)
			proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
			p.Stop(t)
			requireSameDump(t, dump(t, filepath.Join(dir, "folio.db")), want)
		})
	}
}

// `projector replay` rebuilds from the stream a store equal to the
// incremental one: swapped in place, written elsewhere with --out, and for
// one account.
func TestReplayEqualsIncremental(t *testing.T) {
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	var ids []string
	for _, f := range []struct{ file, account string }{
		{mpwFile, "alice"}, {filepath.Join(oracleDir, "options", "input.csv"), "bob"},
		{filepath.Join(oracleDir, "pfizer", "input.csv"), "alice"},
	} {
		ids = append(ids, pl.importFile(t, f.file, f.account).Session.ID)
	}
	pl.waitCompleted(t, ids...)
	p.Stop(t)
	live := filepath.Join(dir, "folio.db")
	incremental := dump(t, live)

	out := filepath.Join(t.TempDir(), "rebuilt.db")
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir, "--out", out)
	requireSameDump(t, dump(t, out), incremental)

	// Rebuild bob alone after damaging his rows: the others stay as they are.
	db, err := sql.Open("sqlite", live)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM movement_docs WHERE id IN (SELECT id FROM movement_docs WHERE account = 'bob' ORDER BY id LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM operations WHERE account = 'bob'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir, "--account", "bob")
	requireSameDump(t, dump(t, live), incremental)

	// Rebuild everything in place.
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir)
	requireSameDump(t, dump(t, live), incremental)
	for _, suffix := range []string{".replay", ".replay-wal"} {
		if _, err := os.Stat(live + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", live+suffix)
		}
	}
	// The projector starts again on the rebuilt store and has nothing to do.
	p = startProjector(t, pl.env.URL, dir, nil)
	p.Stop(t)
	requireSameDump(t, dump(t, live), incremental)
}

// Replay refuses to run beside a projector on the same data directory, and
// to replace a store with data by an empty stream.
func TestReplayRefuses(t *testing.T) {
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	res := pl.importFile(t, filepath.Join(oracleDir, "pfizer", "input.csv"), "acct")
	pl.waitCompleted(t, res.Session.ID)
	if _, err := cli(t, "replay", "--nats", pl.env.URL, "--data", dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("replay beside a running projector: %v, want a refusal", err)
	}
	p.Stop(t)
	before := dump(t, filepath.Join(dir, "folio.db"))
	empty := newPipeline(t)
	if _, err := cli(t, "replay", "--nats", empty.env.URL, "--data", dir); err == nil || !strings.Contains(err.Error(), "no messages") {
		t.Errorf("replay of an empty stream over a full store: %v, want a refusal", err)
	}
	requireSameDump(t, dump(t, filepath.Join(dir, "folio.db")), before)
}

// A poison message lands in the dead-letter stream with its reason, and the
// statements behind it are projected.
func TestPoisonMessage(t *testing.T) {
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	m := nats.NewMsg(events.ChunkSubject("acct"))
	m.Header.Set(events.HeaderType, string(events.TypeChunk))
	m.Header.Set(events.HeaderSchema, strconv.Itoa(events.SchemaVersion+1)) // a version from the future
	m.Data = []byte(`{"session":"x","account":"acct"}`)
	if _, err := pl.env.JS.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	res := pl.importFile(t, filepath.Join(oracleDir, "options", "input.csv"), "acct")
	pl.waitCompleted(t, res.Session.ID)
	dlq, err := pl.env.JS.Stream(t.Context(), streams.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := dlq.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if reason := raw.Header.Get(events.HeaderDeadLetterReason); !strings.Contains(reason, "unsupported schema") {
		t.Errorf("dead letter reason %q", reason)
	}
	if string(raw.Data) != string(m.Data) {
		t.Errorf("dead letter body %q, want %q", raw.Data, m.Data)
	}
	p.Stop(t)
	out := mustCLI(t, "snapshots", "--data", dir, "--account", "acct", "--format", "table")
	if !strings.Contains(out, "BROKER SNAPSHOTS (8)") {
		t.Errorf("snapshots table:\n%s", out)
	}
}

// While another process holds the store's write lock (a real SQLite file,
// a person's sqlite3 shell in a write transaction), writes fail and the
// messages stay unacknowledged; once the lock is released the projector
// catches up by itself.
func TestStoreLockedThenReleased(t *testing.T) {
	want := reference(t, "acct", mpwFile)
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil, "--busy-timeout", "50ms")
	db, err := sql.Open("sqlite", filepath.Join(dir, "folio.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	res := pl.importFile(t, mpwFile, "acct")
	proctest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := strings.Count(p.Stderr.String(), "store write failed"); n < 3 {
			return fmt.Errorf("%d failed writes so far", n)
		}
		return nil
	})
	if r, err := pl.sessions.Get(t.Context(), res.Session.ID); err != nil || r.Phase == store.PhaseCompleted {
		t.Fatalf("session %v, %v while the store is locked", r, err)
	}
	if err := allAcked(t, pl.env.JS); err == nil {
		t.Fatal("messages acknowledged while the store is locked")
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	pl.waitCompleted(t, res.Session.ID)
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return allAcked(t, pl.env.JS) })
	if !strings.Contains(p.Stderr.String(), "store writable again") {
		t.Error("no recovery line in the log")
	}
	p.Stop(t)
	requireSameDump(t, dump(t, filepath.Join(dir, "folio.db")), want)
}

// /healthz and /readyz answer while the projector runs.
func TestHealthEndpoints(t *testing.T) {
	pl := newPipeline(t)
	p := startProjector(t, pl.env.URL, t.TempDir(), nil, "--listen", "127.0.0.1:0")
	addr := p.WaitMatch(t, listening)[1]
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := proctest.Get(t, "http://"+addr+path); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	p.Stop(t)
}

// A new user's path: README's main-job command, run as written from the
// repository root on a machine with nothing else running, prints the
// snapshots of the sample statement.
func TestReadmeMainJob(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var command string
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "go run ./cmd/projector demo") {
			command = l
			break
		}
	}
	if command == "" {
		t.Fatal("README.md has no `go run ./cmd/projector demo` line")
	}
	fields := strings.Fields(command)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fields[0], fields[1:]...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	for _, want := range []string{
		"imported into account demo",
		"completed",
		"BROKER SNAPSHOTS (3)",
		"TICKER SNAPSHOTS (3)",
		"OPERATIONS (1)",
		"175.52", // PFE realized, expected_operations.json
		"8.7760", // PFE performance
		"2000.00",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", command, want, out)
		}
	}
}

// The example queries of docs/projector.md run on a real store and return
// what they say.
func TestDocQueries(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "projector.md"))
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, block := range strings.Split(string(doc), "```sql\n")[1:] {
		q, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatal("unterminated sql block in docs/projector.md")
		}
		queries = append(queries, q)
	}
	if len(queries) < 5 {
		t.Fatalf("found %d example queries", len(queries))
	}

	// A statement with one bad row, imported with --skip-invalid, so that
	// rejects has a row too.
	header, rows := readStatement(t, filepath.Join(oracleDir, "options", "input.csv"))
	bad := strings.Replace(rows[0], rows[0][:10], "not-a-date", 1)
	withReject := writeStatement(t, "options-bad.csv", header, append(rows, bad))
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	im := &streams.Importer{JS: pl.env.JS, Sessions: pl.sessions}
	res, err := im.Import(t.Context(), streams.Request{Path: withReject, Account: "other", Broker: "auto", SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{res.Session.ID, pl.importFile(t, filepath.Join(oracleDir, "pfizer", "input.csv"), "demo").Session.ID,
		pl.importFile(t, mpwFile, "demo").Session.ID}
	pl.waitCompleted(t, ids...)
	p.Stop(t)

	db, err := sql.Open("sqlite", filepath.Join(dir, "folio.db")+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range queries {
		title, _, _ := strings.Cut(strings.TrimPrefix(q, "-- "), "\n")
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Errorf("%s: %v", title, err)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", title, err)
		}
		rows.Close()
		wantNone := strings.Contains(title, "not all stored")
		if wantNone != (n == 0) {
			t.Errorf("%s: %d rows", title, n)
		}
		t.Logf("%s: %d rows", title, n)
	}
}
