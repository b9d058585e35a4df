package events

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/internal/exactdec"
)

// The hand-written chunk encoder. It writes exactly the bytes json.Marshal
// writes for a *Chunk (field order, omitempty/omitzero, HTML-safe string
// escaping, decimals as quoted strings, WallTime and Date through their
// MarshalText), without reflection and without boxing each decimal: chunk
// bodies are most of what ingest encodes. codec_chunk_test.go compares it
// with encoding/json on edge and random values, FuzzChunkEncode on
// arbitrary ones.

// decimalDefaults reports whether the decimal package prints decimals in its
// default form (quoted, trailing zeros trimmed, no scientific notation), the
// only form the hand encoder writes; otherwise chunks go through
// encoding/json.
func decimalDefaults() bool {
	return !decimal.MarshalJSONWithoutQuotes && decimal.TrimTrailingZeros && !decimal.UseScientificNotation
}

// encodeBufs recycles the encoder's scratch buffers; the body returned is an
// exact-size copy, so a buffer never escapes to the caller.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf bounds the buffers kept for reuse (a chunk body is at most a
// few hundred KiB; an unusually large one is left to the GC).
const maxPooledBuf = 4 << 20

// AppendMarshal appends Marshal(e) to b. A chunk is encoded straight into
// b: given b's capacity its encoded size (the chunk's planned size: see
// chunker.Plan), its encoding makes no allocation and no copy, where
// Marshal grows a scratch buffer and copies it out.
func AppendMarshal(b []byte, e Event) ([]byte, error) {
	if c, ok := e.(*Chunk); ok && c != nil && decimalDefaults() {
		var enc chunkEncoder
		return enc.appendChunk(b, c), nil
	}
	data, err := Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, data...), nil
}

// marshalChunk encodes c as json.Marshal(c) does.
func marshalChunk(c *Chunk) ([]byte, error) {
	if !decimalDefaults() {
		return json.Marshal(c)
	}
	bp := encodeBufs.Get().(*[]byte)
	var enc chunkEncoder
	b := enc.appendChunk((*bp)[:0], c)
	out := make([]byte, len(b))
	copy(out, b)
	if cap(b) <= maxPooledBuf {
		*bp = b
		encodeBufs.Put(bp)
	}
	return out, nil
}

// chunkEncoder holds what one encoding reuses between movements.
type chunkEncoder struct {
	lastTime WallTime // lastText is the text of lastTime, when haveTime
	lastText [len(WallTimeLayout)]byte
	haveTime bool
}

func (e *chunkEncoder) appendChunk(b []byte, c *Chunk) []byte {
	b = append(b, `{"session":`...)
	b = appendJSONString(b, c.Session)
	b = append(b, `,"account":`...)
	b = appendJSONString(b, c.Account)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"ordinal":`...)
	b = strconv.AppendInt(b, int64(c.Ordinal), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(c.Total), 10)
	b = append(b, `,"week":`...)
	b = appendJSONString(b, c.Week)
	b = append(b, `,"part":`...)
	b = strconv.AppendInt(b, int64(c.Part), 10)
	b = append(b, `,"movements":`...)
	if c.Movements == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Movements {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendMovement(b, &c.Movements[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendMovement writes m's fields in struct order with their omit rules.
func (e *chunkEncoder) appendMovement(b []byte, m *Movement) []byte {
	return e.appendMovementOmit(b, m, 0)
}

// appendMovementOmit is appendMovement without the members omit names.
func (e *chunkEncoder) appendMovementOmit(b []byte, m *Movement, omit Omit) []byte {
	if omit&OmitID == 0 {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, m.ID)
		b = append(b, ',')
	} else {
		b = append(b, '{')
	}
	if omit&OmitAccount == 0 {
		b = append(b, `"account":`...)
		b = appendJSONString(b, m.Account)
		b = append(b, ',')
	}
	b = append(b, `"broker":`...)
	b = appendJSONString(b, m.Broker)
	if omit&OmitKind == 0 {
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, string(m.Kind))
	}
	b = append(b, `,"time":`...)
	b = e.appendWallTime(b, m.Time)
	b = appendOptString(b, `,"offset":`, m.Offset)
	b = appendOptInt(b, `,"seq":`, m.Seq)
	b = appendOptInt(b, `,"part":`, m.Part)
	if omit&OmitLine == 0 {
		b = appendOptInt(b, `,"line":`, m.Line)
	}
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, m.Currency)
	b = appendOptString(b, `,"ticker":`, m.Ticker)
	b = appendOptString(b, `,"cash_type":`, string(m.CashType))
	b = appendOptString(b, `,"code":`, string(m.Code))
	b = appendOptDecimal(b, `,"quantity":`, m.Quantity)
	b = appendOptDecimal(b, `,"price":`, m.Price)
	b = appendOptDecimal(b, `,"amount":`, m.Amount)
	b = appendOptDecimal(b, `,"commissions":`, m.Commissions)
	b = appendOptDecimal(b, `,"fees":`, m.Fees)
	b = appendOptString(b, `,"option_type":`, string(m.OptionType))
	b = appendOptDecimal(b, `,"strike":`, m.Strike)
	b = appendOptDecimal(b, `,"new_strike":`, m.NewStrike)
	if !m.Expiration.IsZero() {
		b = append(b, `,"expiration":`...)
		b = appendDate(b, m.Expiration)
	}
	b = appendOptDecimal(b, `,"premium":`, m.Premium)
	b = appendOptDecimal(b, `,"net_premium":`, m.NetPremium)
	b = appendOptDecimal(b, `,"multiplier":`, m.Multiplier)
	b = appendOptString(b, `,"from_currency":`, m.FromCurrency)
	b = appendOptDecimal(b, `,"amount_changed":`, m.AmountChanged)
	b = appendOptString(b, `,"notes":`, m.Notes)
	return append(b, '}')
}

// appendOptString writes key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

// appendOptInt writes key and v unless v is 0 (omitempty).
func appendOptInt(b []byte, key string, v int) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(v), 10)
}

// appendOptDecimal writes key and d unless d is zero (omitzero: IsZero).
func appendOptDecimal(b []byte, key string, d decimal.Decimal) []byte {
	if d.IsZero() {
		return b
	}
	return appendDecimal(append(b, key...), d)
}

// Wall times from 0000-01-01T00:00:00 to 9999-12-31T23:59:59 print as 19
// characters, the year zero-padded to four digits.
const (
	minWallText WallTime = -62167219200
	maxWallText WallTime = 253402300799
)

// appendWallTime writes w as its MarshalText inside a JSON string.
// Consecutive movements mostly share a time: the last one's text is reused.
func (e *chunkEncoder) appendWallTime(b []byte, w WallTime) []byte {
	switch {
	case w.IsZero():
		return append(b, `""`...)
	case w < minWallText || w > maxWallText:
		return appendJSONString(b, w.String())
	}
	if !e.haveTime || w != e.lastTime {
		t := time.Unix(int64(w), 0).UTC()
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		p := &e.lastText
		put4(p[0:4], y)
		p[4] = '-'
		put2(p[5:7], int(mo))
		p[7] = '-'
		put2(p[8:10], d)
		p[10] = 'T'
		put2(p[11:13], h)
		p[13] = ':'
		put2(p[14:16], mi)
		p[16] = ':'
		put2(p[17:19], s)
		e.lastTime, e.haveTime = w, true
	}
	b = append(b, '"')
	b = append(b, e.lastText[:]...)
	return append(b, '"')
}

// appendDate writes d as its MarshalText inside a JSON string.
func appendDate(b []byte, d Date) []byte {
	if d <= 0 || d/10000 > 9999 {
		return appendJSONString(b, d.String())
	}
	var p [len(DateLayout)]byte
	put4(p[0:4], int(d)/10000)
	p[4] = '-'
	put2(p[5:7], int(d)/100%100)
	p[7] = '-'
	put2(p[8:10], int(d)%100)
	b = append(b, '"')
	b = append(b, p[:]...)
	return append(b, '"')
}

// put4 and put2 write 0 <= v < 10000 (100) zero-padded.
func put4(p []byte, v int) {
	p[0] = byte('0' + v/1000)
	p[1] = byte('0' + v/100%10)
	p[2] = byte('0' + v/10%10)
	p[3] = byte('0' + v%10)
}

func put2(p []byte, v int) {
	p[0] = byte('0' + v/10)
	p[1] = byte('0' + v%10)
}

// appendDecimal writes d as Decimal.MarshalJSON does in the default form:
// its String inside quotes (exactdec.AppendText: without allocating for
// coefficients of up to 18 digits and for 28-place quotients).
func appendDecimal(b []byte, d decimal.Decimal) []byte {
	b = append(b, '"')
	b = exactdec.AppendText(b, d)
	return append(b, '"')
}

// htmlSafe[c] is whether ASCII byte c is written as itself in a JSON string
// by encoding/json with HTML escaping (its default): printable ASCII except
// the quote, the backslash and <, >, &.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string exactly as encoding/json does
// (HTML-safe escaping of <, > and &; U+2028 and U+2029 escaped; invalid
// UTF-8 replaced by \ufffd).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
