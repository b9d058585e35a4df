// Package exactdec holds the int64 fast paths that the parsers, the
// projections, the event codec and the stores share for shopspring/decimal values: reading a decimal's
// coefficient and exponent when the coefficient is small, and scaling a
// coefficient by a power of ten without overflow. Callers build exact
// results from them that equal shopspring's own (value and exponent) and
// fall back to shopspring when a step reports false.
package exactdec

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Small returns d's coefficient and exponent when the coefficient has at
// most 18 digits (|c| < 10¹⁸, so it fits an int64 with room for a sign
// change and a sum of two).
func Small(d decimal.Decimal) (c int64, e int32, ok bool) {
	e = d.Exponent()
	sign := d.Sign()
	switch {
	case sign == 0:
		return 0, e, true
	case e < smallMinExp || e > smallMaxExp:
		if d.NumDigits() > 18 {
			return 0, 0, false
		}
	case sign < 0 && d.Cmp(smallBounds[e-smallMinExp][0]) < 0,
		sign > 0 && d.Cmp(smallBounds[e-smallMinExp][1]) > 0:
		return 0, 0, false
	}
	return d.CoefficientInt64(), e, true
}

// smallBounds[e-smallMinExp] are ±(10¹⁸−1)·10^e: a decimal of exponent e
// has a coefficient of at most 18 digits exactly when it lies between
// them, which one Cmp tells without an allocation (equal exponents compare
// the coefficients), in about 60 % of NumDigits' time.
var smallBounds = func() (b [smallMaxExp - smallMinExp + 1][2]decimal.Decimal) {
	for i := range b {
		e := int32(i) + smallMinExp
		b[i] = [2]decimal.Decimal{decimal.New(-999_999_999_999_999_999, e), decimal.New(999_999_999_999_999_999, e)}
	}
	return b
}()

// The exponents smallBounds covers; Small counts digits outside them.
const smallMinExp, smallMaxExp = -64, 32

// pow10 are the powers of ten that fit an int64.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// ScaleUp returns c·10^k for k ≥ 0, or false when k is negative or the
// product overflows an int64.
func ScaleUp(c int64, k int64) (int64, bool) {
	if k == 0 || (c == 0 && k > 0) {
		return c, true
	}
	if k < 0 || k >= int64(len(pow10)) {
		return 0, false
	}
	u := uint64(c)
	if c < 0 {
		u = -u
	}
	hi, lo := bits.Mul64(u, uint64(pow10[k]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if c < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

// Quotient returns x / q as c·10^e when it is exact within places decimal
// places and an int64 computes it: q a positive whole number of at most 9
// digits, x a coefficient of at most 18 digits, the quotient found within 6
// more digits than x has. It is the value x.DivRound(q, places) gives, with
// the shortest exponent that holds it; ok is false otherwise, and the caller
// divides with DivRound.
func Quotient(x, q decimal.Decimal, places int32) (c int64, e int32, ok bool) {
	if q.Exponent() != 0 || q.Sign() <= 0 || q.NumDigits() > 9 || x.NumDigits() > 18 {
		return 0, 0, false
	}
	return QuotientSmall(x.CoefficientInt64(), x.Exponent(), q.CoefficientInt64(), 0, places)
}

// QuotientSmall is [Quotient] of xc·10^xe by qc·10^qe, for a coefficient xc
// of at most 18 digits: ok is false unless qe is 0 and 0 < qc < 10⁹.
func QuotientSmall(xc int64, xe int32, qc int64, qe int32, places int32) (c int64, e int32, ok bool) {
	if qe != 0 || qc <= 0 || qc >= 1e9 {
		return 0, 0, false
	}
	c, e = xc, xe
	if qc == 1 {
		return c, e, true // x itself, even beyond places
	}
	for k := int32(0); k <= 6 && e-k >= -places; k++ {
		if c%qc == 0 {
			return c / qc, e - k, true
		}
		if c > math.MaxInt64/10 || c < math.MinInt64/10 {
			break
		}
		c *= 10
	}
	return 0, 0, false
}

// StringLen is the length of the default string form (decimal.String:
// trailing fractional zeros trimmed, no exponent) of a non-zero decimal,
// negative when neg, whose coefficient has digits digits, tz of them
// trailing zeros, and whose exponent is exp.
func StringLen(neg bool, digits, tz int, exp int32) int {
	sign := 0
	if neg {
		sign = 1
	}
	if exp >= 0 {
		return sign + digits + int(exp)
	}
	scale := -int(exp)
	tz = min(tz, scale) // only fractional zeros are trimmed
	frac := scale - tz
	if digits > scale {
		n := sign + digits - scale
		if frac > 0 {
			n += 1 + frac
		}
		return n
	}
	// 0.000ddd: leading zeros, then the digits without their trailing zeros.
	return sign + 2 + (scale - digits) + (digits - tz)
}
