package parsers

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"io"
	"math/bits"
	"strings"
	"unsafe"
)

// csvReader reads RFC 4180 records exactly as an [encoding/csv.Reader] with
// Comma ',', no Comment, FieldsPerRecord -1, LazyQuotes and
// TrimLeadingSpace false and ReuseRecord true does: the same records, the
// same [csv.ParseError]s (StartLine, Line, Column, Err), the same
// FieldPos and InputOffset, for any input (FuzzCSVReader compares the two).
//
// It is faster on the records of real statements: a record on one line whose
// quoted fields hold no escaped quote (`""`) is split in one pass over the
// line, and its fields are substrings of one string, with no intermediate
// copy. Any other record (a quoted field over several lines, an escaped
// quote, a malformed field) goes through a transcription of encoding/csv's
// own record parser.
//
// Error handling follows bufio.Reader, which csv.Reader reads through, for
// readers whose errors persist (io.EOF, the guards of this package): lines
// before an error are delivered, then the partial line with the error.
type csvReader struct {
	r    io.Reader
	buf  []byte
	lo   int   // start of the unread bytes buf[lo:hi]
	hi   int   // end of the bytes read
	seen int   // buf[lo:lo+seen] holds no '\n' (already searched)
	err  error // the reader's error, returned once buf is drained

	// The fast path's fields are substrings of snap, a copy of
	// buf[snapLo:snapHi] made when a record first needed it: one string
	// per buffer's worth of records rather than one per record. It is
	// valid until fill changes buf (snapHi < 0).
	snap           string
	snapLo, snapHi int
	lineLo         int // where in buf the last line read starts
	// reuse makes the fast path's fields substrings of buf itself, with
	// no snapshot: they change when fill moves or refills buf (the
	// parsers' Options.ReuseText).
	reuse bool

	numLine int
	offset  int64

	// The last record read: field i is str[bounds[2i]:bounds[2i+1]].
	// Offsets rather than strings: storing a string in a heap slice costs
	// a GC write barrier, and a record has twenty of them. A record of the
	// fast path (!slow) is one line, recLine, and str is that line: field
	// i starts at column bounds[2i]+1, or one before for a quoted field
	// (see FieldPos). A record of readRecord starts at positions[i].
	str       string
	bounds    []int
	plain     uint64 // fast path: bit i marks field i (< 64) as needing no trimming
	recLine   int
	positions []csvPos
	slow      bool     // made by readRecord: str is the unquoted fields, end to end
	record    []string // Read's result
	recBuf    []byte   // slow path: the unquoted field bytes
	indexes   []int    // slow path: end of each field in recBuf
}

// csvPos is a field's position: line and 1-based byte column.
type csvPos struct{ line, col int }

// csvReadBufferSize is the initial read buffer; a longer line grows it. It
// is twice the chunker's 64 KB bufio.Reader (and larger than bufio's
// default): the room fill asks for is then at least that reader's buffer
// whenever its buffer is empty, and bufio.Reader reads such a request
// straight into it rather than through its own buffer, which saves a copy
// of the whole file.
const csvReadBufferSize = 128 << 10

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{r: r, buf: make([]byte, csvReadBufferSize), snapHi: -1}
}

// InputOffset is csv.Reader.InputOffset: the input offset of the end of the
// last record read.
func (r *csvReader) InputOffset() int64 { return r.offset }

// FieldPos is csv.Reader.FieldPos: the line and column where field (of the
// last record read) starts.
func (r *csvReader) FieldPos(field int) (line, column int) {
	if field < 0 || field >= r.nfields() {
		panic("out of range index passed to FieldPos")
	}
	if r.slow {
		p := &r.positions[field]
		return p.line, p.col
	}
	// The fast path's str is the record's line: an unquoted field starts
	// at the line's start or after a comma, a quoted one after its quote.
	start := r.bounds[2*field]
	if start > 0 && r.str[start-1] == '"' {
		start--
	}
	return r.recLine, start + 1
}

// text returns a string that holds every field of the last record read:
// the fields are valid UTF-8 if it is.
func (r *csvReader) text() string { return r.str }

// fill reads more bytes after buf[lo:hi], moving or growing the buffer when
// it is full. It records the reader's error; bufio.Reader's limit on empty
// reads applies.
func (r *csvReader) fill() {
	r.snapHi = -1
	if r.lo > 0 {
		n := copy(r.buf, r.buf[r.lo:r.hi])
		r.lo, r.hi = 0, n
	}
	if r.hi == len(r.buf) {
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.hi])
		r.buf = nb
	}
	for i := 0; i < 100; i++ {
		n, err := r.r.Read(r.buf[r.hi:])
		if n < 0 || n > len(r.buf)-r.hi {
			panic("parsers: reader returned an invalid count")
		}
		r.hi += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// readSlice is bufio.Reader.ReadSlice('\n') without a size limit: the next
// line with its '\n', or the rest of the input with the reader's error. The
// slice is valid until the next call.
func (r *csvReader) readSlice() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.lo+r.seen:r.hi], '\n'); i >= 0 {
			end := r.lo + r.seen + i + 1
			line := r.buf[r.lo:end]
			r.lineLo, r.lo, r.seen = r.lo, end, 0
			return line, nil
		}
		r.seen = r.hi - r.lo
		if r.err != nil {
			line := r.buf[r.lo:r.hi]
			r.lineLo, r.lo, r.seen = r.lo, r.hi, 0
			return line, r.err
		}
		r.fill()
	}
}

// readLine is csv.Reader.readLine.
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.readSlice()
	readSize := len(line)
	if readSize > 0 && err == io.EOF {
		err = nil
		// For backwards compatibility, drop trailing \r before EOF.
		if line[readSize-1] == '\r' {
			line = line[:readSize-1]
		}
	}
	r.numLine++
	r.offset += int64(readSize)
	// Normalize \r\n to \n on all input lines.
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, err
}

// Read is csv.Reader.Read.
func (r *csvReader) Read() ([]string, error) {
	err := r.next()
	if err == io.EOF {
		return nil, err
	}
	return r.fields(), err
}

// fields returns the fields of the last record read.
func (r *csvReader) fields() []string {
	rec := r.record[:0]
	for i := range r.nfields() {
		rec = append(rec, r.field(i))
	}
	r.record = rec
	return rec
}

// oneLine reports that the last record read is one line of the input
// (made by the fast path): no field holds a newline.
func (r *csvReader) oneLine() bool { return !r.slow }

// nfields is the number of fields of the last record read.
func (r *csvReader) nfields() int { return len(r.bounds) / 2 }

// field returns field i of the last record read.
func (r *csvReader) field(i int) string { return r.str[r.bounds[2*i]:r.bounds[2*i+1]] }

// trimmed is strings.TrimSpace(field(i)). It is small enough to be inlined
// (a record has twenty fields): a field the fast path found plain is
// returned as it is.
func (r *csvReader) trimmed(i int) string {
	if r.plain>>uint(i)&1 != 0 { // 0 for i >= 64
		return r.str[r.bounds[2*i]:r.bounds[2*i+1]]
	}
	return r.trimmedSlow(i)
}

// trimmedSlow is trimmed, quicker for a field that starts and ends with a
// printable ASCII byte.
func (r *csvReader) trimmedSlow(i int) string {
	v := r.field(i)
	if n := len(v); n > 0 && (v[0]-0x21 > 0x5e || v[n-1]-0x21 > 0x5e) { // not '!'..'~'
		return strings.TrimSpace(v)
	}
	return v
}

// key is a 64-bit hash of the last record read (its text and its field
// boundaries): records with the same fields have the same key. ascii
// reports that text() is all ASCII.
func (r *csvReader) key() (key uint64, ascii bool) {
	h, ascii := textKeyASCII(r.str)
	if r.slow { // the text has no separators: add the boundaries
		for _, b := range r.bounds {
			h = mix64(h ^ uint64(b))
		}
	}
	return h, ascii
}

// next reads a record like Read, for field and nfields.
func (r *csvReader) next() error {
	// Read line (automatically skipping past empty lines).
	var line []byte
	var errRead error
	for errRead == nil {
		line, errRead = r.readLine()
		if errRead == nil && len(line) == csvLengthNL(line) {
			line = nil
			continue // Skip empty lines
		}
		break
	}
	if errRead == io.EOF {
		return errRead
	}
	if errRead == nil && r.split(line) {
		r.slow = false
		return nil
	}
	r.slow = true
	return r.readRecord(line, errRead)
}

// split is the fast path: it splits line, one whole record, and reports
// true, or reports false (having changed nothing the caller sees) when the
// line needs the general parser: a quoted field that goes on past the line
// or holds an escaped quote, or a malformed field.
func (r *csvReader) split(line []byte) bool {
	n := len(line) - csvLengthNL(line)
	line = line[:n]
	b := r.bounds[:0]
	var plain uint64
	// m marks (0x80) the commas and quotes of the eight bytes at base.
	base := 0
	m := csvSpecials(line, 0)
	for start := 0; ; {
		if start < n && line[start] == '"' {
			j := bytes.IndexByte(line[start+1:], '"')
			if j < 0 {
				return false // the field goes on past the line, or never ends
			}
			end := start + 1 + j
			if end+1 < n && line[end+1] != ',' {
				return false // an escaped quote, or a malformed field
			}
			plain |= csvPlain(line, start+1, end) << (len(b) / 2)
			b = append(b, start+1, end)
			if end+1 >= n {
				break
			}
			start = end + 2
			base, m = start, csvSpecials(line, start)
			continue
		}
		for m == 0 && base+8 < n {
			base += 8
			m = csvSpecials(line, base)
		}
		if m == 0 { // the last field
			plain |= csvPlain(line, start, n) << (len(b) / 2)
			b = append(b, start, n)
			break
		}
		j := base + bits.TrailingZeros64(m)>>3
		m &= m - 1
		if line[j] == '"' {
			return false // a bare quote
		}
		plain |= csvPlain(line, start, j) << (len(b) / 2)
		b = append(b, start, j)
		start = j + 1
	}
	r.bounds, r.recLine, r.plain = b, r.numLine, plain
	// The line is buf[r.lineLo:r.lineLo+n]: take its text from the
	// snapshot, making a new one if needed.
	lo := r.lineLo
	switch {
	case r.reuse && n > 0:
		r.str = unsafe.String(&r.buf[lo], n)
	case r.reuse:
		r.str = ""
	default:
		if r.snapHi < 0 || lo < r.snapLo || lo+n > r.snapHi {
			r.snap, r.snapLo, r.snapHi = string(r.buf[lo:r.hi]), lo, r.hi
		}
		r.str = r.snap[lo-r.snapLo : lo-r.snapLo+n]
	}
	return true
}

// csvPlain is 1 if the field line[lo:hi] needs no trimming of space (it
// is empty, or starts and ends with a byte in '!'..'~'), else 0. The
// caller shifts it to the field's bit; past 64 fields the shift leaves
// nothing, and trimmed checks those fields itself.
func csvPlain(line []byte, lo, hi int) uint64 {
	if lo >= hi || line[lo]-0x21 <= 0x5e && line[hi-1]-0x21 <= 0x5e {
		return 1
	}
	return 0
}

// csvSpecials marks (0x80) the bytes of line[i:i+8] that are a comma or a
// quote; bytes past the end of line are neither.
func csvSpecials(line []byte, i int) uint64 {
	const (
		ones   = 0x0101010101010101
		low7   = 0x7f7f7f7f7f7f7f7f
		commas = ',' * ones
		quotes = '"' * ones
	)
	var w uint64
	if i+8 <= len(line) {
		w = binary.LittleEndian.Uint64(line[i:])
	} else {
		for j := len(line) - 1; j >= i; j-- {
			w = w<<8 | uint64(line[j])
		}
	}
	// No carries between bytes: the sums stay within 7 bits.
	c, q := w^commas, w^quotes
	return ^((c&low7 + low7) | c | low7) | ^((q&low7 + low7) | q | low7)
}

// readRecord is the rest of csv.Reader.readRecord (for Comma ',', no
// Comment, LazyQuotes and TrimLeadingSpace false, FieldsPerRecord -1) from
// its first line on.
func (r *csvReader) readRecord(line []byte, errRead error) error {
	var err error
	const quoteLen = len(`"`)
	const commaLen = len(",")
	recLine := r.numLine // Starting line for record
	r.recBuf = r.recBuf[:0]
	r.indexes = r.indexes[:0]
	r.positions = r.positions[:0]
	pos := csvPos{line: r.numLine, col: 1}
parseField:
	for {
		if len(line) == 0 || line[0] != '"' {
			// Non-quoted string field
			i := bytes.IndexByte(line, ',')
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-csvLengthNL(field)]
			}
			// Check to make sure a quote does not appear in field.
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				col := pos.col + j
				err = &csv.ParseError{StartLine: recLine, Line: r.numLine, Column: col, Err: csv.ErrBareQuote}
				break parseField
			}
			r.recBuf = append(r.recBuf, field...)
			r.indexes = append(r.indexes, len(r.recBuf))
			r.positions = append(r.positions, pos)
			if i >= 0 {
				line = line[i+commaLen:]
				pos.col += i + commaLen
				continue parseField
			}
			break parseField
		} else {
			// Quoted string field
			fieldPos := pos
			line = line[quoteLen:]
			pos.col += quoteLen
			for {
				i := bytes.IndexByte(line, '"')
				if i >= 0 {
					// Hit next quote.
					r.recBuf = append(r.recBuf, line[:i]...)
					line = line[i+quoteLen:]
					pos.col += i + quoteLen
					switch {
					case len(line) > 0 && line[0] == '"':
						// `""` sequence (append quote).
						r.recBuf = append(r.recBuf, '"')
						line = line[quoteLen:]
						pos.col += quoteLen
					case len(line) > 0 && line[0] == ',':
						// `",` sequence (end of field).
						line = line[commaLen:]
						pos.col += commaLen
						r.indexes = append(r.indexes, len(r.recBuf))
						r.positions = append(r.positions, fieldPos)
						continue parseField
					case csvLengthNL(line) == len(line):
						// `"\n` sequence (end of line).
						r.indexes = append(r.indexes, len(r.recBuf))
						r.positions = append(r.positions, fieldPos)
						break parseField
					default:
						// `"*` sequence (invalid non-escaped quote).
						err = &csv.ParseError{StartLine: recLine, Line: r.numLine, Column: pos.col - quoteLen, Err: csv.ErrQuote}
						break parseField
					}
				} else if len(line) > 0 {
					// Hit end of line (copy all data so far).
					r.recBuf = append(r.recBuf, line...)
					if errRead != nil {
						break parseField
					}
					pos.col += len(line)
					line, errRead = r.readLine()
					if len(line) > 0 {
						pos.line++
						pos.col = 1
					}
					if errRead == io.EOF {
						errRead = nil
					}
				} else {
					// Abrupt end of file (EOF or error).
					if errRead == nil {
						err = &csv.ParseError{StartLine: recLine, Line: pos.line, Column: pos.col, Err: csv.ErrQuote}
						break parseField
					}
					r.indexes = append(r.indexes, len(r.recBuf))
					r.positions = append(r.positions, fieldPos)
					break parseField
				}
			}
		}
	}
	if err == nil {
		err = errRead
	}

	// Create a single string and create slices out of it.
	r.str = string(r.recBuf)
	b := r.bounds[:0]
	var preIdx int
	for _, idx := range r.indexes {
		b = append(b, preIdx, idx)
		preIdx = idx
	}
	r.bounds = b
	return err
}

// csvLengthNL reports the number of bytes for the trailing \n.
func csvLengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}
