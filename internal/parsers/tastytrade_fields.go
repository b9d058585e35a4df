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
func ttParseNumber(s string, abs bool) (decimal.Decimal, bool) {
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
				return decimal.Decimal{}, false
			}
			point = true
		case c == '-' || c == '+':
			if !first {
				return decimal.Decimal{}, false
			}
			neg = c == '-'
		default:
			return decimal.Decimal{}, false
		}
		first = false
	}
	if !seen {
		return decimal.Decimal{}, false
	}
	neg = neg && !abs
	if big {
		return ttParseBigDecimal(s, neg)
	}
	if mant == 0 {
		return decimal.Decimal{}, true
	}
	v := int64(mant)
	if neg {
		v = -v
	}
	return decimal.New(v, int32(-frac)), true
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
	return ttDateTime{wall: events.WallTimeOf(t), utc: t.Unix(), offset: offset}
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
	if s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' || (s[19] != '+' && s[19] != '-') {
		return ttDateTime{}, false
	}
	num := func(i, n int) (int, bool) {
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
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	oh, ok7 := num(20, 2)
	om, ok8 := num(22, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return ttDateTime{}, false
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || oh > 99 || om > 59 {
		return ttDateTime{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // 31 April and the like
		return ttDateTime{}, false
	}
	wall := t.Unix()
	off := int64(oh*3600 + om*60)
	if s[19] == '-' {
		off = -off
	}
	return ttDateTime{wall: events.WallTime(wall), utc: wall - off, offset: s[19:]}, true
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
	if m < 1 || m > 12 || d < 1 || d > 31 || !plausibleYear(y) {
		return 0, false
	}
	if time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return 0, false
	}
	return events.NewDate(y, time.Month(m), d), true
}

// ttAbs is d.Abs() without an allocation when d is not negative.
func ttAbs(d decimal.Decimal) decimal.Decimal {
	if d.Sign() >= 0 {
		return d
	}
	return d.Neg()
}

// ttCanonText is CanonicalText without an allocation in the common case: an
// ASCII text whose only white space is single spaces between words is
// already canonical.
func ttCanonText(s string) string {
	prevSpace := true // so that a leading space is not canonical
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return CanonicalText(s)
		case c == ' ':
			if prevSpace {
				return CanonicalText(s)
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	if prevSpace && len(s) > 0 {
		return CanonicalText(s)
	}
	return s
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
