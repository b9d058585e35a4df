package projections

import (
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// padded is c·10^e written with k more trailing zeros in its coefficient:
// the same value, a coefficient of up to 18+k digits.
func padded(c int64, e int32, k int) decimal.Decimal {
	v := new(big.Int).Mul(big.NewInt(c), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	return decimal.NewFromBigInt(v, e-int32(k))
}

// checkStrikeKeys fails unless a and b have equal strike keys exactly when
// they are equal numbers.
func checkStrikeKeys(t testing.TB, a, b decimal.Decimal) {
	t.Helper()
	if eq, same := a.Equal(b), strikeKey(a) == strikeKey(b); eq != same {
		t.Errorf("strikeKey(%s e%d) = %+v, strikeKey(%s e%d) = %+v; the values equal: %v",
			a.Coefficient(), a.Exponent(), strikeKey(a), b.Coefficient(), b.Exponent(), strikeKey(b), eq)
	}
}

func TestStrikeKey(t *testing.T) {
	values := []decimal.Decimal{
		{}, decimal.New(0, -3), decimal.New(0, 4), decimal.New(55, -1), decimal.New(550, -2), padded(55, -1, 30),
		decimal.New(-55, -1), padded(-55, -1, 25), decimal.New(5, 0), decimal.New(50, -1), decimal.New(5, 20),
		padded(5, 20, 3), padded(1, 20, 1), decimal.New(100, 18), decimal.New(1, 20),
		decimal.RequireFromString("123456789012345678901234567890.5"),
		decimal.RequireFromString("123456789012345678901234567890.50"),
		decimal.RequireFromString("-123456789012345678901234567890.5"),
		decimal.New(999_999_999_999_999_999, 0), padded(999_999_999_999_999_999, 0, 2),
		decimal.New(math.MaxInt64, -3), decimal.New(math.MinInt64, -3), padded(math.MaxInt64, -3, 1),
	}
	for _, a := range values {
		for _, b := range values {
			checkStrikeKeys(t, a, b)
		}
	}
}

func FuzzStrikeKey(f *testing.F) {
	f.Add(int64(55), int32(-1), int64(550), int32(-2), uint8(0), uint8(20))
	f.Add(int64(math.MaxInt64), int32(0), int64(math.MaxInt64), int32(0), uint8(1), uint8(0))
	f.Add(int64(-7), int32(30), int64(-7), int32(31), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, ac int64, ae int32, bc int64, be int32, ak, bk uint8) {
		ae, be = ae%60, be%60
		a, b := padded(ac, ae, int(ak%40)), padded(bc, be, int(bk%40))
		checkStrikeKeys(t, a, b)
		// b as a's value padded differently: equal values must meet.
		checkStrikeKeys(t, a, padded(ac, ae, int(bk%40)))
	})
}
