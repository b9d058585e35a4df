package chunker

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math/bits"
	"unicode/utf8"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// sizer measures movements for the plan: the exact size of each movement's
// JSON inside a chunk body (as events.Marshal writes it), and a digest of its
// values. It computes the size field by field without encoding (encoding
// every movement with encoding/json was most of pass 1's time); size_test.go
// checks it against encoding/json on every field, and fails when
// events.Movement gains a field this code does not know.
type sizer struct {
	h    maphash.Hash
	fast bool // the decimal package prints decimals in its default form
}

func newSizer(seed maphash.Seed) *sizer {
	s := &sizer{fast: !decimal.MarshalJSONWithoutQuotes && decimal.TrimTrailingZeros && !decimal.UseScientificNotation}
	s.h.SetSeed(seed)
	return s
}

// measure returns the encoded size of m and a digest of its values. Within
// one seed, equal movements have equal digests.
func (s *sizer) measure(m *events.Movement) (size int, digest uint64, err error) {
	s.h.Reset()
	if !s.fast {
		b, err := json.Marshal(m)
		if err != nil {
			return 0, 0, fmt.Errorf("chunker: encode movement %s: %w", m.ID, err)
		}
		s.h.Write(b)
		return len(b), s.h.Sum64(), nil
	}
	var a sizeAcc
	s.str(&a, "id", m.ID, false)
	s.str(&a, "account", m.Account, false)
	s.str(&a, "broker", m.Broker, false)
	s.str(&a, "kind", string(m.Kind), false)
	s.wallTime(&a, "time", m.Time)
	s.str(&a, "offset", m.Offset, true)
	s.int(&a, "seq", m.Seq)
	s.int(&a, "part", m.Part)
	s.int(&a, "line", m.Line)
	s.str(&a, "currency", m.Currency, false)
	s.str(&a, "ticker", m.Ticker, true)
	s.str(&a, "cash_type", string(m.CashType), true)
	s.str(&a, "code", string(m.Code), true)
	s.dec(&a, "quantity", m.Quantity)
	s.dec(&a, "price", m.Price)
	s.dec(&a, "amount", m.Amount)
	s.dec(&a, "commissions", m.Commissions)
	s.dec(&a, "fees", m.Fees)
	s.str(&a, "option_type", string(m.OptionType), true)
	s.dec(&a, "strike", m.Strike)
	s.dec(&a, "new_strike", m.NewStrike)
	s.date(&a, "expiration", m.Expiration)
	s.dec(&a, "premium", m.Premium)
	s.dec(&a, "net_premium", m.NetPremium)
	s.dec(&a, "multiplier", m.Multiplier)
	s.str(&a, "from_currency", m.FromCurrency, true)
	s.dec(&a, "amount_changed", m.AmountChanged)
	s.str(&a, "notes", m.Notes, true)
	return a.total(), s.h.Sum64(), nil
}

// movementFields are the JSON keys measure writes, in order (size_test.go
// compares them with events.Movement's struct tags).
var movementFields = []string{
	"id", "account", "broker", "kind", "time", "offset,omitempty", "seq,omitempty", "part,omitempty", "line,omitempty",
	"currency", "ticker,omitempty", "cash_type,omitempty", "code,omitempty", "quantity,omitzero", "price,omitzero",
	"amount,omitzero", "commissions,omitzero", "fees,omitzero", "option_type,omitempty", "strike,omitzero",
	"new_strike,omitzero", "expiration,omitzero", "premium,omitzero", "net_premium,omitzero", "multiplier,omitzero",
	"from_currency,omitempty", "amount_changed,omitzero", "notes,omitempty",
}

// sizeAcc adds up a JSON object's members.
type sizeAcc struct{ n, members int }

// member adds `"key":` and a value of n bytes.
func (a *sizeAcc) member(key string, n int) {
	a.n += len(key) + 3 + n
	a.members++
}

// total is the object's size: braces, members and the commas between them.
func (a *sizeAcc) total() int { return 2 + a.n + max(a.members-1, 0) }

func (s *sizer) tag(b byte) { s.h.WriteByte(b) }

func (s *sizer) str(a *sizeAcc, key, v string, omitEmpty bool) {
	s.h.WriteString(v)
	s.tag(0xff) // not valid UTF-8: separates strings
	if omitEmpty && v == "" {
		return
	}
	a.member(key, jsonStringLen(v))
}

func (s *sizer) int(a *sizeAcc, key string, v int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	s.h.Write(b[:])
	if v != 0 { // omitempty
		a.member(key, intLen(int64(v)))
	}
}

// Wall times from 0000-01-01T00:00:00 to 9999-12-31T23:59:59 print as 19
// characters.
const (
	minWall events.WallTime = -62167219200
	maxWall events.WallTime = 253402300799
)

func (s *sizer) wallTime(a *sizeAcc, key string, w events.WallTime) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(w))
	s.h.Write(b[:])
	switch {
	case w.IsZero(): // MarshalText gives "", and the field has no omitzero
		a.member(key, 2)
	case w >= minWall && w <= maxWall:
		a.member(key, 2+len(events.WallTimeLayout))
	default:
		a.member(key, 2+len(w.String()))
	}
}

func (s *sizer) date(a *sizeAcc, key string, d events.Date) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(d))
	s.h.Write(b[:])
	switch {
	case d.IsZero(): // omitzero
	case d > 0 && d/10000 <= 9999:
		a.member(key, 2+len(events.DateLayout))
	default:
		a.member(key, 2+len(d.String()))
	}
}

func (s *sizer) dec(a *sizeAcc, key string, d decimal.Decimal) {
	if d.IsZero() { // omitzero
		s.tag(0)
		return
	}
	exp := d.Exponent()
	var b [20]byte
	binary.LittleEndian.PutUint32(b[16:], uint32(exp))
	if exp >= -18 && d.NumDigits() <= 18 {
		c := d.CoefficientInt64()
		u, neg := uint64(c), c < 0
		if neg {
			u = -u
		}
		binary.LittleEndian.PutUint64(b[:8], uint64(c))
		s.tag(1)
		s.h.Write(b[:])
		a.member(key, 2+decimalLen(neg, 0, u, exp))
		return
	}
	// A long coefficient, typically a per-contract division carried to 28
	// places: up to 128 bits are measured without printing.
	c := d.Coefficient()
	if words := c.Bits(); len(words) <= 2 && bits.UintSize == 64 {
		var hi, lo uint64
		lo = uint64(words[0])
		if len(words) == 2 {
			hi = uint64(words[1])
		}
		if n := decimalLen(c.Sign() < 0, hi, lo, exp); n > 0 {
			binary.LittleEndian.PutUint64(b[:8], lo)
			binary.LittleEndian.PutUint64(b[8:16], hi)
			s.tag(byte(2 + c.Sign()))
			s.h.Write(b[:])
			a.member(key, 2+n)
			return
		}
	}
	str := d.String()
	s.tag(4)
	s.h.WriteString(str)
	a.member(key, 2+len(str))
}

// decimalLen is the length of the default string form of the decimal with
// coefficient ±(hi<<64 + lo) != 0 and exponent exp (trailing fractional
// zeros trimmed, no scientific notation), or 0 when the coefficient has more
// than 38 digits.
func decimalLen(neg bool, hi, lo uint64, exp int32) int {
	sign := 0
	if neg {
		sign = 1
	}
	var digits, tz int // digits of the coefficient and its trailing zeros
	switch {
	case hi == 0:
		digits, tz = uintLen(lo), trailingZeros(lo)
	case hi < 1e19:
		q, r := bits.Div64(hi, lo, 1e19)
		digits = 19 + uintLen(q)
		if r == 0 {
			tz = 19 + trailingZeros(q)
		} else {
			tz = trailingZeros(r)
		}
	default:
		return 0
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

func trailingZeros(u uint64) int {
	n := 0
	for u != 0 && u%10 == 0 {
		u /= 10
		n++
	}
	return n
}

// pow10 are the powers of ten that fit a uint64.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// uintLen is the number of decimal digits of u.
func uintLen(u uint64) int {
	n := (bits.Len64(u) * 1233) >> 12 // floor(log10(2^bits)): the digit count or one less
	if n < len(pow10) && u >= pow10[n] {
		n++
	}
	return max(n, 1)
}

func intLen(v int64) int {
	if v < 0 {
		return 1 + uintLen(uint64(-v))
	}
	return uintLen(uint64(v))
}

// jsonExtra[b] is how many bytes encoding/json adds when it escapes the
// ASCII byte b (with HTML escaping); jsonNonASCII marks bytes that start a
// multi-byte sequence.
var jsonExtra = func() (t [256]uint8) {
	for b := range 256 {
		switch {
		case b >= utf8.RuneSelf:
			t[b] = jsonNonASCII
		case b == '\\' || b == '"' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			t[b] = 1 // \x
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			t[b] = 5 // \u00XX
		}
	}
	return t
}()

const jsonNonASCII = 0xff

// jsonStringLen is the size of s as encoding/json writes it, quotes
// included, with HTML escaping (as json.Marshal does).
func jsonStringLen(s string) int {
	n := 2 + len(s)
	for i := 0; i < len(s); {
		x := jsonExtra[s[i]]
		if x != jsonNonASCII {
			n += int(x)
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if (c == utf8.RuneError && size == 1) || c == '\u2028' || c == '\u2029' {
			n += 6 - size // \ufffd, \u2028, \u2029
		}
		i += size
	}
	return n
}
