package parsers

import (
	"math/rand/v2"
	"testing"
)

// ttParseNum reads the usual form of a number itself and leaves the rest to
// ttParseNumSlow: the two must agree on every text.

var numTexts = []string{
	"", "-", "+", ".", "-.", ",", "--", "0", "-0", "0.00", "-0.01", "1", "64", "-154.24", "-9,871.36",
	"2,284.48", "12.5", "1.2.3", "1..2", ",-5", "-,5", "+5", "5-", "1e5", " 1", "1 ", "١",
	"123456789012345678", "-12345678901234567", "1234567890123456789", "999999999999999999",
	"0.000000000000000001", "00000000000000000001", "1,2,3,4,5,6,7,8,9", "000,000.000",
	"123456789012345678.9", "-0.0000000000000001", ".5", "5.", "-.5",
}

func checkParseNum(t *testing.T, s string) {
	t.Helper()
	for _, abs := range []bool{false, true} {
		got, gok := ttParseNum(s, abs)
		want, wok := ttParseNumSlow(s, abs)
		if gok != wok || got.wide != want.wide || got.c != want.c || got.e != want.e ||
			(got.wide && !got.d.Equal(want.d)) {
			t.Fatalf("ttParseNum(%q, %v) = %+v, %v; ttParseNumSlow %+v, %v", s, abs, got, gok, want, wok)
		}
	}
}

func TestParseNumFastPath(t *testing.T) {
	for _, s := range numTexts {
		checkParseNum(t, s)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 50000 {
		checkParseNum(t, randomNumber(r))
	}
	// Bytes from the alphabet of numbers, in any order and length.
	const alphabet = "0123456789,.-+ x"
	for range 50000 {
		b := make([]byte, r.IntN(22))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		checkParseNum(t, string(b))
	}
}

func FuzzParseNum(f *testing.F) {
	for _, s := range numTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseNum(t, s) })
}
