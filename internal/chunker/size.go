package chunker

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/exactdec"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/shopspring/decimal"
)

// sizer measures movements for the plan: the exact size of each movement's
// JSON inside a chunk body (as events.Marshal writes it), and a digest of its
// values. It computes the size field by field without encoding (encoding
// every movement with encoding/json was most of pass 1's time); size_test.go
// checks it against encoding/json on every field, and fails when
// events.Movement gains a field this code does not know.
//
// The sizer keeps no string it is given, only copies: pass 1 scans with
// [parsers.Options.ReuseText].
//
// A statement repeats values: the account, broker, kind and currency of
// every movement, the notes and amounts of the contracts of one row, the
// shared decimals of the parser. The sizer remembers the last value of each
// string and decimal field with its size and hash, and reuses them when the
// next movement has the same value (an equal string, or the same decimal:
// same coefficient pointer and exponent). Sizes alone (a movement measured
// with a row key) are remembered only where that is quicker than measuring:
// strings of up to 16 bytes (kinds, codes, tickers, which alternate from
// row to row) and notes (unique to a row) are measured each time, eight
// bytes per step; the contracts of one row reuse the first one's measure.
type sizer struct {
	seed maphash.Seed
	fast bool // the decimal package prints decimals in its default form
	strs [nStrFields]strMemo
	decs [nDecFields]decMemo

	// Size-only memos, for movements measured with a row key: the last
	// two values of each string field (a statement alternates between a
	// few kinds and codes), the last value of each decimal field.
	sizes    [nSizeFields][2]strMemo
	decSizes [nDecFields]decMemo
	// The account and the broker given ahead (expect): every movement of
	// a statement has them, and an equal string (the same one, as a rule)
	// is quicker to compare than to measure.
	known [2]strMemo // sAccount, sBroker

	// The last movement's measure without its ID and Part.
	base      sizeAcc
	baseHash  uint64
	baseOK    bool
	baseKeyed bool // measured with a row key: size only
	baseKind  int  // measured with a row key: the JSON size of its Kind
}

type strMemo struct {
	v    string
	n    int // JSON size, quotes included
	h    uint64
	used bool
}

type decMemo struct {
	d    decimal.Decimal
	n    int // JSON size, quotes included; 0 for zero (omitted)
	h    uint64
	used bool
}

// String fields with a memo slot: those that are the same in every
// movement of a statement.
const (
	fAccount = iota
	fBroker
	nStrFields
)

// String fields by size memo slot.
const (
	sAccount = iota
	sBroker
	sKind
	sOffset
	sCurrency
	sTicker
	sCashType
	sCode
	sOptionType
	sFromCurrency
	nSizeFields
)

// Decimal fields, by memo slot.

const (
	fQuantity = iota
	fPrice
	fAmount
	fCommissions
	fFees
	fStrike
	fNewStrike
	fPremium
	fNetPremium
	fMultiplier
	fAmountChanged
	nDecFields
)

func newSizer(seed maphash.Seed) *sizer {
	s := &sizer{seed: seed, fast: !decimal.MarshalJSONWithoutQuotes && decimal.TrimTrailingZeros && !decimal.UseScientificNotation}
	for i := range s.sizes {
		s.sizes[i][0].n = jsonStringLen("")
		s.sizes[i][1].n = jsonStringLen("")
	}
	return s
}

// digestMul is an odd 64-bit constant (2^64 / golden ratio).
const digestMul = 0x9e3779b97f4a7c15

// mix adds x to the running digest h.
func mix(h, x uint64) uint64 { return bits.RotateLeft64(h^x, 23) * digestMul }

// fmix64 is MurmurHash3's finaliser: every bit of h affects every bit of
// the result.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// measure returns the encoded size of m and a digest of its values. Within
// one seed, equal movements have equal digests.
//
// rowKey is the record's [parsers.Record.RowKey]. When it is 0 the digest
// hashes every field. When it is set it is a digest of the input the
// record's movements were made of, so the digest is that key with the
// movement's place (Line, Seq, Part, Time) and the values are only
// measured, not hashed; the ID, which a scan under [parsers.Options.NoIDs]
// leaves out (m.ID == ""), is then measured at its standard size. Either
// way a scan with IDs and one without give the same sizes and digests.
//
// prev, when not nil, is the movement measured just before m: when the two
// differ only in ID and Part (the option contracts of one row), m's
// measure is derived from prev's.
func (s *sizer) measure(m *events.Movement, rowKey uint64, prev *events.Movement) (size int, digest uint64, err error) {
	if !s.fast {
		return s.measureJSON(m, rowKey)
	}
	keyed := rowKey != 0
	if prev == nil || !s.baseOK || s.baseKeyed != keyed || !sameButIDAndPart(m, prev) {
		if keyed {
			s.base, s.baseKind = s.sizeBase(m)
			s.baseHash = 0
		} else {
			s.base, s.baseHash = s.measureBase(m)
		}
		s.baseOK, s.baseKeyed = true, keyed
	}
	a := s.base
	if m.Part != 0 { // omitempty
		a.member("part", intLen(int64(m.Part)))
	}
	if keyed {
		if m.ID == "" {
			// The ID a parser leaves out under [parsers.Options.NoIDs]:
			// "<32 hex>:<kind>:<part>"; baseKind is the kind's size.
			a.member("id", 32+1+s.baseKind+1+intLen(int64(m.Part)))
		} else {
			a.member("id", jsonStringLen(m.ID))
		}
		h := mix(mix(mix(mix(rowKey, uint64(m.Line)), uint64(m.Seq)), uint64(m.Part)), uint64(m.Time))
		return a.total(), fmix64(h), nil
	}
	h := mix(s.baseHash, uint64(m.Part))
	var id sizeAcc
	h = s.str(&id, h, -1, "id", m.ID, false)
	a.n += id.n
	a.members += id.members
	return a.total(), fmix64(h), nil
}

// sizeBase is the size of every field of m but ID and Part, and the JSON
// size of its Kind (which its standard ID holds).
func (s *sizer) sizeBase(m *events.Movement) (a sizeAcc, kindLen int) {
	a.member("account", s.knownLen(sAccount, m.Account))
	a.member("broker", s.knownLen(sBroker, m.Broker))
	kindLen = s.strLen(sKind, string(m.Kind))
	a.member("kind", kindLen)
	s.wallTime(&a, 0, "time", m.Time)
	if m.Offset != "" {
		a.member("offset", s.strLen(sOffset, m.Offset))
	}
	if m.Seq != 0 {
		a.member("seq", intLen(int64(m.Seq)))
	}
	if m.Line != 0 {
		a.member("line", intLen(int64(m.Line)))
	}
	a.member("currency", s.strLen(sCurrency, m.Currency))
	if m.Ticker != "" {
		a.member("ticker", s.strLen(sTicker, m.Ticker))
	}
	if m.CashType != "" {
		a.member("cash_type", s.strLen(sCashType, string(m.CashType)))
	}
	if m.Code != "" {
		a.member("code", s.strLen(sCode, string(m.Code)))
	}
	a.decMember("quantity", s.decLen(fQuantity, m.Quantity))
	a.decMember("price", s.decLen(fPrice, m.Price))
	a.decMember("amount", s.decLen(fAmount, m.Amount))
	a.decMember("commissions", s.decLen(fCommissions, m.Commissions))
	a.decMember("fees", s.decLen(fFees, m.Fees))
	if m.OptionType != "" {
		a.member("option_type", s.strLen(sOptionType, string(m.OptionType)))
	}
	a.decMember("strike", s.decLen(fStrike, m.Strike))
	a.decMember("new_strike", s.decLen(fNewStrike, m.NewStrike))
	s.date(&a, 0, "expiration", m.Expiration)
	a.decMember("premium", s.decLen(fPremium, m.Premium))
	a.decMember("net_premium", s.decLen(fNetPremium, m.NetPremium))
	a.decMember("multiplier", s.decLen(fMultiplier, m.Multiplier))
	if m.FromCurrency != "" {
		a.member("from_currency", s.strLen(sFromCurrency, m.FromCurrency))
	}
	a.decMember("amount_changed", s.decLen(fAmountChanged, m.AmountChanged))
	if m.Notes != "" {
		// Not remembered: a statement's notes differ from row to row
		// (the contracts of one row reuse their base in measure).
		a.member("notes", jsonStringLen(m.Notes))
	}
	return a, kindLen
}

// expect tells the sizer the account and broker of the statement's
// movements.
func (s *sizer) expect(account, broker string) {
	s.known[sAccount] = strMemo{v: account, n: jsonStringLen(account), used: true}
	s.known[sBroker] = strMemo{v: broker, n: jsonStringLen(broker), used: true}
}

// knownLen is strLen(f, v) for f = sAccount or sBroker, quicker for the
// value given to expect.
func (s *sizer) knownLen(f int, v string) int {
	if k := &s.known[f]; k.used && v == k.v {
		return k.n
	}
	return s.strLen(f, v)
}

// strLen is jsonStringLen(v): measured directly when v is short (quicker
// than comparing it with remembered values: the codes and kinds of a
// statement alternate), else remembered in size memo slot f, which holds
// the last two values (newSizer starts both at "").
func (s *sizer) strLen(f int, v string) int {
	if len(v) <= 16 {
		return jsonStringLen(v)
	}
	mm := &s.sizes[f]
	if v == mm[0].v {
		return mm[0].n
	}
	if v == mm[1].v {
		return mm[1].n
	}
	return s.strLenMiss(f, v)
}

//go:noinline
func (s *sizer) strLenMiss(f int, v string) int {
	mm := &s.sizes[f]
	mm[1] = mm[0]
	// A clone: v may be text the parser reuses (Options.ReuseText).
	mm[0] = strMemo{v: strings.Clone(v), n: jsonStringLen(v), used: true}
	return mm[0].n
}

// decLen is decimalJSONLen(d), remembered in size memo slot f (the zero
// value of a slot is right for the zero Decimal).
func (s *sizer) decLen(f int, d decimal.Decimal) int {
	if mm := &s.decSizes[f]; d == mm.d {
		return mm.n
	}
	return s.decLenMiss(f, d)
}

//go:noinline
func (s *sizer) decLenMiss(f int, d decimal.Decimal) int {
	n, ok := parsers.StandInLen(d) // pass 1's movements (Options.SizeOnly)
	if ok {
		n += 2
	} else {
		n = decimalJSONLen(d)
	}
	s.decSizes[f] = decMemo{d: d, n: n, used: true}
	return s.decSizes[f].n
}

// decMember adds a decimal member of JSON size n, if it is not left out
// (n == 0 for a zero).
func (a *sizeAcc) decMember(key string, n int) {
	if n > 0 {
		a.member(key, n)
	}
}

// decimalJSONLen is the JSON size of a decimal field: 0 when it is zero
// (omitted), else its default string form and quotes.
func decimalJSONLen(d decimal.Decimal) int {
	if d.IsZero() {
		return 0
	}
	if n, _, _, ok := measureSmall(d); ok {
		return n
	}
	n, _ := measureWide(d)
	return n
}

// measureSmall measures a non-zero decimal whose coefficient has at most
// 18 digits and whose exponent is at least -18: its JSON size, coefficient
// and exponent; ok is false for any other decimal.
func measureSmall(d decimal.Decimal) (n int, c int64, exp int32, ok bool) {
	exp = d.Exponent()
	if exp < -18 || d.NumDigits() > 18 {
		return 0, 0, 0, false
	}
	c = d.CoefficientInt64()
	u, neg := uint64(c), c < 0
	if neg {
		u = -u
	}
	return 2 + decimalLen(neg, 0, u, exp), c, exp, true
}

// sameButIDAndPart reports whether a and b have the same values (the same
// decimal pointers) in every field but ID and Part.
func sameButIDAndPart(a, b *events.Movement) bool {
	x := *a
	x.ID, x.Part = b.ID, b.Part
	return x == *b
}

// measureBase measures every field of m but ID and Part.
func (s *sizer) measureBase(m *events.Movement) (sizeAcc, uint64) {
	var a sizeAcc
	var h uint64
	h = s.str(&a, h, fAccount, "account", m.Account, false)
	h = s.str(&a, h, fBroker, "broker", m.Broker, false)
	h = s.str(&a, h, -1, "kind", string(m.Kind), false)
	h = s.wallTime(&a, h, "time", m.Time)
	h = s.str(&a, h, -1, "offset", m.Offset, true)
	h = s.int(&a, h, "seq", m.Seq)
	h = s.int(&a, h, "line", m.Line)
	h = s.str(&a, h, -1, "currency", m.Currency, false)
	h = s.str(&a, h, -1, "ticker", m.Ticker, true)
	h = s.str(&a, h, -1, "cash_type", string(m.CashType), true)
	h = s.str(&a, h, -1, "code", string(m.Code), true)
	h = s.dec(&a, h, fQuantity, "quantity", m.Quantity)
	h = s.dec(&a, h, fPrice, "price", m.Price)
	h = s.dec(&a, h, fAmount, "amount", m.Amount)
	h = s.dec(&a, h, fCommissions, "commissions", m.Commissions)
	h = s.dec(&a, h, fFees, "fees", m.Fees)
	h = s.str(&a, h, -1, "option_type", string(m.OptionType), true)
	h = s.dec(&a, h, fStrike, "strike", m.Strike)
	h = s.dec(&a, h, fNewStrike, "new_strike", m.NewStrike)
	h = s.date(&a, h, "expiration", m.Expiration)
	h = s.dec(&a, h, fPremium, "premium", m.Premium)
	h = s.dec(&a, h, fNetPremium, "net_premium", m.NetPremium)
	h = s.dec(&a, h, fMultiplier, "multiplier", m.Multiplier)
	h = s.str(&a, h, -1, "from_currency", m.FromCurrency, true)
	h = s.dec(&a, h, fAmountChanged, "amount_changed", m.AmountChanged)
	h = s.str(&a, h, -1, "notes", m.Notes, true)
	return a, h
}

// measureJSON is measure by encoding m with encoding/json, for decimal
// package settings the field-by-field code does not know.
func (s *sizer) measureJSON(m *events.Movement, rowKey uint64) (int, uint64, error) {
	c := *m
	if rowKey != 0 && c.ID == "" {
		c.ID = strings.Repeat("0", 32) + ":" + string(c.Kind) + ":" + strconv.Itoa(c.Part)
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return 0, 0, fmt.Errorf("chunker: encode movement %s: %w", m.ID, err)
	}
	size := len(b)
	if rowKey != 0 {
		c.ID = ""
		if b, err = json.Marshal(&c); err != nil {
			return 0, 0, fmt.Errorf("chunker: encode movement %s: %w", m.ID, err)
		}
	}
	return size, fmix64(mix(maphash.Bytes(s.seed, b), rowKey)), nil
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

// str measures a string field and adds it to the digest. A string of up to
// eight bytes is its own hash (with its length); a longer one is hashed,
// and remembered in memo slot f (if f >= 0) for the next movement.
func (s *sizer) str(a *sizeAcc, h uint64, f int, key, v string, omitEmpty bool) uint64 {
	var n int
	var vh uint64
	switch {
	case len(v) <= 8:
		n = jsonStringLen(v)
		vh = uint64(len(v)) << 56
		for i := 0; i < len(v); i++ {
			vh ^= uint64(v[i]) << (8 * i)
		}
		vh = mix(vh, uint64(len(v)))
	case f >= 0:
		mm := &s.strs[f]
		if !mm.used || v != mm.v {
			*mm = strMemo{v: strings.Clone(v), n: jsonStringLen(v), h: maphash.String(s.seed, v), used: true}
		}
		n, vh = mm.n, mm.h
	default:
		n, vh = jsonStringLen(v), maphash.String(s.seed, v)
	}
	if !omitEmpty || v != "" {
		a.member(key, n)
	}
	return mix(h, vh)
}

func (s *sizer) int(a *sizeAcc, h uint64, key string, v int) uint64 {
	if v != 0 { // omitempty
		a.member(key, intLen(int64(v)))
	}
	return mix(h, uint64(v))
}

// Wall times from 0000-01-01T00:00:00 to 9999-12-31T23:59:59 print as 19
// characters.
const (
	minWall events.WallTime = -62167219200
	maxWall events.WallTime = 253402300799
)

func (s *sizer) wallTime(a *sizeAcc, h uint64, key string, w events.WallTime) uint64 {
	switch {
	case w.IsZero(): // MarshalText gives "", and the field has no omitzero
		a.member(key, 2)
	case w >= minWall && w <= maxWall:
		a.member(key, 2+len(events.WallTimeLayout))
	default:
		a.member(key, 2+len(w.String()))
	}
	return mix(h, uint64(w))
}

func (s *sizer) date(a *sizeAcc, h uint64, key string, d events.Date) uint64 {
	switch {
	case d.IsZero(): // omitzero
	case d > 0 && d/10000 <= 9999:
		a.member(key, 2+len(events.DateLayout))
	default:
		a.member(key, 2+len(d.String()))
	}
	return mix(h, uint64(uint32(d)))
}

// Decimal digest tags: a zero, a coefficient of up to 18 digits, one of up
// to 128 bits (2 + sign), or the printed form.
const (
	decTagZero  = 1 << 40
	decTagSmall = 2 << 40
	decTagWide  = 3 << 40
	decTagText  = 5 << 40
)

// dec measures a decimal field (memo slot f) and adds it to the digest.
func (s *sizer) dec(a *sizeAcc, h uint64, f int, key string, d decimal.Decimal) uint64 {
	mm := &s.decs[f]
	if !mm.used || d != mm.d {
		n, dh := s.measureDec(d)
		*mm = decMemo{d: d, n: n, h: dh, used: true}
	}
	if mm.n > 0 {
		a.member(key, mm.n)
	}
	return mix(h, mm.h)
}

// measureDec returns the JSON size of a decimal field (0 when it is zero
// and so left out) and a hash of its value.
func (s *sizer) measureDec(d decimal.Decimal) (int, uint64) {
	if d.IsZero() { // omitzero
		return 0, decTagZero
	}
	if n, c, exp, ok := measureSmall(d); ok {
		return n, fmix64(mix(mix(decTagSmall|uint64(uint32(exp)), uint64(c)), 0))
	}
	n, h := measureWide(d)
	if h == 0 {
		h = fmix64(mix(decTagText, maphash.String(s.seed, d.String())))
	}
	return n, h
}

// measureWide measures a decimal whose coefficient may not fit an int64:
// its JSON size and, when the coefficient fits 128 bits, a hash of its
// value (else 0).
func measureWide(d decimal.Decimal) (int, uint64) {
	// A long coefficient, typically a per-contract division carried to 28
	// places: up to 128 bits are measured without printing.
	exp := d.Exponent()
	c := d.Coefficient()
	if words := c.Bits(); len(words) <= 2 && bits.UintSize == 64 {
		var hi, lo uint64
		lo = uint64(words[0])
		if len(words) == 2 {
			hi = uint64(words[1])
		}
		if n := decimalLen(c.Sign() < 0, hi, lo, exp); n > 0 {
			tag := uint64(decTagWide + (1+c.Sign())<<40)
			return 2 + n, fmix64(mix(mix(tag|uint64(uint32(exp)), lo), hi))
		}
	}
	return 2 + len(d.String()), 0
}

// decimalLen is the length of the default string form of the decimal with
// coefficient ±(hi<<64 + lo) != 0 and exponent exp (trailing fractional
// zeros trimmed, no scientific notation), or 0 when the coefficient has more
// than 38 digits.
func decimalLen(neg bool, hi, lo uint64, exp int32) int {
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
	return exactdec.StringLen(neg, digits, tz, exp)
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

// SWAR constants: a byte value in every byte of a word.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// swarZero reports whether a byte of x is zero. (The borrow of a zero byte
// may mark the byte above it too, but only when there is a zero byte.)
func swarZero(x uint64) bool { return (x-swarOnes)&^x&swarHighs != 0 }

// jsonWordPlain reports whether none of the eight bytes of w needs
// escaping: each is ASCII (< 0x80), not a control byte (>= 0x20: with no
// byte below 0x20, w-0x20… borrows nowhere), and not '"', '&', '<', '>' or
// '\\' (so jsonExtra is 0 for each; TestJSONWordPlain compares the two on
// every pair of byte values in every pair of positions). Setting bit 0x04
// maps '"' (0x22) and '&' (0x26), and only them, to 0x26; setting bit 0x02
// maps '<' (0x3c) and '>' (0x3e), and only them, to 0x3e.
func jsonWordPlain(w uint64) bool {
	return (w|(w-0x20*swarOnes))&swarHighs == 0 &&
		!swarZero((w|0x04*swarOnes)^(0x26*swarOnes)) &&
		!swarZero((w|0x02*swarOnes)^(0x3e*swarOnes)) &&
		!swarZero(w^(0x5c*swarOnes))
}

// jsonStringLen is the size of s as encoding/json writes it, quotes
// included, with HTML escaping (as json.Marshal does). Eight bytes at a
// time, it skips the words that need no escaping (jsonWordPlain), then
// measures the rest byte by byte (jsonExtra).
func jsonStringLen(s string) int {
	n := 2 + len(s)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		b := s[i : i+8] // one 64-bit load:
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if !jsonWordPlain(w) {
			break
		}
	}
	for i < len(s) {
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
