package projections

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
)

// Exact decimal arithmetic with int64 (and, for sums and quotients,
// 128-bit) fast paths. Every helper here gives
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
	if c, e, ok := mul64(a, b); ok {
		return newDec(c, e)
	}
	return a.Mul(b)
}

// mul64 is a.Mul(b) as c·10^e, or false when a coefficient or the product
// does not fit an int64.
func mul64(a, b decimal.Decimal) (int64, int32, bool) {
	ac, ae, ok1 := exactdec.Small(a)
	bc, be, ok2 := exactdec.Small(b)
	e := int64(ae) + int64(be)
	if !ok1 || !ok2 || e < math.MinInt32 || e > math.MaxInt32 {
		return 0, 0, false
	}
	ua, ub := uint64(ac), uint64(bc)
	if ac < 0 {
		ua = -ua
	}
	if bc < 0 {
		ub = -ub
	}
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, 0, false
	}
	r := int64(lo)
	if (ac < 0) != (bc < 0) {
		r = -r
	}
	return r, int32(e), true
}

// decSum is an exact running sum: the decimal that folding Add (add, sub,
// subAbs) or addNZ/subNZ (addNZ, subNZ) over its terms gives, starting
// from decimal.Decimal{} or from [decSum.start]'s value, kept as a sign
// and a 128-bit magnitude while it fits so that the terms allocate
// nothing (a term of more than 18 digits costs one copy of its
// coefficient): the 28-place quotients in amounts (a fee split over a
// row's contracts) and the sums that take them stay on the fast path. Its
// zero value is the sum of no terms: decimal.Decimal{}.
type decSum struct {
	hi, lo uint64 // the coefficient's magnitude, below 2¹²⁸
	neg    bool   // the coefficient is negative (never with magnitude 0)
	e      int32
	set    bool // a term (or a start) was taken: the value is ±(hi, lo)·10^e
	// slow: the sum left 128 bits; big holds it.
	slow bool
	big  decimal.Decimal
}

// wide returns d's coefficient as a sign and a 128-bit magnitude, and its
// exponent, or false when the coefficient does not fit.
func wide(d decimal.Decimal) (hi, lo uint64, neg bool, e int32, ok bool) {
	if c, e, ok := exactdec.Small(d); ok {
		m := uint64(c)
		if c < 0 {
			m = -m
		}
		return 0, m, c < 0, e, true
	}
	if bits.UintSize != 64 {
		return 0, 0, false, 0, false
	}
	c := d.Coefficient() // a copy: the only way to its words
	w := c.Bits()
	if len(w) > 2 {
		return 0, 0, false, 0, false
	}
	if len(w) > 0 {
		lo = uint64(w[0])
	}
	if len(w) > 1 {
		hi = uint64(w[1])
	}
	return hi, lo, c.Sign() < 0, d.Exponent(), true
}

// pow10u are the powers of ten that fit a uint64.
var pow10u = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// scale128 is (hi, lo)·10^k for k ≥ 0, or false when it does not fit 128
// bits.
func scale128(hi, lo uint64, k int64) (uint64, uint64, bool) {
	if hi|lo == 0 {
		return 0, 0, true
	}
	for k > 0 { // at most three rounds: 10^57 does not fit
		step := min(k, 19)
		p := pow10u[step]
		h1, l1 := bits.Mul64(lo, p)
		h2, l2 := bits.Mul64(hi, p)
		if h2 != 0 {
			return 0, 0, false
		}
		nh, carry := bits.Add64(h1, l2, 0)
		if carry != 0 {
			return 0, 0, false
		}
		hi, lo = nh, l1
		k -= step
	}
	return hi, lo, true
}

// start makes d the sum's value.
func (s *decSum) start(d decimal.Decimal) {
	*s = decSum{}
	if hi, lo, neg, e, ok := wide(d); ok {
		s.hi, s.lo, s.neg, s.e, s.set = hi, lo, neg, e, true
		return
	}
	s.slow, s.big = true, d
}

// term adds x (neg: subtracts it; abs: its absolute value).
func (s *decSum) term(x decimal.Decimal, neg, abs bool) {
	if !s.slow {
		if hi, lo, xneg, xe, ok := wide(x); ok {
			if abs {
				xneg = false
			}
			if neg && hi|lo != 0 {
				xneg = !xneg
			}
			if s.termWide(hi, lo, xneg, xe) {
				return
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

// termSmall adds (neg: subtracts) xc·10^xe to a sum not yet slow, or
// reports false, the sum unchanged, when the result does not fit.
func (s *decSum) termSmall(xc int64, xe int32, neg bool) bool {
	m, xneg := uint64(xc), xc < 0
	if xneg {
		m = -m
	}
	if neg && m != 0 {
		xneg = !xneg
	}
	return s.termWide(0, m, xneg, xe)
}

// termWide adds ±(hi·2⁶⁴ + lo)·10^xe (negative when neg) to a sum not yet
// slow, or reports false, the sum unchanged, when the result does not fit:
// at the smaller exponent, like Add.
func (s *decSum) termWide(hi, lo uint64, neg bool, xe int32) bool {
	ah, al, bh, bl, e := s.hi, s.lo, hi, lo, s.e
	var ok bool
	switch {
	case xe < e:
		if ah, al, ok = scale128(ah, al, int64(e)-int64(xe)); !ok {
			return false
		}
		e = xe
	case xe > e:
		if bh, bl, ok = scale128(bh, bl, int64(xe)-int64(e)); !ok {
			return false
		}
	}
	var rh, rl, carry uint64
	rneg := s.neg
	switch {
	case s.neg == neg:
		rl, carry = bits.Add64(al, bl, 0)
		rh, carry = bits.Add64(ah, bh, carry)
		if carry != 0 {
			return false
		}
	case ah > bh || (ah == bh && al >= bl):
		rl, carry = bits.Sub64(al, bl, 0)
		rh, _ = bits.Sub64(ah, bh, carry)
	default:
		rl, carry = bits.Sub64(bl, al, 0)
		rh, _ = bits.Sub64(bh, ah, carry)
		rneg = neg
	}
	if rh|rl == 0 {
		rneg = false
	}
	s.hi, s.lo, s.neg, s.e, s.set = rh, rl, rneg, e, true
	return true
}

// addMul is s += a × b (Add of decMul(a, b)), without the product as a
// decimal when both fit an int64.
func (s *decSum) addMul(a, b decimal.Decimal) {
	if !s.slow {
		if c, e, ok := mul64(a, b); ok && s.termSmall(c, e, false) {
			return
		}
	}
	s.add(decMul(a, b))
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
	return s.hi|s.lo == 0
}

// value is the sum as a decimal.
func (s *decSum) value() decimal.Decimal {
	switch {
	case s.slow:
		return s.big
	case !s.set:
		return decimal.Decimal{}
	case s.hi == 0 && s.lo <= math.MaxInt64:
		c := int64(s.lo)
		if s.neg {
			c = -c
		}
		return newDec(c, s.e)
	}
	var t big.Int
	t.SetBits([]big.Word{big.Word(s.lo), big.Word(s.hi)}) // 64-bit words: wide makes no sum otherwise
	if s.neg {
		t.Neg(&t)
	}
	return decimal.NewFromBigInt(&t, s.e)
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

// decDivRound is a.DivRound(b, places): the quotient rounded half away
// from zero to places decimal places (exponent −places), computed in 128
// bits when a's coefficient, scaled to the quotient's exponent, fits them
// and b's, scaled, fits 64.
func decDivRound(a, b decimal.Decimal, places int32) decimal.Decimal {
	ah, al, aneg, ae, ok1 := wide(a)
	bh, bl, bneg, be, ok2 := wide(b)
	if !ok1 || !ok2 || bh != 0 || bl == 0 {
		return a.DivRound(b, places)
	}
	// a / b = (ca·10^k / cb)·10^−places with k = ae − be + places: the
	// coefficient of a or of b takes the power of ten.
	ok := true
	switch k := int64(ae) - int64(be) + int64(places); {
	case k > 0:
		ah, al, ok = scale128(ah, al, k)
	case k < 0:
		var h uint64
		h, bl, ok = scale128(0, bl, -k)
		ok = ok && h == 0
	}
	if !ok {
		return a.DivRound(b, places)
	}
	qh, r := bits.Div64(0, ah, bl)
	ql, r := bits.Div64(r, al, bl)
	if r >= bl-r { // 2r ≥ b: away from zero
		var carry uint64
		ql, carry = bits.Add64(ql, 1, 0)
		if qh, carry = bits.Add64(qh, 0, carry); carry != 0 {
			return a.DivRound(b, places)
		}
	}
	s := decSum{hi: qh, lo: ql, neg: aneg != bneg && qh|ql != 0, e: -places, set: true}
	return s.value()
}
