package parsers

import (
	"fmt"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// Value errors of IBKR cells; each wraps a row sentinel.
var (
	errIBNumber    = fmt.Errorf("%w: want a plain decimal such as -1,234.50 or --", ErrBadNumber)
	errIBNoNumber  = fmt.Errorf("%w: empty", ErrBadNumber)
	errIBZeroQty   = fmt.Errorf("%w: quantity is zero", ErrBadNumber)
	errIBDate      = fmt.Errorf("%w: want YYYY-MM-DD, HH:MM:SS or YYYY-MM-DD", ErrBadDate)
	errIBNoDate    = fmt.Errorf("%w: empty", ErrBadDate)
	errIBOptSymbol = fmt.Errorf("%w: option symbol is not UNDERLYING DDMMMYY STRIKE C|P", ErrUnsupported)
	errIBPair      = fmt.Errorf("%w: forex symbol is not BASE.QUOTE", ErrUnsupported)
	errIBEmpty     = fmt.Errorf("%w: required value is empty", ErrShortRow)
)

// ibParseDecimal parses an IBKR number: optional sign, digits with an
// optional decimal point, thousands separators allowed. "--" is 0. It
// returns present=false for an empty cell. Exponents, parentheses, currency
// symbols and percent signs are errors.
func ibParseDecimal(s string) (d decimal.Decimal, present bool, err error) {
	if s == "" {
		return decimal.Decimal{}, false, nil
	}
	if s == "--" {
		return decimal.Zero, true, nil
	}
	if strings.IndexByte(s, ',') >= 0 {
		if s = strings.ReplaceAll(s, ",", ""); s == "" {
			return decimal.Decimal{}, true, errIBNumber
		}
	}
	i := 0
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	var v int64
	digits, scale, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits <= 18 {
				v = v*10 + int64(c-'0')
			}
			if dot {
				scale++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return decimal.Decimal{}, true, errIBNumber
		}
	}
	if digits == 0 {
		return decimal.Decimal{}, true, errIBNumber
	}
	if digits > 18 {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return decimal.Decimal{}, true, errIBNumber
		}
		return d, true, nil
	}
	if neg {
		v = -v
	}
	return decimal.New(v, int32(-scale)), true, nil
}

// ibParseTime parses "YYYY-MM-DD, HH:MM:SS", "YYYY-MM-DD HH:MM:SS" or
// "YYYY-MM-DD" (midnight) as a naive wall-clock time.
func ibParseTime(s string) (events.WallTime, error) {
	if s == "" {
		return 0, errIBNoDate
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, errIBDate
	}
	y, ok1 := ibDigits(s[0:4])
	mo, ok2 := ibDigits(s[5:7])
	d, ok3 := ibDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, errIBDate
	}
	var h, mi, sec int
	rest := s[10:]
	if rest != "" {
		switch {
		case strings.HasPrefix(rest, ", "):
			rest = rest[2:]
		case strings.HasPrefix(rest, " "), strings.HasPrefix(rest, ","):
			rest = rest[1:]
		default:
			return 0, errIBDate
		}
		if len(rest) != 8 || rest[2] != ':' || rest[5] != ':' {
			return 0, errIBDate
		}
		var ok4, ok5, ok6 bool
		h, ok4 = ibDigits(rest[0:2])
		mi, ok5 = ibDigits(rest[3:5])
		sec, ok6 = ibDigits(rest[6:8])
		if !ok4 || !ok5 || !ok6 || h > 23 || mi > 59 || sec > 59 {
			return 0, errIBDate
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || !plausibleYear(y) {
		return 0, errIBDate
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // 31 April, 29 February of a common year
		return 0, errIBDate
	}
	return events.WallTime(t.Unix()), nil
}

func ibDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var ibMonths = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// ibOption is a parsed IBKR option symbol.
type ibOption struct {
	underlying string
	expiry     events.Date
	strike     decimal.Decimal
	typ        events.OptionType
}

// ibParseOptionSymbol parses an IBKR option symbol such as
// "AAPL 17MAR23 150 C" (underlying, expiry DDMMMYY, strike, C or P).
func ibParseOptionSymbol(s string) (ibOption, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return ibOption{}, errIBOptSymbol
	}
	n := len(f)
	var o ibOption
	switch f[n-1] {
	case "C":
		o.typ = events.Call
	case "P":
		o.typ = events.Put
	default:
		return ibOption{}, errIBOptSymbol
	}
	strike, ok, err := ibParseDecimal(f[n-2])
	if err != nil || !ok || strike.Sign() <= 0 {
		return ibOption{}, errIBOptSymbol
	}
	o.strike = strike
	e := f[n-3]
	if len(e) != 7 {
		return ibOption{}, errIBOptSymbol
	}
	day, ok1 := ibDigits(e[0:2])
	yy, ok2 := ibDigits(e[5:7])
	mon := 0
	for i, m := range ibMonths {
		if strings.EqualFold(e[2:5], m) {
			mon = i + 1
		}
	}
	if !ok1 || !ok2 || mon == 0 || day < 1 || day > 31 {
		return ibOption{}, errIBOptSymbol
	}
	t := time.Date(2000+yy, time.Month(mon), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day {
		return ibOption{}, errIBOptSymbol
	}
	o.expiry = events.DateOf(t)
	o.underlying = strings.Join(f[:n-3], " ")
	return o, nil
}

// ibSplitPair splits a forex symbol "GBP.USD" into base and quote.
func ibSplitPair(s string) (base, quote string, err error) {
	b, q, ok := strings.Cut(s, ".")
	if !ok || b == "" || q == "" || strings.ContainsAny(q, ". ") || strings.ContainsAny(b, " ") {
		return "", "", errIBPair
	}
	return b, q, nil
}

// ibTicker returns a dividend or tax row's ticker: the description text
// before "(" (e.g. "AAPL(US0378331005) Cash Dividend ..."), or its first word
// when there is no "(".
func ibTicker(desc string) string {
	if i := strings.IndexByte(desc, '('); i >= 0 {
		return strings.TrimSpace(desc[:i])
	}
	if i := strings.IndexAny(desc, " \t"); i >= 0 {
		return desc[:i]
	}
	return desc
}

// ibCanonNumber returns the canonical form (CanonicalDecimal) of a number
// cell that ibParseDecimal accepted, from its text: no thousands separators,
// no "+", no leading integer or trailing fractional zeros, "0" for any zero
// ("--" included). It returns s itself when s is already canonical.
func ibCanonNumber(s string) string {
	if s == "--" {
		return "0"
	}
	if strings.IndexByte(s, ',') >= 0 {
		s = strings.ReplaceAll(s, ",", "")
	}
	body, neg := s, false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	oip, ofp, dot := strings.Cut(body, ".")
	ip := strings.TrimLeft(oip, "0")
	fp := strings.TrimRight(ofp, "0")
	if ip == "" && fp == "" {
		return "0"
	}
	if ip == "" {
		ip = "0"
	}
	if s[0] != '+' && ip == oip && fp == ofp && dot == (fp != "") {
		return s // already canonical
	}
	n := len(ip)
	if fp != "" {
		n += 1 + len(fp)
	}
	if neg {
		n++
	}
	var b strings.Builder
	b.Grow(n)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(ip)
	if fp != "" {
		b.WriteByte('.')
		b.WriteString(fp)
	}
	return b.String()
}

// ibFPText adds a text field to f like [Fingerprint.Text], without the
// work when the (trimmed, ASCII) text has no run of white space to
// collapse.
func ibFPText(f *Fingerprint, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
			c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ') {
			f.Text(s)
			return
		}
	}
	f.Raw(s)
}

// ibWallText formats t as YYYY-MM-DDTHH:MM:SS (WallTime.String, faster).
func ibWallText(t events.WallTime) string {
	secs := int64(t)
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := ibCivil(days)
	if y < 0 || y > 9999 {
		return t.String()
	}
	var b [19]byte
	put := func(i, v, w int) {
		for j := i + w - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, m, 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = 'T'
	put(11, int(rem/3600), 2)
	b[13] = ':'
	put(14, int(rem/60%60), 2)
	b[16] = ':'
	put(17, int(rem%60), 2)
	return string(b[:])
}

// ibCivil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func ibCivil(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mp >= 10 {
		mm = mp - 9
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}
