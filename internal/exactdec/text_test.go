package exactdec

import (
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// checkText fails unless AppendText(d) is d.String(), appended.
func checkText(t testing.TB, d decimal.Decimal) {
	t.Helper()
	if got, want := string(AppendText([]byte("x"), d)), "x"+d.String(); got != want {
		t.Errorf("AppendText(%s e%d) = %q, want %q", d.Coefficient(), d.Exponent(), got, want)
	}
}

// wide is hi·2⁶⁴ + lo (negated when neg) times 10^e: coefficients of one,
// two and three words.
func wide(hi, lo uint64, neg bool, e int32) decimal.Decimal {
	c := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
	c.Or(c, new(big.Int).SetUint64(lo))
	if neg {
		c.Neg(c)
	}
	return decimal.NewFromBigInt(c, e)
}

func TestAppendText(t *testing.T) {
	for _, d := range []decimal.Decimal{
		{}, decimal.New(0, -28), decimal.New(0, 3), decimal.New(1, -28), decimal.New(-1, -1),
		decimal.New(10, -1), decimal.New(1_000, -2), decimal.New(-120, -28), decimal.New(5, 2),
		decimal.New(7, 18), decimal.New(7, 19), decimal.New(-3, 25),
		decimal.RequireFromString("2.6912939379629688552669919089"),
		decimal.RequireFromString("-2.6912939379629688552669919089"),
		decimal.RequireFromString("123456789.1234567890123456789000000000"),
		decimal.RequireFromString("0.0000000000000000000000000001"),
		decimal.RequireFromString("-1000000000000000000000.0000000000000000000000000000"),
		decimal.RequireFromString("0.3333333333333333333333333333"),
		wide(1, 0, false, -28), wide(math.MaxUint64, math.MaxUint64, true, -28), wide(0, math.MaxUint64, false, -19),
		wide(5, 1e19, false, -40), wide(1<<62, 0, true, -5), wide(1, 0, false, 0), wide(1, 0, false, 3),
		decimal.NewFromBigInt(new(big.Int).Lsh(big.NewInt(3), 130), -28), // three words
		decimal.New(math.MaxInt64, -18), decimal.New(math.MinInt64, -19), decimal.New(math.MinInt64, -30),
		decimal.New(999_999_999_999_999_999, -18), decimal.New(-999_999_999_999_999_999, 4),
	} {
		checkText(t, d)
	}
}

func FuzzAppendText(f *testing.F) {
	f.Add(uint64(0), uint64(26912939379629688), false, int32(-28))
	f.Add(uint64(1), uint64(0), true, int32(-19))
	f.Add(uint64(math.MaxUint64), uint64(math.MaxUint64), false, int32(-45))
	f.Add(uint64(0), uint64(100), true, int32(3))
	f.Add(uint64(0), uint64(7), false, int32(20))
	f.Fuzz(func(t *testing.T, hi, lo uint64, neg bool, e int32) {
		checkText(t, wide(hi, lo, neg, e%64))
	})
}
