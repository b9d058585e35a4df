package parsers

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// guardFilterCompare runs filter and filterLines over the same reads from
// the same starting line length and checks that they keep the same bytes and
// leave the same state.
func guardFilterCompare(t *testing.T, lineLen int, dropping bool, reads [][]byte) {
	t.Helper()
	fast := &ttGuard{lineLen: lineLen, dropping: dropping, last: 'x'}
	slow := &ttGuard{lineLen: lineLen, dropping: dropping, last: 'x'}
	for i, in := range reads {
		a, b := bytes.Clone(in), bytes.Clone(in)
		na, nb := fast.filter(a), slow.filterLines(b)
		fast.out += int64(na)
		slow.out += int64(nb)
		if !bytes.Equal(a[:na], b[:nb]) {
			t.Fatalf("read %d: filter kept %q, filterLines %q", i, a[:na], b[:nb])
		}
		if fast.lineLen != slow.lineLen || fast.dropping != slow.dropping || fast.last != slow.last || !slices.Equal(fast.cuts, slow.cuts) {
			t.Fatalf("read %d: filter state (len %d, dropping %v, last %q, cuts %v), filterLines (len %d, dropping %v, last %q, cuts %v)",
				i, fast.lineLen, fast.dropping, fast.last, fast.cuts, slow.lineLen, slow.dropping, slow.last, slow.cuts)
		}
	}
}

// TestGuardFilterFast checks filter's whole-read path against filterLines,
// around the line length limit where the two paths meet.
func TestGuardFilterFast(t *testing.T) {
	short := []byte("2025-01-02,Trade,Buy\r\nx,y\n\nz")
	tests := []struct {
		name     string
		lineLen  int
		dropping bool
		reads    [][]byte
	}{
		{"short lines", 0, false, [][]byte{short, short, []byte("\n"), []byte("\n\n"), []byte("abc")}},
		{"trailing newlines", 3, false, [][]byte{[]byte("ab\n\n\n"), []byte("\n")}},
		{"line reaches the limit", MaxLineBytes - 4, false, [][]byte{[]byte("abcd"), []byte("\n")}},
		{"line one past the limit", MaxLineBytes - 4, false, [][]byte{[]byte("abcde"), []byte("\nok\n")}},
		{"CR one past the limit", MaxLineBytes - 4, false, [][]byte{[]byte("abcd"), []byte("\r\nok")}},
		{"cut mid read", MaxLineBytes - 2, false, [][]byte{[]byte("abcdef\nshort\n"), []byte("tail")}},
		{"dropping", MaxLineBytes + 1, true, [][]byte{[]byte("dropped"), []byte("still\nkept\n")}},
		{"long line in one read", 0, false, [][]byte{[]byte(strings.Repeat("y", MaxLineBytes+10) + "\nz\n")}},
		{"limit exactly", 0, false, [][]byte{[]byte(strings.Repeat("y", MaxLineBytes)), []byte("\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guardFilterCompare(t, tt.lineLen, tt.dropping, tt.reads)
		})
	}
}

// FuzzGuardFilter compares filter with filterLines on fuzzed reads, from a
// fuzzed distance to the line length limit.
func FuzzGuardFilter(f *testing.F) {
	f.Add([]byte("a,b\nc\r\n\n"), uint16(3), uint32(1000), false)
	f.Add([]byte("abc\r\nd"), uint16(2), uint32(3), false)
	f.Add([]byte("\n\nxyz"), uint16(1), uint32(0), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, room uint32, dropping bool) {
		lineLen := max(MaxLineBytes-int(room%(2*4096)), 0)
		var reads [][]byte
		step := int(split%64) + 1
		for len(data) > 0 {
			n := min(step, len(data))
			reads = append(reads, data[:n])
			data = data[n:]
		}
		guardFilterCompare(t, lineLen, dropping, reads)
	})
}
