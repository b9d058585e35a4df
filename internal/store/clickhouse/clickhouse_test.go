package clickhouse_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	chtest.DSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return chtest.NewStore(t, clickhouse.Options{})
	})
}

var base = time.Date(2025, 8, 25, 10, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func stock(account, id string, day events.Date, seq int) events.Movement {
	return events.Movement{
		ID: id, Account: account, Broker: events.BrokerTastytrade, Kind: events.KindStock,
		Time: events.WallTimeOf(day.Time().Add(10 * time.Hour)), Seq: seq, Line: seq + 2, Currency: "USD",
		Ticker: "PFE", Code: events.BuyToOpen, Quantity: dec("10"), Price: dec("25.125"),
		Commissions: dec("1"), Fees: dec("0.12"),
	}
}

// conn opens a plain driver connection on the database of dsn, for checks
// the Store API does not expose.
func conn(t testing.TB, dsn string) ch.Conn {
	t.Helper()
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ch.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func count(t *testing.T, c ch.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := c.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func open(t *testing.T, dsn string, opts clickhouse.Options) *clickhouse.Store {
	t.Helper()
	s, err := clickhouse.New(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	open(t, dsn, clickhouse.Options{}) // again: nothing to apply, nothing fails
	c := conn(t, dsn)
	if n := count(t, c, "SELECT count() FROM schema_migrations FINAL"); n != uint64(clickhouse.SchemaVersion()) {
		t.Errorf("schema_migrations has %d rows, want %d", n, clickhouse.SchemaVersion())
	}
	for _, table := range []string{"movements", "import_sessions", "import_chunks", "rejects", "projection_commits",
		"broker_snapshots", "ticker_snapshots", "operations", "broker_snapshots_current",
		"ticker_snapshots_current", "operations_current"} {
		if n := count(t, c, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table); n != 1 {
			t.Errorf("table %s: %d in system.tables, want 1", table, n)
		}
	}
	// A database migrated by a newer build is refused.
	chtest.Exec(t, dsn, fmt.Sprintf("INSERT INTO schema_migrations (version, description, applied_at) SELECT %d, 'future', now()",
		clickhouse.SchemaVersion()+1))
	if _, err := clickhouse.New(t.Context(), dsn, clickhouse.Options{}); !errors.Is(err, clickhouse.ErrNewerSchema) {
		t.Errorf("New on a newer schema: err %v, want ErrNewerSchema", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	// A port nobody listens on: connection refused, retried, then reported.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = clickhouse.New(t.Context(), "clickhouse://"+addr+"/default", clickhouse.Options{
		MaxAttempts: 3, Backoff: time.Millisecond, DialTimeout: time.Second, CallTimeout: 2 * time.Second,
	})
	if err == nil {
		t.Fatal("New on a closed port returned nil")
	}
	if !clickhouse.Transient(err) {
		t.Errorf("New on a closed port: %v is not transient", err)
	}
	if !strings.Contains(err.Error(), "attempt 3") {
		t.Errorf("New on a closed port: %v, want it to say it made 3 attempts", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("New on a closed port took %v", d)
	}
}

func TestInvalidDSN(t *testing.T) {
	for _, dsn := range []string{"http://127.0.0.1:18123/default", "clickhouse://127.0.0.1:19000/bad-name", "::"} {
		if _, err := clickhouse.New(t.Context(), dsn, clickhouse.Options{}); !errors.Is(err, clickhouse.ErrInvalidDSN) {
			t.Errorf("New(%q): err %v, want ErrInvalidDSN", dsn, err)
		}
	}
}

func TestWriteBatchBlocks(t *testing.T) {
	// More movements than one block holds: several INSERTs, one result.
	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{MaxInsertRows: 3})
	var ms []events.Movement
	for i := range 10 {
		ms = append(ms, stock("blk", fmt.Sprintf("m%02d:stock:0", i), events.NewDate(2024, 12, 28).AddDays(i), 0))
	}
	b := &store.Batch{At: base, Chunks: []*events.Chunk{
		{Session: "s", Account: "blk", ID: "2024-W52.1", Ordinal: 1, Total: 2, Week: "2024-W52", Part: 1, Movements: ms[:2]},
		{Session: "s", Account: "blk", ID: "2025-W01.1", Ordinal: 2, Total: 2, Week: "2025-W01", Part: 1, Movements: ms[2:]},
	}}
	for range 2 {
		if err := s.WriteBatch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.AccountMovements(t.Context(), s, "blk")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("got %d movements, want %d", len(got), len(ms))
	}
	for i := range ms {
		if !got[i].Equal(&ms[i]) {
			t.Errorf("movement %d: got %+v, want %+v", i, got[i], ms[i])
		}
	}
	// Written twice in blocks of 3: FINAL leaves one row per ID, and the
	// year partitions hold them.
	c := conn(t, dsn)
	if n := count(t, c, "SELECT count() FROM movements FINAL"); n != 10 {
		t.Errorf("movements FINAL = %d, want 10", n)
	}
	if n := count(t, c, "SELECT uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'movements' AND active"); n != 2 {
		t.Errorf("movements partitions = %d, want 2 (2024 and 2025)", n)
	}
}

func TestOutOfRangeRefused(t *testing.T) {
	// A value no column holds is refused before anything is sent, as a
	// permanent error, and the store stays usable.
	s := chtest.NewStore(t, clickhouse.Options{})
	huge := stock("rec", "huge:stock:0", events.NewDate(2025, 8, 25), 0)
	huge.Amount = dec("-1e28")
	err := s.WriteBatch(t.Context(), &store.Batch{At: base, Chunks: []*events.Chunk{
		{Session: "s", Account: "rec", ID: "2025-W35.1", Ordinal: 1, Total: 1, Movements: []events.Movement{huge}},
	}})
	if !errors.Is(err, clickhouse.ErrOutOfRange) {
		t.Fatalf("WriteBatch with -1e28: err %v, want ErrOutOfRange", err)
	}
	if clickhouse.Transient(err) {
		t.Errorf("out of range reported transient: %v", err)
	}
	if n, err := s.StoredChunks(t.Context(), "s"); err != nil || n != 0 {
		t.Errorf("StoredChunks after a refused batch = %d, %v; want 0", n, err)
	}
	ok := stock("rec", "ok:stock:0", events.NewDate(2025, 8, 25), 0)
	ok.Amount = dec("9999999999999999999999999999.9999999999") // the largest value
	if err := s.WriteBatch(t.Context(), &store.Batch{At: base, Chunks: []*events.Chunk{
		{Session: "s", Account: "rec", ID: "2025-W35.1", Ordinal: 1, Total: 1, Movements: []events.Movement{ok}},
	}}); err != nil {
		t.Fatalf("WriteBatch after a refused one: %v", err)
	}
	got, err := store.AccountMovements(t.Context(), s, "rec")
	if err != nil || len(got) != 1 || !got[0].Equal(&ok) {
		t.Errorf("AccountMovements = %+v, %v; want the largest value back", got, err)
	}
}

func TestSessionInstantsExact(t *testing.T) {
	// Session times keep their nanoseconds (DateTime holds seconds, the
	// _ns columns the rest), and zero times stay zero.
	s := chtest.NewStore(t, clickhouse.Options{})
	v := store.Session{ID: "ns", Account: "a", Broker: events.BrokerIBKR, File: "f.csv", SHA256: "00",
		Phase: store.PhaseSealed, TotalChunks: 1, StartedAt: base.Add(123456789 * time.Nanosecond),
		SealedAt: base.Add(time.Second + 1)}
	if err := s.WriteBatch(t.Context(), &store.Batch{At: base, Sessions: []store.Session{v}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(t.Context(), "ns")
	if err != nil {
		t.Fatal(err)
	}
	if !got.StartedAt.Equal(v.StartedAt) || !got.SealedAt.Equal(v.SealedAt) || !got.CompletedAt.IsZero() {
		t.Errorf("times: got %v, %v, %v; want %v, %v, zero", got.StartedAt, got.SealedAt, got.CompletedAt, v.StartedAt, v.SealedAt)
	}
}

func TestLatestRecordWinsAcrossStores(t *testing.T) {
	// Two stores on one database with a frozen clock: the second store's
	// record still supersedes the first's (versions continue from the
	// database, not from the clock), and so do its projections.
	dsn := chtest.NewDatabase(t)
	first := open(t, dsn, clickhouse.Options{})
	v := store.Session{ID: "x", Account: "a", Phase: store.PhasePublishing, StartedAt: base}
	if err := first.WriteBatch(t.Context(), &store.Batch{At: base, Sessions: []store.Session{v}}); err != nil {
		t.Fatal(err)
	}
	p1 := &projections.Result{Account: "a", Operations: []projections.Operation{{Ticker: "A", Currency: "USD", OpenDate: 20250825}}}
	if err := store.ReplaceProjections(t.Context(), first, p1, nil, base); err != nil {
		t.Fatal(err)
	}
	second := open(t, dsn, clickhouse.Options{})
	v.Phase = store.PhaseSealed
	if err := second.WriteBatch(t.Context(), &store.Batch{At: base, Sessions: []store.Session{v}}); err != nil {
		t.Fatal(err)
	}
	p2 := &projections.Result{Account: "a", Operations: []projections.Operation{{Ticker: "B", Currency: "USD", OpenDate: 20250825}}}
	if err := store.ReplaceProjections(t.Context(), second, p2, []string{"x"}, base); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*clickhouse.Store{first, second} {
		got, err := s.Session(t.Context(), "x")
		if err != nil {
			t.Fatal(err)
		}
		if got.Phase != store.PhaseCompleted || !got.CompletedAt.Equal(base) {
			t.Errorf("session after the second store's writes: %+v, want completed at %v", got, base)
		}
		r, err := s.Projections(t.Context(), "a")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Operations) != 1 || r.Operations[0].Ticker != "B" {
			t.Errorf("projections after the second store's replace: %+v, want ticker B", r.Operations)
		}
	}
}

func TestReplaceProjectionsDropsOldVersions(t *testing.T) {
	// Each replacement leaves at most the new version and the one it
	// superseded; the *_current views show only the new one.
	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{})
	c := conn(t, dsn)
	for n := 1; n <= 5; n++ {
		r := &projections.Result{Account: "dv"}
		for i := range n {
			d := events.NewDate(2025, 1, 1).AddDays(i)
			r.Broker = append(r.Broker, projections.BrokerSnapshot{Currency: "USD", Date: d, Deposited: decimal.NewFromInt(int64(n))})
			r.Tickers = append(r.Tickers, projections.TickerSnapshot{Ticker: "T", Currency: "USD", Date: d, Realized: decimal.NewFromInt(int64(n))})
			r.Operations = append(r.Operations, projections.Operation{Ticker: fmt.Sprint("T", i), Currency: "USD", OpenDate: d})
		}
		if err := store.ReplaceProjections(t.Context(), s, r, nil, base); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"broker_snapshots", "ticker_snapshots", "operations"} {
			if v := count(t, c, "SELECT uniqExact(version) FROM "+table+" WHERE account = 'dv'"); v > 2 {
				t.Errorf("after replacement %d: %s holds %d versions, want at most 2", n, table, v)
			}
			if got := count(t, c, "SELECT count() FROM "+table+"_current WHERE account = 'dv'"); got != uint64(n) {
				t.Errorf("after replacement %d: %s_current has %d rows, want %d", n, table, got, n)
			}
		}
		var sum decimal.Decimal
		if err := c.QueryRow(t.Context(), "SELECT sum(deposited) FROM broker_snapshots_current WHERE account = 'dv'").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if want := decimal.NewFromInt(int64(n * n)); !sum.Equal(want) {
			t.Errorf("after replacement %d: sum(deposited) in the view = %s, want %s", n, sum, want)
		}
	}
}

func TestExactColumn(t *testing.T) {
	// What analysts see: Decimal(38, 10) columns, exact for statement
	// amounts, rounded half away from zero for long quotients, with the
	// exact digits in the exact column.
	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{})
	r := &projections.Result{Account: "ex", Broker: []projections.BrokerSnapshot{{
		Currency: "USD", Date: 20250825, Deposited: dec("878.79"),
		RealizedPercentage: dec("2.6912939379629688552669919089"),
		UnrealizedGains:    dec("-0.00000000005"),
	}}}
	if err := store.ReplaceProjections(t.Context(), s, r, nil, base); err != nil {
		t.Fatal(err)
	}
	c := conn(t, dsn)
	var deposited, pct, unrealized string
	var exact string
	if err := c.QueryRow(t.Context(), `SELECT toString(deposited), toString(realized_percentage),
		toString(unrealized_gains), exact FROM broker_snapshots_current WHERE account = 'ex'`).Scan(&deposited, &pct, &unrealized, &exact); err != nil {
		t.Fatal(err)
	}
	if deposited != "878.7900000000" || pct != "2.6912939380" || unrealized != "-0.0000000001" {
		t.Errorf("columns = %s, %s, %s; want 878.7900000000, 2.6912939380, -0.0000000001", deposited, pct, unrealized)
	}
	want := `{"realized_percentage":"2.6912939379629688552669919089","unrealized_gains":"-0.00000000005"}`
	if exact != want {
		t.Errorf("exact = %s, want %s", exact, want)
	}
}
