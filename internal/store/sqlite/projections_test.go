package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/shopspring/decimal"
)

// interleaved is a result whose rows, emitted in the order of emitInterleaved,
// cross the sink's batches and the INSERTs' statements of every table at
// different points, with long quotients and short amounts.
func interleaved(account string, n int) *projections.Result {
	r := &projections.Result{Account: account, Broker: []projections.BrokerSnapshot{},
		Tickers: []projections.TickerSnapshot{}, Operations: []projections.Operation{}}
	day := events.NewDate(2024, 1, 2)
	long := decimal.RequireFromString("-12.3456789012345678901234567891")
	for i := range n {
		v := decimal.New(int64(i*37-500), -2)
		r.Tickers = append(r.Tickers, projections.TickerSnapshot{Ticker: fmt.Sprintf("T%d", i%7), Currency: "USD",
			Date: day.AddDays(i / 7), TotalShares: decimal.New(int64(i%9), 0), CostBasis: long.Add(v), RealCost: v,
			Performance: long, OpenTrades: i%2 == 0, Fees: decimal.New(int64(i), -28)})
		if i%5 == 0 {
			r.Broker = append(r.Broker, projections.BrokerSnapshot{Currency: "USD", Date: day.AddDays(i / 5),
				MovementCounter: i, RealizedPercentage: long, NetCashFlow: v})
		}
		if i%11 == 0 {
			r.Operations = append(r.Operations, projections.Operation{Ticker: fmt.Sprintf("T%d", i%7), Currency: "USD",
				OpenDate: day.AddDays(i), CloseDate: day.AddDays(i + 3), Realized: v, Performance: long})
		}
	}
	return r
}

// emitInterleaved sends r's rows mixed: a ticker row, then a broker row or
// an operation when one is due.
func emitInterleaved(r *projections.Result, sink projections.Sink) error {
	b, o := 0, 0
	for i := range r.Tickers {
		if err := sink.Ticker(&r.Tickers[i]); err != nil {
			return err
		}
		if b < len(r.Broker) && i%5 == 0 {
			if err := sink.Broker(&r.Broker[b]); err != nil {
				return err
			}
			b++
		}
		if o < len(r.Operations) && i%11 == 0 {
			if err := sink.Operation(&r.Operations[o], o); err != nil {
				return err
			}
			o++
		}
	}
	return nil
}

// The rows written through the sink's batches and its writer goroutine come
// back exactly, for row counts around the batch and statement sizes.
func TestWriteProjectionsBatches(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{0, 1, 31, 32, 33, 64, 65, 1000} {
		want := interleaved("acct", n)
		err := s.WriteProjections(t.Context(), "acct", func(sink projections.Sink) error {
			return emitInterleaved(want, sink)
		}, nil, time.Now())
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		got, err := s.Projections(t.Context(), "acct")
		if err != nil {
			t.Fatal(err)
		}
		if err := sameResult(got, want); err != nil {
			t.Errorf("%d ticker rows: %v", n, err)
		}
	}
}

func sameResult(got, want *projections.Result) error {
	if len(got.Broker) != len(want.Broker) || len(got.Tickers) != len(want.Tickers) || len(got.Operations) != len(want.Operations) {
		return fmt.Errorf("%d/%d/%d rows, want %d/%d/%d", len(got.Broker), len(got.Tickers), len(got.Operations),
			len(want.Broker), len(want.Tickers), len(want.Operations))
	}
	// The store sorts the rows: compare tickers and operations by key.
	byKey := map[string]projections.TickerSnapshot{}
	for _, r := range want.Tickers {
		byKey[r.Ticker+r.Date.String()] = r
	}
	for _, r := range got.Tickers {
		w, ok := byKey[r.Ticker+r.Date.String()]
		if !ok || fmt.Sprint(r) != fmt.Sprint(w) {
			return fmt.Errorf("ticker row %+v, want %+v", r, w)
		}
	}
	for i := range got.Broker {
		if fmt.Sprint(got.Broker[i]) != fmt.Sprint(want.Broker[i]) {
			return fmt.Errorf("broker row %d: %+v, want %+v", i, got.Broker[i], want.Broker[i])
		}
	}
	ops := map[string]projections.Operation{}
	for _, o := range want.Operations {
		ops[o.Ticker+o.OpenDate.String()] = o
	}
	for _, o := range got.Operations {
		if w, ok := ops[o.Ticker+o.OpenDate.String()]; !ok || fmt.Sprint(o) != fmt.Sprint(w) {
			return fmt.Errorf("operation %+v, want %+v", o, w)
		}
	}
	return nil
}

// However WriteProjections ends (emit fails, the context is cancelled
// while emit goes on, a row fails), its writer goroutine has ended when it
// returns, and the old projections stay.
func TestWriteProjectionsWriterStops(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := interleaved("acct", 40)
	if err := store.ReplaceProjections(t.Context(), s, old, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	for _, c := range []struct {
		name string
		emit func(ctx context.Context, cancel func(), sink projections.Sink) error
		want func(error) bool
	}{
		{"emit fails", func(_ context.Context, _ func(), sink projections.Sink) error {
			if err := emitInterleaved(interleaved("acct", 500), sink); err != nil {
				return err
			}
			return errBoom
		}, func(err error) bool { return errors.Is(err, errBoom) }},
		{"cancelled", func(_ context.Context, cancel func(), sink projections.Sink) error {
			r := interleaved("acct", 500)
			for i := range r.Tickers {
				if i == 100 {
					cancel()
				}
				sink.Ticker(&r.Tickers[i]) // errors ignored: the write must fail anyway
			}
			return nil
		}, func(err error) bool { return err != nil }},
		{"row fails", func(_ context.Context, _ func(), sink projections.Sink) error {
			r := interleaved("acct", 500)
			r.Tickers[300] = r.Tickers[200] // the primary key refuses it
			for i := range r.Tickers {
				sink.Ticker(&r.Tickers[i])
			}
			return nil
		}, func(err error) bool { return err != nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			err := s.WriteProjections(ctx, "acct", func(sink projections.Sink) error {
				return c.emit(ctx, cancel, sink)
			}, nil, time.Now())
			if !c.want(err) {
				t.Fatalf("WriteProjections = %v", err)
			}
			// WriteProjections waits for its writer's done signal, which
			// the goroutine sends as it returns: it is gone at once or a
			// moment later (CI's race detector once counted it still
			// there), never left behind.
			deadline := time.Now().Add(5 * time.Second)
			for n := writers(); n != 0; n = writers() {
				if time.Now().After(deadline) {
					t.Fatalf("%d writer goroutines 5 s after WriteProjections returned", n)
				}
				runtime.Gosched()
			}
			got, err := s.Projections(t.Context(), "acct")
			if err != nil {
				t.Fatal(err)
			}
			if err := sameResult(got, old); err != nil {
				t.Errorf("after the failed write: %v; want the old projections", err)
			}
		})
	}
}

// writers counts the goroutines running the projections writer.
func writers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "(*projectionInserts).run")
}
