package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// query runs a query with retries and hands each row to scan. A retried
// attempt starts over: reset is called before each attempt.
func (s *Store) query(ctx context.Context, what string, reset func(), scan func(chdriver.Rows) error, q string, args ...any) error {
	return s.do(ctx, what, func(ctx context.Context) error {
		reset()
		rows, err := s.conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// StoredChunks implements [store.Store].
func (s *Store) StoredChunks(ctx context.Context, session string) (int, error) {
	var n uint64
	err := s.do(ctx, "stored chunks of "+session, func(ctx context.Context) error {
		return s.conn.QueryRow(ctx, "SELECT uniqExact(chunk) FROM import_chunks WHERE session = ?", session).Scan(&n)
	})
	return int(n), err
}

const sessionSelect = `SELECT account, id, broker, file, sha256, phase, total_chunks, movements, rejected, error,
	started_at, started_at_ns, sealed_at, sealed_at_ns, completed_at, completed_at_ns
FROM import_sessions FINAL WHERE `

// sessions reads session records matching where, ordered by start time then
// ID.
func (s *Store) sessions(ctx context.Context, where string, args ...any) ([]store.Session, error) {
	var out []store.Session
	err := s.query(ctx, "sessions", func() { out = out[:0] }, func(rows chdriver.Rows) error {
		var v store.Session
		var total, movements, rejected, startedNs, sealedNs, completedNs uint32
		var started, sealed, completed *time.Time
		if err := rows.Scan(&v.Account, &v.ID, &v.Broker, &v.File, &v.SHA256, &v.Phase, &total, &movements,
			&rejected, &v.Error, &started, &startedNs, &sealed, &sealedNs, &completed, &completedNs); err != nil {
			return err
		}
		v.TotalChunks, v.Movements, v.Rejected = int(total), int(movements), int(rejected)
		v.StartedAt, v.SealedAt, v.CompletedAt = instant(started, startedNs), instant(sealed, sealedNs), instant(completed, completedNs)
		out = append(out, v)
		return nil
	}, sessionSelect+where, args...)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// instant is the time.Time of a Nullable(DateTime) and its nanoseconds: the
// zero time for NULL.
func instant(t *time.Time, ns uint32) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(t.Unix(), int64(ns)).UTC()
}

// Session implements [store.Store].
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	ss, err := s.sessions(ctx, "id = ?", id)
	if err != nil {
		return store.Session{}, fmt.Errorf("session %s: %w", id, err)
	}
	if len(ss) == 0 {
		return store.Session{}, fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	return ss[0], nil
}

// Sessions implements [store.Store].
func (s *Store) Sessions(ctx context.Context, account string) ([]store.Session, error) {
	var (
		ss  []store.Session
		err error
	)
	if account == "" {
		ss, err = s.sessions(ctx, "1")
	} else {
		ss, err = s.sessions(ctx, "account = ?", account)
	}
	if err != nil {
		return nil, fmt.Errorf("sessions of %q: %w", account, err)
	}
	return ss, nil
}

// Accounts implements [store.Store].
func (s *Store) Accounts(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.query(ctx, "accounts", func() { out = out[:0] }, func(rows chdriver.Rows) error {
		var a string
		if err := rows.Scan(&a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	}, "SELECT DISTINCT account FROM movements ORDER BY account")
	if err != nil {
		return nil, err
	}
	return out, nil
}

// field names a decimal destination for restore.
type field struct {
	name string
	dst  *decimal.Decimal
}

// restoreExact sets the fields a row's exact column records to their exact
// values.
func restoreExact(exact string, fields ...field) error {
	r, err := parseExact(exact)
	if err != nil || r == nil {
		return err
	}
	for _, f := range fields {
		v, err := r.get(f.name, *f.dst)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

// errTornRead says a projections read lost rows to a concurrent
// replacement; Projections reads again.
var errTornRead = errors.New("clickhouse: projections changed during the read")

// maxProjectionReads bounds how often Projections reads again after a torn
// read (two replacements committed during one read).
const maxProjectionReads = 10

// committed returns the account's latest committed projection version and
// its row counts; version 0 when there is none.
func (s *Store) committed(ctx context.Context, account string) (uint64, [3]uint32, error) {
	var version uint64
	var counts [3]uint32
	err := s.query(ctx, "projection version of "+account, func() { version, counts = 0, [3]uint32{} },
		func(rows chdriver.Rows) error {
			return rows.Scan(&version, &counts[0], &counts[1], &counts[2])
		}, `SELECT version, broker_rows, ticker_rows, operation_rows FROM projection_commits FINAL
WHERE account = ? ORDER BY version DESC LIMIT 1`, account)
	return version, counts, err
}

// Projections implements [store.Store]: it reads the latest committed
// version, and reads again if that version was dropped during the read.
func (s *Store) Projections(ctx context.Context, account string) (*projections.Result, error) {
	for range maxProjectionReads {
		res, err := s.readProjections(ctx, account)
		if errors.Is(err, errTornRead) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("projections of %s: %w", account, err)
		}
		return res, nil
	}
	return nil, fmt.Errorf("projections of %s: %w %d times in a row", account, errTornRead, maxProjectionReads)
}

func (s *Store) readProjections(ctx context.Context, account string) (*projections.Result, error) {
	res := &projections.Result{Account: account, Broker: []projections.BrokerSnapshot{},
		Tickers: []projections.TickerSnapshot{}, Operations: []projections.Operation{}}
	version, counts, err := s.committed(ctx, account)
	if err != nil || version == 0 {
		return res, err
	}
	if s.afterCommitted != nil {
		s.afterCommitted()
	}
	if counts[0] > 0 {
		if err := s.readBroker(ctx, res, version); err != nil {
			return nil, err
		}
	}
	if counts[1] > 0 {
		if err := s.readTickers(ctx, res, version); err != nil {
			return nil, err
		}
	}
	if counts[2] > 0 {
		if err := s.readOperations(ctx, res, version); err != nil {
			return nil, err
		}
	}
	if len(res.Broker) != int(counts[0]) || len(res.Tickers) != int(counts[1]) || len(res.Operations) != int(counts[2]) {
		return nil, errTornRead
	}
	return res, nil
}

func (s *Store) readBroker(ctx context.Context, res *projections.Result, version uint64) error {
	return s.query(ctx, "broker snapshots", func() { res.Broker = res.Broker[:0] }, func(rows chdriver.Rows) error {
		var b projections.BrokerSnapshot
		var date time.Time
		var counter uint32
		var open uint8
		var exact string
		if err := rows.Scan(&b.Currency, &date, &counter, &b.RealizedGains, &b.RealizedPercentage,
			&b.UnrealizedGains, &b.UnrealizedGainsPercentage, &b.Invested, &b.Commissions, &b.Fees,
			&b.Deposited, &b.Withdrawn, &b.DividendsReceived, &b.OptionsIncome, &b.OtherIncome, &open,
			&b.NetCashFlow, &exact); err != nil {
			return err
		}
		b.Date, b.MovementCounter, b.OpenTrades = events.DateOf(date.UTC()), int(counter), open != 0
		if err := restoreExact(exact, field{"realized_gains", &b.RealizedGains}, field{"realized_percentage", &b.RealizedPercentage},
			field{"unrealized_gains", &b.UnrealizedGains}, field{"unrealized_gains_percentage", &b.UnrealizedGainsPercentage},
			field{"invested", &b.Invested}, field{"commissions", &b.Commissions}, field{"fees", &b.Fees},
			field{"deposited", &b.Deposited}, field{"withdrawn", &b.Withdrawn},
			field{"dividends_received", &b.DividendsReceived}, field{"options_income", &b.OptionsIncome},
			field{"other_income", &b.OtherIncome}, field{"net_cash_flow", &b.NetCashFlow}); err != nil {
			return fmt.Errorf("broker snapshot %s %s: %w", b.Currency, b.Date, err)
		}
		res.Broker = append(res.Broker, b)
		return nil
	}, `SELECT currency, date, movement_counter, realized_gains, realized_percentage, unrealized_gains,
	unrealized_gains_percentage, invested, commissions, fees, deposited, withdrawn, dividends_received,
	options_income, other_income, open_trades, net_cash_flow, exact
FROM broker_snapshots FINAL WHERE account = ? AND version = ? ORDER BY currency, date`, res.Account, version)
}

func (s *Store) readTickers(ctx context.Context, res *projections.Result, version uint64) error {
	return s.query(ctx, "ticker snapshots", func() { res.Tickers = res.Tickers[:0] }, func(rows chdriver.Rows) error {
		var t projections.TickerSnapshot
		var date time.Time
		var open uint8
		var exact string
		if err := rows.Scan(&t.Ticker, &t.Currency, &date, &t.TotalShares, &t.Weight, &t.CostBasis, &t.RealCost,
			&t.Dividends, &t.DividendTaxes, &t.Options, &t.TotalIncomes, &t.CapitalDeployed, &t.Realized,
			&t.Performance, &open, &t.Commissions, &t.Fees, &exact); err != nil {
			return err
		}
		t.Date, t.OpenTrades = events.DateOf(date.UTC()), open != 0
		if err := restoreExact(exact, field{"total_shares", &t.TotalShares}, field{"weight", &t.Weight},
			field{"cost_basis", &t.CostBasis}, field{"real_cost", &t.RealCost}, field{"dividends", &t.Dividends},
			field{"dividend_taxes", &t.DividendTaxes}, field{"options", &t.Options},
			field{"total_incomes", &t.TotalIncomes}, field{"capital_deployed", &t.CapitalDeployed},
			field{"realized", &t.Realized}, field{"performance", &t.Performance},
			field{"commissions", &t.Commissions}, field{"fees", &t.Fees}); err != nil {
			return fmt.Errorf("ticker snapshot %s %s %s: %w", t.Ticker, t.Currency, t.Date, err)
		}
		res.Tickers = append(res.Tickers, t)
		return nil
	}, `SELECT ticker, currency, date, total_shares, weight, cost_basis, real_cost, dividends, dividend_taxes,
	options, total_incomes, capital_deployed, realized, performance, open_trades, commissions, fees, exact
FROM ticker_snapshots FINAL WHERE account = ? AND version = ? ORDER BY ticker, currency, date`, res.Account, version)
}

func (s *Store) readOperations(ctx context.Context, res *projections.Result, version uint64) error {
	return s.query(ctx, "operations", func() { res.Operations = res.Operations[:0] }, func(rows chdriver.Rows) error {
		var o projections.Operation
		var open uint8
		var openDate time.Time
		var closeDate *time.Time
		var exact string
		if err := rows.Scan(&o.Ticker, &o.Currency, &open, &openDate, &closeDate, &o.Realized, &o.Commissions,
			&o.Fees, &o.Premium, &o.Dividends, &o.DividendTaxes, &o.CapitalDeployed, &o.Performance, &exact); err != nil {
			return err
		}
		o.IsOpen, o.OpenDate = open != 0, events.DateOf(openDate.UTC())
		if closeDate != nil {
			o.CloseDate = events.DateOf(closeDate.UTC())
		}
		if err := restoreExact(exact, field{"realized", &o.Realized}, field{"commissions", &o.Commissions},
			field{"fees", &o.Fees}, field{"premium", &o.Premium}, field{"dividends", &o.Dividends},
			field{"dividend_taxes", &o.DividendTaxes}, field{"capital_deployed", &o.CapitalDeployed},
			field{"performance", &o.Performance}); err != nil {
			return fmt.Errorf("operation %s %s: %w", o.Ticker, o.OpenDate, err)
		}
		res.Operations = append(res.Operations, o)
		return nil
	}, `SELECT ticker, currency, is_open, open_date, close_date, realized, commissions, fees, premium,
	dividends, dividend_taxes, capital_deployed, performance, exact
FROM operations FINAL WHERE account = ? AND version = ? ORDER BY ticker, open_date, currency, seq`, res.Account, version)
}
