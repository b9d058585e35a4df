package clickhouse_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/synth"
)

// TestMain drops the databases the benchmarks keep between runs (see
// synthStore).
func TestMain(m *testing.M) {
	code := m.Run()
	dropSynthDatabases()
	os.Exit(code)
}

// synthDB is a database holding one synthetic account, kept for the whole
// test binary so that -count N loads it once.
type synthDB struct {
	dsn       string
	movements int
}

var (
	synthMu  sync.Mutex
	synthDBs = map[int]*synthDB{}
	synthDSN string // the server's DSN, to drop the databases at the end
)

func dropSynthDatabases() {
	synthMu.Lock()
	defer synthMu.Unlock()
	if len(synthDBs) == 0 {
		return
	}
	opts, err := ch.ParseDSN(synthDSN)
	if err != nil {
		return
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, db := range synthDBs {
		u, _ := url.Parse(db.dsn)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+u.Path[1:])
	}
}

// synthStore returns a store on a database holding account "synth": a
// synthetic Tastytrade statement of rows rows (seed 1) read the way ingest
// does (chunker pass 1 and 2) and written the way the projector does
// (WriteBatch of 26 chunks at a time), and how many movements it holds.
// The database is made once per size and kept until the test binary ends.
func synthStore(b *testing.B, rows int) (*clickhouse.Store, int) {
	b.Helper()
	base := chtest.DSN(b)
	synthMu.Lock()
	defer synthMu.Unlock()
	db := synthDBs[rows]
	if db == nil {
		u, err := url.Parse(base)
		if err != nil {
			b.Fatal(err)
		}
		var r [6]byte
		rand.Read(r[:])
		u.Path = "/foliobench_" + hex.EncodeToString(r[:])
		db = &synthDB{dsn: u.String()}
		synthDSN = base
		synthDBs[rows] = db
		s, err := clickhouse.New(b.Context(), db.dsn, clickhouse.Options{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		db.movements = loadSynth(b, s, "synth", rows)
		s.Close()
		b.Logf("loaded %d rows (%d movements) in %v", rows, db.movements, time.Since(start))
	}
	s, err := clickhouse.New(b.Context(), db.dsn, clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, db.movements
}

// loadSynth writes a synthetic statement of rows rows into s as account and
// returns the number of movements written.
func loadSynth(b *testing.B, s *clickhouse.Store, account string, rows int) int {
	path := filepath.Join(b.TempDir(), "synth.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := synth.Tastytrade(f, synth.Config{Seed: 1, Rows: rows}); err != nil {
		b.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		b.Fatal(err)
	}
	cfg := chunker.Config{Account: account, Broker: events.BrokerTastytrade, File: "synth.csv"}
	a, err := chunker.Analyze(f, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		b.Fatal(err)
	}
	var batch []*events.Chunk
	n := 0
	flush := func() error {
		err := s.WriteBatch(b.Context(), &store.Batch{Chunks: batch, At: time.Now()})
		batch = batch[:0]
		return err
	}
	err = chunker.Build(f, a, cfg, nil, func(c *events.Chunk) error {
		batch = append(batch, c)
		n += len(c.Movements)
		if len(batch) == 26 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// heapSampler tracks the peak of the Go heap (live and not yet swept
// objects, runtime/metrics /memory/classes/heap/objects:bytes) at the
// points it is sampled.
type heapSampler struct {
	sample []metrics.Sample
	peak   uint64
}

func newHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
	h.take()
	return h
}

func (h *heapSampler) take() {
	metrics.Read(h.sample)
	h.peak = max(h.peak, h.sample[0].Value.Uint64())
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// scanQueries are the queries of phase 2's three scans
// (projections.ComputeTo), the full scan, and a sparse kind: the strike
// adjustments with the 4 fields they are read for (the synthetic statements
// have none), the option contracts (close linking) with 6, and every
// computed kind with all fields; the cash movements (about 1 in 1,000
// movements) stand for a sparse kind, as strike adjustments are in real
// statements.
var scanQueries = func() []struct {
	name string
	q    projections.Query
} {
	adjustments, linking, main := projections.Queries()
	return []struct {
		name string
		q    projections.Query
	}{{"all", projections.Query{}}, {"adjustments", adjustments}, {"options", linking}, {"computed", main},
		{"sparse", projections.Query{Kinds: []events.Kind{events.KindCash},
			Fields: events.FieldCurrency | events.FieldCashType | events.FieldAmount}}}
}()

// BenchmarkScanMovements reads a synthetic account of about 2k, 100k and
// 1M movements (1,250, 60k and 600k statement rows; the smallest is one of
// foliobench's 8 accounts at 10k rows) back with ScanMovements, the
// read of phase 2, with each query of scanQueries. It reports movements/s
// (of the movements the query delivers), the movements delivered and the
// peak Go heap during the scan, sampled every 4096 movements (after a GC
// before the scan): with a scan that holds a bounded part of the history,
// the peak does not grow with the account.
//
//	go test ./internal/store/clickhouse -run '^$' -bench BenchmarkScanMovements -benchtime 1x -count 5
func BenchmarkScanMovements(b *testing.B) {
	for _, rows := range []int{1_250, 60_000, 600_000} {
		for _, sq := range scanQueries {
			b.Run(fmt.Sprintf("rows=%d/query=%s", rows, sq.name), func(b *testing.B) {
				s, movements := synthStore(b, rows)
				var elapsed time.Duration
				var peak uint64
				n := 0
				for b.Loop() {
					h := newHeapSampler()
					n = 0
					start := time.Now()
					err := s.ScanMovements(b.Context(), "synth", sq.q, func(m *events.Movement) error {
						n++
						if n&4095 == 0 {
							h.take()
						}
						return nil
					})
					elapsed += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					peak = max(peak, h.peak)
				}
				if sq.name == "all" && n != movements {
					b.Fatalf("scanned %d movements, wrote %d", n, movements)
				}
				if n == 0 && sq.name != "adjustments" {
					b.Fatal("scanned no movements")
				}
				b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "movements/s")
				b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/scan")
				b.ReportMetric(mb(peak), "peak-heap-MB")
				b.ReportMetric(float64(n), "movements")
			})
		}
	}
}

// synthProjections emits the projection rows of an account of the given
// number of days and tickers (one currency): per day a broker row and a
// row per ticker, and an operation per ticker every tenth day, with the
// 28-digit quotients the computation produces (so rows carry exact
// columns). Nothing is kept: the rows are made as they are sent.
func synthProjections(days, tickers int, sample func()) func(projections.Sink) error {
	third := decimal.NewFromInt(1).DivRound(decimal.NewFromInt(3), 28)
	return func(sink projections.Sink) error {
		day := events.NewDate(2000, 1, 3)
		seq, n := 0, 0
		for d := range days {
			date := day.AddDays(d)
			bs := projections.BrokerSnapshot{Currency: "USD", Date: date, MovementCounter: d * 300,
				RealizedGains: decimal.New(int64(d)*1234, -2), RealizedPercentage: third.Mul(decimal.NewFromInt(int64(d % 7))),
				Invested: decimal.New(int64(d)*100000, -2), Commissions: decimal.New(int64(d)*3, 0),
				Fees: decimal.New(int64(d)*12, -2), Deposited: decimal.NewFromInt(1_000_000), OpenTrades: true,
				NetCashFlow: decimal.New(int64(d)*777, -2)}
			if err := sink.Broker(&bs); err != nil {
				return err
			}
			for t := range tickers {
				ts := projections.TickerSnapshot{Ticker: fmt.Sprintf("T%03d", t), Currency: "USD", Date: date,
					TotalShares: decimal.NewFromInt(int64(100 + t)), Weight: third.Mul(decimal.NewFromInt(int64(t%3 + 1))),
					CostBasis: decimal.New(int64(2500+t), -2), RealCost: decimal.New(int64(2400+t), -2),
					Dividends: decimal.New(int64(d), -2), CapitalDeployed: decimal.New(int64(250000+t), -2),
					Realized: decimal.New(int64(d*t), -2), Performance: third, OpenTrades: true,
					Commissions: decimal.NewFromInt(int64(d)), Fees: decimal.New(int64(d)*14, -2)}
				if err := sink.Ticker(&ts); err != nil {
					return err
				}
				n++
				if d%10 == 0 {
					op := projections.Operation{Ticker: ts.Ticker, Currency: "USD", OpenDate: date,
						CloseDate: date.AddDays(9), Realized: decimal.New(int64(t*d), -2),
						Commissions: decimal.NewFromInt(2), Fees: decimal.New(26, -2), Premium: decimal.NewFromInt(23),
						CapitalDeployed: decimal.New(250000, -2), Performance: third}
					if err := sink.Operation(&op, seq); err != nil {
						return err
					}
					seq++
					n++
				}
				if sample != nil && n%1024 == 0 {
					sample()
				}
			}
		}
		return nil
	}
}

// BenchmarkWriteProjections writes an account's projections through
// WriteProjections: 5,000 days (about 20 years of trading days, the span
// of a 1M-movement synthetic account) of one currency and 20 or 200
// tickers, i.e. about 115k and 1.1M rows over the three tables. It reports
// rows/s and the peak Go heap while the rows are emitted (sampled every
// 1024 rows): rows written as they come keep it flat. At 115k rows it also
// writes with one INSERT per table (batch=all, what the store did before
// it streamed), to show what the bounded batches cost.
//
//	go test ./internal/store/clickhouse -run '^$' -bench BenchmarkWriteProjections -benchtime 1x -count 5
func BenchmarkWriteProjections(b *testing.B) {
	const days = 5000
	for _, tc := range []struct{ tickers, batch int }{{20, 0}, {20, math.MaxInt}, {200, 0}} {
		rows := days + days*tc.tickers + (days+9)/10*tc.tickers
		name := fmt.Sprintf("rows=%d/batch=%d", rows, clickhouse.DefaultProjectionBatchRows)
		if tc.batch != 0 {
			name = fmt.Sprintf("rows=%d/batch=all", rows)
		}
		b.Run(name, func(b *testing.B) {
			dsn := chtest.NewDatabase(b)
			s, err := clickhouse.New(b.Context(), dsn, clickhouse.Options{ProjectionBatchRows: tc.batch})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c := conn(b, dsn)
			var elapsed time.Duration
			var peak uint64
			for b.Loop() {
				h := newHeapSampler()
				start := time.Now()
				if err := s.WriteProjections(b.Context(), "synth", synthProjections(days, tc.tickers, h.take), nil, time.Now()); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				peak = max(peak, h.peak)
			}
			got := 0
			for _, view := range []string{"broker_snapshots_current", "ticker_snapshots_current", "operations_current"} {
				var n uint64
				if err := c.QueryRow(b.Context(), "SELECT count() FROM "+view+" WHERE account = 'synth'").Scan(&n); err != nil {
					b.Fatal(err)
				}
				got += int(n)
			}
			if got != rows {
				b.Fatalf("read back %d rows, wrote %d", got, rows)
			}
			b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(mb(peak), "peak-heap-MB")
		})
	}
}

// BenchmarkPhase2 is phase 2 of the projector on the synthetic accounts of
// BenchmarkScanMovements: projections.ComputeTo reading the history through
// ScanMovements (three scans) inside WriteProjections, as
// internal/projector does. It reports movements/s of history and the peak
// Go heap (sampled every 4096 movements of the scans). The smallest account
// (about 2k movements) is bound by the fixed cost of its queries and
// INSERTs: measure it over more iterations.
//
//	go test ./internal/store/clickhouse -run '^$' -bench BenchmarkPhase2 -benchtime 1x -count 3
//	go test ./internal/store/clickhouse -run '^$' -bench 'BenchmarkPhase2/rows=1250$' -benchtime 20x -count 5
func BenchmarkPhase2(b *testing.B) {
	for _, rows := range []int{1_250, 60_000, 600_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			s, movements := synthStore(b, rows)
			var elapsed time.Duration
			var peak uint64
			for b.Loop() {
				h := newHeapSampler()
				n := 0
				scan := func(q projections.Query, fn func(*events.Movement) error) error {
					return s.ScanMovements(b.Context(), "synth", q, func(m *events.Movement) error {
						n++
						if n&4095 == 0 {
							h.take()
						}
						return fn(m)
					})
				}
				start := time.Now()
				err := s.WriteProjections(b.Context(), "synth", func(sink projections.Sink) error {
					return projections.ComputeTo("synth", scan, sink)
				}, nil, time.Now())
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, h.peak)
			}
			b.ReportMetric(float64(movements*b.N)/elapsed.Seconds(), "movements/s")
			b.ReportMetric(mb(peak), "peak-heap-MB")
		})
	}
}
