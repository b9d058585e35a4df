package sqlite

import (
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// checkDecimalText fails unless decimalText(d) and projectionDecimal are
// d.String().
func checkDecimalText(t testing.TB, f *formatter, d decimal.Decimal) {
	t.Helper()
	want := d.String()
	if got := decimalText(d); got != want {
		t.Errorf("decimalText(%s e%d) = %q, want %q", d.Coefficient(), d.Exponent(), got, want)
	}
	if got := projectionDecimal(f, d); got != want {
		t.Errorf("projectionDecimal(%s e%d) = %q, want %q", d.Coefficient(), d.Exponent(), got, want)
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

func TestDecimalText(t *testing.T) {
	f := newFormatter()
	for _, d := range []decimal.Decimal{
		{}, decimal.New(0, -28), decimal.New(0, 3), decimal.New(1, -28), decimal.New(-1, -1),
		decimal.New(10, -1), decimal.New(1_000, -2), decimal.New(-120, -28), decimal.New(5, 2),
		decimal.RequireFromString("2.6912939379629688552669919089"),
		decimal.RequireFromString("-2.6912939379629688552669919089"),
		decimal.RequireFromString("123456789.1234567890123456789000000000"),
		decimal.RequireFromString("0.0000000000000000000000000001"),
		decimal.RequireFromString("-1000000000000000000000.0000000000000000000000000000"),
		wide(1, 0, false, -28), wide(math.MaxUint64, math.MaxUint64, true, -28), wide(0, math.MaxUint64, false, -19),
		wide(5, 1e19, false, -40), wide(1<<62, 0, true, -5), wide(1, 0, false, 0),
		decimal.NewFromBigInt(new(big.Int).Lsh(big.NewInt(3), 130), -28), // three words
		decimal.New(math.MaxInt64, -18), decimal.New(math.MinInt64, -19), decimal.New(math.MinInt64, -30),
	} {
		checkDecimalText(t, f, d)
	}
}
