package clickhouse

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
)

// dayCount is how many rows of an account the movements table holds for one
// date (duplicates not yet merged away included: an upper bound).
type dayCount struct {
	date events.Date
	rows int
}

// kindFilter is the SQL condition and argument that restrict a query to
// kinds: none when kinds is empty.
func kindFilter(kinds []events.Kind) (string, []any) {
	if len(kinds) == 0 {
		return "", nil
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return " AND has(?, kind)", []any{names}
}

// ScanMovements implements [store.Store]. It reads the account in windows
// of consecutive dates holding at most [Options.ScanWindowRows] rows each
// (a date with more rows is a window of its own): first the number of rows
// per date (without FINAL, so an upper bound when duplicates are not yet
// merged), then each window with FINAL, sorted here in [events.Compare]
// order, which orders by time and so keeps dates contiguous. Memory on both
// sides is bounded by a few windows (scanReaders+1 on this side, see
// below), not by the history: an ORDER BY over the whole account, or FINAL
// over all of it at once, exceeds a server's per-query memory limit for a
// long history (ClickHouse 18.16 merges every part's blocks at once). The
// movement given to fn is valid until fn returns: its memory is reused for
// a later window.
//
// The next windows are read while fn consumes the current one: each of
// [scanReaders] goroutines of the scan (stopped before ScanMovements
// returns) reads every scanReaders-th window on a connection of its own, so
// that the server's FINAL merge of one window, the driver's decoding of
// another and the caller's work on a third overlap instead of waiting for
// each other. fn is called from the caller's goroutine only, in order.
//
// Only the kinds of q are read (in SQL; a window of a scan of some kinds
// lists its dates, at most maxWindowDates, so a sparse kind does not read
// the history between its dates), and only the columns of q.Fields plus the
// identity and order columns (and the exact column when a decimal is asked
// for): the others are neither read nor sent, and those fields are zero.
//
// The windows are separate queries, so a write between two of them may be
// seen in the later windows only; the projector does not write an account
// while it computes it.
func (s *Store) ScanMovements(ctx context.Context, account string, q projections.Query, fn func(*events.Movement) error) error {
	kinds := q.Kinds
	days, err := s.movementDays(ctx, account, kinds)
	if err != nil {
		return fmt.Errorf("scan movements of %s: %w", account, err)
	}
	if len(days) == 0 {
		return nil
	}
	// The windows' bounds in days, [bounds[k], bounds[k+1]).
	bounds := []int{0}
	for i := 0; i < len(days); {
		j, rows := i+1, days[i].rows
		for j < len(days) && rows+days[j].rows <= s.opts.ScanWindowRows && j-i < maxWindowDates {
			rows += days[j].rows
			j++
		}
		bounds = append(bounds, j)
		i = j
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	// Window k is read by reader k%scanReaders into a window from free and
	// handed over on out[k%scanReaders]; fn consumes the windows in order,
	// and each goes back to free. A reader holds at most one window and the
	// consumer one, so scanReaders+1 windows never run out.
	free := make(chan *movementWindow, scanReaders+1)
	for range scanReaders + 1 {
		free <- &movementWindow{}
	}
	var out [scanReaders]chan *movementWindow
	for r := range out {
		out[r] = make(chan *movementWindow)
		row := newMovementRow(account, q) // the reader's own (its decimal cache)
		g.Go(func() error {
			defer close(out[r])
			for k := r + 1; k < len(bounds); k += scanReaders {
				var w *movementWindow
				select {
				case w = <-free:
				case <-gctx.Done():
					return gctx.Err()
				}
				w.row = row
				if err := s.readWindow(gctx, account, kinds, days[bounds[k-1]:bounds[k]], w); err != nil {
					return err
				}
				select {
				case out[r] <- w:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	var fnErr, ctxErr error
consume:
	for k := 1; k < len(bounds); k++ {
		w, ok := <-out[(k-1)%scanReaders]
		if !ok {
			break // the reader failed: g.Wait returns why
		}
		for _, m := range w.sorted {
			if fnErr = fn(m); fnErr != nil {
				break consume
			}
			if ctxErr = ctx.Err(); ctxErr != nil {
				break consume
			}
		}
		free <- w // never blocks: it has room for every window
	}
	cancel() // stops the readers when the scan ends early
	readErr := g.Wait()
	switch {
	case fnErr != nil:
		return fnErr
	case ctxErr != nil:
		return fmt.Errorf("scan movements of %s: %w", account, ctxErr)
	case readErr != nil:
		return fmt.Errorf("scan movements of %s: %w", account, readErr)
	}
	return nil
}

// movementDays returns the account's dates with their row counts, in date
// order.
func (s *Store) movementDays(ctx context.Context, account string, kinds []events.Kind) ([]dayCount, error) {
	var days []dayCount
	cond, args := kindFilter(kinds)
	err := s.query(ctx, "movement dates of "+account, func() { days = days[:0] }, func(rows chdriver.Rows) error {
		var date time.Time
		var n uint64
		if err := rows.Scan(&date, &n); err != nil {
			return err
		}
		days = append(days, dayCount{events.DateOf(date.UTC()), int(n)})
		return nil
	}, "SELECT date, count() FROM movements WHERE account = ?"+cond+" GROUP BY date ORDER BY date",
		append([]any{account}, args...)...)
	return days, err
}

// movementWindow holds one window of movements; it is reused from window to
// window.
type movementWindow struct {
	buf    []events.Movement
	sorted []*events.Movement
	row    *movementRow
}

// stringColumns are the String columns of movements that carry a field
// other than the identity and order fields.
var stringColumns = []struct {
	name  string
	field events.Fields
}{
	{"broker", events.FieldBroker}, {"utc_offset", events.FieldOffset}, {"currency", events.FieldCurrency},
	{"ticker", events.FieldTicker}, {"cash_type", events.FieldCashType}, {"code", events.FieldCode},
	{"option_type", events.FieldOptionType}, {"from_currency", events.FieldFromCurrency}, {"notes", events.FieldNotes},
}

// decimalColumns are the decimal columns of movements, in the order of
// movementRow.decs.
var decimalColumns = []struct {
	name  string
	field events.Fields
}{
	{"quantity", events.FieldQuantity}, {"price", events.FieldPrice}, {"amount", events.FieldAmount},
	{"commissions", events.FieldCommissions}, {"fees", events.FieldFees}, {"strike", events.FieldStrike},
	{"new_strike", events.FieldNewStrike}, {"premium", events.FieldPremium}, {"net_premium", events.FieldNetPremium},
	{"multiplier", events.FieldMultiplier}, {"amount_changed", events.FieldAmountChanged},
}

// movementRow reads the columns of a movement row that a set of fields
// needs: its query selects them, and its scan destinations receive them.
// Each decimal is read as its raw bytes (see decimalReader), which the
// driver hands over without a copy: its own Decimal decoding makes a big.Int
// of every value, five allocations each, a third of phase 2's time. (Not
// toString: ClickHouse 18.16 formats a Decimal128 about seven times slower
// than it copies it, and garbles one of 22 or more integer digits. Nor one
// concat of them all: 18.16 types a concat of FixedStrings as its first
// argument's type, which desyncs the driver.)
type movementRow struct {
	sel  string // SELECT … FROM movements FINAL WHERE account = ?
	dest []any  // the scan destinations, in the order of sel's columns

	account         string // the account the query selects
	kind            string // the row's kind, or the one kind the query selects
	id, exact       string
	tm              time.Time
	seq, part, line uint32
	expiration      *time.Time
	strs            [9]string // stringColumns' values; those not read stay ""

	raw    [11][]byte          // the read decimals' bytes, in the driver's block
	nraw   int                 // how many decimals are read
	decs   [11]decimal.Decimal // decimalColumns' values; those not read stay zero
	decDst []*decimal.Decimal  // the read decimals' destinations in decs
	exacts []field             // the read decimals, for restoreExact
	dec    decimalReader
}

// newMovementRow returns the row reader of the movements of account that
// q asks for: the fields of q.Fields (the zero Fields: all of them) and the
// identity and order fields. The account column is not read (the query
// selects one account), nor the kind column when q asks for one kind: the
// driver makes a string of every String value it is asked for.
func newMovementRow(account string, q projections.Query) *movementRow {
	f := q.Fields
	if f&events.AllFields == 0 {
		f = events.AllFields
	}
	r := &movementRow{account: account}
	var b strings.Builder
	b.WriteString("SELECT id, time, seq, part")
	r.dest = append(r.dest, &r.id, &r.tm, &r.seq, &r.part)
	col := func(expr string, dest any) {
		b.WriteString(", ")
		b.WriteString(expr)
		r.dest = append(r.dest, dest)
	}
	if len(q.Kinds) == 1 {
		r.kind = string(q.Kinds[0])
	} else {
		col("kind", &r.kind)
	}
	for i, c := range stringColumns {
		if f.Has(c.field) {
			col(c.name, &r.strs[i])
		}
	}
	if f.Has(events.FieldLine) {
		col("line", &r.line)
	}
	if f.Has(events.FieldExpiration) {
		col("expiration", &r.expiration)
	}
	for i, c := range decimalColumns {
		if f.Has(c.field) {
			// reinterpretAsString drops trailing zero bytes; toFixedString
			// puts them back.
			col(fmt.Sprintf("toFixedString(reinterpretAsString(%s), 16)", c.name), &r.raw[r.nraw])
			r.nraw++
			r.decDst = append(r.decDst, &r.decs[i])
			r.exacts = append(r.exacts, field{c.name, &r.decs[i]})
		}
	}
	if r.nraw > 0 {
		col("exact", &r.exact)
	}
	b.WriteString(" FROM movements FINAL WHERE account = ?")
	r.sel = b.String()
	return r
}

// scanReaders is how many windows [Store.ScanMovements] reads at a time,
// each on a connection of its own, ahead of the one fn consumes: two, so
// that the server merges one window while this side decodes another.
const scanReaders = 2

// maxWindowDates bounds the dates of one window of ScanMovements, which a
// scan of some kinds lists in its query.
const maxWindowDates = 1000

// readWindow reads the account's movements of the given dates into w,
// sorted. Without kinds the dates are every date of the account from the
// first to the last, and the query selects that range. With kinds, it
// selects the dates themselves: a kind can be sparse (a few strike
// adjustments over years make one window), and a range would read every
// movement between them.
func (s *Store) readWindow(ctx context.Context, account string, kinds []events.Kind, days []dayCount, w *movementWindow) error {
	first, last := days[0].date, days[len(days)-1].date
	sel, args := w.row.sel+" AND date >= toDate(?) AND date <= toDate(?)", []any{account, first.String(), last.String()}
	if len(kinds) > 0 {
		dates := make([]any, len(days))
		for i, d := range days {
			dates[i] = d.date.String()
		}
		sel, args = w.row.sel+" AND date IN ?", []any{account, ch.GroupSet{Value: dates}}
	}
	cond, kargs := kindFilter(kinds)
	err := s.query(ctx, fmt.Sprintf("movements of %s from %s to %s", account, first, last),
		func() {
			clear(w.buf) // drop the previous window's strings and decimals
			w.buf = w.buf[:0]
		},
		func(rows chdriver.Rows) error {
			w.buf = append(w.buf, events.Movement{})
			return w.row.scan(rows, &w.buf[len(w.buf)-1])
		}, sel+cond, append(args, kargs...)...)
	if err != nil {
		return err
	}
	w.sorted = w.sorted[:0]
	for i := range w.buf {
		w.sorted = append(w.sorted, &w.buf[i])
	}
	slices.SortFunc(w.sorted, events.Compare)
	return nil
}

// scan reads the current row into m, a zero Movement: the fields r does not
// read stay zero.
func (r *movementRow) scan(rows chdriver.Rows, m *events.Movement) error {
	r.expiration = nil
	if err := rows.Scan(r.dest...); err != nil {
		return err
	}
	m.ID, m.Account, m.Kind = r.id, r.account, events.Kind(r.kind)
	m.Time, m.Seq, m.Part, m.Line = events.WallTime(r.tm.Unix()), int(r.seq), int(r.part), int(r.line)
	m.Broker, m.Offset, m.Currency, m.Ticker = r.strs[0], r.strs[1], r.strs[2], r.strs[3]
	m.CashType, m.Code, m.OptionType = events.CashType(r.strs[4]), events.TradeCode(r.strs[5]), events.OptionType(r.strs[6])
	m.FromCurrency, m.Notes = r.strs[7], r.strs[8]
	if r.expiration != nil {
		m.Expiration = events.DateOf(r.expiration.UTC())
	}
	if r.nraw == 0 {
		return nil
	}
	if err := r.dec.read(r.raw[:r.nraw], r.decDst...); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
	clear(r.raw[:]) // let the driver's block go
	if r.exact != "" {
		if err := restoreExact(r.exact, r.exacts...); err != nil {
			return fmt.Errorf("movement %s: %w", m.ID, err)
		}
	}
	m.Quantity, m.Price, m.Amount, m.Commissions, m.Fees = r.decs[0], r.decs[1], r.decs[2], r.decs[3], r.decs[4]
	m.Strike, m.NewStrike, m.Premium, m.NetPremium = r.decs[5], r.decs[6], r.decs[7], r.decs[8]
	m.Multiplier, m.AmountChanged = r.decs[9], r.decs[10]
	return nil
}

// maxCachedDecimals bounds a decimalReader's cache.
const maxCachedDecimals = 4096

// decimalReader decodes Decimal(38, 10) values from their raw bytes: 16
// bytes each, the two's complement Int128 of the value times 10^10, little
// endian. The decimals it returns have no trailing fractional zeros ("12.5",
// not "12.5000000000"), and zero is the zero Decimal. Values repeat
// (quantities, multipliers, commissions, fees), so those that fit an int64
// are made once and shared: decimals are immutable.
type decimalReader struct {
	cache map[int64]decimal.Decimal
}

// read decodes raw[i] into dst[i].
func (r *decimalReader) read(raw [][]byte, dst ...*decimal.Decimal) error {
	if len(raw) != len(dst) {
		return fmt.Errorf("decimals: %d values, want %d", len(raw), len(dst))
	}
	for i, d := range dst {
		b := raw[i]
		if len(b) != 16 {
			return fmt.Errorf("decimal %d: %d bytes, want 16", i+1, len(b))
		}
		lo, hi := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
		if hi == 0 && lo>>63 == 0 || hi == math.MaxUint64 && lo>>63 == 1 {
			*d = r.small(int64(lo))
		} else {
			*d = bigDecimal(lo, hi)
		}
	}
	return nil
}

// small returns v×10^-scale.
func (r *decimalReader) small(v int64) decimal.Decimal {
	if v == 0 {
		return decimal.Decimal{}
	}
	if d, ok := r.cache[v]; ok {
		return d
	}
	m, exp := v, int32(-scale)
	for exp < 0 && m%10 == 0 {
		m /= 10
		exp++
	}
	d := decimal.New(m, exp)
	if r.cache == nil || len(r.cache) >= maxCachedDecimals {
		r.cache = make(map[int64]decimal.Decimal, 256)
	}
	r.cache[v] = d
	return d
}

// bigDecimal returns the Int128 (hi, lo) ×10^-scale.
func bigDecimal(lo, hi uint64) decimal.Decimal {
	neg := int64(hi) < 0
	if neg { // two's complement: the magnitude is ^x + 1
		lo, hi = ^lo+1, ^hi
		if lo == 0 {
			hi++
		}
	}
	v := new(big.Int).SetUint64(hi)
	v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(lo))
	if neg {
		v.Neg(v)
	}
	exp := int32(-scale)
	ten, q, rem := big.NewInt(10), new(big.Int), new(big.Int)
	for exp < 0 {
		q.QuoRem(v, ten, rem)
		if rem.Sign() != 0 {
			break
		}
		v, q = q, v
		exp++
	}
	return decimal.NewFromBigInt(v, exp)
}
