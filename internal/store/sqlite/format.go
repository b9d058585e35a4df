package sqlite

import (
	"database/sql"
	"time"
	"unsafe"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/exactdec"
	"github.com/shopspring/decimal"
)

// formatter turns the values of one write into statement arguments. It
// keeps the text of the decimals it has formatted: a statement's amounts
// repeat (quantity 1, multiplier 100, the usual commissions and fees), and
// formatting a decimal allocates. It is not safe for concurrent use.
type formatter struct {
	args     []any
	decimals map[decimalKey]any // the text of a decimal, boxed once
	docs     []byte             // documents' bytes, see document
	boxes    [numBoxes]box      // see boxed
}

// box is a text and its boxed value.
type box struct {
	s string
	v any
}

// The texts of a movement row that repeat from row to row (formatter.boxed).
const (
	boxAccount = iota
	boxKind
	boxSession
	numBoxes
)

// boxed returns s as an argument, boxing it (an allocation) only when it
// differs from the last text of slot: a batch's rows repeat their account,
// their session and mostly their kind.
func (f *formatter) boxed(slot int, s string) any {
	b := &f.boxes[slot]
	if b.v == nil || b.s != s {
		b.s, b.v = s, s
	}
	return b.v
}

// decimalKey is a decimal whose coefficient fits in an int64: the value
// coefficient × 10^exp, which decimal.Decimal.String formats.
type decimalKey struct {
	coefficient int64
	exp         int32
}

// maxFormatted bounds a formatter's decimals; when full it starts again.
const maxFormatted = 1 << 12

func newFormatter() *formatter {
	return &formatter{decimals: make(map[decimalKey]any)}
}

// decimal returns d's exact text, d.String(), as an argument: short
// amounts, which repeat, from a cache; longer ones written afresh.
func (f *formatter) decimal(d decimal.Decimal) any {
	c, e, ok := exactdec.Small(d)
	if !ok {
		return decimalText(d)
	}
	k := decimalKey{c, e}
	if v, ok := f.decimals[k]; ok {
		return v
	}
	if len(f.decimals) >= maxFormatted {
		clear(f.decimals)
	}
	v := any(decimalText(d))
	f.decimals[k] = v
	return v
}

// decimalText is d.String() for any d (exactdec.AppendText).
func decimalText(d decimal.Decimal) string {
	var buf [48]byte
	return string(exactdec.AppendText(buf[:0], d))
}

// docArena is the size of the buffers documents are written into.
const docArena = 64 << 10

// document returns m's document, its JSON object without the members
// docOmit names, as text. The text is written into a buffer shared with
// the next documents, whose bytes are never written over once handed out
// (later documents go after them, or into a new buffer when it is full,
// this one left to the statements that hold its texts and to the GC): one
// allocation per few hundred movements instead of one per movement.
func (f *formatter) document(m *events.Movement) string {
	if cap(f.docs)-len(f.docs) < 2048 {
		f.docs = make([]byte, 0, docArena)
	}
	start := len(f.docs)
	f.docs = events.AppendMovementJSON(f.docs, m, docOmit)
	doc := f.docs[start:]
	return unsafe.String(unsafe.SliceData(doc), len(doc))
}

// nullDate returns d as YYYY-MM-DD, or NULL for the zero date.
func nullDate(d events.Date) any {
	if d.IsZero() {
		return nil
	}
	return d.String()
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// instant formats t as RFC 3339 UTC with as many fractional digits as it
// has; the zero time is NULL.
func instant(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: t.UTC().Format(time.RFC3339Nano), Valid: true}
}

func parseInstant(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s.String)
}
