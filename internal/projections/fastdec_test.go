package projections

import (
	"fmt"
	"math"
	"testing"

	"github.com/shopspring/decimal"
)

// sameDec fails unless got equals want in value, exponent and String().
func sameDec(t testing.TB, what string, got, want decimal.Decimal) {
	t.Helper()
	if got.Cmp(want) != 0 || got.Exponent() != want.Exponent() || got.String() != want.String() {
		t.Errorf("%s = %s (exp %d), want %s (exp %d)", what, got, got.Exponent(), want, want.Exponent())
	}
}

// fastDecOperands covers signs, zeros of several exponents, different
// exponents and coefficients near the int64 limits (both sides of the
// 18-digit fast-path bound).
var fastDecOperands = []decimal.Decimal{
	{},
	decimal.New(0, -2),
	decimal.New(0, 3),
	decimal.New(1, 0),
	decimal.New(-1, 0),
	decimal.New(150, -2),
	decimal.New(-15, -1),
	decimal.New(7, 2),
	decimal.New(-3, 5),
	decimal.New(999_999_999_999_999_999, 0),
	decimal.New(-999_999_999_999_999_999, -4),
	decimal.New(1_000_000_000_000_000_000, -1),
	decimal.New(math.MaxInt64, 0),
	decimal.New(math.MinInt64, -3),
	decimal.New(math.MaxInt64/10, -18),
	decimal.New(4_294_967_296, -9),
	decimal.New(-3_037_000_500, 0),
	decimal.RequireFromString("123456789012345678901234567890.123"),
	decimal.RequireFromString("-0.3333333333333333333333333333"),
	decimal.New(5, 30),
	decimal.New(-2, -30),
}

func TestDecimalFastPath(t *testing.T) {
	for _, a := range fastDecOperands {
		for _, b := range fastDecOperands {
			checkFastPath(t, a, b)
		}
	}
}

// checkFastPath compares every fast-path helper with shopspring on a and b.
func checkFastPath(t testing.TB, a, b decimal.Decimal) {
	t.Helper()
	name := fmt.Sprintf("(%s e%d, %s e%d)", a.Coefficient(), a.Exponent(), b.Coefficient(), b.Exponent())
	sameDec(t, "decAdd"+name, decAdd(a, b), a.Add(b))
	sameDec(t, "decSub"+name, decSub(a, b), a.Sub(b))
	sameDec(t, "decMul"+name, decMul(a, b), a.Mul(b))
	sameDec(t, "decAbs"+name, decAbs(a), a.Abs())
	sameDec(t, "addNZ"+name, addNZ(a, b), addNZWant(a, b))

	// decSum folds like the methods it stands for.
	var s decSum
	s.add(a)
	s.sub(b)
	s.subAbs(b)
	s.add(b)
	want := decimal.Decimal{}.Add(a).Sub(b).Sub(b.Abs()).Add(b)
	sameDec(t, "decSum add/sub/subAbs"+name, s.value(), want)
	if s.isZero() != want.IsZero() {
		t.Errorf("decSum%s isZero = %v", name, s.isZero())
	}
	var nz decSum
	nz.addNZ(a)
	nz.subNZ(b)
	nz.addNZ(b)
	sameDec(t, "decSum addNZ/subNZ"+name, nz.value(), addNZWant(subNZWant(addNZWant(decimal.Decimal{}, a), b), b))
	var st decSum
	st.start(a)
	st.add(b)
	sameDec(t, "decSum start"+name, st.value(), a.Add(b))
}

func addNZWant(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return a.Add(b)
}

func subNZWant(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return a.Sub(b)
}

func TestDecSumEmpty(t *testing.T) {
	var s decSum
	sameDec(t, "empty", s.value(), decimal.Decimal{})
	s.addNZ(decimal.New(0, -5))
	sameDec(t, "addNZ(0e-5)", s.value(), decimal.Decimal{})
	s.add(decimal.New(0, -5))
	sameDec(t, "add(0e-5)", s.value(), decimal.Decimal{}.Add(decimal.New(0, -5)))
}

// TestDecSumLong adds many terms that push the sum out of int64 and back:
// the slow path must keep the exact value and exponent.
func TestDecSumLong(t *testing.T) {
	var s decSum
	want := decimal.Decimal{}
	for i := range 200 {
		x := decimal.New(int64(i)*123_456_789_012_345, -int32(i%7))
		if i%3 == 0 {
			x = x.Neg()
		}
		s.add(x)
		want = want.Add(x)
		if i%50 == 0 {
			y := decimal.New(math.MaxInt64/3, 0)
			s.add(y)
			want = want.Add(y)
		}
	}
	sameDec(t, "sum", s.value(), want)
}

func FuzzDecimalFastPath(f *testing.F) {
	f.Add(int64(150), int32(-2), int64(-15), int32(-1))
	f.Add(int64(math.MaxInt64), int32(0), int64(1), int32(0))
	f.Add(int64(999_999_999_999_999_999), int32(-3), int64(-999_999_999_999_999_999), int32(2))
	f.Add(int64(0), int32(-4), int64(7), int32(3))
	f.Fuzz(func(t *testing.T, ac int64, ae int32, bc int64, be int32) {
		// Keep exponents where shopspring's own Mul does not panic and
		// rescaling stays affordable.
		ae, be = ae%40, be%40
		checkFastPath(t, decimal.New(ac, ae), decimal.New(bc, be))
		checkFastPath(t, decimal.New(ac, ae).Mul(decimal.New(bc, 0)), decimal.New(bc, be))
	})
}

// FuzzDecSum folds terms of up to 57 digits (a coefficient padded with
// zeros, or multiplied up) with every decSum operation, and compares the
// value, exponent and zero test with shopspring's fold at every step.
func FuzzDecSum(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5}, int64(3333333333333333333), int32(-28), int64(-125), int32(-2), uint8(9))
	f.Add([]byte{5, 0, 0, 1}, int64(math.MaxInt64), int32(0), int64(math.MinInt64), int32(-40), uint8(30))
	f.Fuzz(func(t *testing.T, ops []byte, ac int64, ae int32, bc int64, be int32, pad uint8) {
		terms := []decimal.Decimal{
			decimal.New(ac, ae%45), decimal.New(bc, be%45), padded(ac, ae%45, int(pad%20)),
			decimal.New(ac, ae%45).Mul(decimal.New(bc, 0)), decimal.New(0, be%45), {},
		}
		var s decSum
		want := decimal.Decimal{}
		for i, op := range ops {
			if i == 12 {
				break
			}
			x := terms[int(op>>3)%len(terms)]
			switch op % 6 {
			case 0:
				s.add(x)
				want = want.Add(x)
			case 1:
				s.sub(x)
				want = want.Sub(x)
			case 2:
				s.subAbs(x)
				want = want.Sub(x.Abs())
			case 3:
				s.addNZ(x)
				want = addNZWant(want, x)
			case 4:
				s.subNZ(x)
				want = subNZWant(want, x)
			case 5:
				s.start(x)
				want = x
			}
			sameDec(t, fmt.Sprintf("step %d (op %d)", i, op%6), s.value(), want)
			if s.isZero() != want.IsZero() {
				t.Fatalf("step %d: isZero = %v, want %v", i, s.isZero(), want.IsZero())
			}
		}
	})
}

// checkDivRound fails unless decDivRound(a, b, places) is a.DivRound(b,
// places) in value and exponent.
func checkDivRound(t testing.TB, a, b decimal.Decimal, places int32) {
	t.Helper()
	if b.IsZero() {
		return
	}
	sameDec(t, fmt.Sprintf("decDivRound(%s e%d, %s e%d, %d)", a.Coefficient(), a.Exponent(), b.Coefficient(), b.Exponent(), places),
		decDivRound(a, b, places), a.DivRound(b, places))
}

func TestDivRound(t *testing.T) {
	for _, a := range fastDecOperands {
		for _, b := range fastDecOperands {
			for _, p := range []int32{0, 2, 28} {
				checkDivRound(t, a, b, p)
			}
		}
	}
	// Ties round away from zero, both signs.
	for _, c := range [][2]int64{{5, 10}, {-5, 10}, {5, -10}, {15, 10}, {-25, 10}, {1, 3}, {-2, 3}} {
		checkDivRound(t, decimal.New(c[0], -28), decimal.New(c[1], 0), 28)
	}
}

func FuzzDivRound(f *testing.F) {
	f.Add(int64(12345678), int32(-2), int64(3), int32(0), uint8(20), uint8(28))
	f.Add(int64(-5), int32(-28), int64(10), int32(0), uint8(0), uint8(28))
	f.Add(int64(math.MaxInt64), int32(0), int64(-7), int32(-3), uint8(19), uint8(28))
	f.Fuzz(func(t *testing.T, ac int64, ae int32, bc int64, be int32, pad, places uint8) {
		ae, be = ae%40, be%40
		checkDivRound(t, padded(ac, ae, int(pad%25)), decimal.New(bc, be), int32(places%40))
		checkDivRound(t, decimal.New(ac, ae), padded(bc, be, int(pad%25)), int32(places%40))
	})
}
