package clickhouse_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
)

// benchChunks returns chunks of weekly movements of one account, mixed
// kinds, perChunk movements each: the shape of a projector batch.
func benchChunks(chunks, perChunk int) []*events.Chunk {
	out := make([]*events.Chunk, chunks)
	for c := range out {
		out[c] = benchChunk(c, chunks, perChunk)
	}
	return out
}

// benchChunk returns chunk c (from 0) of benchChunks(chunks, perChunk): the
// week c weeks after 2024-01-01, perChunk movements over its five weekdays.
func benchChunk(c, chunks, perChunk int) *events.Chunk {
	day := events.NewDate(2024, 1, 1)
	week := day.AddDays(7 * c)
	ch := &events.Chunk{Session: "bench", Account: "bench", ID: week.ISOWeek() + ".1", Ordinal: c + 1,
		Total: chunks, Week: week.ISOWeek(), Part: 1}
	for i := range perChunk {
		n := c*perChunk + i + 1
		m := events.Movement{
			ID: fmt.Sprintf("%032x:stock:0", n), Account: "bench", Broker: events.BrokerTastytrade,
			Time: events.WallTimeOf(week.AddDays(i % 5).Time().Add(time.Duration(i) * time.Second)),
			Seq:  i % 3, Line: n + 1, Currency: "USD", Ticker: "PFE",
		}
		switch i % 4 {
		case 0:
			m.Kind, m.Code = events.KindStock, events.BuyToOpen
			m.Quantity, m.Price = decimal.NewFromInt(int64(10+i%90)), decimal.New(2510+int64(i%100), -2)
			m.Commissions, m.Fees = decimal.NewFromInt(1), decimal.New(12, -2)
		case 1:
			m.ID = fmt.Sprintf("%032x:option:1", n)
			m.Kind, m.Code, m.Part, m.OptionType = events.KindOption, events.SellToOpen, 1, events.Put
			m.Quantity, m.Strike, m.Expiration = decimal.NewFromInt(1), decimal.NewFromInt(25), week.AddDays(30)
			m.Premium, m.NetPremium, m.Multiplier = decimal.NewFromInt(23), decimal.New(2186, -2), decimal.NewFromInt(100)
			m.Commissions, m.Fees = decimal.NewFromInt(1), decimal.New(14, -2)
		case 2:
			m.ID = fmt.Sprintf("%032x:dividend:0", n)
			m.Kind, m.Amount = events.KindDividend, decimal.New(1273, -2)
		default:
			m.ID = fmt.Sprintf("%032x:cash:0", n)
			m.Kind, m.CashType, m.Amount, m.Ticker = events.KindCash, events.CashDeposit, decimal.NewFromInt(500), ""
		}
		ch.Movements = append(ch.Movements, m)
	}
	return ch
}

// BenchmarkInsertMovements compares, in one run and on the same rows,
// Store.WriteBatch (movements and chunk records, exact-decimal checks,
// retries) with clickhouse-go's raw batch insert of the same movements into
// the same table (row by row Append, the driver's documented usage). Each
// iteration does both, in alternating order, each into a database of its
// own, so that both see the same machine and server load; it reports both
// rates and their ratio (store/raw, higher is better for the store).
//
//	go test ./internal/store/clickhouse -run '^$' -bench BenchmarkInsertMovements -benchtime 20x
func BenchmarkInsertMovements(b *testing.B) {
	const chunks, perChunk = 20, 500 // 10,000 movements per batch
	s, err := clickhouse.New(b.Context(), chtest.NewDatabase(b), clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rawDSN := chtest.NewDatabase(b)
	raw, err := clickhouse.New(b.Context(), rawDSN, clickhouse.Options{}) // creates the same schema
	if err != nil {
		b.Fatal(err)
	}
	raw.Close()
	c := conn(b, rawDSN)
	batch := &store.Batch{Chunks: benchChunks(chunks, perChunk), At: time.Now()}
	movements := chunks * perChunk

	writeStore := func() {
		if err := s.WriteBatch(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	const insert = `INSERT INTO movements (account, date, id, broker, kind, time, utc_offset, seq, part, line,
		currency, ticker, cash_type, code, quantity, price, amount, commissions, fees, option_type, strike,
		new_strike, expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes, exact,
		session, chunk, version)`
	writeRaw := func() {
		rb, err := c.PrepareBatch(b.Context(), insert)
		if err != nil {
			b.Fatal(err)
		}
		for _, ch := range batch.Chunks {
			for i := range ch.Movements {
				m := &ch.Movements[i]
				var exp *time.Time
				if !m.Expiration.IsZero() {
					t := m.Expiration.Time()
					exp = &t
				}
				err := rb.Append(m.Account, m.Time.Day().Time(), m.ID, m.Broker, string(m.Kind), m.Time.Time(),
					m.Offset, uint32(m.Seq), uint32(m.Part), uint32(m.Line), m.Currency, m.Ticker,
					string(m.CashType), string(m.Code), m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees,
					string(m.OptionType), m.Strike, m.NewStrike, exp, m.Premium, m.NetPremium, m.Multiplier,
					m.FromCurrency, m.AmountChanged, m.Notes, "", ch.Session, ch.ID, uint64(1))
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := rb.Send(); err != nil {
			b.Fatal(err)
		}
	}
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}

	var inStore, inRaw time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			inStore += timed(writeStore)
			inRaw += timed(writeRaw)
		} else {
			inRaw += timed(writeRaw)
			inStore += timed(writeStore)
		}
		i++
	}
	storeRate := float64(movements*b.N) / inStore.Seconds()
	rawRate := float64(movements*b.N) / inRaw.Seconds()
	b.ReportMetric(storeRate, "store-movements/s")
	b.ReportMetric(rawRate, "raw-movements/s")
	b.ReportMetric(storeRate/rawRate, "store/raw")
}
