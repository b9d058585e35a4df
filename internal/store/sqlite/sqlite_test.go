package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/store/storetest"
	"github.com/shopspring/decimal"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	})
}

func mv(id, session string, line int) events.Movement {
	return events.Movement{
		ID: id, Account: "acct", Broker: events.BrokerTastytrade, Kind: events.KindCash,
		Time: events.WallTimeOf(time.Date(2025, 8, 25, 10, 0, 0, 0, time.UTC)), Line: line,
		Currency: "USD", CashType: events.CashDeposit, Amount: decimal.RequireFromString("100.10"),
	}
}

func chunkOf(session string, ms ...events.Movement) *events.Chunk {
	return &events.Chunk{Session: session, Account: "acct", ID: "2025-W35.1", Ordinal: 1, Total: 1,
		Week: "2025-W35", Part: 1, Movements: ms}
}

// The kept row of a movement that two sessions carry does not depend on the
// order the sessions arrive in: replay and incremental agree on every column.
func TestOverlapOrderIndependent(t *testing.T) {
	a := chunkOf("sess-b", mv("x:cash:0", "sess-b", 9), mv("y:cash:0", "sess-b", 3))
	b := chunkOf("sess-a", mv("x:cash:0", "sess-a", 12))
	c := chunkOf("sess-b", mv("x:cash:0", "sess-b", 4)) // same session, smaller line
	orders := [][]*events.Chunk{{a, b, c}, {c, b, a}, {b, a, c}, {b, c, a}}
	var first []events.Movement
	for i, order := range orders {
		s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
		for _, ch := range order {
			if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{ch}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := store.AccountMovements(t.Context(), s, "acct")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("order %d: %d movements, want 2", i, len(got))
		}
		if got[0].ID != "x:cash:0" || got[0].Line != 12 {
			t.Errorf("order %d: kept %s line %d, want x:cash:0 from sess-a line 12", i, got[0].ID, got[0].Line)
		}
		if first == nil {
			first = got
			continue
		}
		for j := range got {
			if !got[j].Equal(&first[j]) {
				t.Errorf("order %d movement %d: %+v, first order gave %+v", i, j, got[j], first[j])
			}
		}
	}
}

func TestRejects(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	rejects := []store.Reject{
		{Session: "s1", Account: "acct", RowReject: events.RowReject{Line: 9, Column: "Value", Value: "1,2,3", Reason: "bad number"}},
		{Session: "s1", Account: "acct", RowReject: events.RowReject{Line: 4, Reason: "short row"}},
		{Session: "s2", Account: "acct", RowReject: events.RowReject{Line: 4, Reason: "short row"}},
	}
	for range 2 {
		if err := s.WriteBatch(t.Context(), &store.Batch{Rejects: rejects}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Rejects(t.Context(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Reject{rejects[1], rejects[0]}
	if !slices.Equal(got, want) {
		t.Errorf("Rejects(s1) = %+v, want %+v", got, want)
	}
}

func TestChunkRecordsKeepFirstStoredAt(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	first := time.Date(2025, 8, 25, 10, 0, 0, 123456789, time.UTC)
	ch := chunkOf("s1", mv("x:cash:0", "s1", 2))
	ch.Total = 3
	for i, at := range []time.Time{first, first.Add(time.Hour)} {
		if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{ch}, At: at}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	got, err := s.Chunks(t.Context(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := []sqlite.ChunkRecord{{Session: "s1", ID: "2025-W35.1", Account: "acct", Ordinal: 1, Total: 3,
		Week: "2025-W35", Part: 1, Movements: 1, StoredAt: first}}
	if len(got) != 1 || !got[0].StoredAt.Equal(first) {
		t.Fatalf("Chunks = %+v, want %+v", got, want)
	}
	got[0].StoredAt = first
	if got[0] != want[0] {
		t.Errorf("Chunks = %+v, want %+v", got, want)
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("x:cash:0", "s1", 2))}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != sqlite.LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d, want %d", v, sqlite.LatestSchemaVersion())
	}
	ms, err := store.AccountMovements(t.Context(), s, "acct")
	if err != nil || len(ms) != 1 {
		t.Fatalf("after reopen: %d movements, %v; want 1", len(ms), err)
	}
	n, err := s.StoredChunks(t.Context(), "s1")
	if err != nil || n != 1 {
		t.Errorf("after reopen: StoredChunks %d, %v; want 1", n, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO schema_version (version, description, applied_at) VALUES (?, 'from the future', '2099-01-01T00:00:00Z')`,
		sqlite.LatestSchemaVersion()+1)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(t.Context(), path); !errors.Is(err, sqlite.ErrNewerSchema) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: err %v, want ErrNewerSchema", err)
	}
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	open(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

// A person can read every table with the sqlite3 shell while the store is
// open (the documented queries in docs/projector.md).
func TestSQLite3Shell(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 shell not installed; skipping the shell check")
	}
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s := open(t, path)
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("x:cash:0", "s1", 2))}}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), shell, "-readonly", path,
		`SELECT id, time, amount FROM movements; SELECT max(version) FROM schema_version;
		 SELECT count(*) FROM import_sessions, import_chunks, broker_snapshots, ticker_snapshots, operations, rejects;`).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	want := fmt.Sprintf("x:cash:0|2025-08-25T10:00:00|100.1\n%d\n0\n", sqlite.LatestSchemaVersion())
	if string(out) != want {
		t.Errorf("sqlite3 printed %q, want %q", out, want)
	}
}

// While another process holds the write lock (a person's sqlite3 shell in an
// open write transaction), writes fail after the busy timeout with an error;
// once the lock is released they succeed and nothing was lost or wedged.
func TestLockedThenWritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.OpenOptions(t.Context(), path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.WriteBatch(ctx, &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("a:cash:0", "s1", 2))}}); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{Chunks: []*events.Chunk{chunkOf("s2", mv("b:cash:0", "s2", 2))}}
	if err := s.WriteBatch(ctx, b); err == nil {
		t.Fatal("WriteBatch succeeded while another connection held the write lock")
	}
	// Reads go on while the lock is held (WAL).
	if ms, err := store.AccountMovements(ctx, s, "acct"); err != nil || len(ms) != 1 {
		t.Fatalf("read while locked: %d movements, %v; want 1", len(ms), err)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatalf("write after the lock is released: %v", err)
	}
	ms, err := store.AccountMovements(ctx, s, "acct")
	if err != nil || len(ms) != 2 {
		t.Fatalf("%d movements, %v; want 2", len(ms), err)
	}
	if n, err := s.StoredChunks(ctx, "s2"); err != nil || n != 1 {
		t.Errorf("StoredChunks(s2) = %d, %v; want 1", n, err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := sqlite.OpenReadOnly(t.Context(), filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly of a missing file: %v, want os.ErrNotExist", err)
	}
	path := filepath.Join(dir, sqlite.FileName)
	w := open(t, path)
	if err := w.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("a:cash:0", "s1", 2))}}); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ms, err := store.AccountMovements(t.Context(), r, "acct")
	if err != nil || len(ms) != 1 {
		t.Fatalf("read-only AccountMovements: %d, %v; want 1", len(ms), err)
	}
	if err := r.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s2", mv("b:cash:0", "s2", 2))}}); !errors.Is(err, sqlite.ErrReadOnly) {
		t.Errorf("WriteBatch on a read-only store: %v, want ErrReadOnly", err)
	}
	// The writer goes on while the reader is open.
	if err := w.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s2", mv("b:cash:0", "s2", 2))}}); err != nil {
		t.Fatal(err)
	}
	if ms, _ := store.AccountMovements(t.Context(), r, "acct"); len(ms) != 2 {
		t.Errorf("reader sees %d movements after the writer added one, want 2", len(ms))
	}
}

func TestReplaceAccountFrom(t *testing.T) {
	dir := t.TempDir()
	live := open(t, filepath.Join(dir, "live.db"))
	other := mv("o:cash:0", "so", 2)
	other.Account = "other"
	stale := mv("stale:cash:0", "s1", 3)
	write := func(s *sqlite.Store, b *store.Batch) {
		t.Helper()
		if err := s.WriteBatch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	otherChunk := chunkOf("so", other)
	otherChunk.Account = "other"
	write(live, &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("a:cash:0", "s1", 2), stale), otherChunk},
		Sessions: []store.Session{{ID: "s1", Account: "acct", Phase: store.PhaseCompleted}, {ID: "so", Account: "other", Phase: store.PhaseCompleted}}})

	srcPath := filepath.Join(dir, "src.db")
	src, err := sqlite.Open(t.Context(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	write(src, &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("a:cash:0", "s1", 2), mv("new:cash:0", "s1", 4))},
		Sessions: []store.Session{{ID: "s1", Account: "acct", Phase: store.PhaseSealed}}})
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := live.ReplaceAccountFrom(t.Context(), srcPath, "acct"); err != nil {
		t.Fatal(err)
	}
	ms, _ := store.AccountMovements(t.Context(), live, "acct")
	if got := []string{ms[0].ID, ms[1].ID}; len(ms) != 2 || got[0] != "a:cash:0" || got[1] != "new:cash:0" {
		t.Errorf("acct movements after replace: %v", ms)
	}
	if s, _ := live.Session(t.Context(), "s1"); s.Phase != store.PhaseSealed {
		t.Errorf("s1 phase %s, want sealed (from the source)", s.Phase)
	}
	if ms, _ := store.AccountMovements(t.Context(), live, "other"); len(ms) != 1 {
		t.Errorf("other account: %d movements, want 1 (untouched)", len(ms))
	}
	// The store is still writable afterwards (the source is detached).
	write(live, &store.Batch{Chunks: []*events.Chunk{chunkOf("s3", mv("z:cash:0", "s3", 2))}})
}
