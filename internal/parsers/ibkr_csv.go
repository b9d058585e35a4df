package parsers

import (
	"bytes"
	"io"
)

// ibLimiter sits between a statement and encoding/csv. It strips a leading
// UTF-8 BOM and follows the CSV record structure exactly as a csv.Reader with
// LazyQuotes does, so that a record (a line, or several lines joined by a
// quoted field) longer than max bytes is never handed over whole: the limiter
// passes the first max bytes, then fails one Read with ErrLineTooLong (the
// csv.Reader returns that error with the truncated record), then discards the
// rest of the record and carries on with the next one. Memory therefore stays
// bounded whatever the bytes, including an unterminated quote.
//
// It also counts physical lines, so the caller can tell the line an
// over-long record started on and correct the csv.Reader's line numbers by
// the newlines it never saw ([ibLimiter.skippedLines]).
type ibLimiter struct {
	r   io.Reader
	max int

	buf    []byte
	lo, hi int
	rerr   error // error of the underlying reader, returned once buf is drained
	bomChk bool  // the leading BOM check is done

	st       ibQState
	recLen   int // bytes of the current record so far (newlines inside it included)
	line     int // physical line the limiter is on (1-based)
	recStart int // line the current record started on

	pending  bool // the next Read returns ErrLineTooLong
	skipping bool // discarding the rest of an over-long record
	longLine int  // start line of the last over-long record
	skipped  int  // newlines inside discarded parts of records
}

// ibQState is the quoting state of encoding/csv's record parser.
type ibQState uint8

const (
	ibFieldStart  ibQState = iota // at the start of a field
	ibUnquoted                    // inside an unquoted field: quotes are literal
	ibQuoted                      // inside a quoted field
	ibQuoteSeen                   // a quote inside a quoted field: closing, escaped or (lazy) literal
	ibQuoteSeenCR                 // the same, followed by '\r' (`"\r\n` ends the record)
)

func newIBLimiter(r io.Reader, max int) *ibLimiter {
	return &ibLimiter{r: r, max: max, buf: make([]byte, 64<<10), line: 1, recStart: 1}
}

// skippedLines is the number of newlines the csv.Reader never saw: add it to
// its line numbers for records read after an over-long one.
func (l *ibLimiter) skippedLines() int { return l.skipped }

// Read implements io.Reader for the csv.Reader.
func (l *ibLimiter) Read(p []byte) (int, error) {
	if l.pending {
		l.pending = false
		l.skipping = true
		return 0, ErrLineTooLong
	}
	if len(p) == 0 {
		return 0, nil
	}
	for empty := 0; ; {
		if l.lo == l.hi {
			if l.rerr != nil {
				return 0, l.rerr
			}
			n, err := l.r.Read(l.buf)
			l.lo, l.hi, l.rerr = 0, n, err
			if n == 0 {
				if err == nil {
					if empty++; empty > 100 {
						return 0, io.ErrNoProgress
					}
				}
				continue
			}
			if !l.bomChk {
				if l.hi-l.lo < 3 && l.rerr == nil && bytes.HasPrefix([]byte("\xef\xbb\xbf"), l.buf[l.lo:l.hi]) {
					// Too few bytes to tell yet: read more behind them.
					n, err := io.ReadAtLeast(l.r, l.buf[l.hi:], 3-(l.hi-l.lo))
					l.hi += n
					if err != nil && err != io.ErrUnexpectedEOF {
						l.rerr = err
					} else if err == io.ErrUnexpectedEOF {
						l.rerr = io.EOF
					}
				}
				l.bomChk = true
				if bytes.HasPrefix(l.buf[l.lo:l.hi], []byte("\xef\xbb\xbf")) {
					l.lo += 3
				}
				continue
			}
		}
		chunk := l.buf[l.lo:l.hi]
		if l.skipping {
			i := l.skip(chunk)
			l.lo += i
			continue
		}
		if len(chunk) > len(p) {
			chunk = chunk[:len(p)]
		}
		n := l.scan(chunk)
		copy(p, chunk[:n])
		l.lo += n
		if n < len(chunk) {
			// The record went past max at chunk[n].
			l.longLine = l.recStart
			if n == 0 {
				l.skipping = true
				return 0, ErrLineTooLong
			}
			l.pending = true
		}
		return n, nil
	}
}

// scan advances the state machine over c and returns how many bytes of c
// belong to records within the limit (len(c) unless the limit is hit).
// Outside quotes it moves from quote to quote and line end to line end with
// bytes.IndexByte; only the byte after a closing quote goes one at a time.
func (l *ibLimiter) scan(c []byte) int {
	i := 0
	for i < len(c) {
		switch l.st {
		case ibFieldStart, ibUnquoted:
			rest := c[i:]
			k := bytes.IndexByte(rest, '\n')
			line := rest
			if k >= 0 {
				line = rest[:k]
			}
			j := bytes.IndexByte(line, '"')
			if j < 0 { // plain to the end of the line (or of c)
				if l.recLen+len(line) > l.max {
					return l.cutPlain(c, i)
				}
				l.recLen += len(line)
				if n := len(line); n > 0 {
					l.st = ibUnquoted
					if line[n-1] == ',' {
						l.st = ibFieldStart
					}
				}
				i += len(line)
				if k >= 0 {
					l.endRecord()
					i++
				}
				continue
			}
			if l.recLen+j+1 > l.max {
				return l.cutPlain(c, i)
			}
			// A quote opens a quoted field only at the start of a field.
			opens := j == 0 && l.st == ibFieldStart || j > 0 && line[j-1] == ','
			l.recLen += j + 1
			i += j + 1
			l.st = ibUnquoted
			if opens {
				l.st = ibQuoted
			}
		case ibQuoted:
			j := bytes.IndexByte(c[i:], '"')
			if j < 0 {
				j = len(c) - i
			}
			if l.recLen+j > l.max {
				cut := i + l.max - l.recLen
				l.line += bytes.Count(c[i:cut], []byte{'\n'})
				return cut
			}
			l.line += bytes.Count(c[i:i+j], []byte{'\n'})
			l.recLen += j
			i += j
			if i < len(c) {
				if l.recLen >= l.max {
					return i
				}
				l.recLen++
				l.st = ibQuoteSeen
				i++
			}
		default: // after a quote inside a quoted field: one byte
			b := c[i]
			if b == '\n' && l.endsRecord() {
				l.endRecord()
				i++
				continue
			}
			if l.recLen >= l.max {
				return i
			}
			l.recLen++
			l.step(b)
			i++
		}
	}
	return len(c)
}

// cutPlain cuts the record at the limit inside a run of plain bytes (no
// quote, no newline) that starts at c[i], leaving the state as it is after
// the last byte passed, and returns the cut.
func (l *ibLimiter) cutPlain(c []byte, i int) int {
	cut := i + l.max - l.recLen
	if cut > i {
		l.st = ibUnquoted
		if c[cut-1] == ',' {
			l.st = ibFieldStart
		}
	}
	l.recLen = l.max
	return cut
}

// endRecord moves past the newline that ends a record.
func (l *ibLimiter) endRecord() {
	l.line++
	l.recLen = 0
	l.recStart = l.line
	l.st = ibFieldStart
}

// skip advances the state machine over c while discarding an over-long
// record's tail. It returns the index just past the record's end, or len(c).
func (l *ibLimiter) skip(c []byte) int {
	for i := 0; i < len(c); i++ {
		b := c[i]
		if b == '\n' && l.endsRecord() {
			l.endRecord()
			l.skipping = false
			return i + 1
		}
		l.step(b)
	}
	return len(c)
}

// endsRecord reports whether a '\n' in the current state ends the record.
func (l *ibLimiter) endsRecord() bool {
	return l.st != ibQuoted
}

// step moves the state machine over one byte that does not end the record.
func (l *ibLimiter) step(b byte) {
	if b == '\n' { // only inside a quoted field
		l.line++
		if l.skipping {
			l.skipped++
		}
	}
	switch l.st {
	case ibFieldStart:
		switch b {
		case '"':
			l.st = ibQuoted
		case ',':
		default:
			l.st = ibUnquoted
		}
	case ibUnquoted:
		if b == ',' {
			l.st = ibFieldStart
		}
	case ibQuoted:
		if b == '"' {
			l.st = ibQuoteSeen
		}
	case ibQuoteSeen:
		switch b {
		case '"': // `""`: an escaped quote
			l.st = ibQuoted
		case ',': // `",`: end of field
			l.st = ibFieldStart
		case '\r':
			l.st = ibQuoteSeenCR
		default: // a bare quote, kept by LazyQuotes
			l.st = ibQuoted
		}
	case ibQuoteSeenCR:
		// `"\r` then anything but '\n': the quote and the '\r' were
		// literal; b is read inside the quoted field.
		l.st = ibQuoted
		if b == '"' {
			l.st = ibQuoteSeen
		}
	}
}
