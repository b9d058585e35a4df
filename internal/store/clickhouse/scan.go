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

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

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
// sides is bounded by a window, not by the history: an ORDER BY over the
// whole account, or FINAL over all of it at once, exceeds a server's
// per-query memory limit for a long history (ClickHouse 18.16 merges every
// part's blocks at once). The movement given to fn is valid until fn
// returns: its memory is reused for the next window.
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
	var w movementWindow
	for i := 0; i < len(days); {
		j, rows := i+1, days[i].rows
		for j < len(days) && rows+days[j].rows <= s.opts.ScanWindowRows {
			rows += days[j].rows
			j++
		}
		if err := s.readWindow(ctx, account, kinds, days[i].date, days[j-1].date, &w); err != nil {
			return fmt.Errorf("scan movements of %s: %w", account, err)
		}
		for _, m := range w.sorted {
			if err := fn(m); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("scan movements of %s: %w", account, err)
			}
		}
		i = j
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
	row    movementRow
}

// movementDecimals are the decimal columns of movements, in the order of
// movementRow.scan's destinations.
var movementDecimals = []string{"quantity", "price", "amount", "commissions", "fees", "strike", "new_strike",
	"premium", "net_premium", "multiplier", "amount_changed"}

// movementSelect reads a row's decimals as their raw bytes (see
// decimalReader), which the driver hands over without a copy: its own
// Decimal decoding makes a big.Int of every value, five allocations each, a
// third of phase 2's time. (Not toString: ClickHouse 18.16 formats a
// Decimal128 about seven times slower than it copies it, and garbles one of
// 22 or more integer digits. Nor one concat of them all: 18.16 types a
// concat of FixedStrings as its first argument's type, which desyncs the
// driver.)
var movementSelect = func() string {
	var b strings.Builder
	b.WriteString(`SELECT id, account, broker, kind, time, utc_offset, seq, part, line, currency, ticker,
	cash_type, code, option_type, expiration, from_currency, notes, exact`)
	for _, c := range movementDecimals {
		// reinterpretAsString drops trailing zero bytes; toFixedString
		// puts them back.
		fmt.Fprintf(&b, ",\n\ttoFixedString(reinterpretAsString(%s), 16)", c)
	}
	b.WriteString("\nFROM movements FINAL WHERE account = ? AND date >= toDate(?) AND date <= toDate(?)")
	return b.String()
}()

// readWindow reads the account's movements of the dates from first to last
// into w, sorted.
func (s *Store) readWindow(ctx context.Context, account string, kinds []events.Kind, first, last events.Date, w *movementWindow) error {
	cond, args := kindFilter(kinds)
	err := s.query(ctx, fmt.Sprintf("movements of %s from %s to %s", account, first, last),
		func() {
			clear(w.buf) // drop the previous window's strings and decimals
			w.buf = w.buf[:0]
		},
		func(rows chdriver.Rows) error {
			w.buf = append(w.buf, events.Movement{})
			return w.row.scan(rows, &w.buf[len(w.buf)-1])
		}, movementSelect+cond, append([]any{account, first.String(), last.String()}, args...)...)
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

// movementRow holds the scan destinations of a movement row that are not
// fields of events.Movement.
type movementRow struct {
	kind, cashType, code, optionType, exact string
	tm                                      time.Time
	expiration                              *time.Time
	seq, part, line                         uint32
	raw                                     [11][]byte // the decimals' bytes, in the driver's block
	dest                                    []any
	dec                                     decimalReader
}

func (r *movementRow) scan(rows chdriver.Rows, m *events.Movement) error {
	if r.dest == nil {
		r.dest = []any{&m.ID, &m.Account, &m.Broker, &r.kind, &r.tm, &m.Offset, &r.seq, &r.part, &r.line,
			&m.Currency, &m.Ticker, &r.cashType, &r.code, &r.optionType, &r.expiration, &m.FromCurrency, &m.Notes, &r.exact}
		for i := range r.raw {
			r.dest = append(r.dest, &r.raw[i])
		}
	} else {
		r.dest[0], r.dest[1], r.dest[2], r.dest[5] = &m.ID, &m.Account, &m.Broker, &m.Offset
		r.dest[9], r.dest[10], r.dest[15], r.dest[16] = &m.Currency, &m.Ticker, &m.FromCurrency, &m.Notes
	}
	r.expiration = nil
	if err := rows.Scan(r.dest...); err != nil {
		return err
	}
	m.Kind, m.CashType, m.Code, m.OptionType = events.Kind(r.kind), events.CashType(r.cashType), events.TradeCode(r.code), events.OptionType(r.optionType)
	m.Time, m.Seq, m.Part, m.Line = events.WallTime(r.tm.Unix()), int(r.seq), int(r.part), int(r.line)
	if r.expiration != nil {
		m.Expiration = events.DateOf(r.expiration.UTC())
	}
	if err := r.dec.read(r.raw[:], &m.Quantity, &m.Price, &m.Amount, &m.Commissions, &m.Fees, &m.Strike,
		&m.NewStrike, &m.Premium, &m.NetPremium, &m.Multiplier, &m.AmountChanged); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
	clear(r.raw[:]) // let the driver's block go
	if r.exact == "" {
		return nil
	}
	if err := restoreExact(r.exact,
		field{"quantity", &m.Quantity}, field{"price", &m.Price}, field{"amount", &m.Amount},
		field{"commissions", &m.Commissions}, field{"fees", &m.Fees}, field{"strike", &m.Strike},
		field{"new_strike", &m.NewStrike}, field{"premium", &m.Premium}, field{"net_premium", &m.NetPremium},
		field{"multiplier", &m.Multiplier}, field{"amount_changed", &m.AmountChanged}); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
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
