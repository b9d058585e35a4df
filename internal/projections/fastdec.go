package projections

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
)

// Exact decimal arithmetic with an int64 fast path. Every helper here gives
// the decimal the shopspring method it stands for gives, equal in value AND
// in exponent (WriteJSON prints String(), round28 looks at the exponent):
// Add and Sub give the smaller exponent of their operands, Mul the sum of
// the exponents. When a coefficient does not fit, or the result would
// overflow, the helpers fall back to the method itself.

// align brings two coefficients to the smaller exponent e.
func align(ac int64, ae int32, bc int64, be int32) (x, y int64, e int32, ok bool) {
	e = min(ae, be)
	x, okx := exactdec.ScaleUp(ac, int64(ae)-int64(e))
	y, oky := exactdec.ScaleUp(bc, int64(be)-int64(e))
	return x, y, e, okx && oky
}

// add64 is x + y, or false on overflow.
func add64(x, y int64) (int64, bool) {
	r := x + y
	return r, (x^r)&(y^r) >= 0
}

// sub64 is x − y, or false on overflow.
func sub64(x, y int64) (int64, bool) {
	r := x - y
	return r, (x^y)&(x^r) >= 0
}

// newDec is decimal.New(c, e), without an allocation for a zero of exponent
// 0 (the zero decimal.Decimal{} is such a value).
func newDec(c int64, e int32) decimal.Decimal {
	if c == 0 && e == 0 {
		return decimal.Decimal{}
	}
	return decimal.New(c, e)
}

// decAdd is a.Add(b). An operand that is zero with an exponent not below
// the other's leaves the other unchanged, shared (decimals are immutable).
func decAdd(a, b decimal.Decimal) decimal.Decimal {
	ac, ae, ok1 := exactdec.Small(a)
	bc, be, ok2 := exactdec.Small(b)
	if ok1 && ok2 {
		switch {
		case bc == 0 && be >= ae:
			return a
		case ac == 0 && ae >= be:
			return b
		}
		if x, y, e, ok := align(ac, ae, bc, be); ok {
			if r, ok := add64(x, y); ok {
				return newDec(r, e)
			}
		}
	}
	return a.Add(b)
}

// decSub is a.Sub(b).
func decSub(a, b decimal.Decimal) decimal.Decimal {
	ac, ae, ok1 := exactdec.Small(a)
	bc, be, ok2 := exactdec.Small(b)
	if ok1 && ok2 {
		if bc == 0 && be >= ae {
			return a
		}
		if x, y, e, ok := align(ac, ae, bc, be); ok {
			if r, ok := sub64(x, y); ok {
				return newDec(r, e)
			}
		}
	}
	return a.Sub(b)
}

// decMul is a.Mul(b).
func decMul(a, b decimal.Decimal) decimal.Decimal {
	ac, ae, ok1 := exactdec.Small(a)
	bc, be, ok2 := exactdec.Small(b)
	e := int64(ae) + int64(be)
	if ok1 && ok2 && e >= math.MinInt32 && e <= math.MaxInt32 {
		ua, ub := uint64(ac), uint64(bc)
		if ac < 0 {
			ua = -ua
		}
		if bc < 0 {
			ub = -ub
		}
		if hi, lo := bits.Mul64(ua, ub); hi == 0 && lo <= math.MaxInt64 {
			r := int64(lo)
			if (ac < 0) != (bc < 0) {
				r = -r
			}
			return newDec(r, int32(e))
		}
	}
	return a.Mul(b)
}

// decSum is an exact running sum: the decimal that folding Add (add, sub,
// subAbs) or addNZ/subNZ (addNZ, subNZ) over its terms gives, starting
// from decimal.Decimal{} or from [decSum.start]'s value, kept as an int64
// coefficient while it fits so that the terms allocate nothing. Its zero
// value is the sum of no terms: decimal.Decimal{}.
type decSum struct {
	c   int64
	e   int32
	set bool // a term (or a start) was taken: the value is New(c, e)
	// slow: the sum left int64; big holds it.
	slow bool
	big  decimal.Decimal
}

// start makes d the sum's value.
func (s *decSum) start(d decimal.Decimal) {
	*s = decSum{}
	if c, e, ok := exactdec.Small(d); ok {
		s.c, s.e, s.set = c, e, true
		return
	}
	s.slow, s.big = true, d
}

// term adds x (neg: subtracts it; abs: its absolute value).
func (s *decSum) term(x decimal.Decimal, neg, abs bool) {
	if !s.slow {
		if xc, xe, ok := exactdec.Small(x); ok {
			if abs && xc < 0 {
				xc = -xc
			}
			if a, b, e, ok := align(s.c, s.e, xc, xe); ok {
				var r int64
				if neg {
					r, ok = sub64(a, b)
				} else {
					r, ok = add64(a, b)
				}
				if ok {
					s.c, s.e, s.set = r, e, true
					return
				}
			}
		}
		s.slow, s.big = true, s.value()
	}
	if abs {
		x = x.Abs()
	}
	if neg {
		s.big = s.big.Sub(x)
	} else {
		s.big = s.big.Add(x)
	}
}

// add is s += x (Add: x's exponent counts even when x is zero).
func (s *decSum) add(x decimal.Decimal) { s.term(x, false, false) }

// sub is s −= x.
func (s *decSum) sub(x decimal.Decimal) { s.term(x, true, false) }

// subAbs is s −= |x|.
func (s *decSum) subAbs(x decimal.Decimal) { s.term(x, true, true) }

// addNZ is s = addNZ(s, x).
func (s *decSum) addNZ(x decimal.Decimal) {
	if !x.IsZero() {
		s.term(x, false, false)
	}
}

// subNZ is s = subNZ(s, x).
func (s *decSum) subNZ(x decimal.Decimal) {
	if !x.IsZero() {
		s.term(x, true, false)
	}
}

// isZero reports whether the sum is zero.
func (s *decSum) isZero() bool {
	if s.slow {
		return s.big.IsZero()
	}
	return s.c == 0
}

// value is the sum as a decimal.
func (s *decSum) value() decimal.Decimal {
	switch {
	case s.slow:
		return s.big
	case !s.set:
		return decimal.Decimal{}
	}
	return newDec(s.c, s.e)
}

// decAbs is d.Abs().
func decAbs(d decimal.Decimal) decimal.Decimal {
	if d.Sign() >= 0 {
		return d
	}
	if c, e, ok := exactdec.Small(d); ok {
		return newDec(-c, e)
	}
	return d.Abs()
}
