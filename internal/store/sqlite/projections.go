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
// come, marks the sessions completed and commits. emit's error, or a
// cancelled ctx, rolls everything back; emit's error is returned as it is.
// Readers see the old projections until the commit.
//
// The sink copies the rows into batches of handoffRows, which a writer
// goroutine of WriteProjections formats and INSERTs (multi-row INSERTs of
// rowsPerInsert rows), so that the computation and the writes overlap.
// Memory holds two batches and one statement's rows per table. At most one
// batch is at the writer: handing it the next waits for it, so a row that
// failed makes the sink fail within two batches, and every later call.
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
		ins := &projectionInserts{
			account:    account,
			f:          newFormatter(),
			broker:     newBulkInsert(ctx, tx, "broker_snapshots", brokerColumns, ""),
			ticker:     newBulkInsert(ctx, tx, "ticker_snapshots", tickerColumns, ""),
			operations: newBulkInsert(ctx, tx, "operations", operationColumns, ""),
		}
		defer ins.close()
		w := startProjectionWriter(ins)
		defer w.stop() // before ins.close: the writer uses the statements
		if err := emit(w); err != nil {
			emitErr = err
			return err
		}
		// A row that failed must not be committed as missing, even if
		// emit went on.
		if err := w.finish(); err != nil {
			return err
		}
		if err := ins.flush(); err != nil {
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

// handoffRows is how many rows the sink gathers before it hands them to
// the writer goroutine: enough to make the handoff's cost small, few
// enough that a failed row comes back soon (within 2 × handoffRows rows of
// the statement that failed: TestWriteProjectionsSinkErrorSticks expects
// it within its 100 rows).
const handoffRows = 32

// rowBatch is rows of the three tables on their way to the writer, each
// table's in emission order; err is the writer's first error when it sends
// the batch back.
type rowBatch struct {
	broker []projections.BrokerSnapshot
	ticker []projections.TickerSnapshot
	ops    []projections.Operation
	seqs   []int
	err    error
}

func (b *rowBatch) len() int { return len(b.broker) + len(b.ticker) + len(b.ops) }

func (b *rowBatch) reset() {
	clear(b.broker) // drop the references to the decimals
	clear(b.ticker)
	clear(b.ops)
	b.broker, b.ticker, b.ops, b.seqs = b.broker[:0], b.ticker[:0], b.ops[:0], b.seqs[:0]
}

// projectionWriter is the [projections.Sink] of WriteProjections, on the
// computing goroutine: it copies rows into a batch, and hands full batches
// to the writer goroutine (ins.run). Its first error sticks: every later
// call returns it.
type projectionWriter struct {
	cur      *rowBatch // the batch being filled
	spare    *rowBatch // the other batch, when not at the writer
	inflight bool      // a batch is at the writer
	work     chan *rowBatch
	back     chan *rowBatch
	done     chan struct{} // closed when the writer has returned
	stopped  bool
	err      error
}

// startProjectionWriter starts the writer goroutine of ins. The caller
// must call stop, which waits for it, before it uses ins again.
func startProjectionWriter(ins *projectionInserts) *projectionWriter {
	w := &projectionWriter{cur: &rowBatch{}, spare: &rowBatch{}, work: make(chan *rowBatch, 1),
		back: make(chan *rowBatch, 1), done: make(chan struct{})}
	go ins.run(w.work, w.back, w.done)
	return w
}

// Broker implements [projections.Sink].
func (w *projectionWriter) Broker(b *projections.BrokerSnapshot) error {
	if w.err != nil {
		return w.err
	}
	w.cur.broker = append(w.cur.broker, *b)
	return w.added()
}

// Ticker implements [projections.Sink].
func (w *projectionWriter) Ticker(t *projections.TickerSnapshot) error {
	if w.err != nil {
		return w.err
	}
	w.cur.ticker = append(w.cur.ticker, *t)
	return w.added()
}

// Operation implements [projections.Sink]: seq is stored as it comes.
func (w *projectionWriter) Operation(o *projections.Operation, seq int) error {
	if w.err != nil {
		return w.err
	}
	w.cur.ops = append(w.cur.ops, *o)
	w.cur.seqs = append(w.cur.seqs, seq)
	return w.added()
}

func (w *projectionWriter) added() error {
	if w.cur.len() < handoffRows {
		return nil
	}
	return w.handoff()
}

// handoff waits for the batch at the writer, then hands it the current one.
func (w *projectionWriter) handoff() error {
	if err := w.wait(); err != nil {
		return err
	}
	w.work <- w.cur
	w.inflight = true
	w.cur, w.spare = w.spare, nil
	return nil
}

// wait waits for the batch at the writer, if any, and returns the writer's
// error.
func (w *projectionWriter) wait() error {
	if !w.inflight {
		return nil
	}
	b := <-w.back
	w.inflight, w.spare = false, b
	if b.err != nil && w.err == nil {
		w.err = b.err
	}
	return w.err
}

// finish hands over the last rows, waits until they are written and stops
// the writer; it returns the first error.
func (w *projectionWriter) finish() error {
	if w.err == nil && w.cur.len() > 0 {
		w.handoff() // sets w.err
	}
	w.wait()
	w.stop()
	return w.err
}

// stop stops the writer goroutine (after the batch it holds) and waits
// for it.
func (w *projectionWriter) stop() {
	if !w.stopped {
		w.stopped = true
		close(w.work)
		<-w.done
	}
}

// projectionInserts writes the rows of WriteProjections into its
// transaction; after its first error it writes nothing.
type projectionInserts struct {
	account                    string
	f                          *formatter
	broker, ticker, operations *bulkInsert
	err                        error
}

// run is the writer goroutine: it writes every batch from work and sends it
// back, until work is closed.
func (ins *projectionInserts) run(work <-chan *rowBatch, back chan<- *rowBatch, done chan<- struct{}) {
	defer close(done)
	for b := range work {
		if ins.err == nil {
			ins.err = ins.write(b)
		}
		b.reset()
		b.err = ins.err
		back <- b // never blocks: the sink waits for a batch before the next
	}
}

func (ins *projectionInserts) write(b *rowBatch) error {
	for i := range b.broker {
		if err := ins.writeBroker(&b.broker[i]); err != nil {
			return fmt.Errorf("sqlite: broker snapshot %w", err)
		}
	}
	for i := range b.ticker {
		if err := ins.writeTicker(&b.ticker[i]); err != nil {
			return fmt.Errorf("sqlite: ticker snapshot %w", err)
		}
	}
	for i := range b.ops {
		if err := ins.writeOperation(&b.ops[i], b.seqs[i]); err != nil {
			return fmt.Errorf("sqlite: operation %w", err)
		}
	}
	return nil
}

func (ins *projectionInserts) writeBroker(b *projections.BrokerSnapshot) error {
	f := ins.f
	return ins.broker.add("", ins.account, b.Currency, b.Date.String(), b.MovementCounter,
		projectionDecimal(f, b.RealizedGains), projectionDecimal(f, b.RealizedPercentage), projectionDecimal(f, b.UnrealizedGains),
		projectionDecimal(f, b.UnrealizedGainsPercentage), projectionDecimal(f, b.Invested), projectionDecimal(f, b.Commissions), projectionDecimal(f, b.Fees),
		projectionDecimal(f, b.Deposited), projectionDecimal(f, b.Withdrawn), projectionDecimal(f, b.DividendsReceived), projectionDecimal(f, b.OptionsIncome),
		projectionDecimal(f, b.OtherIncome), b.OpenTrades, projectionDecimal(f, b.NetCashFlow))
}

func (ins *projectionInserts) writeTicker(t *projections.TickerSnapshot) error {
	f := ins.f
	return ins.ticker.add("", ins.account, t.Ticker, t.Currency, t.Date.String(),
		projectionDecimal(f, t.TotalShares), projectionDecimal(f, t.Weight), projectionDecimal(f, t.CostBasis), projectionDecimal(f, t.RealCost),
		projectionDecimal(f, t.Dividends), projectionDecimal(f, t.DividendTaxes), projectionDecimal(f, t.Options), projectionDecimal(f, t.TotalIncomes),
		projectionDecimal(f, t.CapitalDeployed), projectionDecimal(f, t.Realized), projectionDecimal(f, t.Performance), t.OpenTrades,
		projectionDecimal(f, t.Commissions), projectionDecimal(f, t.Fees))
}

func (ins *projectionInserts) writeOperation(o *projections.Operation, seq int) error {
	f := ins.f
	return ins.operations.add("", ins.account, seq, o.Ticker, o.Currency, o.IsOpen, o.OpenDate.String(),
		nullDate(o.CloseDate), projectionDecimal(f, o.Realized), projectionDecimal(f, o.Commissions), projectionDecimal(f, o.Fees),
		projectionDecimal(f, o.Premium), projectionDecimal(f, o.Dividends), projectionDecimal(f, o.DividendTaxes), projectionDecimal(f, o.CapitalDeployed),
		projectionDecimal(f, o.Performance))
}

func (ins *projectionInserts) flush() error {
	if err := ins.broker.flush(); err != nil {
		return fmt.Errorf("broker snapshot %w", err)
	}
	if err := ins.ticker.flush(); err != nil {
		return fmt.Errorf("ticker snapshot %w", err)
	}
	if err := ins.operations.flush(); err != nil {
		return fmt.Errorf("operation %w", err)
	}
	return nil
}

func (ins *projectionInserts) close() {
	ins.broker.close()
	ins.ticker.close()
	ins.operations.close()
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
