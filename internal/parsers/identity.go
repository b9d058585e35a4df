package parsers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// Fingerprint builds the canonical fingerprint of a row (spec/parsers.md
// §6.2): SHA-256 over the length-prefixed canonical fields, in order. Use
// Text, Decimal, Absent to add fields; Sum to finish. The zero value is ready;
// Reset reuses it.
type Fingerprint struct {
	buf []byte
}

// Reset empties the fingerprint for the next row.
func (f *Fingerprint) Reset() { f.buf = f.buf[:0] }

// Raw adds a field exactly as given.
func (f *Fingerprint) Raw(s string) {
	f.buf = appendLenPrefix(f.buf, len(s))
	f.buf = append(f.buf, s...)
}

// appendLenPrefix appends n in decimal and a colon.
func appendLenPrefix(b []byte, n int) []byte {
	switch {
	case n < 10:
		return append(b, byte('0'+n), ':')
	case n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10), ':')
	}
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, ':')
}

// Text adds a text field: trimmed, runs of white space collapsed to one space,
// case kept.
func (f *Fingerprint) Text(s string) { f.Raw(CanonicalText(s)) }

// Decimal adds a decimal in its shortest plain form ("1300", "5.5", "0").
func (f *Fingerprint) Decimal(d decimal.Decimal) { f.Raw(CanonicalDecimal(d)) }

// Absent adds an absent optional value (the empty string).
func (f *Fingerprint) Absent() { f.Raw("") }

// Sum returns the SHA-256 of the fields added so far.
func (f *Fingerprint) Sum() [32]byte { return sha256.Sum256(f.buf) }

// CanonicalText trims s and collapses internal runs of white space.
func CanonicalText(s string) string {
	s = strings.TrimSpace(s)
	// Fast path: no white space other than single spaces.
	prevSpace := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			if prevSpace {
				return strings.Join(strings.Fields(s), " ")
			}
			prevSpace = true
		case '\t', '\r', '\n', '\v', '\f':
			return strings.Join(strings.Fields(s), " ")
		default:
			if c >= 0x80 {
				// Unicode white space (e.g. U+00A0) is collapsed too.
				return strings.Join(strings.Fields(s), " ")
			}
			prevSpace = false
		}
	}
	return s
}

// CanonicalDecimal prints d with no exponent, no trailing fractional zeros and
// "0" for any zero.
func CanonicalDecimal(d decimal.Decimal) string {
	if d.IsZero() {
		return "0"
	}
	return d.String()
}

// Occurrences assigns each row its occurrence index k: the number of earlier
// rows of the same file with the same fingerprint (spec/parsers.md §6.2.4),
// and its Seq: the number of earlier rows with the same wall-clock time (in
// the same scope, e.g. IBKR section), which breaks timestamp ties in file
// order.
//
// The zero value is a full index: correct for rows in any order, it keeps a
// 12-byte entry per distinct fingerprint and a 20-byte one per distinct
// scope and timestamp, so it grows with the file. [NewWindowedOccurrences] returns a bounded index for time-ordered
// files (every real export, newest or oldest first): identical rows share a
// timestamp, so only the current timestamp's rows need remembering. If the
// rows turn out not to be in time order (a timestamp moves against the
// direction so far), the window cannot know about rows it already forgot:
// it switches to a full index for the rest of the file and reports
// [Occurrences.Unordered]; the caller must then read the file again with a
// full index to get exact IDs.
type Occurrences struct {
	windowed  bool
	unordered bool
	prints    map[uint64]uint32
	times     map[timeKey]uint32

	// The scope of the last row and its 64-bit key ([textKey]): scopes are
	// told apart by key, so a scope's state costs no copy of its name.
	scope    string
	scopeKey uint64
	keyed    bool

	// Windowed mode: the window of the current scope, and a compact record
	// of each scope left behind, restored if the scope comes back.
	win    *occWindow
	winKey uint64
	left   map[uint64]leftWindow
	more   map[uint64][]keyCount // a left scope's fingerprints after its first
}

type timeKey struct {
	scope uint64
	t     events.WallTime
}

// occWindow is the bounded state of the current scope in windowed mode.
type occWindow struct {
	cur    events.WallTime
	dir    int // 0 unknown, +1 ascending, -1 descending
	seq    uint32
	prints map[uint64]uint32 // fingerprints seen at cur
}

// leftWindow is an occWindow put aside: a scope's position in time and the
// fingerprints of its current second, the first inline (a second of one
// scope rarely has two different rows; the others go to Occurrences.more).
// 32 bytes: a statement may leave one behind per contract ever traded.
type leftWindow struct {
	cur   events.WallTime
	key   uint64 // the first fingerprint seen at cur, if count > 0
	seq   uint32
	count uint32
	dir   int8
	more  bool // further fingerprints in Occurrences.more
}

type keyCount struct {
	key   uint64
	count uint32
}

// NewWindowedOccurrences returns an index whose memory is bounded by the rows
// of one timestamp plus a few dozen bytes per scope, as long as rows come in
// time order within each scope.
func NewWindowedOccurrences() *Occurrences { return &Occurrences{windowed: true} }

// Unordered reports whether a windowed index met rows out of time order
// (its indexes from then on are not guaranteed exact).
func (o *Occurrences) Unordered() bool { return o.unordered }

// Next records a row and returns its occurrence index and its Seq.
func (o *Occurrences) Next(fp [32]byte, scope string, t events.WallTime) (k, seq int) {
	return o.next(binary.LittleEndian.Uint64(fp[:8]), scope, t)
}

// keyOf returns the key of scope, hashing it only when it is not the last
// row's. Two scopes share a key with probability about 2^-64, as two
// fingerprints do.
func (o *Occurrences) keyOf(scope string) uint64 {
	if !o.keyed || scope != o.scope {
		o.scope, o.scopeKey, o.keyed = scope, textKey(scope), true
	}
	return o.scopeKey
}

// next is Next with the fingerprint given by a 64-bit key: rows are the
// same when their keys are.
func (o *Occurrences) next(key uint64, scope string, t events.WallTime) (k, seq int) {
	sk := o.keyOf(scope)
	if o.windowed && !o.unordered {
		if k, seq, ok := o.nextWindowed(key, true, sk, t); ok {
			return k, seq
		}
	}
	if o.prints == nil {
		o.prints = make(map[uint64]uint32, 1024)
		o.times = make(map[timeKey]uint32, 1024)
	}
	k = int(o.prints[key])
	o.prints[key]++
	tk := timeKey{sk, t}
	seq = int(o.times[tk])
	o.times[tk]++
	return k, seq
}

// nextSeq is next for a scan that does not use occurrence indexes (no
// IDs): it keeps only what Seq and Unordered need. A scan uses either next
// or nextSeq.
func (o *Occurrences) nextSeq(scope string, t events.WallTime) (seq int) {
	sk := o.keyOf(scope)
	if o.windowed && !o.unordered {
		if _, seq, ok := o.nextWindowed(0, false, sk, t); ok {
			return seq
		}
	}
	if o.times == nil {
		o.times = make(map[timeKey]uint32, 1024)
	}
	tk := timeKey{sk, t}
	seq = int(o.times[tk])
	o.times[tk]++
	return seq
}

// nextWindowed serves a row from its scope's window; ok is false when the row
// breaks time order, after the windows were moved into the full index. It
// counts the row's key only if counted.
func (o *Occurrences) nextWindowed(key uint64, counted bool, scope uint64, t events.WallTime) (k, seq int, ok bool) {
	if o.win == nil || scope != o.winKey {
		o.switchScope(scope, t)
	}
	w := o.win
	if t != w.cur {
		d := 1
		if t < w.cur {
			d = -1
		}
		if w.dir == 0 {
			w.dir = d
		}
		if d != w.dir {
			o.toFull()
			return 0, 0, false
		}
		if len(w.prints) > 0 {
			clear(w.prints)
		}
		w.cur, w.seq = t, 0
	}
	if counted {
		k = int(w.prints[key])
		w.prints[key]++
	}
	seq = int(w.seq)
	w.seq++
	return k, seq, true
}

// switchScope puts the current window aside and makes scope's current,
// restoring it if the scope was seen before.
func (o *Occurrences) switchScope(scope uint64, t events.WallTime) {
	if o.left == nil {
		o.left = make(map[uint64]leftWindow)
	}
	w := o.win
	if w == nil {
		w = &occWindow{prints: make(map[uint64]uint32, 16)}
		o.win = w
	} else {
		lw := leftWindow{cur: w.cur, dir: int8(w.dir), seq: w.seq}
		for key, n := range w.prints {
			if lw.count == 0 {
				lw.key, lw.count = key, n
				continue
			}
			if o.more == nil {
				o.more = make(map[uint64][]keyCount)
			}
			lw.more = true
			o.more[o.winKey] = append(o.more[o.winKey], keyCount{key, n})
		}
		o.left[o.winKey] = lw
	}
	clear(w.prints)
	if lw, ok := o.left[scope]; ok {
		delete(o.left, scope)
		w.cur, w.dir, w.seq = lw.cur, int(lw.dir), lw.seq
		if lw.count > 0 {
			w.prints[lw.key] = lw.count
		}
		if lw.more {
			for _, kc := range o.more[scope] {
				w.prints[kc.key] = kc.count
			}
			delete(o.more, scope)
		}
	} else {
		w.cur, w.dir, w.seq = t, 0, 0
	}
	o.winKey = scope
}

// toFull marks the index unordered and seeds the full index with what the
// windows still remember.
func (o *Occurrences) toFull() {
	o.unordered = true
	o.prints = make(map[uint64]uint32, 1024)
	o.times = make(map[timeKey]uint32, 1024)
	if w := o.win; w != nil {
		for key, n := range w.prints {
			o.prints[key] += n
		}
		o.times[timeKey{o.winKey, w.cur}] = w.seq
	}
	for scope, lw := range o.left {
		if lw.count > 0 {
			o.prints[lw.key] += lw.count
		}
		o.times[timeKey{scope, lw.cur}] = lw.seq
	}
	for _, kcs := range o.more {
		for _, kc := range kcs {
			o.prints[kc.key] += kc.count
		}
	}
	o.win, o.left, o.more = nil, nil, nil
}

// RowID returns the row ID of §6.2.5: hex(SHA-256(account 0x1F fingerprint-hex
// 0x1F k)) cut to 32 hex characters.
func RowID(account string, fp [32]byte, k int) string {
	id := rowIDHex(account, fp, k)
	return string(id[:])
}

// rowIDHex is RowID as bytes, without allocating for accounts of up to 64
// bytes (every valid account).
func rowIDHex(account string, fp [32]byte, k int) [32]byte {
	var buf [64 + 1 + 64 + 1 + 20]byte
	b := append(buf[:0], account...)
	b = append(b, 0x1f)
	b = hex.AppendEncode(b, fp[:])
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, int64(k), 10)
	sum := sha256.Sum256(b)
	var id [32]byte
	hex.Encode(id[:], sum[:16])
	return id
}

// MovementID returns "<row id>:<kind>:<part>" (§6.2.6).
func MovementID(rowID string, kind events.Kind, part int) string {
	return rowID + ":" + string(kind) + ":" + strconv.Itoa(part)
}

// appendMovementID appends "<row id>:<kind>:<part>" to b.
func appendMovementID(b []byte, rowID *[32]byte, kind events.Kind, part int) []byte {
	b = append(b, rowID[:]...)
	b = append(b, ':')
	b = append(b, kind...)
	b = append(b, ':')
	if part < 10 {
		return append(b, byte('0'+part))
	}
	return strconv.AppendInt(b, int64(part), 10)
}

// textKey is a 64-bit hash of s, much cheaper than SHA-256 and the same on
// every platform and in every run. Two different texts share a key with
// probability about 2^-64. Words are mixed with xxHash64's round; four
// lanes of eight bytes are hashed side by side (a row of a statement is a
// few hundred bytes: one chain of multiplications would wait on itself),
// then folded together.
func textKey(s string) uint64 {
	h, _ := textKeyASCII(s)
	return h
}

// textKeyASCII is textKey(s), and whether s is all ASCII (and so valid
// UTF-8), found in the same pass.
func textKeyASCII(s string) (key uint64, ascii bool) {
	const p1, p2, p5 = 0x9e3779b185ebca87, 0xc2b2ae3d27d4eb4f, 0x27d4eb2f165667c5
	round := func(h, w uint64) uint64 { return bits.RotateLeft64(h+w*p2, 31) * p1 }
	h := uint64(len(s))*p5 + p1
	var or uint64 // every word ORed: its high bits mark non-ASCII bytes
	i := 0
	if len(s) >= 32 {
		h1, h2, h3 := h+p2, h^p1, h-p1
		for ; i+32 <= len(s); i += 32 {
			w0, w1, w2, w3 := load64(s, i), load64(s, i+8), load64(s, i+16), load64(s, i+24)
			or |= w0 | w1 | w2 | w3
			h, h1, h2, h3 = round(h, w0), round(h1, w1), round(h2, w2), round(h3, w3)
		}
		h = mix64(h) ^ bits.RotateLeft64(mix64(h1), 16) ^ bits.RotateLeft64(mix64(h2), 32) ^ bits.RotateLeft64(mix64(h3), 48)
	}
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		or |= w
		h = round(h, w)
	}
	var t uint64
	for j := len(s) - 1; j >= i; j-- {
		t = t<<8 | uint64(s[j])
	}
	or |= t
	return mix64(round(h, t)), or&0x8080808080808080 == 0
}

// mix64 is MurmurHash3's 64-bit finaliser.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// nonZero returns k, or 1 for 0 (a Record.RowKey of 0 means none).
func nonZero(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}
