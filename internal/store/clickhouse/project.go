package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
)

// WriteProjections implements [store.Store] with a new version of the
// account's rows, committed by one row of projection_commits (see the
// package doc, "Atomic projection replacement"). The rows are inserted as
// emit sends them, at most [Options.ProjectionBatchRows] rows of a table
// at a time, so memory does not grow with the projections. When emit fails,
// the context ends or an insert fails before the commit, the new version is
// dropped (best effort; a version left behind is never read, and the next
// replacement drops it) and the old projections stay current.
//
// The last rows of the three tables (for most accounts, all their rows)
// are inserted at the same time, each table's on a connection of its own:
// the INSERTs of a small account's projections are most of its phase 2,
// and the server creates their parts in parallel.
//
// The rows must have distinct keys within a version, or ReplacingMergeTree
// would merge them away: a currency's broker rows and a (ticker, currency)'s
// ticker rows must come in strictly increasing date order, and operations in
// strictly increasing seq (their emission order), which is what
// [projections.Sink] promises; a row out of that order fails the write.
func (s *Store) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	if account == "" {
		return errors.New("clickhouse: write projections: no account")
	}
	if err := s.writeProjections(ctx, account, emit, completed, at); err != nil {
		return fmt.Errorf("write projections of %s: %w", account, err)
	}
	return nil
}

func (s *Store) writeProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The version this one supersedes, kept for readers still reading it.
	previous, _, err := s.committed(ctx, account)
	if err != nil {
		return err
	}
	w := newProjectionWriter(ctx, s, account, s.nextVersion(at))
	err = emit(w)
	if w.err != nil {
		// The sink's own failure, which emit may have returned wrapped or
		// not at all.
		err = w.err
	}
	if err == nil {
		err = w.flushAll()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		w.discard()
		return err
	}
	// The commit: from here on readers see the new version. A commit that
	// fails is not undone: it may have been stored.
	counts := []column{{"account", []string{account}}, {"version", []uint64{w.version}}}
	for i, name := range []string{"broker_rows", "ticker_rows", "operation_rows"} {
		if w.tables[i].count > math.MaxUint32 {
			w.discard()
			return fmt.Errorf("%d rows of %s: more than a commit records", w.tables[i].count, projectionTables[i])
		}
		counts = append(counts, column{name, []uint32{uint32(w.tables[i].count)}})
	}
	counts = append(counts, column{"committed_at", []*time.Time{nullTime(at)}})
	if err := s.insert(ctx, "projection_commits", counts); err != nil {
		return err
	}
	if err := s.completeSessions(ctx, completed, at); err != nil {
		return err
	}
	// Superseded versions, and versions whose writer failed or died before
	// committing them (one projector writes an account at a time).
	return s.dropVersions(ctx, account, w.version, previous)
}

// Indexes of projectionWriter.tables, in projectionTables' order.
const (
	brokerTable = iota
	tickerTable
	operationTable
)

// projectionWriter is the [projections.Sink] of WriteProjections: it
// gathers each table's rows in columns and inserts them every batch rows.
type projectionWriter struct {
	ctx     context.Context
	s       *Store
	account string
	version uint64
	batch   int
	err     error // the first failure; every later call returns it

	tables [3]struct {
		rows    *projectionRows
		count   int  // rows sent
		written bool // an insert was tried: the version may hold rows
	}
	brokerLast map[string]events.Date
	tickerLast map[[2]string]events.Date
	lastSeq    int
	w          exactWriter
}

func newProjectionWriter(ctx context.Context, s *Store, account string, version uint64) *projectionWriter {
	p := &projectionWriter{ctx: ctx, s: s, account: account, version: version, batch: s.opts.ProjectionBatchRows,
		brokerLast: map[string]events.Date{}, tickerLast: map[[2]string]events.Date{}, lastSeq: -1}
	n := min(p.batch, 1024)
	p.tables[brokerTable].rows = newProjectionRows(n, brokerDecimals)
	p.tables[tickerTable].rows = newProjectionRows(n, tickerDecimals)
	p.tables[operationTable].rows = newProjectionRows(n, operationDecimals)
	return p
}

// Column names of the decimal fields of each table, which are also their
// names in the exact column.
var (
	brokerDecimals = []string{"realized_gains", "realized_percentage", "unrealized_gains",
		"unrealized_gains_percentage", "invested", "commissions", "fees", "deposited", "withdrawn",
		"dividends_received", "options_income", "other_income", "net_cash_flow"}
	tickerDecimals = []string{"total_shares", "weight", "cost_basis", "real_cost", "dividends", "dividend_taxes",
		"options", "total_incomes", "capital_deployed", "realized", "performance", "commissions", "fees"}
	operationDecimals = []string{"realized", "commissions", "fees", "premium", "dividends", "dividend_taxes",
		"capital_deployed", "performance"}
)

// Broker implements [projections.Sink].
func (p *projectionWriter) Broker(b *projections.BrokerSnapshot) error {
	if err := p.check(); err != nil {
		return err
	}
	if last, ok := p.brokerLast[b.Currency]; ok && b.Date <= last {
		return p.fail(fmt.Errorf("broker snapshot %s %s after %s: a currency's rows must come in increasing date order",
			b.Currency, b.Date, last))
	}
	p.brokerLast[b.Currency] = b.Date
	vals := [...]decimal.Decimal{b.RealizedGains, b.RealizedPercentage, b.UnrealizedGains, b.UnrealizedGainsPercentage,
		b.Invested, b.Commissions, b.Fees, b.Deposited, b.Withdrawn, b.DividendsReceived, b.OptionsIncome,
		b.OtherIncome, b.NetCashFlow}
	if err := p.put(vals[:], brokerDecimals); err != nil {
		return p.fail(fmt.Errorf("broker snapshot %s %s: %w", b.Currency, b.Date, err))
	}
	r := p.tables[brokerTable].rows
	r.currency = append(r.currency, b.Currency)
	r.date = append(r.date, b.Date.Time())
	r.counter = append(r.counter, uint32(min(max(b.MovementCounter, 0), math.MaxUint32)))
	r.open = append(r.open, boolByte(b.OpenTrades))
	return p.added(brokerTable, vals[:])
}

// Ticker implements [projections.Sink].
func (p *projectionWriter) Ticker(t *projections.TickerSnapshot) error {
	if err := p.check(); err != nil {
		return err
	}
	key := [2]string{t.Ticker, t.Currency}
	if last, ok := p.tickerLast[key]; ok && t.Date <= last {
		return p.fail(fmt.Errorf("ticker snapshot %s %s %s after %s: a series' rows must come in increasing date order",
			t.Ticker, t.Currency, t.Date, last))
	}
	p.tickerLast[key] = t.Date
	vals := [...]decimal.Decimal{t.TotalShares, t.Weight, t.CostBasis, t.RealCost, t.Dividends, t.DividendTaxes,
		t.Options, t.TotalIncomes, t.CapitalDeployed, t.Realized, t.Performance, t.Commissions, t.Fees}
	if err := p.put(vals[:], tickerDecimals); err != nil {
		return p.fail(fmt.Errorf("ticker snapshot %s %s %s: %w", t.Ticker, t.Currency, t.Date, err))
	}
	r := p.tables[tickerTable].rows
	r.ticker = append(r.ticker, t.Ticker)
	r.currency = append(r.currency, t.Currency)
	r.date = append(r.date, t.Date.Time())
	r.open = append(r.open, boolByte(t.OpenTrades))
	return p.added(tickerTable, vals[:])
}

// Operation implements [projections.Sink].
func (p *projectionWriter) Operation(o *projections.Operation, seq int) error {
	if err := p.check(); err != nil {
		return err
	}
	if seq <= p.lastSeq || seq > math.MaxUint32 {
		return p.fail(fmt.Errorf("operation %s %s: seq %d after %d: operations must come in increasing seq",
			o.Ticker, o.OpenDate, seq, p.lastSeq))
	}
	p.lastSeq = seq
	vals := [...]decimal.Decimal{o.Realized, o.Commissions, o.Fees, o.Premium, o.Dividends, o.DividendTaxes,
		o.CapitalDeployed, o.Performance}
	if err := p.put(vals[:], operationDecimals); err != nil {
		return p.fail(fmt.Errorf("operation %d (%s %s): %w", seq, o.Ticker, o.OpenDate, err))
	}
	r := p.tables[operationTable].rows
	r.seq = append(r.seq, uint32(seq))
	r.ticker = append(r.ticker, o.Ticker)
	r.currency = append(r.currency, o.Currency)
	r.open = append(r.open, boolByte(o.IsOpen))
	r.date = append(r.date, o.OpenDate.Time())
	r.closeDate = append(r.closeDate, nullDate(o.CloseDate))
	return p.added(operationTable, vals[:])
}

// check returns the writer's earlier failure or the context's end.
func (p *projectionWriter) check() error {
	if p.err != nil {
		return p.err
	}
	if err := p.ctx.Err(); err != nil {
		return p.fail(err)
	}
	return nil
}

func (p *projectionWriter) fail(err error) error {
	p.err = err
	return err
}

// put replaces a row's decimals by their column values and records their
// exact digits in p.w (see exactWriter); it fails when one is out of range,
// before anything of the row is appended.
func (p *projectionWriter) put(vals []decimal.Decimal, names []string) error {
	p.w.reset()
	for i, name := range names {
		vals[i] = p.w.put(name, vals[i])
	}
	return p.w.err
}

// added completes the row just appended to table i with its decimal
// column values and its exact column (in p.w), and inserts the table's
// rows when the batch is full.
func (p *projectionWriter) added(i int, vals []decimal.Decimal) error {
	t := &p.tables[i]
	for j, v := range vals {
		t.rows.dec[j] = append(t.rows.dec[j], v)
	}
	t.rows.exact = append(t.rows.exact, p.w.exact())
	t.count++
	if t.rows.len() < p.batch {
		return nil
	}
	if err := p.flush(i); err != nil {
		return p.fail(err)
	}
	return nil
}

// flush inserts table i's gathered rows.
func (p *projectionWriter) flush(i int) error {
	t := &p.tables[i]
	if t.rows.len() == 0 {
		return nil
	}
	t.written = true
	if err := p.s.insert(p.ctx, projectionTables[i], t.rows.columns(i, p.account, p.version)); err != nil {
		return err
	}
	t.rows.reset()
	return nil
}

// flushAll inserts every table's gathered rows, the tables at the same
// time; every INSERT has ended when it returns.
func (p *projectionWriter) flushAll() error {
	var g errgroup.Group
	for i := range p.tables {
		g.Go(func() error { return p.flush(i) })
	}
	return g.Wait()
}

// discard drops whatever the writer inserted (best effort: it runs after a
// failure, maybe with the context cancelled).
func (p *projectionWriter) discard() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), p.s.opts.CallTimeout)
	defer cancel()
	for i := range p.tables {
		if !p.tables[i].written {
			continue
		}
		if err := p.s.dropVersion(ctx, projectionTables[i], p.account, p.version); err != nil {
			p.s.opts.Logger.WarnContext(ctx, "clickhouse: dropping an uncommitted projection version failed",
				"account", p.account, "table", projectionTables[i], "version", p.version, "error", err)
		}
	}
}

// projectionRows gathers rows of one projection table, column by column;
// the columns a table does not have stay empty.
type projectionRows struct {
	names                   []string // of the decimal columns
	dec                     [][]decimal.Decimal
	ticker, currency, exact []string
	date                    []time.Time // date, or open_date
	closeDate               []*time.Time
	counter, seq            []uint32
	open                    []uint8 // open_trades, or is_open
	// The account and version columns (one writer writes one account and
	// version), as long as the longest batch.
	accounts []string
	versions []uint64
}

func newProjectionRows(n int, names []string) *projectionRows {
	r := &projectionRows{names: names, dec: make([][]decimal.Decimal, len(names))}
	for i := range r.dec {
		r.dec[i] = make([]decimal.Decimal, 0, n)
	}
	return r
}

func (r *projectionRows) len() int { return len(r.exact) }

// reset empties the columns, keeping their memory for the next batch.
func (r *projectionRows) reset() {
	for i := range r.dec {
		r.dec[i] = r.dec[i][:0]
	}
	r.ticker, r.currency, r.exact = r.ticker[:0], r.currency[:0], r.exact[:0]
	r.date, r.closeDate, r.counter, r.seq, r.open = r.date[:0], r.closeDate[:0], r.counter[:0], r.seq[:0], r.open[:0]
}

// columns returns the INSERT columns of table (an index of
// projectionTables).
func (r *projectionRows) columns(table int, account string, version uint64) []column {
	n := r.len()
	for len(r.accounts) < n {
		r.accounts, r.versions = append(r.accounts, account), append(r.versions, version)
	}
	cols := []column{{"account", r.accounts[:n]}, {"version", r.versions[:n]}}
	switch table {
	case brokerTable:
		cols = append(cols, column{"currency", r.currency}, column{"date", r.date},
			column{"movement_counter", r.counter}, column{"open_trades", r.open})
	case tickerTable:
		cols = append(cols, column{"ticker", r.ticker}, column{"currency", r.currency}, column{"date", r.date},
			column{"open_trades", r.open})
	case operationTable:
		cols = append(cols, column{"seq", r.seq}, column{"ticker", r.ticker}, column{"currency", r.currency},
			column{"is_open", r.open}, column{"open_date", r.date}, column{"close_date", r.closeDate})
	}
	for i, name := range r.names {
		cols = append(cols, column{name, r.dec[i]})
	}
	return append(cols, column{"exact", r.exact})
}
