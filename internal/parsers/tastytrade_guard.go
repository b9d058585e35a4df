package parsers

import (
	"bytes"
	"errors"
	"io"
)

// ttMaxRecordBytes bounds one CSV record, which may span several physical
// lines inside a quoted field. A record that grows past it (an unterminated
// quote swallowing the rest of the file) stops the scan: the rest of the file
// becomes one row error. It is larger than MaxLineBytes so that a single cut
// line (see ttGuard) never trips it.
const ttMaxRecordBytes = 4 * MaxLineBytes

// errTTRecordTooLong is returned by ttGuard.Read once the current record
// exceeds ttMaxRecordBytes; the csv.Reader hands it back to Scan.
var errTTRecordTooLong = errors.New("record too long")

var ttBOM = []byte("\xef\xbb\xbf")

// ttGuard sits between the statement and the csv.Reader. It removes a leading
// UTF-8 BOM and keeps memory bounded whatever the input:
//
//   - a physical line longer than MaxLineBytes is cut: its first MaxLineBytes
//     bytes and its newline pass through, the rest is dropped as it streams
//     by, and the output offset of the cut is queued so that Scan turns the
//     record containing it into an ErrLineTooLong row error. Line numbering
//     is unchanged (every newline passes through).
//   - a record (from the offset Scan last marked) longer than
//     ttMaxRecordBytes makes Read fail with errTTRecordTooLong.
//
// Offsets are counted on the output side, the same coordinates as
// csv.Reader.InputOffset.
type ttGuard struct {
	r        io.Reader
	started  bool
	pending  []byte // BOM-check bytes still to deliver
	out      int64  // bytes delivered so far
	lineLen  int    // bytes of the current physical line delivered
	dropping bool   // discarding the rest of an over-long line
	cuts     []int64
	recStart int64 // output offset where the current record starts
	err      error // sticky error (errTTRecordTooLong)
	last     byte  // the last byte kept of the current line
	headBuf  [3]byte
}

// mark tells the guard that every record before offset off has been read.
func (g *ttGuard) mark(off int64) { g.recStart = off }

// cutBefore reports whether a line was cut before output offset off, and
// forgets those cuts.
func (g *ttGuard) cutBefore(off int64) bool {
	n := 0
	for n < len(g.cuts) && g.cuts[n] < off {
		n++
	}
	if n == 0 {
		return false
	}
	g.cuts = append(g.cuts[:0], g.cuts[n:]...)
	return true
}

func (g *ttGuard) start() error {
	g.started = true
	n, err := io.ReadFull(g.r, g.headBuf[:])
	head := g.headBuf[:n]
	if n == len(ttBOM) && bytes.Equal(head, ttBOM) {
		head = nil
	}
	g.pending = head
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return err
}

// Read implements io.Reader.
func (g *ttGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if !g.started {
		if err := g.start(); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		var n int
		var err error
		if len(g.pending) > 0 {
			n = copy(p, g.pending)
			g.pending = g.pending[n:]
		} else {
			n, err = g.r.Read(p)
		}
		w := g.filter(p[:n])
		if err == io.EOF {
			g.endLine(int64(w))
		}
		g.out += int64(w)
		if g.out-g.recStart > ttMaxRecordBytes {
			g.err = errTTRecordTooLong
			return 0, g.err
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// filter applies the line-length cut to b in place and returns how many bytes
// of b are kept. A line may carry one byte more than MaxLineBytes when that
// byte is the CR of a CRLF ending.
//
// When the current line plus all of b fits MaxLineBytes (every read of a
// real statement: the reads are far shorter than the limit), no line of b
// can be cut or reach the limit, so b is kept whole and only the length of
// its last line matters: one search from the end rather than one per line.
// filterLines is the general case (TestGuardFilterFast and FuzzGuardFilter
// compare the two).
func (g *ttGuard) filter(b []byte) int {
	if g.dropping || g.lineLen+len(b) > MaxLineBytes || len(b) == 0 {
		return g.filterLines(b)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		g.lineLen = len(b) - i - 1
	} else {
		g.lineLen += len(b)
	}
	// The last byte kept of a line: the last byte of b that is not a
	// newline, as filterLines leaves it.
	j := len(b) - 1
	for j >= 0 && b[j] == '\n' {
		j--
	}
	if j >= 0 {
		g.last = b[j]
	}
	return len(b)
}

// filterLines is filter, line by line.
func (g *ttGuard) filterLines(b []byte) int {
	w, r := 0, 0
	for r < len(b) {
		i := bytes.IndexByte(b[r:], '\n')
		end := len(b)
		if i >= 0 {
			end = r + i
		}
		if !g.dropping {
			keep := end - r
			if room := MaxLineBytes + 1 - g.lineLen; keep > room {
				keep = room
				g.dropping = true
				// The offset of the last byte kept of the cut line: it lies
				// inside the record that holds the line.
				g.cuts = append(g.cuts, g.out+int64(w+keep-1))
			}
			w += copy(b[w:], b[r:r+keep])
			g.lineLen += keep
			if keep > 0 {
				g.last = b[w-1]
			}
		}
		if i < 0 {
			break
		}
		g.endLine(int64(w))
		b[w] = '\n'
		w++
		g.lineLen = 0
		g.dropping = false
		r = end + 1
	}
	return w
}

// endLine checks a line that ends (at a newline or at EOF) with exactly one
// byte too many: a cut unless that byte is a CR. w is the number of bytes
// kept so far by the current filter call.
func (g *ttGuard) endLine(w int64) {
	if !g.dropping && g.lineLen == MaxLineBytes+1 && g.last != '\r' {
		g.cuts = append(g.cuts, g.out+w-1)
	}
}
