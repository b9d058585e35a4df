package events

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// The hand-written chunk decoder. decodeChunk gives exactly what
// json.Unmarshal(data, &Chunk{}) gives, and fails exactly when it fails
// (the error texts differ): it is a strict JSON scanner over the bytes, no
// reflection, that applies encoding/json's rules for these types:
//
//   - the whole input must be one valid JSON value (RFC 8259 syntax, nesting
//     at most 10,000 deep, only whitespace around it);
//   - keys match field names exactly or else case-insensitively (Unicode
//     simple folding: "ID", "Session", "\u017fession" all match); unknown
//     keys are skipped; a repeated key decodes again into the same field, so
//     the last one wins (and a repeated "movements" array decodes into the
//     elements already there, as encoding/json does);
//   - null leaves a string, number, decimal, time or movement as it was and
//     sets "movements" to nil; an empty array makes it a non-nil empty slice;
//   - strings are unescaped as encoding/json does (\uXXXX, surrogate pairs,
//     U+FFFD for a lone surrogate and for each invalid UTF-8 byte);
//   - ints take a JSON integer in range, strings only strings;
//   - decimals get the raw value text as Decimal.UnmarshalJSON does (quotes
//     stripped, no unescaping, then decimal.NewFromString), times and dates
//     the unescaped string as their UnmarshalText does.
//
// codec_chunk_test.go and FuzzChunkDecode compare it with encoding/json.

// maxNestingDepth is encoding/json's nesting limit.
const maxNestingDepth = 10000

// maxInterned bounds the distinct strings one decoding shares.
const maxInterned = 4096

// decimal fields, for the decoder's per-field cache of the last value.
const (
	decQuantity = iota
	decPrice
	decAmount
	decCommissions
	decFees
	decStrike
	decNewStrike
	decPremium
	decNetPremium
	decMultiplier
	decAmountChanged
	numDecimalFields
)

// interned string fields, for the decoder's per-field cache of the last value.
const (
	strSession = iota
	strAccount
	strChunkID
	strWeek
	strBroker
	strKind
	strOffset
	strCurrency
	strTicker
	strCashType
	strCode
	strOptionType
	strFromCurrency
	numStrFields
)

// chunkDecoder is one decoding's state: the input, the position, and the
// caches that let movements share equal strings and decimals.
type chunkDecoder struct {
	data []byte
	pos  int
	buf  []byte // unescaped string values
	kbuf []byte // unescaped keys

	// strs interns the low-cardinality strings (accounts, kinds, tickers,
	// currencies, ...): one allocation per distinct value per chunk.
	strs map[string]string
	// last is each interned field's last value.
	last [numStrFields]string
	// notes is the last Notes value: the contracts of one row share it.
	notes string
	// decimals are recent decimals by their text's hash (a direct-mapped
	// cache: equal values anywhere in the chunk share one Decimal).
	decimals [512]struct {
		raw []byte // in the input
		d   decimal.Decimal
	}
	// decs is each decimal field's last value and the text it came from:
	// decimals are immutable, so movements share equal values.
	decs [numDecimalFields]struct {
		raw []byte
		d   decimal.Decimal
		ok  bool
	}
	// lastWall is the text and value of the last "time".
	lastWallRaw []byte
	lastWall    WallTime
	// hinted: the movements slice was first allocated (movementsHint).
	hinted bool
	// owned: the decoder outlives its input (a MovementDecoder): the
	// caches keep copies of the texts they compare, not the input's bytes.
	owned bool
}

// decodeChunk decodes a chunk body as json.Unmarshal(data, &Chunk{}) does.
func decodeChunk(data []byte) (*Chunk, error) {
	d := chunkDecoder{data: data}
	c := &Chunk{}
	d.skipWS()
	switch d.peek() {
	case '{':
		if err := d.chunkObject(c); err != nil {
			return nil, err
		}
	case 'n':
		if err := d.literal("null"); err != nil {
			return nil, err
		}
	default:
		if d.pos == len(data) {
			return nil, d.errorf("unexpected end of input")
		}
		return nil, d.errorf("a chunk must be a JSON object")
	}
	d.skipWS()
	if d.pos != len(data) {
		return nil, d.errorf("invalid character %q after top-level value", data[d.pos])
	}
	return c, nil
}

func (d *chunkDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

// peek returns the byte at the position, or 0 at the end.
func (d *chunkDecoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *chunkDecoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// literal consumes lit (true, false or null).
func (d *chunkDecoder) literal(lit string) error {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		return d.errorf("invalid literal (want %s)", lit)
	}
	d.pos += len(lit)
	return nil
}

// next consumes the separator after an object member or array element: it
// reports whether another one follows (','), or the container ended (end).
func (d *chunkDecoder) next(end byte) (more bool, err error) {
	d.skipWS()
	switch d.peek() {
	case ',':
		d.pos++
		d.skipWS()
		return true, nil
	case end:
		d.pos++
		return false, nil
	}
	if d.pos == len(d.data) {
		return false, d.errorf("unexpected end of input")
	}
	return false, d.errorf("invalid character %q after a value (want ',' or %q)", d.data[d.pos], end)
}

// open consumes the opening brace or bracket of a container at depth, and
// reports whether it is empty (its closing one consumed too).
func (d *chunkDecoder) open(depth int) (empty bool, err error) {
	if depth > maxNestingDepth {
		return false, d.errorf("exceeded max depth %d", maxNestingDepth)
	}
	closing := byte('}')
	if d.data[d.pos] == '[' {
		closing = ']'
	}
	d.pos++
	d.skipWS()
	if d.peek() == closing {
		d.pos++
		return true, nil
	}
	return false, nil
}

// key reads a member's key and the colon after it, and returns the key
// unescaped (valid until the next key).
func (d *chunkDecoder) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.errorf("object key is not a string")
	}
	// Field names are lower case and underscores: such a key needs no
	// general string scan.
	data := d.data
	j := d.pos + 1
	for j < len(data) && (data[j]-'a' < 26 || data[j] == '_') {
		j++
	}
	var raw []byte
	if j < len(data) && data[j] == '"' {
		raw = data[d.pos+1 : j]
		d.pos = j + 1
	} else {
		var plain bool
		var err error
		if raw, plain, err = d.scanString(); err != nil {
			return nil, err
		}
		if !plain {
			d.kbuf = appendUnescaped(d.kbuf[:0], raw)
			raw = d.kbuf
		}
	}
	if d.pos < len(data) && data[d.pos] == ':' { // no whitespace, as Marshal writes it
		d.pos++
		if d.pos < len(data) && data[d.pos] > ' ' {
			return raw, nil
		}
		d.skipWS()
		return raw, nil
	}
	d.skipWS()
	if d.peek() != ':' {
		return nil, d.errorf("missing ':' after object key")
	}
	d.pos++
	d.skipWS()
	return raw, nil
}

// scanString consumes the JSON string at the position (a '"') and returns
// its raw content; plain reports whether it needs no unescaping (no escape
// sequences, valid UTF-8).
func (d *chunkDecoder) scanString() (raw []byte, plain bool, err error) {
	data := d.data
	i := d.pos + 1
	plain = true
	ascii := true
	for {
		// Eight bytes at a time while none is a quote, a backslash, a
		// control character or non-ASCII.
		for i < len(data) && strPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			d.pos = i
			return nil, false, d.errorf("unexpected end of input in string")
		}
		c := data[i]
		if c == '"' {
			break
		}
		if c < ' ' {
			d.pos = i
			return nil, false, d.errorf("invalid character %q in string", c)
		}
		if c == '\\' {
			plain = false
			i++
			if i >= len(data) {
				d.pos = i
				return nil, false, d.errorf("unexpected end of input in string escape")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					d.pos = i
					return nil, false, d.errorf("invalid \\u escape in string")
				}
				i += 5
			default:
				d.pos = i
				return nil, false, d.errorf("invalid escape %q in string", data[i])
			}
			continue
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		i++
	}
	raw = data[d.pos+1 : i]
	d.pos = i + 1
	if plain && !ascii && !utf8.Valid(raw) {
		plain = false
	}
	return raw, plain, nil
}

// strPlain[c] is whether byte c stands for itself in a JSON string and
// keeps it plain: printable ASCII but the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendUnescaped appends the JSON string content s (already validated by
// scanString) unescaped exactly as encoding/json's unquoteBytes does.
func appendUnescaped(b, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return b
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// scanNumber consumes a JSON number and reports whether it is an integer
// (no fraction, no exponent).
func (d *chunkDecoder) scanNumber() (isInt bool, err error) {
	data := d.data
	i := d.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i++; i < len(data) && isDigit(data[i]); i++ {
		}
	default:
		d.pos = i
		return false, d.errorf("invalid number")
	}
	isInt = true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return false, d.errorf("invalid number: no digit after the decimal point")
		}
		for ; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return false, d.errorf("invalid number: no digit in the exponent")
		}
		for ; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	d.pos = i
	return isInt, nil
}

// skipValue consumes any JSON value inside a container at depth.
func (d *chunkDecoder) skipValue(depth int) error {
	switch d.peek() {
	case '{':
		empty, err := d.open(depth + 1)
		if err != nil || empty {
			return err
		}
		for {
			if _, err := d.key(); err != nil {
				return err
			}
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
			more, err := d.next('}')
			if err != nil || !more {
				return err
			}
		}
	case '[':
		empty, err := d.open(depth + 1)
		if err != nil || empty {
			return err
		}
		for {
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
			more, err := d.next(']')
			if err != nil || !more {
				return err
			}
		}
	case '"':
		_, _, err := d.scanString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case 0:
		if d.pos == len(d.data) {
			return d.errorf("unexpected end of input")
		}
	}
	_, err := d.scanNumber()
	return err
}

// typeError is a JSON value of the wrong type for a field (encoding/json's
// UnmarshalTypeError).
func (d *chunkDecoder) typeError(field string) error {
	return d.errorf("cannot decode %s into %s", valueKind(d.peek()), field)
}

func valueKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

// str decodes a string field: (value, true), or (nil, false) for null.
// The value is in the input when inInput, else in the scratch buffer (valid
// until the next string).
func (d *chunkDecoder) str(field string) (b []byte, inInput, ok bool, err error) {
	switch d.peek() {
	case '"':
		raw, plain, err := d.scanString()
		if err != nil {
			return nil, false, false, err
		}
		if !plain {
			d.buf = appendUnescaped(d.buf[:0], raw)
			return d.buf, false, true, nil
		}
		return raw, true, true, nil
	case 'n':
		return nil, false, false, d.literal("null")
	}
	return nil, false, false, d.typeError(field)
}

// intern returns b as a string shared by equal values of this decoding.
func (d *chunkDecoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string, 32)
	}
	if len(d.strs) < maxInterned {
		d.strs[s] = s
	}
	return s
}

// internedStr decodes a low-cardinality string field into *dst (left as is
// for null). slot names the field for a cache of its last value, checked
// before the intern map.
func (d *chunkDecoder) internedStr(dst *string, slot int, field string) error {
	b, _, ok, err := d.str(field)
	if ok {
		if last := d.last[slot]; string(b) == last {
			*dst = last
			return nil
		}
		v := d.intern(b)
		d.last[slot] = v
		*dst = v
	}
	return err
}

// integer decodes an int field into *dst (left as is for null).
func (d *chunkDecoder) integer(dst *int, field string) error {
	c := d.peek()
	if c == 'n' {
		return d.literal("null")
	}
	if c != '-' && !isDigit(c) {
		return d.typeError(field)
	}
	start := d.pos
	isInt, err := d.scanNumber()
	if err != nil {
		return err
	}
	tok := d.data[start:d.pos]
	if !isInt {
		return d.errorf("cannot decode number %s into %s", tok, field)
	}
	if len(tok) <= 18 { // fits an int64 (strconv.ParseInt otherwise)
		neg := tok[0] == '-'
		if neg {
			tok = tok[1:]
		}
		var v int64
		for _, c := range tok {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		*dst = int(v)
		return nil
	}
	v, err := strconv.ParseInt(string(tok), 10, strconv.IntSize)
	if err != nil {
		return d.errorf("cannot decode number %s into %s", tok, field)
	}
	*dst = int(v)
	return nil
}

// dec decodes a decimal field into *dst (left as is for null). Like
// Decimal.UnmarshalJSON it parses the value's text: a number as written, a
// string without its quotes and without unescaping.
func (d *chunkDecoder) dec(dst *decimal.Decimal, slot int, field string) error {
	start := d.pos
	switch c := d.peek(); {
	case c == '"':
		if _, _, err := d.scanString(); err != nil {
			return err
		}
	case c == '-' || isDigit(c):
		if _, err := d.scanNumber(); err != nil {
			return err
		}
	case c == 'n':
		return d.literal("null")
	default:
		return d.typeError(field)
	}
	raw := d.data[start:d.pos]
	if len(raw) > 2 && raw[0] == '"' { // unquoteIfQuoted: `""` stays as is
		raw = raw[1 : len(raw)-1]
	}
	cache := &d.decs[slot]
	if cache.ok && bytes.Equal(cache.raw, raw) {
		*dst = cache.d
		return nil
	}
	var h uint32 = 2166136261 // FNV-1a
	for _, c := range raw {
		h = (h ^ uint32(c)) * 16777619
	}
	e := &d.decimals[h%uint32(len(d.decimals))]
	v := e.d
	if e.raw == nil || !bytes.Equal(e.raw, raw) {
		var err error
		if v, err = parseDecimal(raw); err != nil {
			return d.errorf("%s: %v", field, err)
		}
		if d.owned {
			e.raw = append(e.raw[:0], raw...)
		} else {
			e.raw = raw
		}
		e.d = v
	}
	if d.owned {
		cache.raw = append(cache.raw[:0], raw...)
	} else {
		cache.raw = raw
	}
	cache.d, cache.ok = v, true
	*dst = v
	return nil
}

// parseDecimal is decimal.NewFromString(string(s)), without its allocations
// for the plain decimals a chunk carries: up to 18 characters of digits, an
// optional leading '-' and one '.', which NewFromString parses as an int64
// and a scale (the same value, the same representation).
func parseDecimal(s []byte) (decimal.Decimal, error) {
	if n := len(s); n > 0 && n <= 19 {
		i, neg := 0, false
		if s[0] == '-' {
			i, neg = 1, true
		}
		var v int64
		digits, point := 0, -1
		for ; i < n; i++ {
			c := s[i]
			if isDigit(c) {
				v = v*10 + int64(c-'0')
				digits++
				continue
			}
			if c != '.' || point >= 0 {
				break
			}
			point = i
		}
		numLen := n
		if point >= 0 {
			numLen--
		}
		scale := 0
		if point >= 0 {
			scale = n - 1 - point
		}
		if i == n && digits > 0 && numLen <= 18 && scale <= decimal.MaxDecodeExponent {
			if neg {
				v = -v
			}
			return decimal.New(v, int32(-scale)), nil
		}
	}
	return decimal.NewFromString(string(s))
}

// wallTime decodes a WallTime field as its UnmarshalText does (left as is
// for null).
func (d *chunkDecoder) wallTime(dst *WallTime, field string) error {
	b, inInput, ok, err := d.str(field)
	if !ok {
		return err
	}
	if len(b) == 0 {
		*dst = 0
		return nil
	}
	if d.lastWallRaw != nil && bytes.Equal(b, d.lastWallRaw) {
		*dst = d.lastWall
		return nil
	}
	if y, mo, dd, ok := civilDate(b); ok && len(b) == len(WallTimeLayout) && b[10] == 'T' && b[13] == ':' && b[16] == ':' {
		h, okh := twoDigits(b[11:13])
		mi, okm := twoDigits(b[14:16])
		s, oks := twoDigits(b[17:19])
		if okh && okm && oks && h < 24 && mi < 60 && s < 60 {
			w := WallTime(time.Date(y, time.Month(mo), dd, h, mi, s, 0, time.UTC).Unix())
			*dst = w
			switch {
			case d.owned:
				d.lastWallRaw, d.lastWall = append(d.lastWallRaw[:0], b...), w
			case inInput:
				d.lastWallRaw, d.lastWall = b, w
			}
			return nil
		}
	}
	w, err := ParseWallTime(string(b))
	if err != nil {
		return d.errorf("%s: %v", field, err)
	}
	*dst = w
	return nil
}

// date decodes a Date field as its UnmarshalText does (left as is for null).
func (d *chunkDecoder) date(dst *Date, field string) error {
	b, _, ok, err := d.str(field)
	if !ok {
		return err
	}
	if len(b) == 0 {
		*dst = 0
		return nil
	}
	if y, mo, dd, ok := civilDate(b); ok && len(b) == len(DateLayout) {
		*dst = NewDate(y, time.Month(mo), dd)
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return d.errorf("%s: %v", field, err)
	}
	*dst = v
	return nil
}

// civilDate reads a valid calendar day YYYY-MM-DD at the start of b, the
// way time.Parse reads DateLayout; ok is false for anything else (which the
// caller leaves to time.Parse).
func civilDate(b []byte) (y, m, d int, ok bool) {
	if len(b) < len(DateLayout) || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	hi, ok1 := twoDigits(b[0:2])
	lo, ok2 := twoDigits(b[2:4])
	m, ok3 := twoDigits(b[5:7])
	d, ok4 := twoDigits(b[8:10])
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, false
	}
	y = hi*100 + lo
	if d > DaysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func twoDigits(b []byte) (int, bool) {
	if !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// foldName is encoding/json's case folding of a key: ASCII upper case, and
// every other rune replaced by the smallest rune of its simple-fold orbit.
func foldName(in []byte) []byte {
	var arr [32]byte
	out := arr[:0]
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// Chunk fields.
const (
	chunkNone = iota
	chunkSession
	chunkAccount
	chunkID
	chunkOrdinal
	chunkTotal
	chunkWeek
	chunkPart
	chunkMovements
)

func chunkField(key []byte) int {
	switch string(key) {
	case "session":
		return chunkSession
	case "account":
		return chunkAccount
	case "id":
		return chunkID
	case "ordinal":
		return chunkOrdinal
	case "total":
		return chunkTotal
	case "week":
		return chunkWeek
	case "part":
		return chunkPart
	case "movements":
		return chunkMovements
	}
	switch string(foldName(key)) {
	case "SESSION":
		return chunkSession
	case "ACCOUNT":
		return chunkAccount
	case "ID":
		return chunkID
	case "ORDINAL":
		return chunkOrdinal
	case "TOTAL":
		return chunkTotal
	case "WEEK":
		return chunkWeek
	case "PART":
		return chunkPart
	case "MOVEMENTS":
		return chunkMovements
	}
	return chunkNone
}

// chunkObject decodes the top-level object into c.
func (d *chunkDecoder) chunkObject(c *Chunk) error {
	const depth = 1
	empty, err := d.open(depth)
	if err != nil || empty {
		return err
	}
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		switch chunkField(key) {
		case chunkSession:
			err = d.internedStr(&c.Session, strSession, "Chunk.session")
		case chunkAccount:
			err = d.internedStr(&c.Account, strAccount, "Chunk.account")
		case chunkID:
			err = d.internedStr(&c.ID, strChunkID, "Chunk.id")
		case chunkOrdinal:
			err = d.integer(&c.Ordinal, "Chunk.ordinal")
		case chunkTotal:
			err = d.integer(&c.Total, "Chunk.total")
		case chunkWeek:
			err = d.internedStr(&c.Week, strWeek, "Chunk.week")
		case chunkPart:
			err = d.integer(&c.Part, "Chunk.part")
		case chunkMovements:
			err = d.movements(c, depth+1)
		default:
			err = d.skipValue(depth)
		}
		if err != nil {
			return err
		}
		more, err := d.next('}')
		if err != nil || !more {
			return err
		}
	}
}

// movements decodes the movements array (at depth) into c.Movements the way
// encoding/json decodes into a slice: elements already in the slice are
// decoded into (a repeated key merges), and the slice ends with the array.
func (d *chunkDecoder) movements(c *Chunk, depth int) error {
	switch d.peek() {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		c.Movements = nil
		return nil
	case '[':
	default:
		return d.typeError("Chunk.movements")
	}
	empty, err := d.open(depth)
	if err != nil {
		return err
	}
	if empty {
		c.Movements = []Movement{}
		return nil
	}
	s := c.Movements
	i := 0
	for {
		if i >= cap(s) {
			if cap(s) == 0 {
				s = make([]Movement, 0, d.movementsHint())
			} else {
				s = append(s[:cap(s)], Movement{})[:i]
			}
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		switch d.peek() {
		case '{':
			err = d.movementObject(&s[i], depth+1)
		case 'n':
			err = d.literal("null")
		default:
			err = d.typeError("Chunk.movements element")
		}
		if err != nil {
			return err
		}
		i++
		more, err := d.next(']')
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	c.Movements = s[:i]
	return nil
}

// movementsHint estimates the number of movements for the slice's first
// allocation (the capacity changes nothing but the allocations): movements
// start with `{"id":` as Marshal writes them, and take at least 64 bytes.
// Only the first allocation is sized so (a body repeating "movements" is
// not counted again and again).
func (d *chunkDecoder) movementsHint() int {
	if d.hinted {
		return 1
	}
	d.hinted = true
	n := bytes.Count(d.data[d.pos:], []byte(`{"id":`))
	return max(1, min(n, len(d.data)/64+1))
}

// Movement fields.
const (
	mNone = iota
	mID
	mAccount
	mBroker
	mKind
	mTime
	mOffset
	mSeq
	mPart
	mLine
	mCurrency
	mTicker
	mCashType
	mCode
	mQuantity
	mPrice
	mAmount
	mCommissions
	mFees
	mOptionType
	mStrike
	mNewStrike
	mExpiration
	mPremium
	mNetPremium
	mMultiplier
	mFromCurrency
	mAmountChanged
	mNotes
)

func movementField(key []byte) int {
	switch string(key) {
	case "id":
		return mID
	case "account":
		return mAccount
	case "broker":
		return mBroker
	case "kind":
		return mKind
	case "time":
		return mTime
	case "offset":
		return mOffset
	case "seq":
		return mSeq
	case "part":
		return mPart
	case "line":
		return mLine
	case "currency":
		return mCurrency
	case "ticker":
		return mTicker
	case "cash_type":
		return mCashType
	case "code":
		return mCode
	case "quantity":
		return mQuantity
	case "price":
		return mPrice
	case "amount":
		return mAmount
	case "commissions":
		return mCommissions
	case "fees":
		return mFees
	case "option_type":
		return mOptionType
	case "strike":
		return mStrike
	case "new_strike":
		return mNewStrike
	case "expiration":
		return mExpiration
	case "premium":
		return mPremium
	case "net_premium":
		return mNetPremium
	case "multiplier":
		return mMultiplier
	case "from_currency":
		return mFromCurrency
	case "amount_changed":
		return mAmountChanged
	case "notes":
		return mNotes
	}
	switch string(foldName(key)) {
	case "ID":
		return mID
	case "ACCOUNT":
		return mAccount
	case "BROKER":
		return mBroker
	case "KIND":
		return mKind
	case "TIME":
		return mTime
	case "OFFSET":
		return mOffset
	case "SEQ":
		return mSeq
	case "PART":
		return mPart
	case "LINE":
		return mLine
	case "CURRENCY":
		return mCurrency
	case "TICKER":
		return mTicker
	case "CASH_TYPE":
		return mCashType
	case "CODE":
		return mCode
	case "QUANTITY":
		return mQuantity
	case "PRICE":
		return mPrice
	case "AMOUNT":
		return mAmount
	case "COMMISSIONS":
		return mCommissions
	case "FEES":
		return mFees
	case "OPTION_TYPE":
		return mOptionType
	case "STRIKE":
		return mStrike
	case "NEW_STRIKE":
		return mNewStrike
	case "EXPIRATION":
		return mExpiration
	case "PREMIUM":
		return mPremium
	case "NET_PREMIUM":
		return mNetPremium
	case "MULTIPLIER":
		return mMultiplier
	case "FROM_CURRENCY":
		return mFromCurrency
	case "AMOUNT_CHANGED":
		return mAmountChanged
	case "NOTES":
		return mNotes
	}
	return mNone
}

// movementObject decodes a movement object (at depth) into m, over the
// values m already has.
func (d *chunkDecoder) movementObject(m *Movement, depth int) error {
	return d.movementFields(m, depth, 0)
}

// memberFields maps a movement member (mID ... mNotes) to its field of
// [Fields], 0 for the identity and order fields every decoding reads.
var memberFields = [...]Fields{
	mBroker: FieldBroker, mOffset: FieldOffset, mLine: FieldLine, mCurrency: FieldCurrency, mTicker: FieldTicker,
	mCashType: FieldCashType, mCode: FieldCode, mQuantity: FieldQuantity, mPrice: FieldPrice, mAmount: FieldAmount,
	mCommissions: FieldCommissions, mFees: FieldFees, mOptionType: FieldOptionType, mStrike: FieldStrike,
	mNewStrike: FieldNewStrike, mExpiration: FieldExpiration, mPremium: FieldPremium, mNetPremium: FieldNetPremium,
	mMultiplier: FieldMultiplier, mFromCurrency: FieldFromCurrency, mAmountChanged: FieldAmountChanged,
	mNotes: FieldNotes,
}

// movementFields is movementObject for the fields f holds (every field
// for the zero Fields) and the identity and order fields: the values of
// other members are skipped as JSON values, not decoded.
func (d *chunkDecoder) movementFields(m *Movement, depth int, f Fields) error {
	empty, err := d.open(depth)
	if err != nil || empty {
		return err
	}
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		member := movementField(key)
		if f != 0 && !f.Has(memberFields[member]) {
			member = mNone
		}
		switch member {
		case mID:
			var b []byte
			var ok bool
			if b, _, ok, err = d.str("Movement.id"); ok {
				m.ID = string(b)
			}
		case mAccount:
			err = d.internedStr(&m.Account, strAccount, "Movement.account")
		case mBroker:
			err = d.internedStr(&m.Broker, strBroker, "Movement.broker")
		case mKind:
			err = d.internedStr((*string)(&m.Kind), strKind, "Movement.kind")
		case mTime:
			err = d.wallTime(&m.Time, "Movement.time")
		case mOffset:
			err = d.internedStr(&m.Offset, strOffset, "Movement.offset")
		case mSeq:
			err = d.integer(&m.Seq, "Movement.seq")
		case mPart:
			err = d.integer(&m.Part, "Movement.part")
		case mLine:
			err = d.integer(&m.Line, "Movement.line")
		case mCurrency:
			err = d.internedStr(&m.Currency, strCurrency, "Movement.currency")
		case mTicker:
			err = d.internedStr(&m.Ticker, strTicker, "Movement.ticker")
		case mCashType:
			err = d.internedStr((*string)(&m.CashType), strCashType, "Movement.cash_type")
		case mCode:
			err = d.internedStr((*string)(&m.Code), strCode, "Movement.code")
		case mQuantity:
			err = d.dec(&m.Quantity, decQuantity, "Movement.quantity")
		case mPrice:
			err = d.dec(&m.Price, decPrice, "Movement.price")
		case mAmount:
			err = d.dec(&m.Amount, decAmount, "Movement.amount")
		case mCommissions:
			err = d.dec(&m.Commissions, decCommissions, "Movement.commissions")
		case mFees:
			err = d.dec(&m.Fees, decFees, "Movement.fees")
		case mOptionType:
			err = d.internedStr((*string)(&m.OptionType), strOptionType, "Movement.option_type")
		case mStrike:
			err = d.dec(&m.Strike, decStrike, "Movement.strike")
		case mNewStrike:
			err = d.dec(&m.NewStrike, decNewStrike, "Movement.new_strike")
		case mExpiration:
			err = d.date(&m.Expiration, "Movement.expiration")
		case mPremium:
			err = d.dec(&m.Premium, decPremium, "Movement.premium")
		case mNetPremium:
			err = d.dec(&m.NetPremium, decNetPremium, "Movement.net_premium")
		case mMultiplier:
			err = d.dec(&m.Multiplier, decMultiplier, "Movement.multiplier")
		case mFromCurrency:
			err = d.internedStr(&m.FromCurrency, strFromCurrency, "Movement.from_currency")
		case mAmountChanged:
			err = d.dec(&m.AmountChanged, decAmountChanged, "Movement.amount_changed")
		case mNotes:
			var b []byte
			var ok bool
			if b, _, ok, err = d.str("Movement.notes"); ok {
				if string(b) != d.notes {
					d.notes = string(b)
				}
				m.Notes = d.notes
			}
		default:
			err = d.skipValue(depth)
		}
		if err != nil {
			return err
		}
		if d.pos+1 < len(d.data) && d.data[d.pos] == ',' && d.data[d.pos+1] == '"' {
			d.pos++ // the next member, as Marshal writes it
			continue
		}
		more, err := d.next('}')
		if err != nil || !more {
			return err
		}
	}
}
