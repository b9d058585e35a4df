package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/synth"
	"github.com/nats-io/nats.go/jetstream"
)

// benchRows is the size of the synthetic statement the ClickHouse
// benchmark imports (Tastytrade, seed 1).
const benchRows = 50_000

// BenchmarkClickHouseProjector measures movements/s into ClickHouse through
// the projector (JetStream stream → durable pull consumer → decode →
// batch → Store.WriteBatch → ack, with the projector's default batch
// bounds) against clickhouse-go's raw batch insert of the same movements
// (one PrepareBatch, row-by-row Append, Send: the driver's documented
// usage, no stream, no decoding, no exact-decimal checks, no chunk
// records), in the same run; and, to tell the stream's share from the
// store's, Store.WriteBatch of every chunk in one call. A synthetic
// statement is imported once into an embedded JetStream server; each
// iteration runs the three, in alternating order, each into a new database
// of the same schema, and the projector with a new durable consumer over
// the account's chunk subject (phase 2 is not part of the measure). The
// projector's time runs from Run to the return of the WriteBatch that
// stored the last movement. It reports the three rates and the ratios
// projector/raw and store/raw (higher is better).
//
//	source .ci/clickhouse.sh && ch_start
//	go test ./internal/e2e -run '^$' -bench BenchmarkClickHouseProjector -benchtime 3x
func BenchmarkClickHouseProjector(b *testing.B) {
	chtest.DSN(b)
	ctx := b.Context()
	env := natstest.Run(b, natsembed.Config{})
	if _, err := streams.EnsureStream(ctx, env.JS, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	kv, err := streams.EnsureSessions(ctx, env.JS)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "synthetic.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := synth.Tastytrade(f, synth.Config{Seed: 1, Rows: benchRows}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	im := &streams.Importer{JS: env.JS, Sessions: kv}
	if _, err := im.Import(ctx, streams.Request{Path: path, Account: "bench", Broker: "auto"}); err != nil {
		b.Fatal(err)
	}
	chunks := streamChunks(b, env.JS, "bench")
	movements := 0
	for _, c := range chunks {
		movements += len(c.Movements)
	}
	b.Logf("%d rows: %d movements in %d chunk messages", benchRows, movements, len(chunks))

	var viaProjector, viaStore, viaRaw time.Duration
	i := 0
	for b.Loop() {
		runs := []func(){
			func() {
				viaProjector += projectInto(b, env.JS, fmt.Sprintf("bench-%d", i), newBenchStore(b), movements)
			},
			func() { viaStore += writeAll(b, newBenchStore(b), chunks) },
			func() { viaRaw += rawInsert(b, newBenchStore(b), chunks) },
		}
		if i%2 == 1 {
			slices.Reverse(runs)
		}
		for _, run := range runs {
			run()
		}
		i++
	}
	rate := func(d time.Duration) float64 { return float64(movements*i) / d.Seconds() }
	b.ReportMetric(rate(viaProjector), "projector-movements/s")
	b.ReportMetric(rate(viaStore), "store-movements/s")
	b.ReportMetric(rate(viaRaw), "raw-movements/s")
	b.ReportMetric(rate(viaProjector)/rate(viaRaw), "projector/raw")
	b.ReportMetric(rate(viaStore)/rate(viaRaw), "store/raw")
}

// writeAll writes every chunk with one Store.WriteBatch (what the projector
// does without the stream: no fetch, no decoding, one batch) and returns
// how long it took.
func writeAll(b *testing.B, st *clickhouse.Store, chunks []*events.Chunk) time.Duration {
	b.Helper()
	start := time.Now()
	if err := st.WriteBatch(b.Context(), &store.Batch{Chunks: chunks, At: time.Now()}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// newBenchStore opens a store on a new database (the schema is created).
func newBenchStore(b *testing.B) *clickhouse.Store {
	b.Helper()
	st, err := clickhouse.New(b.Context(), chtest.NewDatabase(b), clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// streamChunks reads every chunk of account back from the stream.
func streamChunks(b *testing.B, js jetstream.JetStream, account string) []*events.Chunk {
	b.Helper()
	cons, err := js.OrderedConsumer(b.Context(), events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.ChunkSubject(account)},
	})
	if err != nil {
		b.Fatal(err)
	}
	info, err := cons.Info(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	var out []*events.Chunk
	for range info.NumPending {
		ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		e, err := events.Unmarshal(msg.Headers().Get(events.HeaderType), msg.Headers().Get(events.HeaderSchema), msg.Data())
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, e.(*events.Chunk))
	}
	return out
}

// countingStore signals when the store has written want movements.
type countingStore struct {
	*clickhouse.Store
	want int

	mu      sync.Mutex
	written int
	batches int
	done    chan struct{}
}

func (s *countingStore) WriteBatch(ctx context.Context, b *store.Batch) error {
	if err := s.Store.WriteBatch(ctx, b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.written
	s.batches++
	for _, c := range b.Chunks {
		s.written += len(c.Movements)
	}
	if was < s.want && s.written >= s.want {
		close(s.done)
	}
	return nil
}

// projectInto runs a projector with a new durable consumer over the
// account's chunks into st until it has written movements movements, and
// returns how long that took.
func projectInto(b *testing.B, js jetstream.JetStream, durable string, st *clickhouse.Store, movements int) time.Duration {
	b.Helper()
	cs := &countingStore{Store: st, want: movements, done: make(chan struct{})}
	p, err := projector.New(js, cs, projector.Config{Durable: durable, FilterSubjects: []string{events.ChunkSubject("bench")}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- p.Run(ctx) }()
	select {
	case <-cs.done:
	case err := <-errc:
		b.Fatalf("projector stopped before writing every movement: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatal("the projector wrote too slowly")
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatal(err)
	}
	if err := js.DeleteConsumer(b.Context(), events.StreamName, durable); err != nil {
		b.Fatal(err)
	}
	cs.mu.Lock()
	b.Logf("projector %s: %d movements in %d store writes, %s", durable, cs.written, cs.batches, elapsed.Round(time.Millisecond))
	cs.mu.Unlock()
	return elapsed
}

// rawInsert writes the movements of chunks into st's movements table with
// clickhouse-go's batch API directly, and returns how long it took.
func rawInsert(b *testing.B, st *clickhouse.Store, chunks []*events.Chunk) time.Duration {
	b.Helper()
	dsn := chtest.DSN(b)
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	opts.Auth.Database = st.Database()
	c, err := ch.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const insert = `INSERT INTO movements (account, date, id, broker, kind, time, utc_offset, seq, part, line,
		currency, ticker, cash_type, code, quantity, price, amount, commissions, fees, option_type, strike,
		new_strike, expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes, exact,
		session, chunk, version)`
	start := time.Now()
	rb, err := c.PrepareBatch(b.Context(), insert)
	if err != nil {
		b.Fatal(err)
	}
	for _, chunk := range chunks {
		for i := range chunk.Movements {
			m := &chunk.Movements[i]
			var exp *time.Time
			if !m.Expiration.IsZero() {
				t := m.Expiration.Time()
				exp = &t
			}
			err := rb.Append(m.Account, m.Time.Day().Time(), m.ID, m.Broker, string(m.Kind), m.Time.Time(),
				m.Offset, uint32(m.Seq), uint32(m.Part), uint32(m.Line), m.Currency, m.Ticker,
				string(m.CashType), string(m.Code), m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees,
				string(m.OptionType), m.Strike, m.NewStrike, exp, m.Premium, m.NetPremium, m.Multiplier,
				m.FromCurrency, m.AmountChanged, m.Notes, "", chunk.Session, chunk.ID, uint64(1))
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := rb.Send(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
