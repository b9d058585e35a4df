package parsers

import (
	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
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

// sub is a.Sub(b).
func (dc *decCache) sub(a, b decimal.Decimal) decimal.Decimal {
	ac, ae, ok1 := exactdec.Small(a)
	bc, be, ok2 := exactdec.Small(b)
	if ok1 && ok2 {
		e := min(ae, be)
		x, okx := exactdec.ScaleUp(ac, int64(ae-e))
		y, oky := exactdec.ScaleUp(bc, int64(be-e))
		if r := x - y; okx && oky && ((x >= 0) == (y >= 0) || (r >= 0) == (x >= 0)) { // no overflow
			return dc.get(r, e)
		}
	}
	return a.Sub(b)
}

// neg is d.Neg().
func (dc *decCache) neg(d decimal.Decimal) decimal.Decimal {
	if c, e, ok := exactdec.Small(d); ok {
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
	xc, xe, ok1 := exactdec.Small(x)
	qc, qe, ok2 := exactdec.Small(q)
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
	if c, e, ok := exactdec.Quotient(x, q, ibDivPrecision); ok {
		return dc.get(c, e)
	}
	return x.DivRound(q, ibDivPrecision)
}
