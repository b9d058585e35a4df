package parsers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
	f.buf = strconv.AppendInt(f.buf, int64(len(s)), 10)
	f.buf = append(f.buf, ':')
	f.buf = append(f.buf, s...)
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
	if !strings.ContainsAny(s, " \t\r\n\v\f") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
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
// order. It keeps 8 bytes of key per distinct fingerprint and timestamp.
type Occurrences struct {
	prints map[uint64]uint32
	times  map[timeKey]uint32
}

type timeKey struct {
	scope string
	t     events.WallTime
}

// Next records a row and returns its occurrence index and its Seq.
func (o *Occurrences) Next(fp [32]byte, scope string, t events.WallTime) (k, seq int) {
	if o.prints == nil {
		o.prints = make(map[uint64]uint32)
		o.times = make(map[timeKey]uint32)
	}
	key := binary.LittleEndian.Uint64(fp[:8])
	k = int(o.prints[key])
	o.prints[key]++
	tk := timeKey{scope, t}
	seq = int(o.times[tk])
	o.times[tk]++
	return k, seq
}

// RowID returns the row ID of §6.2.5: hex(SHA-256(account 0x1F fingerprint-hex
// 0x1F k)) cut to 32 hex characters.
func RowID(account string, fp [32]byte, k int) string {
	var buf [64 + 2 + 20]byte
	b := buf[:0]
	h := sha256.New()
	h.Write([]byte(account))
	b = append(b, 0x1f)
	b = hex.AppendEncode(b, fp[:])
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, int64(k), 10)
	h.Write(b)
	var sum [32]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// MovementID returns "<row id>:<kind>:<part>" (§6.2.6).
func MovementID(rowID string, kind events.Kind, part int) string {
	return rowID + ":" + string(kind) + ":" + strconv.Itoa(part)
}
