package exactdec

import (
	"math/bits"

	"github.com/shopspring/decimal"
)

// AppendText appends d.String(), d's exact decimal text, to dst without
// the conversions String makes: from the int64 coefficient when it has at
// most 18 digits, from the two words of a coefficient below 2¹²⁸ with a
// negative exponent (the 28-place quotients of the parsers and the
// projections), and through String otherwise. The event codec and the
// SQLite store write every decimal with it.
func AppendText(dst []byte, d decimal.Decimal) []byte {
	exp := d.Exponent()
	if exp > 18 {
		return append(dst, d.String()...)
	}
	var hi, lo uint64
	neg := false
	if c, _, ok := Small(d); ok {
		neg = c < 0
		lo = uint64(c)
		if neg {
			lo = -lo
		}
	} else {
		if exp >= 0 || bits.UintSize != 64 {
			return append(dst, d.String()...)
		}
		c := d.Coefficient()
		switch w := c.Bits(); len(w) {
		case 1:
			lo = uint64(w[0])
		case 2:
			hi, lo = uint64(w[1]), uint64(w[0])
		default:
			return append(dst, d.String()...)
		}
		neg = c.Sign() < 0
	}
	var buf [40]byte
	digits := uint128Digits(&buf, hi, lo)
	if neg {
		dst = append(dst, '-')
	}
	if exp >= 0 {
		if hi == 0 && lo == 0 {
			return append(dst, '0')
		}
		dst = append(dst, digits...)
		for range exp {
			dst = append(dst, '0')
		}
		return dst
	}
	scale := int(-exp)
	frac, zeros := digits, 0
	if len(digits) > scale {
		dst = append(dst, digits[:len(digits)-scale]...)
		frac = digits[len(digits)-scale:]
	} else {
		dst = append(dst, '0')
		zeros = scale - len(digits)
	}
	i := len(frac)
	for i > 0 && frac[i-1] == '0' {
		i--
	}
	if frac = frac[:i]; len(frac) > 0 {
		dst = append(dst, '.')
		for range zeros {
			dst = append(dst, '0')
		}
		dst = append(dst, frac...)
	}
	return dst
}

// uint128Digits writes the decimal digits of hi·2⁶⁴ + lo into the end of
// buf ("0" for zero) and returns them.
func uint128Digits(buf *[40]byte, hi, lo uint64) []byte {
	i := len(buf)
	for hi != 0 { // 19 digits at a time from the right (2¹²⁸ has 39)
		var r uint64
		hi, r = bits.Div64(0, hi, 1e19)
		lo, r = bits.Div64(r, lo, 1e19)
		for range 19 {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
	for lo != 0 || i == len(buf) {
		i--
		buf[i] = byte('0' + lo%10)
		lo /= 10
	}
	digits := buf[i:]
	for len(digits) > 1 && digits[0] == '0' { // zeros of a 19-digit group
		digits = digits[1:]
	}
	return digits
}
