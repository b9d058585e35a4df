package sqlite

import "github.com/shopspring/decimal"

// projectionDecimal returns d's exact text, d.String(), as an argument of
// a projections INSERT. The quotients of the projections (cost bases,
// percentages: 28 decimal places, a coefficient of about 30 digits) take
// decimalText; the rest, short amounts that repeat, the formatter's cache.
func projectionDecimal(f *formatter, d decimal.Decimal) any {
	if d.Exponent() < -18 {
		return decimalText(d)
	}
	return f.decimal(d)
}
