package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/shopspring/decimal"
)

const brokerColumns = `account, currency, date, movement_counter, realized_gains, realized_percentage,
	unrealized_gains, unrealized_gains_percentage, invested, commissions, fees, deposited, withdrawn,
	dividends_received, options_income, other_income, open_trades, net_cash_flow`

const tickerColumns = `account, ticker, currency, date, total_shares, weight, cost_basis, real_cost, dividends,
	dividend_taxes, options, total_incomes, capital_deployed, realized, performance, open_trades, commissions, fees`

const operationColumns = `account, seq, ticker, currency, is_open, open_date, close_date, realized, commissions,
	fees, premium, dividends, dividend_taxes, capital_deployed, performance`

// WriteProjections implements [store.Store]: in one write transaction it
// deletes the account's projections, writes the rows emit sends as they
// come (multi-row INSERTs of rowsPerInsert rows: memory holds one
// statement's rows per table), marks the sessions completed and commits.
// emit's error, or a cancelled ctx, rolls everything back; emit's error is
// returned as it is. Readers see the old projections until the commit.
//
// emit may read the store meanwhile (phase 2 scans the account's movements
// while it emits): reads go through the read pool, which WAL lets go on
// while this transaction is open on the write connection. emit must not
// write to the store through another method: there is one write
// connection, and this transaction holds it.
func (s *Store) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	if account == "" {
		return errors.New("sqlite: write projections: no account")
	}
	var emitErr error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"broker_snapshots", "ticker_snapshots", "operations"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE account = ?`, account); err != nil {
				return err
			}
		}
		w := &projectionWriter{
			account:    account,
			f:          newFormatter(),
			broker:     newBulkInsert(ctx, tx, "broker_snapshots", brokerColumns, ""),
			ticker:     newBulkInsert(ctx, tx, "ticker_snapshots", tickerColumns, ""),
			operations: newBulkInsert(ctx, tx, "operations", operationColumns, ""),
		}
		defer w.close()
		if err := emit(w); err != nil {
			emitErr = err
			return err
		}
		// A row that failed must not be committed as missing, even if
		// emit went on.
		if w.err != nil {
			return w.err
		}
		if err := w.flush(); err != nil {
			return err
		}
		for _, id := range completed {
			_, err := tx.ExecContext(ctx, `UPDATE import_sessions SET phase = ?, completed_at = coalesce(completed_at, ?)
				WHERE id = ?`, store.PhaseCompleted, instant(at), id)
			if err != nil {
				return fmt.Errorf("complete session %s: %w", id, err)
			}
		}
		// A context cancelled after the last statement must not commit.
		return ctx.Err()
	})
	if emitErr != nil {
		return emitErr
	}
	if err != nil {
		return fmt.Errorf("sqlite: write projections of %s to %s: %w", account, s.path, err)
	}
	return nil
}

// projectionWriter is the [projections.Sink] of WriteProjections. Its
// first error sticks: every later call returns it.
type projectionWriter struct {
	account                    string
	f                          *formatter
	broker, ticker, operations *bulkInsert
	err                        error
}

// fail records err as the writer's error if it is the first.
func (w *projectionWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// Broker implements [projections.Sink].
func (w *projectionWriter) Broker(b *projections.BrokerSnapshot) error {
	if w.err != nil {
		return w.err
	}
	f := w.f
	err := w.broker.add("", w.account, b.Currency, b.Date.String(), b.MovementCounter,
		f.decimal(b.RealizedGains), f.decimal(b.RealizedPercentage), f.decimal(b.UnrealizedGains),
		f.decimal(b.UnrealizedGainsPercentage), f.decimal(b.Invested), f.decimal(b.Commissions), f.decimal(b.Fees),
		f.decimal(b.Deposited), f.decimal(b.Withdrawn), f.decimal(b.DividendsReceived), f.decimal(b.OptionsIncome),
		f.decimal(b.OtherIncome), b.OpenTrades, f.decimal(b.NetCashFlow))
	if err != nil {
		return w.fail(fmt.Errorf("sqlite: broker snapshot %w", err))
	}
	return nil
}

// Ticker implements [projections.Sink].
func (w *projectionWriter) Ticker(t *projections.TickerSnapshot) error {
	if w.err != nil {
		return w.err
	}
	f := w.f
	err := w.ticker.add("", w.account, t.Ticker, t.Currency, t.Date.String(),
		f.decimal(t.TotalShares), f.decimal(t.Weight), f.decimal(t.CostBasis), f.decimal(t.RealCost),
		f.decimal(t.Dividends), f.decimal(t.DividendTaxes), f.decimal(t.Options), f.decimal(t.TotalIncomes),
		f.decimal(t.CapitalDeployed), f.decimal(t.Realized), f.decimal(t.Performance), t.OpenTrades,
		f.decimal(t.Commissions), f.decimal(t.Fees))
	if err != nil {
		return w.fail(fmt.Errorf("sqlite: ticker snapshot %w", err))
	}
	return nil
}

// Operation implements [projections.Sink]: seq is stored as it comes.
func (w *projectionWriter) Operation(o *projections.Operation, seq int) error {
	if w.err != nil {
		return w.err
	}
	f := w.f
	err := w.operations.add("", w.account, seq, o.Ticker, o.Currency, o.IsOpen, o.OpenDate.String(),
		nullDate(o.CloseDate), f.decimal(o.Realized), f.decimal(o.Commissions), f.decimal(o.Fees),
		f.decimal(o.Premium), f.decimal(o.Dividends), f.decimal(o.DividendTaxes), f.decimal(o.CapitalDeployed),
		f.decimal(o.Performance))
	if err != nil {
		return w.fail(fmt.Errorf("sqlite: operation %w", err))
	}
	return nil
}

func (w *projectionWriter) flush() error {
	if err := w.broker.flush(); err != nil {
		return fmt.Errorf("broker snapshot %w", err)
	}
	if err := w.ticker.flush(); err != nil {
		return fmt.Errorf("ticker snapshot %w", err)
	}
	if err := w.operations.flush(); err != nil {
		return fmt.Errorf("operation %w", err)
	}
	return nil
}

func (w *projectionWriter) close() {
	w.broker.close()
	w.ticker.close()
	w.operations.close()
}

// Projections implements [store.Store]. The three lists are read in one
// transaction, so they come from one WriteProjections.
func (s *Store) Projections(ctx context.Context, account string) (*projections.Result, error) {
	res := &projections.Result{Account: account, Broker: []projections.BrokerSnapshot{},
		Tickers: []projections.TickerSnapshot{}, Operations: []projections.Operation{}}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: projections of %s: %w", account, err)
	}
	defer tx.Rollback()
	if err := s.readBroker(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: broker snapshots of %s: %w", account, err)
	}
	if err := s.readTickers(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: ticker snapshots of %s: %w", account, err)
	}
	if err := s.readOperations(ctx, tx, res); err != nil {
		return nil, fmt.Errorf("sqlite: operations of %s: %w", account, err)
	}
	return res, nil
}

func (s *Store) readBroker(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT currency, date, movement_counter, realized_gains, realized_percentage,
		unrealized_gains, unrealized_gains_percentage, invested, commissions, fees, deposited, withdrawn,
		dividends_received, options_income, other_income, open_trades, net_cash_flow
		FROM broker_snapshots WHERE account = ? ORDER BY currency, date`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b projections.BrokerSnapshot
		var date string
		var d decimals
		if err := rows.Scan(&b.Currency, &date, &b.MovementCounter, d.next(&b.RealizedGains),
			d.next(&b.RealizedPercentage), d.next(&b.UnrealizedGains), d.next(&b.UnrealizedGainsPercentage),
			d.next(&b.Invested), d.next(&b.Commissions), d.next(&b.Fees), d.next(&b.Deposited),
			d.next(&b.Withdrawn), d.next(&b.DividendsReceived), d.next(&b.OptionsIncome), d.next(&b.OtherIncome),
			&b.OpenTrades, d.next(&b.NetCashFlow)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if b.Date, err = events.ParseDate(date); err != nil {
			return err
		}
		res.Broker = append(res.Broker, b)
	}
	return rows.Err()
}

func (s *Store) readTickers(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT ticker, currency, date, total_shares, weight, cost_basis, real_cost,
		dividends, dividend_taxes, options, total_incomes, capital_deployed, realized, performance, open_trades,
		commissions, fees
		FROM ticker_snapshots WHERE account = ? ORDER BY ticker, currency, date`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t projections.TickerSnapshot
		var date string
		var d decimals
		if err := rows.Scan(&t.Ticker, &t.Currency, &date, d.next(&t.TotalShares), d.next(&t.Weight),
			d.next(&t.CostBasis), d.next(&t.RealCost), d.next(&t.Dividends), d.next(&t.DividendTaxes),
			d.next(&t.Options), d.next(&t.TotalIncomes), d.next(&t.CapitalDeployed), d.next(&t.Realized),
			d.next(&t.Performance), &t.OpenTrades, d.next(&t.Commissions), d.next(&t.Fees)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if t.Date, err = events.ParseDate(date); err != nil {
			return err
		}
		res.Tickers = append(res.Tickers, t)
	}
	return rows.Err()
}

func (s *Store) readOperations(ctx context.Context, tx *sql.Tx, res *projections.Result) error {
	rows, err := tx.QueryContext(ctx, `SELECT ticker, currency, is_open, open_date, close_date, realized,
		commissions, fees, premium, dividends, dividend_taxes, capital_deployed, performance
		FROM operations WHERE account = ? ORDER BY ticker, open_date, currency, seq`, res.Account)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var o projections.Operation
		var open string
		var closed sql.NullString
		var d decimals
		if err := rows.Scan(&o.Ticker, &o.Currency, &o.IsOpen, &open, &closed, d.next(&o.Realized),
			d.next(&o.Commissions), d.next(&o.Fees), d.next(&o.Premium), d.next(&o.Dividends),
			d.next(&o.DividendTaxes), d.next(&o.CapitalDeployed), d.next(&o.Performance)); err != nil {
			return err
		}
		if err := d.parse(); err != nil {
			return err
		}
		if o.OpenDate, err = events.ParseDate(open); err != nil {
			return err
		}
		if closed.Valid {
			if o.CloseDate, err = events.ParseDate(closed.String); err != nil {
				return err
			}
		}
		res.Operations = append(res.Operations, o)
	}
	return rows.Err()
}

// decimals collects the text of decimal columns during a Scan and parses
// them after it.
type decimals struct {
	dst []*decimal.Decimal
	src []*string
}

func (d *decimals) next(dst *decimal.Decimal) *string {
	s := new(string)
	d.dst = append(d.dst, dst)
	d.src = append(d.src, s)
	return s
}

func (d *decimals) parse() error {
	for i, s := range d.src {
		v, err := decimal.NewFromString(*s)
		if err != nil {
			return err
		}
		*d.dst[i] = v
	}
	return nil
}
