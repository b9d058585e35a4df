package sqlite_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/shopspring/decimal"
)

// statementBatches returns the chunks of a synthetic Tastytrade statement
// of rows rows (internal/synth, seed 1), as ingest builds them, cut into
// batches as the projector cuts them (projector.DefaultBatchSize chunks or
// projector.DefaultBatchBytes of bodies), and the number of movements. It
// is generated once per rows and test binary.
func statementBatches(tb testing.TB, rows int) ([][]*events.Chunk, int) {
	tb.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	if g, ok := generated[rows]; ok {
		return g.batches, g.movements
	}
	var csv bytes.Buffer
	if _, err := synth.Tastytrade(&csv, synth.Config{Seed: 1, Rows: rows}); err != nil {
		tb.Fatal(err)
	}
	cfg := chunker.Config{Account: "bench", File: "bench.csv"}
	a, err := chunker.Analyze(bytes.NewReader(csv.Bytes()), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if a.RowErrorCount > 0 {
		tb.Fatalf("synthetic statement: %d row errors", a.RowErrorCount)
	}
	var g genBatches
	var batch []*events.Chunk
	size := 0
	err = chunker.Build(bytes.NewReader(csv.Bytes()), a, cfg, nil, func(c *events.Chunk) error {
		body, err := events.Marshal(c)
		if err != nil {
			return err
		}
		batch = append(batch, c)
		g.movements += len(c.Movements)
		size += len(body)
		if len(batch) >= projector.DefaultBatchSize || size >= projector.DefaultBatchBytes {
			g.batches = append(g.batches, batch)
			batch, size = nil, 0
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(batch) > 0 {
		g.batches = append(g.batches, batch)
	}
	generated[rows] = g
	return g.batches, g.movements
}

type genBatches struct {
	batches   [][]*events.Chunk
	movements int
}

var (
	genMu     sync.Mutex
	generated = map[int]genBatches{}
)

// writeAll writes the batches to s, stamping them at a fixed instant.
func writeAll(tb testing.TB, s *sqlite.Store, batches [][]*events.Chunk) {
	tb.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, batch := range batches {
		if err := s.WriteBatch(tb.Context(), &store.Batch{Chunks: batch, At: at}); err != nil {
			tb.Fatal(err)
		}
	}
}

// benchWrites is the loop of the write benchmarks: each iteration writes
// batches into the store open returns (opening is not timed) and closes
// it; it reports movements/s and the process's CPU time per movement (less
// sensitive than the wall time to other processes on the same cores).
func benchWrites(b *testing.B, batches [][]*events.Chunk, n int, open func() *sqlite.Store) {
	var took, cpu time.Duration
	var size int64
	for b.Loop() {
		b.StopTimer()
		s := open()
		b.StartTimer()
		start, cpu0 := time.Now(), proctest.CPUTime()
		writeAll(b, s, batches)
		took += time.Since(start)
		cpu += proctest.CPUTime() - cpu0
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		// Closing checkpoints the WAL into the file.
		fi, err := os.Stat(s.Path())
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "movements/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/movement")
	b.ReportMetric(float64(size)/float64(n), "file-bytes/movement")
}

// freshStore opens a new store in a temporary directory.
func freshStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkWriteBatch writes a synthetic statement's movements into a fresh
// store in the projector's batches (one transaction, one fsync each).
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteBatch -benchtime 1x -count 5
func BenchmarkWriteBatch(b *testing.B) {
	for _, rows := range []int{100_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			batches, n := statementBatches(b, rows)
			benchWrites(b, batches, n, func() *sqlite.Store { return freshStore(b) })
			b.ReportMetric(float64(len(batches)), "batches")
		})
	}
}

// BenchmarkWriteBatchPageSize is BenchmarkWriteBatch into a file made
// with another page size first (Open keeps an existing file's page size):
// what the store's 16 KiB pages (sqlite.PageSize) gain over SQLite's
// default 4 KiB and the sizes around them.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteBatchPageSize -benchtime 2x -count 3
func BenchmarkWriteBatchPageSize(b *testing.B) {
	batches, n := statementBatches(b, 100_000)
	for _, page := range []int{4096, 8192, sqlite.PageSize, 32768} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			benchWrites(b, batches, n, func() *sqlite.Store {
				path := filepath.Join(b.TempDir(), sqlite.FileName)
				db, err := sql.Open("sqlite", path+fmt.Sprintf("?_pragma=page_size(%d)&_journal_mode=WAL", page))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.Exec(`CREATE TABLE page_size_set (x)`); err != nil {
					b.Fatal(err)
				}
				db.Close()
				s, err := sqlite.Open(b.Context(), path)
				if err != nil {
					b.Fatal(err)
				}
				return s
			})
		})
	}
}

// BenchmarkWriteBatchTransactions is BenchmarkWriteBatch with 1, 4 or 16 of
// the projector's batches per transaction: whether fewer commits (fsyncs)
// would write faster.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteBatchTransactions -benchtime 2x -count 3
func BenchmarkWriteBatchTransactions(b *testing.B) {
	batches, n := statementBatches(b, 100_000)
	for _, merge := range []int{1, 4, 16} {
		var merged [][]*events.Chunk
		for batch := range slices.Chunk(batches, merge) {
			merged = append(merged, slices.Concat(batch...))
		}
		b.Run(fmt.Sprintf("batches-per-tx=%d", merge), func(b *testing.B) {
			benchWrites(b, merged, n, func() *sqlite.Store { return freshStore(b) })
			b.ReportMetric(float64(len(merged)), "transactions")
		})
	}
}

// BenchmarkWriteBatchArrival is BenchmarkWriteBatch with the chunks in
// the order ingest publishes them ("statement": a Tastytrade statement is
// newest first, so are its chunks) and in the opposite order, oldest week
// first (the same batches' sizes): what the B-tree costs when each batch
// lands in front of the history written before it rather than after it.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteBatchArrival -benchtime 2x -count 5
func BenchmarkWriteBatchArrival(b *testing.B) {
	batches, n := statementBatches(b, 100_000)
	var all []*events.Chunk
	for _, batch := range batches {
		all = append(all, batch...)
	}
	slices.Reverse(all)
	var oldest [][]*events.Chunk
	for _, batch := range batches {
		oldest = append(oldest, all[:len(batch)])
		all = all[len(batch):]
	}
	for _, order := range []struct {
		name    string
		batches [][]*events.Chunk
	}{{"statement", batches}, {"oldest-first", oldest}} {
		b.Run(order.name, func(b *testing.B) {
			benchWrites(b, order.batches, n, func() *sqlite.Store { return freshStore(b) })
		})
	}
}

// BenchmarkWriteBatchGrown is BenchmarkWriteBatch into a store that holds
// an older history of the same account first: the statement's movements
// five times over, moved back three years per copy, with other IDs
// (825,000 movements). It shows whether writes slow down as the table
// grows; the store is filled once per run and copied for each iteration.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteBatchGrown -benchtime 1x -count 5
func BenchmarkWriteBatchGrown(b *testing.B) {
	const rows, copies = 100_000, 5
	batches, n := statementBatches(b, rows)
	template := grownStore(b, batches, copies)
	benchWrites(b, batches, n, func() *sqlite.Store {
		path := filepath.Join(b.TempDir(), sqlite.FileName)
		if err := copyFile(template, path); err != nil {
			b.Fatal(err)
		}
		s, err := sqlite.Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
	b.ReportMetric(float64(n*copies), "movements-before")
}

// BenchmarkChunkBlobTable measures a table design the store does not use
// (BENCHMARKS.md): each chunk's body stored once as a blob, plus one narrow
// row per movement for the dedup key, (account, utc, id) → chunk, line.
// The store (schema version 5) keeps one narrow row per movement with the
// movement's own document instead: fewer bytes for this design to write,
// but a scan would have to merge chunks and cache decoded ones. Same
// batches, pragmas and 64-row statements as the store; compare its
// movements/s with BenchmarkWriteBatch's in the same run.
//
//	go test ./internal/store/sqlite -run '^$' -bench 'BenchmarkWriteBatch$|BenchmarkChunkBlobTable' -benchtime 2x -count 3
func BenchmarkChunkBlobTable(b *testing.B) {
	batches, n := statementBatches(b, 100_000)
	bodies := map[*events.Chunk][]byte{}
	for _, batch := range batches {
		for _, c := range batch {
			body, err := events.Marshal(c)
			if err != nil {
				b.Fatal(err)
			}
			bodies[c] = body
		}
	}
	const rowsPerInsert = 64
	insertKeys := "INSERT INTO movement_keys VALUES (?,?,?,?,?)" + strings.Repeat(",(?,?,?,?,?)", rowsPerInsert-1) +
		" ON CONFLICT DO NOTHING"
	var took, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "blobs.db")+
			fmt.Sprintf("?_pragma=page_size(%d)", sqlite.PageSize)+"&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		_, err = db.Exec(`CREATE TABLE chunks (n INTEGER PRIMARY KEY, session TEXT NOT NULL, chunk_id TEXT NOT NULL, body BLOB NOT NULL);
			CREATE TABLE movement_keys (account TEXT NOT NULL, utc INTEGER NOT NULL, id TEXT NOT NULL,
				chunk INTEGER NOT NULL, line INTEGER NOT NULL, PRIMARY KEY (account, utc, id)) WITHOUT ROWID`)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), proctest.CPUTime()
		chunkN := 0
		for _, batch := range batches {
			if err := writeBlobBatch(db, batch, bodies, insertKeys, rowsPerInsert, &chunkN); err != nil {
				b.Fatal(err)
			}
		}
		took += time.Since(start)
		cpu += proctest.CPUTime() - cpu0
		b.StopTimer()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "movements/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/movement")
}

// writeBlobBatch writes one projector batch into BenchmarkChunkBlobTable's
// tables in one transaction. The UTC instant is the wall time here (the
// synthetic statement has one offset): the cost is the same.
func writeBlobBatch(db *sql.DB, batch []*events.Chunk, bodies map[*events.Chunk][]byte, insertKeys string, perInsert int, chunkN *int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	keys, err := tx.Prepare(insertKeys)
	if err != nil {
		return err
	}
	defer keys.Close()
	var args []any
	for _, c := range batch {
		*chunkN++
		if _, err := tx.Exec(`INSERT INTO chunks VALUES (?,?,?,?)`, *chunkN, c.Session, c.ID, bodies[c]); err != nil {
			return err
		}
		for i := range c.Movements {
			m := &c.Movements[i]
			args = append(args, m.Account, int64(m.Time), m.ID, *chunkN, m.Line)
			if len(args) == 5*perInsert {
				if _, err := keys.Exec(args...); err != nil {
					return err
				}
				args = args[:0]
			}
		}
	}
	for i := 0; i < len(args); i += 5 {
		if _, err := tx.Exec(`INSERT INTO movement_keys VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, args[i:i+5]...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

var (
	grownOnce sync.Once
	grownDir  string // removed by TestMain
	grownPath string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if grownDir != "" {
		os.RemoveAll(grownDir)
	}
	os.Exit(code)
}

// grownStore writes, once per test binary, a store holding copies older
// copies of batches, and returns its path.
func grownStore(b *testing.B, batches [][]*events.Chunk, copies int) string {
	b.Helper()
	grownOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sqlite-bench-")
		if err != nil {
			b.Fatal(err)
		}
		grownDir = dir
		path := filepath.Join(dir, sqlite.FileName)
		s, err := sqlite.Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		for k := 1; k <= copies; k++ {
			back := events.WallTime(int64(k) * 3 * 365 * 86400)
			for _, batch := range batches {
				older := make([]*events.Chunk, len(batch))
				for i, c := range batch {
					o := *c
					o.Session = fmt.Sprintf("%s-%d", c.Session, k)
					o.Movements = slices.Clone(c.Movements)
					for j := range o.Movements {
						m := &o.Movements[j]
						sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", m.ID, k))
						m.ID = hex.EncodeToString(sum[:16]) + m.ID[32:]
						m.Time -= back
					}
					older[i] = &o
				}
				if err := s.WriteBatch(b.Context(), &store.Batch{Chunks: older}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		grownPath = path
	})
	if grownPath == "" {
		b.Fatal("no grown store")
	}
	return grownPath
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// scanQueries are the scans BenchmarkScanMovements measures: the whole
// history, and the three queries of phase 2 (projections.ComputeTo): the
// strike adjustments (none in a synthetic statement), the option contracts
// for close linking, and the computed kinds with every field.
var scanQueries = func() []struct {
	name string
	q    projections.Query
} {
	adjustments, linking, main := projections.Queries()
	return []struct {
		name string
		q    projections.Query
	}{{"all", projections.Query{}}, {"adjustments", adjustments}, {"options", linking}, {"computed", main}}
}()

// BenchmarkScanMovements reads a synthetic statement's account back with
// ScanMovements, for each of scanQueries, and reports the movements of the
// account per second of scan (whatever the query delivers: the rate at
// which phase 2 gets through the history) and how much the live heap grew
// during a scan at its peak (sampled after a GC every 4,096 movements).
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkScanMovements -benchtime 3x -count 5
func BenchmarkScanMovements(b *testing.B) {
	for _, rows := range []int{100_000} {
		batches, n := statementBatches(b, rows)
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		writeAll(b, s, batches)
		for _, sq := range scanQueries {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, sq.name), func(b *testing.B) {
				want := 0
				for _, batch := range batches {
					for _, c := range batch {
						for i := range c.Movements {
							if len(sq.q.Kinds) == 0 || slices.Contains(sq.q.Kinds, c.Movements[i].Kind) {
								want++
							}
						}
					}
				}
				b.ReportAllocs()
				var took, cpu time.Duration
				for b.Loop() {
					start, cpu0 := time.Now(), proctest.CPUTime()
					got := 0
					err := s.ScanMovements(b.Context(), "bench", sq.q, func(*events.Movement) error {
						got++
						return nil
					})
					took += time.Since(start)
					cpu += proctest.CPUTime() - cpu0
					if err != nil {
						b.Fatal(err)
					}
					if got != want {
						b.Fatalf("scanned %d movements, want %d", got, want)
					}
				}
				// The peak heap, measured apart from the timed scans.
				peak := scanPeakHeap(b, s, "bench", sq.q)
				b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "movements/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/movement")
				b.ReportMetric(float64(want), "delivered")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MiB")
			})
		}
	}
}

// scanPeakHeap scans account with q and returns by how much the live heap
// (HeapAlloc right after a GC), sampled every 4,096 movements and at the
// end, rose above its level before the scan at its highest.
func scanPeakHeap(tb testing.TB, s *sqlite.Store, account string, q projections.Query) uint64 {
	tb.Helper()
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	peak := before
	sample := func() { peak = max(peak, live()) }
	i := 0
	err := s.ScanMovements(tb.Context(), account, q, func(*events.Movement) error {
		if i++; i%4096 == 0 {
			sample()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sample()
	return peak - before
}

// benchResult returns projections the size of a 100,000-row statement's
// (500 broker rows, 10,000 ticker rows, 3,000 operations), with long
// quotients as the computation makes them.
func benchResult(account string) *projections.Result {
	r := &projections.Result{Account: account}
	day := events.NewDate(2024, 1, 2)
	pct := decimal.RequireFromString("2.6912939379629688552669919089")
	for i := range 500 {
		v := decimal.New(int64(100_000+i*37), -2)
		r.Broker = append(r.Broker, projections.BrokerSnapshot{Currency: "USD", Date: day.AddDays(i),
			MovementCounter: i * 3, RealizedGains: v, RealizedPercentage: pct, UnrealizedGains: v.Neg(),
			UnrealizedGainsPercentage: pct.Neg(), Invested: v, Commissions: decimal.New(int64(i), 0),
			Fees: decimal.New(int64(i)*12, -2), Deposited: v, Withdrawn: decimal.Zero, DividendsReceived: v,
			OptionsIncome: v, OtherIncome: decimal.Zero, OpenTrades: i%2 == 0, NetCashFlow: v})
	}
	for i := range 10_000 {
		v := decimal.New(int64(5_000+i*13), -2)
		r.Tickers = append(r.Tickers, projections.TickerSnapshot{Ticker: fmt.Sprintf("T%02d", i%20), Currency: "USD",
			Date: day.AddDays(i / 20), TotalShares: decimal.New(int64(i%300), 0), Weight: pct, CostBasis: v,
			RealCost: v, Dividends: decimal.Zero, DividendTaxes: decimal.Zero, Options: v.Neg(), TotalIncomes: v,
			CapitalDeployed: v, Realized: v, Performance: pct, OpenTrades: i%3 == 0,
			Commissions: decimal.New(int64(i%50), 0), Fees: decimal.New(int64(i%50)*14, -2)})
	}
	for i := range 3_000 {
		v := decimal.New(int64(1_000+i*7), -2)
		o := projections.Operation{Ticker: fmt.Sprintf("T%02d", i%20), Currency: "USD", IsOpen: i%10 == 0,
			OpenDate: day.AddDays(i / 6), Realized: v, Commissions: decimal.NewFromInt(2), Fees: decimal.New(24, -2),
			Premium: v, Dividends: decimal.Zero, DividendTaxes: decimal.Zero, CapitalDeployed: v, Performance: pct}
		if !o.IsOpen {
			o.CloseDate = o.OpenDate.AddDays(14)
		}
		r.Operations = append(r.Operations, o)
	}
	return r
}

// BenchmarkWriteProjections replaces an account's projections (13,500
// rows) with WriteProjections and reports rows/s.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkWriteProjections -benchtime 10x -count 5
func BenchmarkWriteProjections(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := benchResult("bench")
	rows := len(r.Broker) + len(r.Tickers) + len(r.Operations)
	b.ReportAllocs()
	for b.Loop() {
		if err := store.ReplaceProjections(b.Context(), s, r, nil, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPhase2 runs the projector's phase 2 on a synthetic statement's
// account: WriteProjections of projections.ComputeTo over ScanMovements,
// the scans, the computation and the writes at once. It reports
// movements/s.
//
//	go test ./internal/store/sqlite -run '^$' -bench BenchmarkPhase2 -benchtime 3x -count 5
func BenchmarkPhase2(b *testing.B) {
	batches, n := statementBatches(b, 100_000)
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	writeAll(b, s, batches)
	ctx := b.Context()
	cpu0 := proctest.CPUTime()
	for b.Loop() {
		err := s.WriteProjections(ctx, "bench", func(sink projections.Sink) error {
			scan := func(q projections.Query, fn func(*events.Movement) error) error {
				return s.ScanMovements(ctx, "bench", q, fn)
			}
			return projections.ComputeTo("bench", scan, sink)
		}, nil, time.Now())
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "movements/s")
	b.ReportMetric(float64((proctest.CPUTime()-cpu0).Nanoseconds())/float64(n*b.N), "cpu-ns/movement")
}
