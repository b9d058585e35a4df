package parsers

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// decCache makes decimals from a coefficient and an exponent and shares the
// ones it made recently: every non-zero decimal.Decimal holds a *big.Int,
// two allocations, and a statement repeats the same few values (quantities,
// commissions, fees, strikes) on row after row. Decimals are immutable, so
// sharing one between movements is safe (decimal.Decimal.Abs already returns
// its receiver).
//
// The arithmetic helpers compute in int64 when the operands' coefficients
// fit, and give the same value, with the same exponent, as the decimal
// package's methods they stand for.
type decCache struct {
	slots [decCacheSize]decSlot
	divs  [divCacheSize]divSlot
}

// divSlot remembers a quotient: per-contract commissions and fees divide the
// same amounts by the same quantities on row after row, and an inexact
// quotient (0.25 / 3) takes big.Int division.
type divSlot struct {
	x, q, r decimal.Decimal
	ok      bool
}

const divCacheSize = 256

const decCacheBits = 10
const decCacheSize = 1 << decCacheBits

type decSlot struct {
	c  int64
	e  int32
	ok bool
	d  decimal.Decimal
}

// get returns decimal.New(c, e), shared when it was made recently.
func (dc *decCache) get(c int64, e int32) decimal.Decimal {
	h := (uint64(c)*0x9e3779b97f4a7c15 ^ uint64(uint32(e))*0xc2b2ae3d27d4eb4f) >> (64 - decCacheBits)
	s := &dc.slots[h]
	if s.ok && s.c == c && s.e == e {
		return s.d
	}
	d := decimal.New(c, e)
	*s = decSlot{c: c, e: e, ok: true, d: d}
	return d
}

// decSmall returns d's coefficient and exponent when the coefficient has at
// most 18 digits (so that it fits an int64 with room for a sign change).
func decSmall(d decimal.Decimal) (c int64, e int32, ok bool) {
	if d.IsZero() {
		return 0, d.Exponent(), true
	}
	if d.NumDigits() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

// pow10i are the powers of ten that fit an int64.
var pow10i = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// scaleUp returns c·10^k, or false when it overflows an int64.
func scaleUp(c int64, k int32) (int64, bool) {
	if k == 0 {
		return c, true
	}
	if k < 0 || int(k) >= len(pow10i) {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(absInt64(c)), uint64(pow10i[k]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if c < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

func absInt64(c int64) int64 {
	if c < 0 {
		return -c
	}
	return c
}

// sub is a.Sub(b).
func (dc *decCache) sub(a, b decimal.Decimal) decimal.Decimal {
	ac, ae, ok1 := decSmall(a)
	bc, be, ok2 := decSmall(b)
	if ok1 && ok2 {
		e := min(ae, be)
		x, okx := scaleUp(ac, ae-e)
		y, oky := scaleUp(bc, be-e)
		if r := x - y; okx && oky && ((x >= 0) == (y >= 0) || (r >= 0) == (x >= 0)) { // no overflow
			return dc.get(r, e)
		}
	}
	return a.Sub(b)
}

// neg is d.Neg().
func (dc *decCache) neg(d decimal.Decimal) decimal.Decimal {
	if c, e, ok := decSmall(d); ok {
		return dc.get(-c, e)
	}
	return d.Neg()
}

// abs is d.Abs().
func (dc *decCache) abs(d decimal.Decimal) decimal.Decimal {
	if d.Sign() >= 0 {
		return d
	}
	return dc.neg(d)
}

// div is ibDiv(x, q): x/q to ibDivPrecision places, computed in int64 when
// q is a whole number and the quotient is exact within those places.
// Quotients of the same decimals (the same values shared by get) are
// remembered.
func (dc *decCache) div(x, q decimal.Decimal) decimal.Decimal {
	xc, xe, ok1 := decSmall(x)
	qc, qe, ok2 := decSmall(q)
	if !ok1 || !ok2 {
		return dc.divide(x, q)
	}
	h := (uint64(xc)*0x9e3779b97f4a7c15 ^ uint64(uint32(xe))*0xc2b2ae3d27d4eb4f ^ uint64(qc)*0xff51afd7ed558ccd ^ uint64(uint32(qe))) >> (64 - 8)
	sl := &dc.divs[h]
	if sl.ok && sl.x == x && sl.q == q {
		return sl.r
	}
	r := dc.divide(x, q)
	*sl = divSlot{x: x, q: q, r: r, ok: true}
	return r
}

// divide is div without the memory.
func (dc *decCache) divide(x, q decimal.Decimal) decimal.Decimal {
	if q.Exponent() == 0 && q.Sign() > 0 && q.NumDigits() <= 9 && x.NumDigits() <= 18 {
		n := q.CoefficientInt64()
		if n == 1 {
			return x
		}
		c, e := x.CoefficientInt64(), x.Exponent()
		for k := int32(0); k <= 6 && e-k >= -ibDivPrecision; k++ {
			if c%n == 0 {
				return dc.get(c/n, e-k)
			}
			if c > math.MaxInt64/10 || c < math.MinInt64/10 {
				break
			}
			c *= 10
		}
	}
	return x.DivRound(q, ibDivPrecision)
}
