package synth

import (
	"bufio"
	"io"
	"strconv"
)

// Number formatting from scaled integers (no float ever touches an amount).

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// appendFixed appends v/10^scale with exactly frac decimals (frac ≤ scale;
// the dropped digits must be zero), with "," thousands separators when sep.
func appendFixed(b []byte, v int64, scale, frac int, sep bool) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	ip, fp := v/pow10[scale], v%pow10[scale]
	b = appendInt(b, ip, sep)
	if frac > 0 {
		b = append(b, '.')
		fp /= pow10[scale-frac]
		s := strconv.FormatInt(fp, 10)
		for i := len(s); i < frac; i++ {
			b = append(b, '0')
		}
		b = append(b, s...)
	}
	return b
}

// appendTrim appends v/10^scale in its shortest form: no trailing fractional
// zeros, no "." for whole numbers, no separators.
func appendTrim(b []byte, v int64, scale int) []byte {
	frac := scale
	for frac > 0 && v%pow10[scale-frac+1] == 0 {
		frac--
	}
	return appendFixed(b, v, scale, frac, false)
}

func appendInt(b []byte, v int64, sep bool) []byte {
	s := strconv.FormatInt(v, 10)
	if !sep || len(s) <= 3 {
		return append(b, s...)
	}
	first := len(s) % 3
	if first == 0 {
		first = 3
	}
	b = append(b, s[:first]...)
	for i := first; i < len(s); i += 3 {
		b = append(b, ',')
		b = append(b, s[i:i+3]...)
	}
	return b
}

// appendMoney appends cents the way Tastytrade writes amounts: two
// decimals, and from 1,000 on quoted with thousands separators.
func appendMoney(b []byte, cents int64) []byte {
	if cents >= 100000 || cents <= -100000 {
		b = append(b, '"')
		b = appendFixed(b, cents, 2, 2, true)
		return append(b, '"')
	}
	return appendFixed(b, cents, 2, 2, false)
}

func append2(b []byte, v int) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

// output is a buffered writer that remembers its first error.
type output struct {
	w   *bufio.Writer
	err error
}

func newOutput(w io.Writer) *output { return &output{w: bufio.NewWriterSize(w, 64<<10)} }

func (o *output) line(b []byte) {
	if o.err == nil {
		_, o.err = o.w.Write(b)
	}
}

func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	return o.w.Flush()
}
