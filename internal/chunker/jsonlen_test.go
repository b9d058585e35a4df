package chunker

import (
	"encoding/binary"
	"testing"
)

// TestJSONWordPlain compares jsonWordPlain with the jsonExtra table on every
// pair of byte values in every pair of positions of a word of plain bytes
// (which covers every single byte, and the borrows between two bytes).
func TestJSONWordPlain(t *testing.T) {
	var word [8]byte
	for i := range word {
		word[i] = 'a'
	}
	for p := range 8 {
		for q := p; q < 8; q++ {
			for x := range 256 {
				for y := range 256 {
					w := word
					w[p], w[q] = byte(x), byte(y)
					if p == q && x != y {
						continue
					}
					want := jsonExtra[w[p]] == 0 && jsonExtra[w[q]] == 0
					if got := jsonWordPlain(binary.LittleEndian.Uint64(w[:])); got != want {
						t.Fatalf("jsonWordPlain(%q) = %v, want %v", w[:], got, want)
					}
				}
			}
		}
	}
}
