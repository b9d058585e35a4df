package exactdec

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

func TestSmall(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
		c  int64
		e  int32
	}{
		{"0", true, 0, 0},
		{"0.00", true, 0, -2},
		{"-12.50", true, -1250, -2},
		{"999999999999999999", true, 999999999999999999, 0},
		{"-0.999999999999999999", true, -999999999999999999, -18},
		{"1000000000000000000", false, 0, 0},
		{"2.5000000000000000000000000000", false, 0, 0},
	} {
		d := decimal.RequireFromString(tc.in)
		c, e, ok := Small(d)
		if ok != tc.ok || (ok && (c != tc.c || e != tc.e)) {
			t.Errorf("Small(%s) = %d, %d, %v; want %d, %d, %v", tc.in, c, e, ok, tc.c, tc.e, tc.ok)
		}
		if ok && !decimal.New(c, e).Equal(d) {
			t.Errorf("Small(%s): %d·10^%d is not the value", tc.in, c, e)
		}
	}
}

// smallByDigits is Small as the digit count defines it.
func smallByDigits(d decimal.Decimal) (int64, int32, bool) {
	if d.IsZero() {
		return 0, d.Exponent(), true
	}
	if d.NumDigits() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

// checkSmall fails unless Small(d) is smallByDigits(d).
func checkSmall(t testing.TB, d decimal.Decimal) {
	t.Helper()
	c, e, ok := Small(d)
	wc, we, wok := smallByDigits(d)
	if c != wc || e != we || ok != wok {
		t.Errorf("Small(%s e%d) = %d, %d, %v; by digits: %d, %d, %v", d.Coefficient(), d.Exponent(), c, e, ok, wc, we, wok)
	}
}

// Small's bounds agree with the digit count at the edges of 18 digits, in
// and out of the exponents the bounds cover.
func TestSmallBounds(t *testing.T) {
	for _, e := range []int32{smallMinExp - 1, smallMinExp, -28, 0, smallMaxExp, smallMaxExp + 1} {
		for _, c := range []int64{0, 1, -1, 999_999_999_999_999_999, -999_999_999_999_999_999, 1e18, -1e18, math.MaxInt64, math.MinInt64} {
			checkSmall(t, decimal.New(c, e))
			checkSmall(t, decimal.New(c, e).Mul(decimal.New(10, 0)))
		}
	}
}

func FuzzSmall(f *testing.F) {
	f.Add(int64(999_999_999_999_999_999), int32(-28), int64(1))
	f.Add(int64(math.MinInt64), int32(0), int64(-1))
	f.Add(int64(1e18), int32(-70), int64(0))
	f.Fuzz(func(t *testing.T, c int64, e int32, m int64) {
		e %= 80
		checkSmall(t, decimal.New(c, e))
		checkSmall(t, decimal.New(c, e).Mul(decimal.New(m, 0))) // up to 37 digits
	})
}

// ScaleUp agrees with big-integer arithmetic wherever it answers, and
// answers whenever the product fits.
func TestScaleUp(t *testing.T) {
	for _, c := range []int64{0, 1, -1, 7, -7, 123456789, -123456789, math.MaxInt64 / 10, math.MinInt64 / 10, math.MaxInt64, math.MinInt64 + 1} {
		for k := int64(-1); k <= 20; k++ {
			got, ok := ScaleUp(c, k)
			if k < 0 {
				if ok {
					t.Errorf("ScaleUp(%d, %d) = %d, true; want false", c, k, got)
				}
				continue
			}
			want := new(big.Int).Mul(big.NewInt(c), new(big.Int).Exp(big.NewInt(10), big.NewInt(k), nil))
			fits := want.IsInt64()
			if ok != fits || (ok && got != want.Int64()) {
				t.Errorf("ScaleUp(%d, %d) = %d, %v; want %s (fits %v)", c, k, got, ok, want, fits)
			}
		}
	}
}

// Quotient gives DivRound's value and String wherever it answers, and
// answers for the exact quotients the parsers meet (a premium over a few
// contracts).
func TestQuotient(t *testing.T) {
	xs := []string{"0", "1", "-1", "175.52", "-175.52", "2.5", "100", "0.03", "1.2345678", "999999999999999999", "-0.000001", "12345678901234567890"}
	qs := []string{"1", "2", "3", "4", "7", "10", "100", "999999999", "1000000000", "2.0", "0.5", "-2"}
	answered := 0
	for _, xs := range xs {
		for _, qs := range qs {
			x, q := decimal.RequireFromString(xs), decimal.RequireFromString(qs)
			c, e, ok := Quotient(x, q, 28)
			if !ok {
				continue
			}
			answered++
			got, want := decimal.New(c, e), x.DivRound(q, 28)
			if !got.Equal(want) {
				t.Errorf("Quotient(%s, %s) = %s, DivRound gives %s", xs, qs, got, want)
			}
			if q.Equal(decimal.NewFromInt(1)) && got.String() != x.String() {
				t.Errorf("Quotient(%s, 1) = %s, want x itself", xs, got)
			}
		}
	}
	for _, tc := range [][2]string{{"175.52", "4"}, {"2.5", "2"}, {"-0.03", "3"}} {
		if _, _, ok := Quotient(decimal.RequireFromString(tc[0]), decimal.RequireFromString(tc[1]), 28); !ok {
			t.Errorf("Quotient(%s, %s) not answered", tc[0], tc[1])
		}
	}
	if answered == 0 {
		t.Fatal("test bug: no quotient answered")
	}
	for _, tc := range [][2]string{{"1", "3"}, {"1", "2.0"}, {"1", "-2"}, {"12345678901234567890", "2"}} {
		if _, _, ok := Quotient(decimal.RequireFromString(tc[0]), decimal.RequireFromString(tc[1]), 28); ok {
			t.Errorf("Quotient(%s, %s) answered; want the DivRound fallback", tc[0], tc[1])
		}
	}
}

// TestStringLen: the length StringLen computes from a coefficient's digits
// and trailing zeros is the length of decimal.String, for coefficients with
// and without trailing zeros, both signs, and exponents either side of the
// digit count.
func TestStringLen(t *testing.T) {
	for _, c := range []int64{1, 7, 10, 25, 100, 1234, 120000, 999999999999999999, 100000000000000000, 304050} {
		for e := int32(-25); e <= 4; e++ {
			for _, neg := range []bool{false, true} {
				v := c
				if neg {
					v = -c
				}
				digits, tz := len(fmt.Sprint(c)), 0
				for u := c; u%10 == 0; u /= 10 {
					tz++
				}
				want := len(decimal.New(v, e).String())
				if got := StringLen(neg, digits, tz, e); got != want {
					t.Errorf("StringLen(%v, %d, %d, %d) = %d, want len(%q) = %d", neg, digits, tz, e, got, decimal.New(v, e).String(), want)
				}
			}
		}
	}
}
