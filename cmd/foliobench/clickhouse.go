package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
)

// chDatabase returns the DSN of a new database name on the server of base
// and a function that drops it.
func chDatabase(base, name string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("--clickhouse: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		opts, err := ch.ParseDSN(base)
		if err != nil {
			return
		}
		opts.Auth.Database = ""
		conn, err := ch.Open(opts)
		if err != nil {
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	}
	return u.String(), drop, nil
}

// waitCompletedCH polls a ClickHouse store until n sessions are completed.
func waitCompletedCH(ctx context.Context, dsn string, n int, proj *proc) (time.Time, error) {
	st, err := clickhouse.New(ctx, dsn, clickhouse.Options{})
	if err != nil {
		return time.Time{}, err
	}
	defer st.Close()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if sessions, err := st.Sessions(ctx, ""); err == nil {
			done := 0
			for _, s := range sessions {
				if s.Phase == store.PhaseCompleted {
					done++
				}
			}
			if done >= n {
				return time.Now(), nil
			}
		}
		select {
		case <-proj.done:
			return time.Time{}, fmt.Errorf("projector exited: %v\n%s", proj.err, tail(proj.log, 20))
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("sessions not completed in ClickHouse within 30 minutes")
}

// rawClickHouse inserts every movement of the statements into the store's
// movements table of a fresh database with clickhouse-go's batch API (one
// batch per projector batch: batchSize chunks or 8 MiB of bodies), row by
// row Append as the driver documents. Decoding is not timed.
func rawClickHouse(ctx context.Context, dsn string, sts []*statement, batchSize int) (time.Duration, error) {
	s, err := clickhouse.New(ctx, dsn, clickhouse.Options{}) // creates the database and the schema
	if err != nil {
		return 0, err
	}
	s.Close()
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return 0, err
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	const insert = `INSERT INTO movements (account, date, id, broker, kind, time, utc_offset, seq, part, line,
		currency, ticker, cash_type, code, quantity, price, amount, commissions, fees, option_type, strike,
		new_strike, expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes, exact,
		session, chunk, version)`
	return inBatches(sts, batchSize, func(batch []*events.Chunk) error {
		rb, err := conn.PrepareBatch(ctx, insert)
		if err != nil {
			return err
		}
		for _, c := range batch {
			for i := range c.Movements {
				m := &c.Movements[i]
				var exp *time.Time
				if !m.Expiration.IsZero() {
					t := m.Expiration.Time()
					exp = &t
				}
				err := rb.Append(m.Account, m.Time.Day().Time(), m.ID, m.Broker, string(m.Kind), m.Time.Time(),
					m.Offset, uint32(m.Seq), uint32(m.Part), uint32(m.Line), m.Currency, m.Ticker,
					string(m.CashType), string(m.Code), m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees,
					string(m.OptionType), m.Strike, m.NewStrike, exp, m.Premium, m.NetPremium, m.Multiplier,
					m.FromCurrency, m.AmountChanged, m.Notes, "", c.Session, c.ID, uint64(1))
				if err != nil {
					rb.Abort()
					return err
				}
			}
		}
		if err := rb.Send(); err != nil {
			return err
		}
		return nil
	})
}

// chName is a database name for a scenario.
func chName(sc scenario, suffix string) string {
	return strings.ReplaceAll(fmt.Sprintf("foliobench_%d_%s_%s", time.Now().Unix(), sc.name(), suffix), "-", "_")
}
