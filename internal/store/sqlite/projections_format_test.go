package sqlite

import (
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// TestDecimalText: projectionDecimal and the formatter write d.String() on
// each of their paths (a quotient of 28 places, a short amount from the
// cache, twice, and a coefficient of more than 18 digits). The text itself
// is exactdec.AppendText's, tested there.
func TestDecimalText(t *testing.T) {
	f := newFormatter()
	for _, d := range []decimal.Decimal{
		{}, decimal.New(0, -28), decimal.New(1, -28), decimal.New(-120, -28),
		decimal.RequireFromString("2.6912939379629688552669919089"),
		decimal.RequireFromString("-1000000000000000000000.0000000000000000000000000000"),
		decimal.New(-1, -1), decimal.New(10, -1), decimal.New(1_000, -2), decimal.New(5, 2), decimal.New(5, 2),
		decimal.New(math.MaxInt64, -18), decimal.New(math.MinInt64, -2),
		decimal.NewFromBigInt(new(big.Int).Lsh(big.NewInt(3), 130), -4), // three words
	} {
		want := d.String()
		if got := projectionDecimal(f, d); got != want {
			t.Errorf("projectionDecimal(%s e%d) = %q, want %q", d.Coefficient(), d.Exponent(), got, want)
		}
		if got := f.decimal(d); got != want {
			t.Errorf("formatter.decimal(%s e%d) = %q, want %q", d.Coefficient(), d.Exponent(), got, want)
		}
	}
}
