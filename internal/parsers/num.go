package parsers

import (
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
)

// num is an exact decimal on its way into a movement: c·10^e while the
// coefficient has at most 18 digits (|c| < 10¹⁸), else the decimal d
// (wide). The zero value is zero. The Tastytrade rules compute with nums,
// in int64 when they can, and a movement gets a decimal.Decimal only at
// the end ([ttScanner.out]): under [Options.SizeOnly] that is a stand-in
// of the value's printed length, and no big.Int is made at all.
type num struct {
	c    int64
	e    int32
	wide bool
	d    decimal.Decimal // wide only
}

// maxSmall bounds a small num's coefficient: |c| < 10¹⁸, as exactdec.Small.
const maxSmall = 1e18

// numOf is d as a num.
func numOf(d decimal.Decimal) num {
	if c, e, ok := exactdec.Small(d); ok {
		if c == 0 {
			return num{}
		}
		return num{c: c, e: e}
	}
	return num{wide: true, d: d}
}

// small returns c·10^e as a num, wide when |c| ≥ 10¹⁸.
func small(c int64, e int32) num {
	if c == 0 {
		return num{}
	}
	if c >= maxSmall || c <= -maxSmall {
		return num{wide: true, d: decimal.New(c, e)}
	}
	return num{c: c, e: e}
}

func (n num) isZero() bool {
	if n.wide {
		return n.d.IsZero()
	}
	return n.c == 0
}

func (n num) sign() int {
	switch {
	case n.wide:
		return n.d.Sign()
	case n.c > 0:
		return 1
	case n.c < 0:
		return -1
	}
	return 0
}

// floorSmall returns floor(n) for a small n ≥ 0, or false (n is wide or
// negative, or its floor overflows an int64).
func (n num) floorSmall() (int64, bool) {
	switch {
	case n.wide || n.c < 0:
		return 0, false
	case n.e >= 0:
		return exactdec.ScaleUp(n.c, int64(n.e))
	case -n.e >= 19: // c < 10¹⁸
		return 0, true
	}
	return n.c / int64(pow10u[-n.e]), true
}

// isOne reports whether n equals 1.
func (n num) isOne() bool {
	if n.wide {
		return n.d.Equal(decimal.New(1, 0))
	}
	return n.e <= 0 && n.e > -19 && uint64(n.c) == pow10u[-n.e]
}

// dec is n as a decimal, made by dc (shared when it was made recently); a
// zero is decimal.Decimal{}.
func (n num) dec(dc *decCache) decimal.Decimal {
	switch {
	case n.wide:
		return n.d
	case n.c == 0:
		return decimal.Decimal{}
	}
	return dc.get(n.c, n.e)
}

// textLen is len(n.dec(nil).String()) for the decimal package's default
// settings (see [sizeOnlyDefaults]).
func (n num) textLen() int {
	switch {
	case n.wide:
		return len(n.d.String())
	case n.c == 0:
		return 1
	}
	u, neg := uint64(n.c), n.c < 0
	if neg {
		u = -u
	}
	return smallTextLen(neg, u, n.e)
}

// smallTextLen is the length of the default string form of ±u·10^exp,
// u != 0: trailing fractional zeros trimmed, no scientific notation.
func smallTextLen(neg bool, u uint64, exp int32) int {
	digits, tz := uintDigits(u), 0 // digits of u, and its trailing zeros
	for v := u; v%10 == 0; v /= 10 {
		tz++
	}
	return exactdec.StringLen(neg, digits, tz, exp)
}

// uintDigits is the number of decimal digits of u.
func uintDigits(u uint64) int {
	n := (bits.Len64(u) * 1233) >> 12 // floor(log10(2^bits)): the digit count or one less
	if n < len(pow10u) && u >= pow10u[n] {
		n++
	}
	return max(n, 1)
}

var pow10u = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// sizeOnlyDefaults reports whether the decimal package prints decimals in
// its default form, the one textLen computes; otherwise a scan ignores
// [Options.SizeOnly].
func sizeOnlyDefaults() bool {
	return !decimal.MarshalJSONWithoutQuotes && decimal.TrimTrailingZeros && !decimal.UseScientificNotation
}

// standIns[n] is a decimal whose default string form has n characters:
// 1·10^(n-1), "1000…".
var standIns = func() (s [80]decimal.Decimal) {
	for n := 1; n < len(s); n++ {
		s[n] = decimal.New(1, int32(n-1))
	}
	return s
}()

// standIn returns a stand-in for n under Options.SizeOnly: zero for a zero,
// else a decimal of the same printed length (n itself when it is longer
// than the stand-ins).
func (n num) standIn(dc *decCache) decimal.Decimal {
	if n.isZero() {
		return decimal.Decimal{}
	}
	if l := n.textLen(); l < len(standIns) {
		return standIns[l]
	}
	return n.dec(dc)
}

// StandInLen reports whether d is one of the stand-ins of a scan under
// [Options.SizeOnly] and, if so, the length of its default string form
// (that of the value it stands for). It takes a few instructions: a sizer
// can use it before measuring d the long way.
func StandInLen(d decimal.Decimal) (int, bool) {
	e := d.Exponent()
	if e < 0 || int(e)+1 >= len(standIns) || d != standIns[e+1] {
		return 0, false
	}
	return int(e) + 1, true
}

// standInOf is standIn for a decimal.
func standInOf(d decimal.Decimal) decimal.Decimal {
	if d.IsZero() {
		return decimal.Decimal{}
	}
	if l := len(d.String()); l < len(standIns) {
		return standIns[l]
	}
	return d
}

// nabs is |n|.
func (dc *decCache) nabs(n num) num {
	if n.sign() >= 0 {
		return n
	}
	return dc.nneg(n)
}

// nneg is -n.
func (dc *decCache) nneg(n num) num {
	if n.wide {
		return numOf(n.d.Neg())
	}
	return num{c: -n.c, e: n.e}
}

// nsub is a - b.
func (dc *decCache) nsub(a, b num) num {
	if !a.wide && !b.wide {
		e := min(a.e, b.e)
		x, okx := exactdec.ScaleUp(a.c, int64(a.e-e))
		y, oky := exactdec.ScaleUp(b.c, int64(b.e-e))
		if r := x - y; okx && oky && ((x >= 0) == (y >= 0) || (r >= 0) == (x >= 0)) { // no overflow
			return small(r, e)
		}
	}
	return numOf(a.dec(dc).Sub(b.dec(dc)))
}

// ndiv is ibDiv(x, q): x/q to ibDivPrecision places, in int64 when q is a
// whole number and the quotient is exact within those places (the value
// x.DivRound(q, ibDivPrecision) has; see exactdec.Quotient).
func (dc *decCache) ndiv(x, q num) num {
	if !x.wide && !q.wide {
		if c, e, ok := exactdec.QuotientSmall(x.c, x.e, q.c, q.e, ibDivPrecision); ok {
			return small(c, e)
		}
	}
	return numOf(x.dec(dc).DivRound(q.dec(dc), ibDivPrecision))
}

// divTextLen is the length of the default string form of ndiv(x, q) for
// small x != 0 and q, worked out without making the quotient: ok is false
// when it cannot be (wide operands, a q that is not a whole number below
// 10⁹, a quotient of zero, or a scaled dividend past 128 bits). It is what
// a scan under [Options.SizeOnly] needs of the per-contract divisions.
//
// An exact quotient (exactdec.QuotientSmall) is measured as itself; any
// other is DivRound(x, q, 28): |x|·10^(xe+28) / q in 128 bits, rounded
// half away from zero, as a coefficient with exponent -28.
func divTextLen(x, q num) (int, bool) {
	if x.wide || q.wide || x.c == 0 || q.e != 0 || q.c <= 0 || q.c >= 1e9 {
		return 0, false
	}
	if c, e, ok := exactdec.QuotientSmall(x.c, x.e, q.c, q.e, ibDivPrecision); ok {
		if c == 0 {
			return 0, false
		}
		u, neg := uint64(c), c < 0
		if neg {
			u = -u
		}
		return smallTextLen(neg, u, e), true
	}
	// x.e > -28 here: an x of 28 places or more divides exactly or not at
	// all within them, and QuotientSmall then failed only past int64.
	k := int(x.e) + ibDivPrecision
	if k < 0 || k > 38 { // 10³⁹ > 2¹²⁸
		return 0, false
	}
	u, neg := uint64(x.c), x.c < 0
	if neg {
		u = -u
	}
	// n = u·10^k in 128 bits, in two steps of at most 10^19.
	hi, lo := uint64(0), u
	for k > 0 {
		step := min(k, len(pow10u)-1)
		h1, l1 := bits.Mul64(lo, pow10u[step])
		h2, l2 := bits.Mul64(hi, pow10u[step])
		if h2 != 0 {
			return 0, false
		}
		var carry uint64
		hi, carry = bits.Add64(h1, l2, 0)
		if carry != 0 {
			return 0, false
		}
		lo = l1
		k -= step
	}
	d := uint64(q.c)
	qhi, r := bits.Div64(0, hi, d)
	qlo, r := bits.Div64(r, lo, d)
	if r >= d-r { // 2r ≥ d: away from zero
		qlo++
		if qlo == 0 {
			qhi++
		}
	}
	if qhi == 0 && qlo == 0 {
		return 0, false
	}
	digits, tz, ok := uint128Digits(qhi, qlo)
	if !ok {
		return 0, false
	}
	return exactdec.StringLen(neg, digits, tz, -ibDivPrecision), true
}

// uint128Digits is the number of decimal digits of hi·2⁶⁴+lo != 0 and its
// trailing zeros, for a number below 10³⁸ (ok is false above).
func uint128Digits(hi, lo uint64) (digits, tz int, ok bool) {
	trailing := func(u uint64) (n int) {
		for ; u%10 == 0; u /= 10 {
			n++
		}
		return n
	}
	switch {
	case hi == 0:
		return uintDigits(lo), trailing(lo), true
	case hi >= 1e19: // ≥ 10¹⁹·2⁶⁴ > 10³⁸
		return 0, 0, false
	}
	top, rest := bits.Div64(hi, lo, 1e19) // top < 2⁶⁴ as hi < 10¹⁹
	digits = 19 + uintDigits(top)
	if rest == 0 {
		return digits, 19 + trailing(top), true
	}
	return digits, trailing(rest), true
}
