package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"
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
