package clickhouse

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// insertConn is a connection that watches the INSERTs into the projection
// tables: how many are in progress (prepared, not yet sent or aborted),
// and the most at a time; refuse, when it returns an error for a table and
// the number of that table's INSERT (from 1), makes that INSERT fail; hold,
// when set, makes each projection INSERT wait until hold of them are in
// progress at once (or the context ends).
type insertConn struct {
	chdriver.Conn
	refuse func(table string, n int) error
	hold   int

	mu      sync.Mutex
	cond    *sync.Cond
	n       map[string]int
	active  int
	maxSeen int
}

func newInsertConn(c chdriver.Conn) *insertConn {
	ic := &insertConn{Conn: c, n: map[string]int{}}
	ic.cond = sync.NewCond(&ic.mu)
	return ic
}

func (c *insertConn) PrepareBatch(ctx context.Context, query string, opts ...chdriver.PrepareBatchOption) (chdriver.Batch, error) {
	table := strings.Fields(query)[2]
	if !strings.HasSuffix(table, "_snapshots") && table != "operations" {
		return c.Conn.PrepareBatch(ctx, query, opts...)
	}
	c.mu.Lock()
	c.n[table]++
	n := c.n[table]
	c.active++
	c.maxSeen = max(c.maxSeen, c.active)
	c.cond.Broadcast()
	if c.hold > 0 {
		stop := context.AfterFunc(ctx, func() {
			c.mu.Lock()
			c.cond.Broadcast()
			c.mu.Unlock()
		})
		for c.maxSeen < c.hold && ctx.Err() == nil {
			c.cond.Wait()
		}
		stop()
	}
	c.mu.Unlock()
	var err error
	if c.refuse != nil {
		err = c.refuse(table, n)
	}
	var b chdriver.Batch
	if err == nil {
		b, err = c.Conn.PrepareBatch(ctx, query, opts...)
	}
	if err != nil {
		c.done()
		return nil, err
	}
	return &watchedBatch{Batch: b, c: c}, nil
}

func (c *insertConn) done() {
	c.mu.Lock()
	c.active--
	c.mu.Unlock()
}

func (c *insertConn) inProgress() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

type watchedBatch struct {
	chdriver.Batch
	c    *insertConn
	once sync.Once
}

func (b *watchedBatch) Send() error {
	defer b.once.Do(b.c.done)
	return b.Batch.Send()
}

func (b *watchedBatch) Abort() error {
	defer b.once.Do(b.c.done)
	return b.Batch.Abort()
}

// projectionVersions returns how many versions of account each projection
// table holds.
func projectionVersions(t *testing.T, s *Store, account string) [3]uint64 {
	t.Helper()
	var out [3]uint64
	for i, table := range projectionTables {
		if err := s.conn.QueryRow(t.Context(), "SELECT uniqExact(version) FROM "+table+" WHERE account = ?",
			account).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestWriteProjectionsInsertFailureSticks(t *testing.T) {
	// The second INSERT of ticker rows fails: the sink fails at once (at
	// the latest within the next batch of that table, were the INSERTs
	// made on another goroutine), and every later call of every kind fails
	// with that error; WriteProjections returns it, no INSERT is in
	// progress once it returned, the partial version is dropped and the old
	// projections stay current.
	s := newInternalStore(t, Options{ProjectionBatchRows: 2, MaxAttempts: 1})
	old := tickerResult("st", "OLD", 3)
	if err := store.ReplaceProjections(t.Context(), s, old, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	ic := newInsertConn(s.conn)
	ic.refuse = func(table string, n int) error {
		if table == "ticker_snapshots" && n == 2 {
			return refused
		}
		return nil
	}
	s.conn = ic
	failedAt := -1
	var later []error
	err := s.WriteProjections(t.Context(), "st", func(sink projections.Sink) error {
		r := tickerResult("st", "NEW", 100)
		for i := range r.Tickers {
			if err := sink.Ticker(&r.Tickers[i]); err != nil {
				failedAt = i
				break
			}
		}
		later = append(later,
			sink.Ticker(&projections.TickerSnapshot{Ticker: "LATE", Currency: "USD", Date: events.NewDate(2030, 1, 1)}),
			sink.Broker(&projections.BrokerSnapshot{Currency: "USD", Date: events.NewDate(2030, 1, 1)}),
			sink.Operation(&projections.Operation{Ticker: "LATE", Currency: "USD", OpenDate: events.NewDate(2030, 1, 1)}, 0))
		return nil // the sink's failure must fail the write even so
	}, nil, time.Now())
	if n := ic.inProgress(); n != 0 {
		t.Errorf("%d INSERTs in progress after WriteProjections returned", n)
	}
	if !errors.Is(err, refused) {
		t.Fatalf("WriteProjections = %v, want the refused INSERT's error", err)
	}
	// Rows 2 and 3 are the second batch, inserted at row 3; a sink that
	// inserted it on another goroutine would wait for it when it hands over
	// the third (rows 4 and 5), at row 5.
	if failedAt < 0 || failedAt > 5 {
		t.Errorf("the sink first failed at row %d, want at most 5", failedAt)
	}
	for i, err := range later {
		if !errors.Is(err, refused) {
			t.Errorf("later call %d = %v, want the refused INSERT's error", i, err)
		}
	}
	got, err := s.Projections(t.Context(), "st")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tickers) != len(old.Tickers) || got.Tickers[0].Ticker != "OLD" {
		t.Errorf("projections after the failed write: %d ticker rows (%+v), want the old ones", len(got.Tickers), got.Tickers)
	}
	if v := projectionVersions(t, s, "st"); v != [3]uint64{0, 1, 0} {
		t.Errorf("versions per table = %v, want only the committed one", v)
	}
}

func TestWriteProjectionsLastBatchesTogether(t *testing.T) {
	// The last rows of the three tables (here all of them) are inserted at
	// the same time: each INSERT waits here until all three are in progress
	// (a writer that inserted them one after the other would wait until the
	// deadline).
	s := newInternalStore(t, Options{})
	ic := newInsertConn(s.conn)
	ic.hold = 3
	s.conn = ic
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := tickerResult("lb", "A", 5)
	r.Broker = []projections.BrokerSnapshot{{Currency: "USD", Date: events.NewDate(2025, 1, 1)}}
	r.Operations = []projections.Operation{{Ticker: "A", Currency: "USD", OpenDate: events.NewDate(2025, 1, 1)}}
	if err := s.WriteProjections(ctx, "lb", r.Emit, nil, time.Now()); err != nil {
		t.Fatalf("WriteProjections = %v (INSERTs at once: %d, want 3)", err, ic.maxSeen)
	}
	got, err := s.Projections(t.Context(), "lb")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Broker) != 1 || len(got.Tickers) != 5 || len(got.Operations) != 1 {
		t.Errorf("read back %d/%d/%d rows, want 1/5/1", len(got.Broker), len(got.Tickers), len(got.Operations))
	}
}
