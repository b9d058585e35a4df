package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/shopspring/decimal"
)

// movementColumns are the columns a movement is read from, in the order
// movementScanner expects.
const movementColumns = `id, account, broker, kind, time, utc_offset, seq, part, line, currency, ticker,
	cash_type, code, quantity, price, amount, commissions, fees, option_type, strike, new_strike,
	expiration, premium, net_premium, multiplier, from_currency, amount_changed, notes`

// movementInsertColumns are the columns a movement is written to, in the
// order of movementArgs.
const movementInsertColumns = movementColumns + `, session, utc`

// movementUpsert keeps, per (account, utc, id), that is per movement ID, the
// row of the smallest (session, line), whatever order they arrive in. The
// primary key could only conflict alone for one ID at one wall-clock time
// with two offsets, which the ID rules out (it hashes the instant); were it
// to happen, the row already there stays, rather than the batch failing
// for ever.
var movementUpsert = `ON CONFLICT (account, utc, id) DO UPDATE SET ` +
	updateAll(movementInsertColumns, "id", "account", "utc") + `
	WHERE (excluded.session, excluded.line) < (movements.session, movements.line)
	ON CONFLICT (account, time, seq, part, id) DO NOTHING`

// updateAll returns "c = excluded.c, ..." for every column but skip.
func updateAll(columns string, skip ...string) string {
	var sets []string
	for c := range strings.SplitSeq(columns, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains(skip, c) {
			sets = append(sets, c+" = excluded."+c)
		}
	}
	return strings.Join(sets, ", ")
}

const insertChunk = `INSERT INTO import_chunks (session, chunk_id, account, ordinal, total, week, part, movements, stored_at)
	VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (session, chunk_id) DO NOTHING`

const sessionColumns = `id, account, broker, file, sha256, phase, total_chunks, movements, rejected, error,
	started_at, sealed_at, completed_at`

var upsertSession = `INSERT INTO import_sessions (` + sessionColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (id) DO UPDATE SET ` + updateAll(sessionColumns, "id")

const insertReject = `INSERT INTO rejects (session, account, line, column_name, value, reason)
	VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`

// WriteBatch implements [store.Store]: one transaction, committed (and
// fsynced) before it returns nil. Movements go in multi-row INSERTs of
// rowsPerInsert rows.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Chunks) == 0 && len(b.Sessions) == 0 && len(b.Rejects) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins := newBulkInsert(ctx, tx, "movements", movementInsertColumns, movementUpsert)
		defer ins.close()
		f := newFormatter()
		for _, c := range b.Chunks {
			for i := range c.Movements {
				m := &c.Movements[i]
				if err := ins.add(m.ID, f.movementArgs(m, c.Session)...); err != nil {
					return fmt.Errorf("movement %w", err)
				}
			}
		}
		if err := ins.flush(); err != nil {
			return fmt.Errorf("movement %w", err)
		}
		for _, c := range b.Chunks {
			_, err := tx.ExecContext(ctx, insertChunk, c.Session, c.ID, c.Account, c.Ordinal, c.Total,
				c.Week, c.Part, len(c.Movements), instant(b.At))
			if err != nil {
				return fmt.Errorf("chunk %s: %w", events.MsgID(c.Session, c.ID), err)
			}
		}
		for i := range b.Sessions {
			v := &b.Sessions[i]
			_, err := tx.ExecContext(ctx, upsertSession, v.ID, v.Account, v.Broker, v.File, v.SHA256, v.Phase,
				v.TotalChunks, v.Movements, v.Rejected, nullString(v.Error),
				instant(v.StartedAt), instant(v.SealedAt), instant(v.CompletedAt))
			if err != nil {
				return fmt.Errorf("session %s: %w", v.ID, err)
			}
		}
		for _, r := range b.Rejects {
			_, err := tx.ExecContext(ctx, insertReject, r.Session, r.Account, r.Line, r.Column, r.Value, r.Reason)
			if err != nil {
				return fmt.Errorf("reject %s line %d: %w", r.Session, r.Line, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write batch (%d chunks, %d sessions) to %s: %w", len(b.Chunks), len(b.Sessions), s.path, err)
	}
	return nil
}

// movementArgs returns the values of movementInsertColumns for m. The
// slice is reused by the next call.
func (f *formatter) movementArgs(m *events.Movement, session string) []any {
	a := f.args[:0]
	a = append(a,
		m.ID, m.Account, m.Broker, string(m.Kind), m.Time.String(), text(m.Offset), m.Seq, m.Part, m.Line,
		m.Currency, text(m.Ticker), text(string(m.CashType)), text(string(m.Code)),
		f.nullDecimal(m.Quantity), f.nullDecimal(m.Price), f.nullDecimal(m.Amount), f.nullDecimal(m.Commissions),
		f.nullDecimal(m.Fees), text(string(m.OptionType)), f.nullDecimal(m.Strike), f.nullDecimal(m.NewStrike),
		nullDate(m.Expiration), f.nullDecimal(m.Premium), f.nullDecimal(m.NetPremium),
		f.nullDecimal(m.Multiplier), text(m.FromCurrency), f.nullDecimal(m.AmountChanged), text(m.Notes),
		session, utcOf(m))
	f.args = a
	return a
}

// utcOf returns m's UTC instant in Unix seconds: its wall-clock time minus
// its offset when the offset reads as "+HHMM", "-HHMM", "+HH:MM" or
// "-HH:MM"; any other offset ("", "Z", text the parsers never write) counts
// as zero. utcSQL is the same computation in SQL.
func utcOf(m *events.Movement) int64 {
	return int64(m.Time) - offsetSeconds(m.Offset)
}

func offsetSeconds(o string) int64 {
	var hh, mm string
	switch {
	case len(o) == 5:
		hh, mm = o[1:3], o[3:5]
	case len(o) == 6 && o[3] == ':':
		hh, mm = o[1:3], o[4:6]
	default:
		return 0
	}
	if (o[0] != '+' && o[0] != '-') || !digits(hh) || !digits(mm) {
		return 0
	}
	sec := int64(hh[0]-'0')*36000 + int64(hh[1]-'0')*3600 + int64(mm[0]-'0')*600 + int64(mm[1]-'0')*60
	if o[0] == '-' {
		return -sec
	}
	return sec
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ScanMovements implements [store.Store]: one query in key order on a read
// connection, read a batch at a time, so memory does not depend on the
// history. The query is one read transaction: the scan sees the movements
// as they were when it started, while the projector goes on writing (WAL),
// and it holds one of the read pool's connections until it returns.
//
// A goroutine reads and decodes the rows while fn runs on the caller's
// goroutine (phase 2 computes and writes while the next movements are
// read): they pass two batches of scanBatch movements back and forth, so
// fn's movement is not touched before fn returns.
func (s *Store) ScanMovements(ctx context.Context, account string, q projections.Query, fn func(*events.Movement) error) error {
	kinds := q.Kinds
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []events.Movement)
	free := make(chan []events.Movement, 2)
	for range 2 {
		free <- make([]events.Movement, 0, scanBatch)
	}
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		readErr = s.readMovements(ctx, account, kinds, free, full)
	}()
	var fnErr, ctxErr error
batches:
	for batch := range full {
		for i := range batch {
			// The driver notices a cancelled context a little later: stop
			// now.
			if ctxErr = ctx.Err(); ctxErr != nil {
				break batches
			}
			if err := fn(&batch[i]); err != nil {
				fnErr = err
				break batches
			}
		}
		free <- batch
	}
	cancel()
	for range full {
		// The reader stops at the cancellation; let it finish.
	}
	<-done
	switch {
	case fnErr != nil:
		return fnErr
	case ctxErr != nil:
		return fmt.Errorf("sqlite: movements of %s: %w", account, ctxErr)
	case readErr != nil:
		return fmt.Errorf("sqlite: movements of %s: %w", account, readErr)
	}
	return nil
}

// scanBatch is how many movements ScanMovements reads ahead.
const scanBatch = 256

// readMovements reads an account's movements into batches from free and
// sends them on full, in order.
func (s *Store) readMovements(ctx context.Context, account string, kinds []events.Kind, free <-chan []events.Movement, full chan<- []events.Movement) error {
	args := []any{account}
	for _, k := range kinds {
		args = append(args, string(k))
	}
	rows, err := s.r.QueryContext(ctx, scanQuery(len(kinds)), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	sc := newMovementScanner()
	var batch []events.Movement
	send := func() error {
		select {
		case full <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case batch = <-free:
			batch = batch[:0]
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	batch = <-free
	var prev events.Movement
	for n := 0; rows.Next(); n++ {
		batch = append(batch, events.Movement{})
		m := &batch[len(batch)-1]
		if err := sc.scan(rows, m); err != nil {
			return err
		}
		// The text order of time is the order of events.Compare for the
		// four-digit years a wall time is read from; check it anyway, it
		// costs nothing next to the row.
		if n > 0 && events.Compare(&prev, m) >= 0 {
			return fmt.Errorf("%s after %s: %w", m.ID, prev.ID, errOrder)
		}
		prev.Time, prev.Seq, prev.Part, prev.ID = m.Time, m.Seq, m.Part, m.ID
		if len(batch) == cap(batch) {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		select {
		case full <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// scanQuery selects an account's movements (the first argument), of
// kinds kinds (the next arguments) when kinds > 0, in the primary key's
// order: SQLite reads the key in order, with no sort
// (TestScanPlanUsesKeyOrder).
func scanQuery(kinds int) string {
	q := `SELECT ` + movementColumns + ` FROM movements WHERE account = ?`
	if kinds > 0 {
		q += ` AND kind IN (?` + strings.Repeat(",?", kinds-1) + `)`
	}
	return q + ` ORDER BY time, seq, part, id`
}

// errOrder: the table's order is not events.Compare's (never expected).
var errOrder = errors.New("movements out of order")

// maxInterned bounds the texts and the decimals a movementScanner shares;
// when a map is full it starts again.
const maxInterned = 1 << 12

// movementScanner reads movement rows into a movement. The columns that
// repeat from row to row (account, broker, kind, currency, ticker, codes,
// decimals such as quantity 1 or multiplier 100) are shared between the
// movements it returns instead of parsed and kept anew for each, so a
// caller that keeps movements (the computation keeps open positions) keeps
// less. Decimals are immutable values, so sharing one is safe.
type movementScanner struct {
	texts    map[string]string
	decimals map[string]decimal.Decimal
	raw      [28]any
	dest     [28]any
}

func newMovementScanner() *movementScanner {
	sc := &movementScanner{texts: map[string]string{}, decimals: map[string]decimal.Decimal{}}
	for i := range sc.raw {
		sc.dest[i] = &sc.raw[i]
	}
	return sc
}

// str returns column i as text ("" for NULL).
func (sc *movementScanner) str(i int) (string, error) {
	switch v := sc.raw[i].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("column %d: %T, want text", i, v)
	}
}

// shared is str, shared with earlier rows when it repeats.
func (sc *movementScanner) shared(i int) (string, error) {
	v, err := sc.str(i)
	if err != nil || v == "" {
		return v, err
	}
	if w, ok := sc.texts[v]; ok {
		return w, nil
	}
	if len(sc.texts) >= maxInterned {
		clear(sc.texts)
	}
	sc.texts[v] = v
	return v, nil
}

// integer returns column i as an int.
func (sc *movementScanner) integer(i int) (int, error) {
	v, ok := sc.raw[i].(int64)
	if !ok {
		return 0, fmt.Errorf("column %d: %T, want an integer", i, sc.raw[i])
	}
	return int(v), nil
}

// decimal parses column i (NULL is zero), sharing repeated values.
func (sc *movementScanner) decimal(i int) (decimal.Decimal, error) {
	switch v := sc.raw[i].(type) {
	case nil:
		return decimal.Decimal{}, nil
	case string:
		if d, ok := sc.decimals[v]; ok {
			return d, nil
		}
		d, err := decimal.NewFromString(v)
		if err != nil {
			return d, fmt.Errorf("column %d: %w", i, err)
		}
		if len(sc.decimals) >= maxInterned {
			clear(sc.decimals)
		}
		sc.decimals[v] = d
		return d, nil
	default:
		return decimal.Decimal{}, fmt.Errorf("column %d: %T, want a decimal as text", i, v)
	}
}

// scan reads one row of movementColumns into m, overwriting every field.
func (sc *movementScanner) scan(rows *sql.Rows, m *events.Movement) error {
	// Scanning into *any hands over the driver's values without copies.
	if err := rows.Scan(sc.dest[:]...); err != nil {
		return err
	}
	*m = events.Movement{}
	var errs [28]error
	var kind, cashType, code, optionType, t, exp string
	m.ID, errs[0] = sc.str(0)
	m.Account, errs[1] = sc.shared(1)
	m.Broker, errs[2] = sc.shared(2)
	kind, errs[3] = sc.shared(3)
	t, errs[4] = sc.str(4)
	m.Offset, errs[5] = sc.shared(5)
	m.Seq, errs[6] = sc.integer(6)
	m.Part, errs[7] = sc.integer(7)
	m.Line, errs[8] = sc.integer(8)
	m.Currency, errs[9] = sc.shared(9)
	m.Ticker, errs[10] = sc.shared(10)
	cashType, errs[11] = sc.shared(11)
	code, errs[12] = sc.shared(12)
	m.Quantity, errs[13] = sc.decimal(13)
	m.Price, errs[14] = sc.decimal(14)
	m.Amount, errs[15] = sc.decimal(15)
	m.Commissions, errs[16] = sc.decimal(16)
	m.Fees, errs[17] = sc.decimal(17)
	optionType, errs[18] = sc.shared(18)
	m.Strike, errs[19] = sc.decimal(19)
	m.NewStrike, errs[20] = sc.decimal(20)
	exp, errs[21] = sc.str(21)
	m.Premium, errs[22] = sc.decimal(22)
	m.NetPremium, errs[23] = sc.decimal(23)
	m.Multiplier, errs[24] = sc.decimal(24)
	m.FromCurrency, errs[25] = sc.shared(25)
	m.AmountChanged, errs[26] = sc.decimal(26)
	m.Notes, errs[27] = sc.str(27)
	m.Kind, m.CashType, m.Code = events.Kind(kind), events.CashType(cashType), events.TradeCode(code)
	m.OptionType = events.OptionType(optionType)
	if err := errors.Join(errs[:]...); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
	var err error
	if m.Time, err = parseWallTime(t); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
	if exp != "" {
		if m.Expiration, err = events.ParseDate(exp); err != nil {
			return fmt.Errorf("movement %s: %w", m.ID, err)
		}
	}
	return nil
}

// parseWallTime is events.ParseWallTime without time.Parse for the text
// the store writes, YYYY-MM-DDTHH:MM:SS with a valid date and clock;
// anything else goes to events.ParseWallTime (and its error).
func parseWallTime(s string) (events.WallTime, error) {
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return events.ParseWallTime(s)
	}
	var v [6]int
	for i, f := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		for j := f[0]; j < f[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return events.ParseWallTime(s)
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	y, mo, d, h, mi, sec := v[0], time.Month(v[1]), v[2], v[3], v[4], v[5]
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return events.ParseWallTime(s)
	}
	return events.WallTime(time.Date(y, mo, d, h, mi, sec, 0, time.UTC).Unix()), nil
}

// daysIn returns the number of days of month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Accounts implements [store.Store]. It seeks from one account to the next
// in the primary key (a loose index scan): a few seeks per account instead
// of a read of every movement.
func (s *Store) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `WITH RECURSIVE a(account) AS (
			SELECT min(account) FROM movements
			UNION ALL
			SELECT (SELECT min(account) FROM movements WHERE account > a.account) FROM a WHERE a.account IS NOT NULL)
		SELECT account FROM a WHERE account IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlite: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	return out, nil
}
