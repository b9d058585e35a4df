package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// newInternalStore opens a store on a fresh database of the test server
// (the chtest package cannot be used here: it imports this one).
func newInternalStore(t *testing.T, opts Options) *Store {
	t.Helper()
	dsn := os.Getenv("FOLIO_CLICKHOUSE_TEST_DSN")
	if dsn == "" {
		t.Skip("SKIPPING ClickHouse tests: FOLIO_CLICKHOUSE_TEST_DSN not set " +
			"(.ci/run starts a server and sets it; locally: source .ci/clickhouse.sh && ch_start)")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	u.Path = "/foliotest_" + hex.EncodeToString(b[:])
	s, err := New(t.Context(), u.String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.database); err != nil {
			t.Errorf("drop %s: %v", s.database, err)
		}
		s.Close()
	})
	return s
}

func tickerResult(account, ticker string, days int) *projections.Result {
	r := &projections.Result{Account: account}
	for i := range days {
		r.Tickers = append(r.Tickers, projections.TickerSnapshot{Ticker: ticker, Currency: "USD",
			Date: events.NewDate(2025, 1, 1).AddDays(i)})
	}
	return r
}

func TestProjectionsReadAgainAfterTornRead(t *testing.T) {
	// Two replacements commit while a reader is between reading the
	// committed version and reading its rows: the version it chose is
	// dropped under it. It must notice (row counts) and read again, and
	// return the newest projections whole.
	s := newInternalStore(t, Options{})
	ctx := t.Context()
	if err := store.ReplaceProjections(ctx, s, tickerResult("torn", "A", 3), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	reads := 0
	s.afterCommitted = func() {
		reads++
		if reads > 1 {
			return
		}
		for _, r := range []*projections.Result{tickerResult("torn", "B", 4), tickerResult("torn", "C", 5)} {
			if err := store.ReplaceProjections(ctx, s, r, nil, time.Time{}); err != nil {
				t.Error(err)
			}
		}
	}
	got, err := s.Projections(ctx, "torn")
	if err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("read %d times, want 2 (a torn read, then a whole one)", reads)
	}
	if len(got.Tickers) != 5 || got.Tickers[0].Ticker != "C" {
		t.Errorf("got %d ticker rows (%+v), want the 5 rows of C", len(got.Tickers), got.Tickers)
	}
}

func TestFailedBatchThenFreshConnection(t *testing.T) {
	// A batch the server refuses (a column the table does not have) is not
	// retried, and its connection is not reused: with a pool of one, the next
	// calls still work.
	s := newInternalStore(t, Options{MaxOpenConns: 1})
	calls := 0
	err := s.do(t.Context(), "bad insert", func(ctx context.Context) error {
		calls++
		b, err := s.conn.PrepareBatch(ctx, "INSERT INTO movements (account, no_such_column)")
		if err != nil {
			return err
		}
		return b.Send()
	})
	if err == nil || Transient(err) || calls != 1 {
		t.Fatalf("insert into a missing column: err %v (transient %v) after %d calls, want one permanent failure", err, Transient(err), calls)
	}
	// A batch that fails while being sent: a value the column cannot take.
	err = s.insert(t.Context(), "import_chunks", []column{{"account", []string{"a"}}, {"ordinal", []string{"not a number"}}})
	if err == nil {
		t.Fatal("insert of a string into a UInt32 column returned nil")
	}
	for range 3 {
		if n, err := s.StoredChunks(t.Context(), "none"); err != nil || n != 0 {
			t.Fatalf("StoredChunks after failed batches = %d, %v", n, err)
		}
	}
	if err := s.WriteBatch(t.Context(), &store.Batch{Sessions: []store.Session{{ID: "x", Account: "a", Phase: store.PhasePublishing}}}); err != nil {
		t.Fatalf("WriteBatch after failed batches: %v", err)
	}
}
