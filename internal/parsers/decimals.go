package parsers

import (
	"github.com/shopspring/decimal"
)

// decCache makes decimals from a coefficient and an exponent and shares the
// ones it made recently: every non-zero decimal.Decimal holds a *big.Int,
// two allocations, and a statement repeats the same few values (quantities,
// commissions, fees, strikes) on row after row. Decimals are immutable, so
// sharing one between movements is safe (decimal.Decimal.Abs already returns
// its receiver).
//
// Its arithmetic ([decCache.nsub], [decCache.ndiv]…) is on nums, in int64
// when the operands' coefficients fit, with the value the decimal
// package's methods they stand for give.
type decCache struct {
	slots [decCacheSize]decSlot
}

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
