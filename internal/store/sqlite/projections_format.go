package sqlite

import (
	"math/bits"
	"strings"

	"github.com/shopspring/decimal"
)

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

// decimalText is d.String() for any d, with a fast path for a negative
// exponent and a coefficient below 2¹²⁸: one copy of the coefficient and
// the string, where String rescales, converts and concatenates.
func decimalText(d decimal.Decimal) string {
	e := d.Exponent()
	if e >= 0 || bits.UintSize != 64 {
		return d.String()
	}
	c := d.Coefficient()
	var hi, lo uint64
	switch w := c.Bits(); len(w) {
	case 0:
		return "0"
	case 1:
		lo = uint64(w[0])
	case 2:
		hi, lo = uint64(w[1]), uint64(w[0])
	default:
		return d.String()
	}
	// The digits of hi·2⁶⁴ + lo, 19 at a time from the right (2¹²⁸ has 39).
	var buf [40]byte
	i := len(buf)
	for hi != 0 {
		var r uint64
		hi, r = bits.Div64(0, hi, 1e19)
		lo, r = bits.Div64(r, lo, 1e19)
		for range 19 {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
	for lo != 0 {
		i--
		buf[i] = byte('0' + lo%10)
		lo /= 10
	}
	digits := buf[i:]
	for len(digits) > 1 && digits[0] == '0' { // zeros of a 19-digit group
		digits = digits[1:]
	}
	scale := -int(e)
	var intPart, frac []byte
	if len(digits) > scale {
		intPart, frac = digits[:len(digits)-scale], digits[len(digits)-scale:]
	} else {
		frac = digits // after scale-len(digits) zeros
	}
	lead := scale - len(digits) // zeros between the point and frac, when > 0
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	var b strings.Builder
	b.Grow(len(digits) + max(lead, 0) + 3)
	if c.Sign() < 0 {
		b.WriteByte('-')
	}
	if len(intPart) == 0 {
		b.WriteByte('0')
	} else {
		b.Write(intPart)
	}
	if len(frac) > 0 {
		b.WriteByte('.')
		for range lead {
			b.WriteByte('0')
		}
		b.Write(frac)
	}
	return b.String()
}
