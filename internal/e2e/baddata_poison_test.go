package e2e

import (
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// planned is a statement cut into its events, ready to publish in any
// order: what ingest would publish, without ingest.
type planned struct {
	started *events.SessionStarted
	chunks  []*events.Chunk
	sealed  *events.SessionSealed
}

func planStatement(t *testing.T, path, account string, minChunks int) *planned {
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
	now := time.Now().UTC()
	pl := &planned{
		started: &events.SessionStarted{Session: a.SessionID, Account: account, Broker: a.Broker, File: a.File,
			SHA256: a.SHA256, Rows: a.Rows, Movements: a.Movements, Chunks: a.Plan.Len(), Plan: a.Plan.Fingerprint(), StartedAt: now},
		sealed: &events.SessionSealed{Session: a.SessionID, Account: account, Chunks: a.Plan.Len(), Movements: a.Movements, SealedAt: now},
	}
	err = chunker.Build(f, a, cfg, func(string) bool { return false }, func(c *events.Chunk) error {
		cp := *c
		cp.Movements = append([]events.Movement(nil), c.Movements...)
		pl.chunks = append(pl.chunks, &cp)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.chunks) < minChunks {
		t.Fatalf("%s has %d chunks; the test needs at least %d", path, len(pl.chunks), minChunks)
	}
	return pl
}

func publishEvent(t *testing.T, js jetstream.JetStream, e events.Event) {
	t.Helper()
	id, err := streams.MsgIDOf(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(t.Context(), js, "", e, id); err != nil {
		t.Fatal(err)
	}
}

// Poison on the stream, beside healthy imports, with the real projector:
//   - undecodable or contract-breaking messages (no headers, garbage body,
//     unknown schema version, unknown event type, a chunk carrying another
//     account's movement) go to the dead-letter stream, each with its
//     reason and origin, and never block the stream;
//   - a chunk of a session that never started is stored and waits, and
//     the session completes once its started and sealed events arrive;
//   - a session sealed with chunks missing waits, saying so in the log
//     (stored and total chunks), and completes when they arrive.
//
// Every account's projections then equal `projector compute` of its file.
func TestPoisonAndIncompleteSessions(t *testing.T) {
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	js := pl.env.JS

	orphanFile, gappyFile := filepath.Join(oracleDir, "options", "input.csv"), mpwFile
	orphan := planStatement(t, orphanFile, "orphan", 2)
	gappy := planStatement(t, gappyFile, "gappy", 3)

	type poison struct {
		name, subject string
		header        map[string]string
		body          []byte
		reason        string // what the dead-letter reason must say
	}
	stray := *orphan.chunks[0]
	stray.Movements = append([]events.Movement(nil), stray.Movements...)
	stray.Movements[0].Account = "someone-else"
	strayBody, err := events.Marshal(&stray)
	if err != nil {
		t.Fatal(err)
	}
	poisons := []poison{
		{"no headers", events.ChunkSubject("acct"), nil, []byte("\x00\x01garbage\xff"), "schema"},
		{"garbage body", events.ChunkSubject("acct"), map[string]string{events.HeaderType: string(events.TypeChunk), events.HeaderSchema: events.SchemaHeader},
			[]byte("{not json"), ""},
		{"unknown schema", events.ChunkSubject("acct"), map[string]string{events.HeaderType: string(events.TypeChunk), events.HeaderSchema: "99"},
			[]byte(`{"session":"x","account":"acct"}`), "schema"},
		{"unknown type", events.SessionSubject("acct"), map[string]string{events.HeaderType: "session.exploded", events.HeaderSchema: events.SchemaHeader},
			[]byte(`{"session":"x","account":"acct"}`), "session.exploded"},
		{"another account's movement", events.ChunkSubject("orphan"), map[string]string{events.HeaderType: string(events.TypeChunk), events.HeaderSchema: events.SchemaHeader},
			strayBody, "someone-else"},
	}
	for i, ps := range poisons {
		m := nats.NewMsg(ps.subject)
		for k, v := range ps.header {
			m.Header.Set(k, v)
		}
		m.Header.Set(events.HeaderMsgID, fmt.Sprintf("poison-%d", i))
		m.Data = ps.body
		if _, err := js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	// A chunk of a session that never started, and a session sealed with
	// its middle chunk missing.
	publishEvent(t, js, orphan.chunks[0])
	publishEvent(t, js, gappy.started)
	missing := len(gappy.chunks) / 2
	for i, c := range gappy.chunks {
		if i != missing {
			publishEvent(t, js, c)
		}
	}
	publishEvent(t, js, gappy.sealed)

	// The stream keeps flowing: a healthy import behind the poison completes.
	healthy := pl.importFile(t, filepath.Join(oracleDir, "pfizer", "input.csv"), "healthy")
	pl.waitCompleted(t, healthy.Session.ID)

	// The poison is dead-lettered with reasons, in order.
	dlq, err := js.Stream(t.Context(), streams.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		info, err := dlq.Info(t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs != uint64(len(poisons)) {
			return fmt.Errorf("%d dead letters, want %d", info.State.Msgs, len(poisons))
		}
		return nil
	})
	for i, ps := range poisons {
		raw, err := dlq.GetMsg(t.Context(), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		reason := raw.Header.Get(events.HeaderDeadLetterReason)
		if reason == "" || !strings.Contains(reason, ps.reason) || string(raw.Data) != string(ps.body) ||
			raw.Header.Get("Folio-Dead-Letter-Subject") != ps.subject || raw.Header.Get("Folio-Dead-Letter-Sequence") == "" {
			t.Errorf("%s: dead letter on %s, reason %q (want it to mention %q), %d bytes", ps.name,
				raw.Header.Get("Folio-Dead-Letter-Subject"), reason, ps.reason, len(raw.Data))
		}
		t.Logf("%s: dead-lettered: %s", ps.name, reason)
	}

	// The incomplete sessions wait, and the sealed one says why.
	proctest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		want := fmt.Sprintf(`"msg":"sealed session waiting for its chunks","session":"%s","account":"gappy","stored_chunks":%d,"total_chunks":%d`,
			gappy.sealed.Session, len(gappy.chunks)-1, len(gappy.chunks))
		if !strings.Contains(p.Stderr.String(), want) {
			return fmt.Errorf("no log line %s", want)
		}
		return nil
	})
	for _, id := range []string{orphan.started.Session, gappy.sealed.Session} {
		if r, err := pl.sessions.Get(t.Context(), id); err == nil && r.Phase == store.PhaseCompleted {
			t.Fatalf("session %s completed with chunks missing", id)
		}
	}

	// The missing pieces arrive: both complete.
	publishEvent(t, js, gappy.chunks[missing])
	publishEvent(t, js, orphan.started)
	for _, c := range orphan.chunks[1:] {
		publishEvent(t, js, c)
	}
	publishEvent(t, js, orphan.sealed)
	// Nobody ran ingest for them, so there are no session records in the
	// KV bucket: wait on the store.
	waitSQLiteCompleted(t, filepath.Join(dir, "folio.db"), orphan.started.Session, gappy.sealed.Session)
	proctest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error { return allAcked(t, js) })
	p.Stop(t)
	for _, c := range []struct{ account, file string }{
		{"orphan", orphanFile}, {"gappy", gappyFile},
		{"healthy", filepath.Join(oracleDir, "pfizer", "input.csv")},
	} {
		got := mustCLI(t, "snapshots", "--data", dir, "--account", c.account)
		if want := mustCLI(t, "compute", "--account", c.account, c.file); got != want {
			t.Errorf("%s: projections differ from compute:\n got %s\nwant %s", c.account, got, want)
		}
	}
	rows := dump(t, filepath.Join(dir, "folio.db"))
	t.Logf("%d movements stored", len(rows["movements"]))
	for _, r := range rows["import_sessions"] {
		if !strings.Contains(r, "phase=completed|") {
			t.Errorf("session not completed: %s", r)
		}
	}
}

// waitSQLiteCompleted waits until the SQLite store at path has the sessions
// completed.
func waitSQLiteCompleted(t *testing.T, path string, ids ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	proctest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		for _, id := range ids {
			var phase string
			if err := db.QueryRowContext(t.Context(), "SELECT phase FROM import_sessions WHERE id = ?", id).Scan(&phase); err != nil {
				return fmt.Errorf("session %s: %w", id, err)
			}
			if phase != store.PhaseCompleted {
				return fmt.Errorf("session %s is %s", id, phase)
			}
		}
		return nil
	})
}
