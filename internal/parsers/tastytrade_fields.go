package parsers

import (
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// Field-level readers for Tastytrade rows (spec/parsers.md §1.3).

// ttParseDecimal reads a Tastytrade number: every ',' is removed, then an
// optional leading sign, digits and at most one decimal point (at least one
// digit). Exponents, parentheses, currency signs and anything else are
// rejected. A negative zero is zero.
func ttParseDecimal(s string) (decimal.Decimal, bool) { return ttParseNumber(s, false) }

// ttParseNumber is ttParseDecimal, returning the absolute value if abs.
func ttParseNumber(s string, abs bool) (decimal.Decimal, bool) { return ttParseNumberIn(s, abs, nil) }

// ttParseNumberIn is ttParseNumber with the decimal made by dc (nil:
// decimal.New).
func ttParseNumberIn(s string, abs bool, dc *decCache) (decimal.Decimal, bool) {
	n, ok := ttParseNum(s, abs)
	switch {
	case !ok:
		return decimal.Decimal{}, false
	case dc != nil:
		return n.dec(dc), true
	case n.wide:
		return n.d, true
	case n.c == 0:
		return decimal.Decimal{}, true
	}
	return decimal.New(n.c, n.e), true
}

// ttParseNum is ttParseNumber as a num: no decimal is made unless the
// number has more than 18 significant digits.
func ttParseNum(s string, abs bool) (num, bool) {
	// The usual form, [-]digits with commas[.digits], in at most 18 bytes
	// (so at most 18 digits), is read here; anything else (a '+', a sign
	// after commas, a second point, no digit) by ttParseNumSlow.
	if len(s) == 0 || len(s) > 18 {
		return ttParseNumSlow(s, abs)
	}
	i, neg := 0, false
	if s[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		if d := s[i] - '0'; d <= 9 {
			mant = mant*10 + uint64(d)
			digits++
			if point {
				frac++
			}
			continue
		}
		switch s[i] {
		case ',':
		case '.':
			if point {
				return ttParseNumSlow(s, abs)
			}
			point = true
		default:
			return ttParseNumSlow(s, abs)
		}
	}
	if digits == 0 {
		return ttParseNumSlow(s, abs)
	}
	if mant == 0 {
		return num{}, true
	}
	v := int64(mant)
	if neg && !abs {
		v = -v
	}
	return num{c: v, e: int32(-frac)}, true
}

// ttParseNumSlow is ttParseNum for any text.
func ttParseNumSlow(s string, abs bool) (num, bool) {
	var (
		mant   uint64
		neg    bool
		digits int  // significant digits accumulated in mant
		frac   int  // digits after the point
		seen   bool // a digit was seen
		point  bool
		first  = true // nothing but commas so far
		big    bool   // more than 18 significant digits: slow path
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if point {
				frac++
			}
			if mant == 0 && c == '0' {
				break
			}
			if digits == 18 {
				big = true
				break
			}
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == ',':
			continue
		case c == '.':
			if point {
				return num{}, false
			}
			point = true
		case c == '-' || c == '+':
			if !first {
				return num{}, false
			}
			neg = c == '-'
		default:
			return num{}, false
		}
		first = false
	}
	if !seen {
		return num{}, false
	}
	neg = neg && !abs
	if big {
		d, ok := ttParseBigDecimal(s, neg)
		return numOf(d), ok
	}
	if mant == 0 {
		return num{}, true
	}
	v := int64(mant)
	if neg {
		v = -v
	}
	return num{c: v, e: int32(-frac)}, true
}

// ttValidNumber reports whether ttParseDecimal accepts s, without building
// the decimal.
func ttValidNumber(s string) bool {
	seen, point, first := false, false, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			seen = true
		case c == ',':
			continue
		case c == '.':
			if point {
				return false
			}
			point = true
		case c == '-' || c == '+':
			if !first {
				return false
			}
		default:
			return false
		}
		first = false
	}
	return seen
}

// ttParseBigDecimal is the slow path of ttParseDecimal for numbers of more
// than 18 significant digits; s has already been validated.
func ttParseBigDecimal(s string, neg bool) (decimal.Decimal, bool) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('0') // so that ".5" and "5." both parse
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == '.' {
			b.WriteByte(c)
		}
	}
	t := strings.TrimSuffix(b.String(), ".")
	d, err := decimal.NewFromString(t)
	if err != nil {
		return decimal.Decimal{}, false
	}
	if d.IsZero() {
		return decimal.Decimal{}, true
	}
	return d, true
}

// ttDateTime is a parsed Date column.
type ttDateTime struct {
	wall   events.WallTime // wall-clock time as written
	utc    int64           // the UTC instant, Unix seconds
	offset string          // the offset as written ("+0100", "Z"), or ""
	year   int             // of wall
}

// ttParseDateTime reads the Date column: text with a 'T' is an ISO 8601
// date-time whose offset is kept aside (only the wall clock is the
// movement's time); other text is a plain date or date-time, read as having
// no offset.
func ttParseDateTime(s string) (ttDateTime, bool) {
	if len(s) == 24 && s[10] == 'T' {
		if dt, ok := ttFastDateTime(s); ok {
			return dt, true
		}
	}
	if strings.IndexByte(s, 'T') >= 0 {
		for _, layout := range [...]string{"2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05"} {
			t, err := time.Parse(layout, s)
			if err != nil {
				continue
			}
			return ttDateTimeOf(t, ttOffsetText(s)), true
		}
		return ttDateTime{}, false
	}
	for _, layout := range [...]string{"2006-01-02", "2006-01-02 15:04:05", "1/2/2006", "1/2/2006 15:04:05"} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		return ttDateTimeOf(t, ""), true
	}
	return ttDateTime{}, false
}

func ttDateTimeOf(t time.Time, offset string) ttDateTime {
	return ttDateTime{wall: events.WallTimeOf(t), utc: t.Unix(), offset: offset, year: t.Year()}
}

// ttOffsetText returns what follows the seconds (and any fraction) of an ISO
// date-time: the offset as written.
func ttOffsetText(s string) string {
	if len(s) < 19 {
		return ""
	}
	rest := s[19:]
	if strings.HasPrefix(rest, ".") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		rest = rest[i:]
	}
	return rest
}

// ttFastDateTime parses exactly YYYY-MM-DDTHH:MM:SS±HHMM, the form of every
// real export, without going through time.Parse.
func ttFastDateTime(s string) (ttDateTime, bool) {
	days, y, ok := ttFastDate(s)
	if !ok {
		return ttDateTime{}, false
	}
	return ttFastClock(s, days, y)
}

// ttDigits reads s[i:i+n] as a decimal number of n digits.
func ttDigits(s string, i, n int) (int, bool) {
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// ttDigits2 is ttDigits(s, i, 2).
func ttDigits2(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0' // a byte below '0' wraps past 9
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

// ttFastDate reads the YYYY-MM-DD of s (len(s) >= 10): the days since
// 1970-01-01, and the year.
func ttFastDate(s string) (days int64, year int, ok bool) {
	if s[4] != '-' || s[7] != '-' {
		return 0, 0, false
	}
	y, ok1 := ttDigits(s, 0, 4)
	mo, ok2 := ttDigits(s, 5, 2)
	d, ok3 := ttDigits(s, 8, 2)
	if !(ok1 && ok2 && ok3) || mo < 1 || mo > 12 || d < 1 || d > events.DaysIn(y, mo) {
		return 0, 0, false
	}
	return daysFromCivil(y, mo, d), y, true
}

// ttFastClock reads the THH:MM:SS±HHMM of s (len(s) == 24) on the given
// day.
func ttFastClock(s string, days int64, year int) (ttDateTime, bool) {
	if s[10] != 'T' || s[13] != ':' || s[16] != ':' || (s[19] != '+' && s[19] != '-') {
		return ttDateTime{}, false
	}
	h, ok4 := ttDigits2(s, 11)
	mi, ok5 := ttDigits2(s, 14)
	sec, ok6 := ttDigits2(s, 17)
	oh, ok7 := ttDigits2(s, 20)
	om, ok8 := ttDigits2(s, 22)
	if !(ok4 && ok5 && ok6 && ok7 && ok8) || h > 23 || mi > 59 || sec > 59 || oh > 99 || om > 59 {
		return ttDateTime{}, false
	}
	wall := days*86400 + int64(h*3600+mi*60+sec)
	off := int64(oh*3600 + om*60)
	if s[19] == '-' {
		off = -off
	}
	return ttDateTime{wall: events.WallTime(wall), utc: wall - off, offset: s[19:], year: year}, true
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d, for a valid
// date of year 0 to 9999 (Howard Hinnant's days_from_civil; ibCivil is its
// inverse).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// ttParseExpiration reads the Expiration Date column: M/D/YY with any
// padding, the two-digit year read as 2000+YY (spec/parsers.md §6.1 item
// 20); four-digit years and ISO dates are accepted too.
func ttParseExpiration(s string) (events.Date, bool) {
	if strings.Count(s, "/") == 2 {
		parts := [3]int{}
		widths := [3]int{}
		p := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '/' {
				p++
				continue
			}
			if c < '0' || c > '9' || widths[p] == 4 {
				return 0, false
			}
			parts[p] = parts[p]*10 + int(c-'0')
			widths[p]++
		}
		m, d, y := parts[0], parts[1], parts[2]
		switch {
		case widths[0] < 1 || widths[0] > 2 || widths[1] < 1 || widths[1] > 2:
			return 0, false
		case widths[2] == 2:
			y += 2000
		case widths[2] != 4:
			return 0, false
		}
		return ttValidDate(y, m, d)
	}
	t, err := time.Parse(events.DateLayout, s)
	if err != nil || !plausibleYear(t.Year()) {
		return 0, false
	}
	return events.DateOf(t), true
}

func ttValidDate(y, m, d int) (events.Date, bool) {
	if m < 1 || m > 12 || d < 1 || d > events.DaysIn(y, m) || !plausibleYear(y) {
		return 0, false
	}
	return events.NewDate(y, time.Month(m), d), true
}

// ttCanonText is CanonicalText without an allocation in the common case: an
// ASCII text whose only white space is single spaces between words is
// already canonical.
func ttCanonText(s string) string {
	if ttTextForm(s) == ttTextCanonical {
		return s
	}
	return CanonicalText(s)
}

// Forms of a text, by what canonicalising it takes.
const (
	ttTextCanonical = iota // nothing: it is canonical
	ttTextASCII            // ASCII with white space to collapse or trim
	ttTextOther            // non-ASCII: CanonicalText
)

// ttTextForm tells how far s is from its CanonicalText, eight bytes at a
// time.
func ttTextForm(s string) int {
	const (
		ones   = 0x0101010101010101
		high   = 0x8080808080808080
		low7   = 0x7f7f7f7f7f7f7f7f
		spaces = ' ' * ones
	)
	n := len(s)
	if n == 0 {
		return ttTextCanonical
	}
	var prev uint64 // 0x80 if the byte before the current word is a space
	i := 0
	for ; i+8 <= n; i += 8 {
		w := load64(s, i)
		// Any byte >= 0x80 (non-ASCII) or < 0x20 (control, white space
		// other than ' '): the byte by byte check decides.
		if w&high != 0 || (w-spaces)&^w&high != 0 {
			return ttTextFormBytes(s)
		}
		x := w ^ spaces
		sp := ^((x&low7 + low7) | x | low7) // 0x80 where w has a space
		if sp&(sp<<8|prev) != 0 {
			return ttTextFormBytes(s) // two spaces in a row (or a non-ASCII byte later)
		}
		prev = sp >> 56
	}
	prevSpace := prev != 0
	for ; i < n; i++ {
		switch c := s[i]; {
		case c >= 0x80, c < 0x20:
			return ttTextFormBytes(s)
		case c == ' ':
			if prevSpace {
				return ttTextFormBytes(s)
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	if s[0] == ' ' || s[n-1] == ' ' {
		return ttTextASCII
	}
	return ttTextCanonical
}

// ttTextFormBytes is ttTextForm one byte at a time.
func ttTextFormBytes(s string) int {
	form := ttTextCanonical
	prevSpace := true // so that a leading space is not canonical
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return ttTextOther
		case c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			form = ttTextASCII
		case c == ' ':
			if prevSpace {
				form = ttTextASCII
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	if prevSpace && len(s) > 0 {
		form = ttTextASCII
	}
	return form
}

// load64 reads s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	w := s[i : i+8] // one bounds check: the compiler knows len(w)
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// ttCanonNumber returns CanonicalDecimal of the number s (already accepted
// by ttParseDecimal), computed from the text: commas and a '+' removed,
// leading integer zeros and trailing fractional zeros dropped, "0" for zero.
// In the common case it is a substring of s.
func ttCanonNumber(s string) string {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if strings.IndexByte(s, ',') >= 0 {
		s = strings.ReplaceAll(s, ",", "")
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	s = strings.TrimLeft(s, "0")
	switch {
	case s == "":
		return "0"
	case s[0] == '.':
		if neg {
			return "-0" + s
		}
		return "0" + s
	case neg:
		return "-" + s
	}
	return s
}

// ttAppendCanonNumber appends the fingerprint field of the number s
// (already accepted by ttParseDecimal): the length-prefixed ttCanonNumber(s),
// without allocating.
func ttAppendCanonNumber(b []byte, s string) []byte {
	if len(s) > 64 {
		c := ttCanonNumber(s)
		b = appendLenPrefix(b, len(c))
		return append(b, c...)
	}
	var tmp [64]byte
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	t, dot := tmp[:0], false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',':
		case '.':
			dot = true
			t = append(t, c)
		default:
			t = append(t, c)
		}
	}
	if dot {
		for len(t) > 0 && t[len(t)-1] == '0' {
			t = t[:len(t)-1]
		}
		if len(t) > 0 && t[len(t)-1] == '.' {
			t = t[:len(t)-1]
		}
	}
	i := 0
	for i < len(t) && t[i] == '0' {
		i++
	}
	t = t[i:]
	if len(t) == 0 {
		return append(b, "1:0"...)
	}
	n, lead := len(t), t[0] == '.'
	if lead {
		n++
	}
	if neg {
		n++
	}
	b = appendLenPrefix(b, n)
	if neg {
		b = append(b, '-')
	}
	if lead {
		b = append(b, '0')
	}
	return append(b, t...)
}

// ttAppendCanonText appends the fingerprint field of the text s: the
// length-prefixed CanonicalText(s), without allocating for ASCII text.
func ttAppendCanonText(b []byte, s string) []byte {
	switch ttTextForm(s) {
	case ttTextCanonical:
		b = appendLenPrefix(b, len(s))
		return append(b, s...)
	case ttTextASCII:
		return appendCollapsedASCII(b, s)
	}
	c := CanonicalText(s)
	b = appendLenPrefix(b, len(c))
	return append(b, c...)
}

// isASCIISpace reports whether c is white space by unicode.IsSpace.
func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// appendCollapsedASCII appends the length-prefixed CanonicalText of the
// ASCII text s: trimmed, each run of white space one space.
func appendCollapsedASCII(b []byte, s string) []byte {
	var buf [128]byte
	t := buf[:0]
	if len(s) > len(buf) {
		t = make([]byte, 0, len(s))
	}
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIISpace(c) {
			space = true
			continue
		}
		if space && len(t) > 0 {
			t = append(t, ' ')
		}
		space = false
		t = append(t, c)
	}
	b = appendLenPrefix(b, len(t))
	return append(b, t...)
}

// appendClock appends the Unix time t as YYYY-MM-DDTHH:MM:SS, or reports
// false for a year outside 0000-9999.
func appendClock(b []byte, t int64) ([]byte, bool) {
	days, rem := t/86400, t%86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := ibCivil(days)
	if y < 0 || y > 9999 {
		return b, false
	}
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, m, 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, 'T')
	b = appendDigits(b, int(rem/3600), 2)
	b = append(b, ':')
	b = appendDigits(b, int(rem/60%60), 2)
	b = append(b, ':')
	return appendDigits(b, int(rem%60), 2), true
}

// appendDigits appends v (0 <= v < 10^w) as w digits.
func appendDigits(b []byte, v, w int) []byte {
	n := len(b) + w
	b = append(b, "0000"[:w]...)
	for j := n - 1; j >= n-w; j-- {
		b[j] = byte('0' + v%10)
		v /= 10
	}
	return b
}
