package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
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
	var size int
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != sqlite.PageSize {
		t.Errorf("page_size = %d, want %d", size, sqlite.PageSize)
	}
}

// A file made with another page size keeps it: Open does not rewrite it.
func TestPageSizeOfExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	db, err := sql.Open("sqlite", path+"?_pragma=page_size(4096)&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE made_elsewhere (x)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := open(t, path)
	if err := s.WriteBatch(t.Context(), &store.Batch{Sessions: []store.Session{{ID: "s1", Account: "a", Phase: store.PhasePublishing}}}); err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != 4096 {
		t.Errorf("page_size = %d, want the file's 4096", size)
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
	// An offset the live store has not seen for the account: its scan
	// needs the source's movement_offsets too.
	added := mv("new:cash:0", "s1", 4)
	added.Offset = "+0530"
	write(src, &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", mv("a:cash:0", "s1", 2), added)},
		Sessions: []store.Session{{ID: "s1", Account: "acct", Phase: store.PhaseSealed}}})
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := live.ReplaceAccountFrom(t.Context(), srcPath, "acct"); err != nil {
		t.Fatal(err)
	}
	ms, err := store.AccountMovements(t.Context(), live, "acct")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "a:cash:0" || ms[1].ID != "new:cash:0" {
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

// manyMovements returns n cash and stock movements of account, one per
// second from start.
func manyMovements(account string, n int, start time.Time) []events.Movement {
	out := make([]events.Movement, n)
	for i := range out {
		m := events.Movement{ID: fmt.Sprintf("%032x:cash:0", i), Account: account, Broker: events.BrokerTastytrade,
			Kind: events.KindCash, Time: events.WallTimeOf(start.Add(time.Duration(i) * time.Second)), Line: i + 2,
			Currency: "USD", CashType: events.CashDeposit, Amount: decimal.New(int64(i), -2), Notes: fmt.Sprint("note ", i)}
		if i%2 == 1 {
			m.ID = fmt.Sprintf("%032x:stock:0", i)
			m.Kind, m.CashType, m.Amount, m.Ticker, m.Code = events.KindStock, "", decimal.Zero, "PFE", events.BuyToOpen
			m.Quantity, m.Price, m.Commissions = decimal.NewFromInt(int64(1+i%100)), decimal.New(2512, -2), decimal.NewFromInt(1)
		}
		out[i] = m
	}
	return out
}

// writeMovements writes ms in chunks of 1,000, 50 chunks per batch.
func writeMovements(t *testing.T, s *sqlite.Store, session string, ms []events.Movement) {
	t.Helper()
	var batch []*events.Chunk
	for i := 0; i < len(ms); i += 1000 {
		c := chunkOf(session, ms[i:min(i+1000, len(ms))]...)
		c.Account = ms[0].Account
		c.ID, c.Ordinal = fmt.Sprintf("2025-W35.%d", i/1000+1), i/1000+1
		batch = append(batch, c)
		if len(batch) == 50 || i+1000 >= len(ms) {
			if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: batch}); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
}

// A scan holds a bounded part of the history: the live heap grows about as
// much scanning 100,000 movements as scanning 10,000.
func TestScanMemoryFlat(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 110,000 movements; not under -short or -race")
	}
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	start := time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC)
	writeMovements(t, s, "s-small", manyMovements("small", 10_000, start))
	writeMovements(t, s, "s-big", manyMovements("big", 100_000, start))
	small := scanPeakHeap(t, s, "small", projections.Query{})
	big := scanPeakHeap(t, s, "big", projections.Query{})
	t.Logf("live heap growth during a scan: %d KiB for 10,000 movements, %d KiB for 100,000", small>>10, big>>10)
	// Holding the history would take about 45 MiB more for the big one.
	if big > small+4<<20 {
		t.Errorf("scanning 100,000 movements grew the heap by %d KiB, 10,000 by %d KiB: not bounded", big>>10, small>>10)
	}
}

// A scan is one read transaction: batches committed while it is open (a
// WAL checkpoint among them) neither block it nor show up in it, and
// nothing waits on a lock (SQLITE_BUSY) either way.
func TestScanDuringWrites(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	start := time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC)
	first := manyMovements("acct", 5_000, start)
	writeMovements(t, s, "s1", first)
	// Enough for the writer to checkpoint the WAL (1,000 pages) meanwhile.
	later := manyMovements("acct", 30_000, start.Add(24*time.Hour))
	for i := range later {
		later[i].ID = "b" + later[i].ID[1:]
	}
	n := 0
	err := s.ScanMovements(t.Context(), "acct", projections.Query{}, func(m *events.Movement) error {
		if n++; n == 100 {
			writeMovements(t, s, "s2", later)
			if _, err := s.Projections(t.Context(), "acct"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(first) {
		t.Errorf("the scan saw %d movements, want the %d there were when it started", n, len(first))
	}
	if ms, err := store.AccountMovements(t.Context(), s, "acct"); err != nil || len(ms) != len(first)+len(later) {
		t.Errorf("after the writes: %d movements, %v; want %d", len(ms), err, len(first)+len(later))
	}
}

// Repeats of a movement inside one multi-row statement and across
// statements of one batch keep the row of the smallest (session, line).
func TestDuplicatesInOneBatch(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	ms := manyMovements("acct", 300, time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC))
	var dup []events.Movement
	for _, i := range []int{5, 70, 140, 299} {
		m := ms[i]
		m.Line = 1 // smaller than every original line
		dup = append(dup, m)
	}
	// In the same statement as the original (5 and 10 in the first 64),
	// in a later statement, in the one-row tail: the batch is
	// ms[:10], dup[0], ms[10:], dup[1:].
	batch := append(append(append(append([]events.Movement{}, ms[:10]...), dup[0]), ms[10:]...), dup[1:]...)
	if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{chunkOf("s1", batch...)}}); err != nil {
		t.Fatal(err)
	}
	got, err := store.AccountMovements(t.Context(), s, "acct")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("%d movements, want %d (one per ID)", len(got), len(ms))
	}
	for i := range got {
		want := ms[i]
		if slices.Contains([]int{5, 70, 140, 299}, i) {
			want.Line = 1
		}
		if !got[i].Equal(&want) {
			t.Errorf("movement %d: %+v, want %+v", i, got[i], want)
		}
	}
}

// The row ID hashes the account (spec/parsers.md §6.2), so the same ID in
// two accounts is two movements; a store keyed by ID alone would move the
// movement from one account to the other.
func TestSameIDInTwoAccounts(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	a := mv("x:cash:0", "s1", 2)
	b := a
	b.Account = "other"
	cb := chunkOf("s0", b)
	cb.Account = "other"
	for _, c := range []*events.Chunk{chunkOf("s1", a), cb} {
		if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, acct := range []string{"acct", "other"} {
		ms, err := store.AccountMovements(t.Context(), s, acct)
		if err != nil || len(ms) != 1 || ms[0].Account != acct {
			t.Errorf("movements of %s: %+v, %v; want x:cash:0 of %s", acct, ms, err, acct)
		}
	}
}

// WriteProjections writes rows as they come: the live heap grows about as
// much emitting 100,000 rows as emitting 10,000.
func TestWriteProjectionsMemoryFlat(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 110,000 rows; not under -short or -race")
	}
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	growth := func(rows int) uint64 {
		live := func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := live()
		peak := before
		day := events.NewDate(2024, 1, 2)
		err := s.WriteProjections(t.Context(), "acct", func(sink projections.Sink) error {
			for i := range rows {
				v := decimal.New(int64(i), -2)
				row := projections.TickerSnapshot{Ticker: fmt.Sprintf("T%03d", i%500), Currency: "USD",
					Date: day.AddDays(i / 500), TotalShares: v, Weight: v, CostBasis: v, RealCost: v, Dividends: v,
					DividendTaxes: v, Options: v, TotalIncomes: v, CapitalDeployed: v, Realized: v, Performance: v,
					Commissions: v, Fees: v}
				if err := sink.Ticker(&row); err != nil {
					return err
				}
				if i%4096 == 0 {
					peak = max(peak, live())
				}
			}
			return nil
		}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return peak - before
	}
	small, big := growth(10_000), growth(100_000)
	t.Logf("live heap growth while writing: %d KiB for 10,000 rows, %d KiB for 100,000", small>>10, big>>10)
	if big > small+4<<20 {
		t.Errorf("writing 100,000 rows grew the heap by %d KiB, 10,000 by %d KiB: not bounded", big>>10, small>>10)
	}
	r, err := s.Projections(t.Context(), "acct")
	if err != nil || len(r.Tickers) != 100_000 {
		t.Fatalf("Projections: %d ticker rows, %v; want 100000", len(r.Tickers), err)
	}
}

// One ID at one wall-clock time with two offsets (which the ID rules out:
// it hashes the instant) conflicts on the primary key only: the row there
// stays, and the batch does not fail.
func TestSameKeyOtherOffset(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	a := mv("x:cash:0", "s1", 2)
	a.Offset = "+0100"
	b := a
	b.Offset, b.Line = "-0500", 1
	for _, c := range []*events.Chunk{chunkOf("s1", a), chunkOf("s0", b)} {
		if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := store.AccountMovements(t.Context(), s, "acct")
	if err != nil || len(ms) != 1 || !ms[0].Equal(&a) {
		t.Errorf("movements: %+v, %v; want only %+v", ms, err, a)
	}
}

// A row the store could not write fails WriteProjections even when emit
// ignores the sink's error: the projections are not committed without it.
func TestWriteProjectionsSinkErrorSticks(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), sqlite.FileName))
	old := &projections.Result{Account: "acct", Broker: []projections.BrokerSnapshot{{Currency: "USD",
		Date: events.NewDate(2025, 1, 2), MovementCounter: 1}}}
	if err := store.ReplaceProjections(t.Context(), s, old, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	var sinkErrs int
	err := s.WriteProjections(t.Context(), "acct", func(sink projections.Sink) error {
		for i := range 100 {
			// The same (ticker, currency, date) twice: the primary key
			// refuses the statement that holds both.
			row := projections.TickerSnapshot{Ticker: "PFE", Currency: "USD", Date: events.NewDate(2025, 1, 2).AddDays(i % 50)}
			if sink.Ticker(&row) != nil {
				sinkErrs++
			}
		}
		return nil
	}, nil, time.Now())
	if err == nil || sinkErrs == 0 {
		t.Fatalf("WriteProjections = %v after %d sink errors; want an error", err, sinkErrs)
	}
	got, err := s.Projections(t.Context(), "acct")
	if err != nil || len(got.Broker) != 1 || len(got.Tickers) != 0 {
		t.Errorf("after the failed write: %+v, %v; want the old projections", got, err)
	}
}
