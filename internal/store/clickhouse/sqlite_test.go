package clickhouse_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/store/sqlite"
)

// TestSameAsSQLite stores every sample statement of the shared test data in
// the ClickHouse store and in the SQLite store the way the projector does
// (weekly chunks, then the projections computed from the stored movements),
// and requires the same movements back and byte-identical `projector
// snapshots` JSON from both, equal to the JSON of the computed result.
func TestSameAsSQLite(t *testing.T) {
	chtest.DSN(t)
	var files []string
	for _, dir := range []string{"tastytrade", "ibkr"} {
		fs, err := filepath.Glob(filepath.Join("../../../../shared/testdata", dir, "*.csv"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	if len(files) < 10 {
		t.Fatalf("found %d sample statements under ../shared/testdata, want the shared samples", len(files))
	}
	dsn := chtest.NewDatabase(t)
	ch := open(t, dsn, clickhouse.Options{})
	lite, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	for i, file := range files {
		account := "acct" + string(rune('a'+i))
		name := filepath.Base(file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		broker, err := parsers.Detect(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, err := parsers.ForBroker(broker)
		if err != nil {
			t.Fatal(err)
		}
		res, err := parsers.Parse(p, bytes.NewReader(data), parsers.Options{Account: account})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Movements) == 0 {
			continue
		}
		chunks := weeklyChunks("s-"+account, res.Movements)
		for _, s := range []store.Store{ch, lite} {
			for _, c := range chunks {
				if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}, At: at}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
		fromCH, err := store.AccountMovements(t.Context(), ch, account)
		if err != nil {
			t.Fatal(err)
		}
		fromLite, err := store.AccountMovements(t.Context(), lite, account)
		if err != nil {
			t.Fatal(err)
		}
		if len(fromCH) != len(fromLite) || len(fromCH) != countIDs(res.Movements) {
			t.Fatalf("%s: %d movements from ClickHouse, %d from SQLite, %d distinct parsed", name, len(fromCH), len(fromLite), countIDs(res.Movements))
		}
		for j := range fromCH {
			if !fromCH[j].Equal(&fromLite[j]) {
				t.Fatalf("%s: movement %d differs\nclickhouse %+v\n    sqlite %+v", name, j, fromCH[j], fromLite[j])
			}
		}
		want := projections.Compute(account, fromLite)
		var wantJSON bytes.Buffer
		if err := projections.WriteJSON(&wantJSON, want, nil); err != nil {
			t.Fatal(err)
		}
		for _, s := range []store.Store{ch, lite} {
			if err := store.ReplaceProjections(t.Context(), s, projections.Compute(account, fromCH), nil, at); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		for label, s := range map[string]store.Store{"clickhouse": ch, "sqlite": lite} {
			got, err := s.Projections(t.Context(), account)
			if err != nil {
				t.Fatal(err)
			}
			var gotJSON bytes.Buffer
			if err := projections.WriteJSON(&gotJSON, got, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotJSON.Bytes(), wantJSON.Bytes()) {
				t.Errorf("%s: %s snapshots JSON differs from the computed result's\n got %s\nwant %s",
					name, label, firstDiff(gotJSON.String(), wantJSON.String()), firstDiff(wantJSON.String(), gotJSON.String()))
			}
		}
		t.Logf("%s (%s): %d movements, %d broker, %d ticker rows, %d operations: identical", name, broker,
			len(fromCH), len(want.Broker), len(want.Tickers), len(want.Operations))
	}
	// The real data has quotients longer than the columns' 10 places: the
	// exact column was used, and read back above.
	c := conn(t, dsn)
	n := count(t, c, `SELECT (SELECT count() FROM broker_snapshots_current WHERE exact != '')
		+ (SELECT count() FROM ticker_snapshots_current WHERE exact != '')`)
	t.Logf("%d projection rows needed the exact column", n)
	if n == 0 {
		t.Error("no projection row needed the exact column: the test no longer covers it")
	}
}

func countIDs(ms []events.Movement) int {
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.ID] = true
	}
	return len(ids)
}

// weeklyChunks groups movements by ISO week of their day, in order.
func weeklyChunks(session string, ms []events.Movement) []*events.Chunk {
	byWeek := map[string]*events.Chunk{}
	var out []*events.Chunk
	for _, m := range ms {
		w := m.Time.Day().ISOWeek()
		c := byWeek[w]
		if c == nil {
			c = &events.Chunk{Session: session, Account: m.Account, ID: w + ".1", Week: w, Part: 1}
			byWeek[w] = c
			out = append(out, c)
		}
		c.Movements = append(c.Movements, m)
	}
	for i, c := range out {
		c.Ordinal, c.Total = i+1, len(out)
	}
	return out
}

// firstDiff returns s from a little before its first difference with o.
func firstDiff(s, o string) string {
	i := 0
	for i < len(s) && i < len(o) && s[i] == o[i] {
		i++
	}
	start := max(i-80, 0)
	end := min(i+80, len(s))
	return s[start:end]
}
