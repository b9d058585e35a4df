package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/oracle"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/streams"
)

// The end-to-end tests of the ClickHouse store: the same pipeline as the
// SQLite tests (import → stream → `projector run` process → store), with
// `projector run --clickhouse DSN`, each test on a database of its own
// (chtest). They skip, loudly, without FOLIO_CLICKHOUSE_TEST_DSN; CI sets it.

// TestClickHouseOracleEndToEnd runs every oracle dataset through two
// projector processes consuming the same stream, one into SQLite and one
// into ClickHouse, and requires from `projector snapshots --clickhouse`
// (plain, as of the oracle's T = last day + 30, and as of the first day)
// byte for byte what `snapshots` prints from SQLite and what `compute`
// prints for the file, the original application's expected values
// (oracle.Check, as TestOracleEndToEnd), and the same movements in both
// stores.
func TestClickHouseOracleEndToEnd(t *testing.T) {
	dsn := chtest.NewDatabase(t)
	datasets := oracleDatasets(t)
	pl := newPipeline(t)
	liteDir, chDir := t.TempDir(), t.TempDir()
	pLite := startProjector(t, pl.env.URL, liteDir, nil, "--durable", "sqlite")
	pCH := startProjector(t, pl.env.URL, chDir, nil, "--durable", "clickhouse", "--clickhouse", dsn)
	var ids []string
	for _, ds := range datasets {
		ids = append(ids, pl.importFile(t, ds.Input(), "oracle-"+ds.Name).Session.ID)
	}
	chStore := openClickHouse(t, dsn)
	lite, err := sqlite.OpenReadOnly(t.Context(), filepath.Join(liteDir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	waitStoreCompleted(t, chStore, ids)
	waitStoreCompleted(t, lite, ids)
	pLite.Stop(t)
	pCH.Stop(t)

	for _, ds := range datasets {
		t.Run(ds.Name, func(t *testing.T) {
			account := "oracle-" + ds.Name
			input := ds.Input()
			requireSameMovements(t, chStore, lite, account)
			snapshots := func(asOf ...string) string {
				t.Helper()
				chOut := mustCLI(t, append([]string{"snapshots", "--clickhouse", dsn, "--account", account}, asOf...)...)
				liteOut := mustCLI(t, append([]string{"snapshots", "--data", liteDir, "--account", account}, asOf...)...)
				if chOut != liteOut {
					t.Errorf("snapshots %v: ClickHouse and SQLite differ:\nclickhouse %s\n    sqlite %s", asOf, chOut, liteOut)
				}
				want := mustCLI(t, append(append([]string{"compute", "--account", account}, asOf...), input)...)
				if chOut != want {
					t.Errorf("snapshots %v from ClickHouse and compute differ:\nsnapshots %s\ncompute   %s", asOf, chOut, want)
				}
				return chOut
			}
			plain := snapshots()
			T := oracle.Today(lastDate(t, plain))
			out := snapshots("--as-of", T.String())
			snapshots("--as-of", firstDate(t, plain).String())
			// checkOracle counts the deposits dataset's movements in the
			// SQLite store; requireSameMovements made ClickHouse's equal.
			checkOracle(t, ds, liteDir, out, T)
		})
	}
}

// `projector replay --clickhouse` rebuilds from the stream what the
// incremental projector wrote into ClickHouse: into a new database with
// --out, one damaged account in place with --account (the others stay as
// they are), and every account in place (an account the stream does not
// have is removed); `snapshots` then prints what it printed before, and a
// projector restarted on the rebuilt database has nothing to do.
func TestClickHouseReplayEqualsIncremental(t *testing.T) {
	dsn := chtest.NewDatabase(t)
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil, "--clickhouse", dsn)
	var ids []string
	for _, f := range []struct{ file, account string }{
		{mpwFile, "alice"}, {filepath.Join(oracleDir, "options", "input.csv"), "bob"},
		{filepath.Join(oracleDir, "pfizer", "input.csv"), "alice"},
	} {
		ids = append(ids, pl.importFile(t, f.file, f.account).Session.ID)
	}
	// carol has a rejected row, so that rejects has one.
	header, rows := readStatement(t, filepath.Join(oracleDir, "options", "input.csv"))
	bad := strings.Replace(rows[0], rows[0][:10], "not-a-date", 1)
	im := &streams.Importer{JS: pl.env.JS, Sessions: pl.sessions}
	res, err := im.Import(t.Context(), streams.Request{Path: writeStatement(t, "options-bad.csv", header, append(rows, bad)),
		Account: "carol", Broker: "auto", SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, res.Session.ID)
	pl.waitCompleted(t, ids...)
	p.Stop(t)
	incremental := dumpClickHouse(t, dsn)
	if len(incremental["rejects"]) == 0 {
		t.Fatal("test bug: no rejects stored")
	}
	for _, table := range slices.Sorted(maps.Keys(incremental)) {
		t.Logf("incremental %s: %d rows", table, len(incremental[table]))
	}
	accounts := []string{"alice", "bob", "carol"}
	snapshots := func() map[string]string {
		out := map[string]string{}
		for _, a := range accounts {
			out[a] = mustCLI(t, "snapshots", "--clickhouse", dsn, "--account", a, "--as-of", "2030-01-01")
		}
		return out
	}
	before := snapshots()

	out := chtest.NewDatabase(t)
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir, "--clickhouse", dsn, "--out", out)
	requireSameDump(t, dumpClickHouse(t, out), incremental)
	requireSameDump(t, dumpClickHouse(t, dsn), incremental)
	if _, err := cli(t, "replay", "--nats", pl.env.URL, "--data", dir, "--clickhouse", dsn, "--out", out); err == nil ||
		!strings.Contains(err.Error(), "already holds data") {
		t.Errorf("replay into a database with data: %v, want a refusal", err)
	}

	// Damage bob: movements deleted, one added, projections emptied.
	st := openClickHouse(t, dsn)
	chtest.Exec(t, dsn, "ALTER TABLE movements DELETE WHERE account = 'bob' AND kind = 'option'")
	waitMutations(t, dsn)
	addBogusMovement(t, st, "bob")
	if err := store.ReplaceProjections(t.Context(), st, &projections.Result{Account: "bob"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	requireDamaged(t, dumpClickHouse(t, dsn), incremental)
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir, "--clickhouse", dsn, "--account", "bob")
	requireSameDump(t, dumpClickHouse(t, dsn), incremental)

	// Damage alice and carol, and add an account the stream does not have;
	// rebuild everything in place.
	chtest.Exec(t, dsn, "ALTER TABLE movements DELETE WHERE account = 'alice' AND kind = 'dividend'")
	chtest.Exec(t, dsn, "ALTER TABLE rejects DELETE WHERE account = 'carol'")
	waitMutations(t, dsn)
	addBogusMovement(t, st, "alice")
	addBogusMovement(t, st, "ghost")
	requireDamaged(t, dumpClickHouse(t, dsn), incremental)
	mustCLI(t, "replay", "--nats", pl.env.URL, "--data", dir, "--clickhouse", dsn)
	requireSameDump(t, dumpClickHouse(t, dsn), incremental)
	c := chConn(t, dsn)
	var scratch uint64
	if err := c.QueryRow(t.Context(), "SELECT count() FROM system.databases WHERE name = ?", st.Database()+"_replay").Scan(&scratch); err != nil {
		t.Fatal(err)
	}
	if scratch != 0 {
		t.Errorf("the scratch database %s_replay was left behind", st.Database())
	}
	for a, want := range before {
		if got := snapshots()[a]; got != want {
			t.Errorf("%s: snapshots after the replays differ:\n got %s\nwant %s", a, got, want)
		}
	}
	// The projector starts again on the rebuilt database and has nothing
	// to do.
	p = startProjector(t, pl.env.URL, dir, nil, "--clickhouse", dsn)
	p.Stop(t)
	requireSameDump(t, dumpClickHouse(t, dsn), incremental)
}

// An in-place ClickHouse replay refuses while a projector consumes the
// stream, and refuses to replace a database with data by an empty stream;
// --out must be another database.
func TestClickHouseReplayRefuses(t *testing.T) {
	dsn := chtest.NewDatabase(t)
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil, "--clickhouse", dsn)
	res := pl.importFile(t, filepath.Join(oracleDir, "pfizer", "input.csv"), "acct")
	pl.waitCompleted(t, res.Session.ID)
	if _, err := cli(t, "replay", "--nats", pl.env.URL, "--data", t.TempDir(), "--clickhouse", dsn); err == nil ||
		!strings.Contains(err.Error(), "projector is consuming") {
		t.Errorf("replay beside a running projector: %v, want a refusal", err)
	}
	p.Stop(t)
	before := dumpClickHouse(t, dsn)
	empty := newPipeline(t)
	if _, err := cli(t, "replay", "--nats", empty.env.URL, "--data", dir, "--clickhouse", dsn); err == nil ||
		!strings.Contains(err.Error(), "no messages") {
		t.Errorf("replay of an empty stream over a full database: %v, want a refusal", err)
	}
	if _, err := cli(t, "replay", "--nats", empty.env.URL, "--data", dir, "--clickhouse", dsn, "--account", "acct"); err == nil ||
		!strings.Contains(err.Error(), "no messages") {
		t.Errorf("replay of an empty stream over a stored account: %v, want a refusal", err)
	}
	for _, out := range []string{dsn, filepath.Join(t.TempDir(), "x.db")} {
		if _, err := cli(t, "replay", "--nats", pl.env.URL, "--data", dir, "--clickhouse", dsn, "--out", out); err == nil {
			t.Errorf("replay --clickhouse --out %s: no refusal", out)
		}
	}
	requireSameDump(t, dumpClickHouse(t, dsn), before)
}

// openClickHouse opens the store of dsn for the test.
func openClickHouse(t *testing.T, dsn string) *clickhouse.Store {
	t.Helper()
	st, err := clickhouse.New(t.Context(), dsn, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// chConn opens a plain driver connection on the database of dsn.
func chConn(t *testing.T, dsn string) ch.Conn {
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

// waitStoreCompleted waits until the store holds every listed session,
// completed: a projector that shares the session records with another one
// cannot be waited for through them.
func waitStoreCompleted(t *testing.T, st store.Store, ids []string) {
	t.Helper()
	proctest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		for _, id := range ids {
			s, err := st.Session(t.Context(), id)
			if err != nil {
				return err
			}
			if s.Phase != store.PhaseCompleted {
				return fmt.Errorf("session %s (%s) is %s", id, s.Account, s.Phase)
			}
		}
		return nil
	})
}

// requireSameMovements fails unless both stores hold the same movements of
// account, every field equal.
func requireSameMovements(t *testing.T, a, b store.Store, account string) {
	t.Helper()
	ma, err := store.AccountMovements(t.Context(), a, account)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := store.AccountMovements(t.Context(), b, account)
	if err != nil {
		t.Fatal(err)
	}
	if len(ma) == 0 || len(ma) != len(mb) {
		t.Fatalf("%s: %d movements in ClickHouse, %d in SQLite", account, len(ma), len(mb))
	}
	for i := range ma {
		if !ma[i].Equal(&mb[i]) {
			t.Fatalf("%s: movement %d differs:\nclickhouse %+v\n    sqlite %+v", account, i, ma[i], mb[i])
		}
	}
}

// waitMutations waits until the server finished the mutations of the
// database of dsn (ALTER TABLE … DELETE runs in the background).
func waitMutations(t *testing.T, dsn string) {
	t.Helper()
	c := chConn(t, dsn)
	proctest.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		var n uint64
		if err := c.QueryRow(t.Context(), "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d mutations running", n)
		}
		return nil
	})
}

// addBogusMovement stores a movement of account the stream does not have,
// in a session of its own.
func addBogusMovement(t *testing.T, st *clickhouse.Store, account string) {
	t.Helper()
	m := events.Movement{ID: "bogus-" + account, Account: account, Broker: events.BrokerTastytrade, Kind: events.KindCash,
		Time: events.WallTimeOf(time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)), Currency: "USD",
		CashType: events.CashDeposit, Amount: decimal.NewFromInt(1000)}
	c := &events.Chunk{Session: "bogus", Account: account, ID: "2024-W10.1", Ordinal: 1, Total: 1, Week: "2024-W10", Part: 1,
		Movements: []events.Movement{m}}
	err := st.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, At: time.Now(),
		Sessions: []store.Session{{ID: "bogus-" + account, Account: account, Phase: store.PhaseCompleted, TotalChunks: 1}}})
	if err != nil {
		t.Fatal(err)
	}
}

// requireDamaged fails unless the damage shows in the dump: the test of a
// repair that cannot fail is no test.
func requireDamaged(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table, w := range want {
		if !slices.Equal(got[table], w) {
			return
		}
	}
	t.Fatal("test bug: the damaged database dumps like the incremental one")
}

// clickhouseVolatile are the columns that differ between two runs over
// the same stream: versions and instants taken from a clock. The session
// records' start and seal instants come from the stream and must be equal.
var clickhouseVolatile = map[string]bool{"version": true, "stored_at": true, "completed_at": true,
	"completed_at_ns": true, "committed_at": true, "applied_at": true}

// dumpClickHouse reads every table of the ClickHouse store of dsn as text
// rows in key order, one row per key (FINAL), the projections of each
// account's committed version, and the row counts of each account's
// latest commit; without the volatile columns.
func dumpClickHouse(t *testing.T, dsn string) map[string][]string {
	t.Helper()
	c := chConn(t, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tables := []struct{ name, from, order string }{
		{"movements", "movements FINAL", "id"},
		{"import_sessions", "import_sessions FINAL", "id"},
		{"import_chunks", "import_chunks FINAL", "session, chunk"},
		{"rejects", "rejects FINAL", "session, line, column_name, reason"},
		{"broker_snapshots", "broker_snapshots_current", "account, currency, date"},
		{"ticker_snapshots", "ticker_snapshots_current", "account, ticker, currency, date"},
		{"operations", "operations_current", "account, seq"},
		{"schema_migrations", "schema_migrations FINAL", "version"},
	}
	out := map[string][]string{}
	text := func(q string) []string {
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var res []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			res = append(res, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tb := range tables {
		var cols []string
		for _, col := range text("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '" + tb.name + "' ORDER BY name") {
			if !clickhouseVolatile[col] {
				cols = append(cols, fmt.Sprintf("'%s=', ifNull(toString(%s), 'NULL'), '|'", col, col))
			}
		}
		if len(cols) == 0 {
			t.Fatalf("table %s has no columns", tb.name)
		}
		out[tb.name] = text("SELECT concat(" + strings.Join(cols, ", ") + ") FROM " + tb.from + " ORDER BY " + tb.order)
	}
	out["projection_commits"] = text(`SELECT concat(account, '|', toString(argMax(broker_rows, version)), '|',
	toString(argMax(ticker_rows, version)), '|', toString(argMax(operation_rows, version)))
FROM projection_commits GROUP BY account ORDER BY account`)
	return out
}
