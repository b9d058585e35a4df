package parsers

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTextKeyASCII checks the four-lane text hash: every length around the
// lane and word boundaries, a change of any one byte changes the key, and
// the ASCII flag found in the same pass is right.
func TestTextKeyASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 140 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(' ' + r.IntN(95))
		}
		base, ascii := textKeyASCII(string(b))
		if !ascii || base != textKey(string(b)) {
			t.Fatalf("length %d: ascii %v, key %x, textKey %x", n, ascii, base, textKey(string(b)))
		}
		seen := map[uint64]int{base: -1}
		for i := range b {
			for _, c := range []byte{b[i] ^ 1, 0x80, 0xff} {
				old := b[i]
				b[i] = c
				k, a := textKeyASCII(string(b))
				if j, dup := seen[k]; dup {
					t.Fatalf("length %d: byte %d = %#x gives the key of change %d", n, i, c, j)
				}
				seen[k] = i
				if a != (c < 0x80) {
					t.Fatalf("length %d: byte %d = %#x: ascii %v", n, i, c, a)
				}
				b[i] = old
			}
		}
	}
	// Two bit flips a word apart (in one lane) that cancelled out in an
	// earlier version of the hash.
	b := []byte(strings.Repeat("x", 109))
	k := textKey(string(b))
	b[60] ^= 0x04
	b[95] ^= 0x80
	if textKey(string(b)) == k {
		t.Error("flipping bit 34 of a word and bit 63 of the next one in its lane leaves the key")
	}
	// A longer text differs from its prefix padded with zeros.
	if textKey("abc") == textKey("abc\x00") || textKey("") == textKey("\x00") {
		t.Error("a trailing zero byte does not change the key")
	}
}
