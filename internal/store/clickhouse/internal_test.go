package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
)

func TestExactWriter(t *testing.T) {
	tests := []struct {
		in, col, exact string // exact: the JSON value recorded, "" if none
		err            bool
	}{
		{in: "0", col: "0"},
		{in: "878.79", col: "878.79"},
		{in: "-0.0000000001", col: "-0.0000000001"},
		{in: "8.7760000000000000000000000000", col: "8.776"}, // trailing zeros: exact
		{in: "16.5454545454545454545454545455", col: "16.5454545455", exact: "16.5454545454545454545454545455"},
		{in: "-3.3333333333333333333333333333", col: "-3.3333333333", exact: "-3.3333333333333333333333333333"},
		{in: "0.00000000005", col: "0.0000000001", exact: "0.00000000005"}, // half away from zero
		{in: "-0.00000000005", col: "-0.0000000001", exact: "-0.00000000005"},
		{in: "-0.00000000004999", col: "0", exact: "-0.00000000004999"},
		{in: "123456789012345678901234.5678901234567890123456789", col: "123456789012345678901234.5678901235",
			exact: "123456789012345678901234.5678901234567890123456789"},
		{in: "9999999999999999999999999999.9999999999", col: "9999999999999999999999999999.9999999999"},
		{in: "9999999999999999999999999999.99999999995", err: true}, // rounds to 10^28
		{in: "1e28", err: true},
		{in: "-1e28", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var w exactWriter
			col := w.put("f", decimal.RequireFromString(tt.in))
			if tt.err {
				if !errors.Is(w.err, ErrOutOfRange) {
					t.Fatalf("err %v, want ErrOutOfRange", w.err)
				}
				return
			}
			if w.err != nil {
				t.Fatal(w.err)
			}
			if col.String() != tt.col {
				t.Errorf("column value %s, want %s", col, tt.col)
			}
			wantExact := ""
			if tt.exact != "" {
				wantExact = `{"f":"` + tt.exact + `"}`
			}
			if got := w.exact(); got != wantExact {
				t.Errorf("exact column %q, want %q", got, wantExact)
			}
			r, err := parseExact(w.exact())
			if err != nil {
				t.Fatal(err)
			}
			back, err := r.get("f", col)
			if err != nil {
				t.Fatal(err)
			}
			if in := decimal.RequireFromString(tt.in); !back.Equal(in) || back.String() != in.String() {
				t.Errorf("read back %s, want %s", back, in)
			}
		})
	}
}

func TestExactWriterSeveralFields(t *testing.T) {
	var w exactWriter
	w.put("a", decimal.RequireFromString("1.00000000001"))
	w.put("b", decimal.RequireFromString("2"))
	w.put("c", decimal.RequireFromString("-3.00000000001"))
	want := `{"a":"1.00000000001","c":"-3.00000000001"}`
	if got := w.exact(); got != want {
		t.Errorf("exact column %s, want %s", got, want)
	}
	w.reset()
	if got := w.exact(); got != "" {
		t.Errorf("after reset: %q, want empty", got)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"cancelled", context.Canceled, false},
		{"attempt deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"eof", io.EOF, true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"pool", ch.ErrAcquireConnTimeout, true},
		{"too many parts", &ch.Exception{Code: 252, Message: "Too many parts"}, true},
		{"memory", &ch.Exception{Code: 241, Message: "Memory limit exceeded"}, true},
		{"syntax", &ch.Exception{Code: 62, Message: "Syntax error"}, false},
		{"unknown table", fmt.Errorf("insert: %w", &ch.Exception{Code: 60}), false},
		{"out of range", fmt.Errorf("movement x: %w", ErrOutOfRange), false},
		{"other", errors.New("something else"), false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func testStore(attempts int) *Store {
	o := Options{MaxAttempts: attempts, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, CallTimeout: time.Second}
	o.setDefaults()
	return &Store{opts: o}
}

func TestDoRetries(t *testing.T) {
	transient := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		attempts  int   // MaxAttempts
		failures  int   // the call fails this many times first
		err       error // with this error
		wantCalls int
		wantErr   bool
	}{
		{"first try", 5, 0, transient, 1, false},
		{"transient then ok", 5, 3, transient, 4, false},
		{"transient every time", 3, 10, transient, 3, true},
		{"permanent", 5, 10, &ch.Exception{Code: 62}, 1, true},
		{"no retries", 1, 10, transient, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testStore(tt.attempts)
			calls := 0
			err := s.do(t.Context(), "op", func(ctx context.Context) error {
				calls++
				if _, ok := ctx.Deadline(); !ok {
					t.Error("call without a deadline")
				}
				if calls <= tt.failures {
					return tt.err
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, tt.err) {
				t.Errorf("err %v does not wrap %v", err, tt.err)
			}
		})
	}
}

func TestDoStopsOnCancel(t *testing.T) {
	s := testStore(100)
	s.opts.Backoff, s.opts.MaxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	done := make(chan error, 1)
	go func() {
		done <- s.do(ctx, "op", func(context.Context) error {
			calls++
			cancel() // cancelled while the call fails: no retry, no hour-long wait
			return io.EOF
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err %v after %d calls, want context.Canceled after 1", err, calls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("do kept waiting after its context was cancelled")
	}
}

func TestNextVersion(t *testing.T) {
	s := testStore(1)
	at := time.Date(2025, 8, 25, 10, 0, 0, 0, time.UTC)
	v1 := s.nextVersion(at)
	v2 := s.nextVersion(at)                 // frozen clock
	v3 := s.nextVersion(at.Add(-time.Hour)) // clock went back
	v4 := s.nextVersion(time.Time{})        // no clock
	v5 := s.nextVersion(at.Add(time.Hour))
	if v1 != uint64(at.UnixNano()) || v2 != v1+1 || v3 != v2+1 || v4 != v3+1 || v5 != uint64(at.Add(time.Hour).UnixNano()) {
		t.Errorf("versions %d %d %d %d %d: want at, +1, +1, +1, at+1h", v1, v2, v3, v4, v5)
	}
}

// rawDecimal is d×10^10 as 16 bytes, its Int128 in little endian (what
// reinterpretAsString of a Decimal(38, 10) gives, padded).
func rawDecimal(t *testing.T, d decimal.Decimal) []byte {
	t.Helper()
	v := d.Shift(scale).BigInt()
	if !decimal.NewFromBigInt(v, -scale).Equal(d) {
		t.Fatalf("%s has more than %d fractional digits", d, scale)
	}
	if v.Sign() < 0 { // two's complement
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	be := v.FillBytes(make([]byte, 16))
	slices.Reverse(be)
	return be
}

func TestDecimalReader(t *testing.T) {
	values := []string{"0", "1", "-1", "12.5", "-12.5", "0.0000000001", "-0.0000000001", "100", "1000000",
		"922337203.6854775807", "-922337203.6854775808", // the int64 range
		"922337203.6854775808", "-922337203.6854775809", // just out of it
		"123456789012345678901234567.1", "9999999999999999999999999999.9999999999",
		"-9999999999999999999999999999.9999999999", "-170141183460469231731.6873037158", "1000000000000000000"}
	var r decimalReader
	for range 2 { // the second time from the cache
		for _, s := range values {
			want := decimal.RequireFromString(s)
			var got decimal.Decimal
			if err := r.read([][]byte{rawDecimal(t, want)}, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || got.String() != want.String() {
				t.Errorf("read(%s) = %s", s, got)
			}
			if got.IsZero() && got != (decimal.Decimal{}) {
				t.Errorf("read(%s) = %#v, want the zero Decimal", s, got)
			}
			if s != "0" && got.Exponent() < 0 && new(big.Int).Rem(got.Coefficient(), big.NewInt(10)).Sign() == 0 {
				t.Errorf("read(%s) = %s with exponent %d: trailing zeros kept", s, got, got.Exponent())
			}
		}
	}
	var a, b decimal.Decimal
	raw := [][]byte{rawDecimal(t, decimal.NewFromInt(3)), rawDecimal(t, decimal.RequireFromString("-0.5"))}
	if err := r.read(raw, &a, &b); err != nil || a.String() != "3" || b.String() != "-0.5" {
		t.Errorf("read of two values = %s %s, %v; want 3 -0.5", a, b, err)
	}
	if err := r.read(raw[:1], &a, &b); err == nil {
		t.Error("read of 1 value into 2: no error")
	}
	if err := r.read([][]byte{raw[0], raw[1][:15]}, &a, &b); err == nil {
		t.Error("read of a 15-byte value: no error")
	}
}

// selected returns the columns a movementRow's query selects.
func selected(t *testing.T, r *movementRow) []string {
	t.Helper()
	list, _, ok := strings.Cut(strings.TrimPrefix(r.sel, "SELECT "), " FROM ")
	if !ok {
		t.Fatalf("no FROM in %q", r.sel)
	}
	cols := strings.Split(strings.ReplaceAll(list, "), 16)", "))"), ", ")
	for i, c := range cols {
		if inner, ok := strings.CutPrefix(c, "toFixedString(reinterpretAsString("); ok {
			cols[i], _, _ = strings.Cut(inner, ")")
		}
	}
	if len(cols) != len(r.dest) {
		t.Fatalf("%d columns selected, %d destinations: %q", len(cols), len(r.dest), r.sel)
	}
	return cols
}

func TestMovementRowColumns(t *testing.T) {
	// Each field on its own selects its one column beyond the identity and
	// order columns (and the exact column for a decimal); every field of
	// events.Fields has one, and all fields select every movement column
	// but the account (the query's) and the write's bookkeeping.
	base := []string{"id", "time", "seq", "part", "kind"}
	decimals := map[string]bool{}
	for _, c := range decimalColumns {
		decimals[c.name] = true
	}
	seen := map[string]events.Fields{}
	for f := events.FieldBroker; f&events.AllFields != 0; f <<= 1 {
		cols := selected(t, newMovementRow("a", projections.Query{Fields: f}))
		var extra []string
		for _, c := range cols {
			if !slices.Contains(base, c) {
				extra = append(extra, c)
			}
		}
		if len(extra) > 0 && decimals[extra[0]] {
			if len(extra) != 2 || extra[1] != "exact" {
				t.Errorf("fields %b select %q beyond %q, want a decimal and exact", f, extra, base)
			}
			extra = extra[:1]
		}
		if len(extra) != 1 {
			t.Errorf("fields %b select %q beyond %q, want one column", f, extra, base)
			continue
		}
		if g, ok := seen[extra[0]]; ok {
			t.Errorf("fields %b and %b both select %s", g, f, extra[0])
		}
		seen[extra[0]] = f
	}
	want := []string{"broker", "utc_offset", "line", "currency", "ticker", "cash_type", "code", "quantity",
		"price", "amount", "commissions", "fees", "option_type", "strike", "new_strike", "expiration",
		"premium", "net_premium", "multiplier", "from_currency", "amount_changed", "notes"}
	for _, c := range want {
		if _, ok := seen[c]; !ok {
			t.Errorf("no field selects %s", c)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("the fields select %d columns, want %d", len(seen), len(want))
	}
	for _, f := range []events.Fields{0, events.AllFields} {
		cols := selected(t, newMovementRow("a", projections.Query{Fields: f}))
		all := append(append(slices.Clone(base), want...), "exact")
		slices.Sort(cols)
		slices.Sort(all)
		if !slices.Equal(cols, all) {
			t.Errorf("fields %b select %q, want %q", f, cols, all)
		}
	}
	// One kind asked for: the kind column is not read, and every row gets
	// that kind.
	r := newMovementRow("a", projections.Query{Kinds: []events.Kind{events.KindOption}, Fields: events.FieldTicker})
	if cols := selected(t, r); slices.Contains(cols, "kind") || r.kind != string(events.KindOption) {
		t.Errorf("one kind: select %q, kind %q; want no kind column and kind %q", cols, r.kind, events.KindOption)
	}
}
