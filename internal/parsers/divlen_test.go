package parsers

import (
	"math/rand/v2"
	"testing"
)

// divTextLen is the SizeOnly shortcut for the length of ndiv(x, q): where
// it answers, it must give the length of the quotient ndiv makes (its
// default string form, through the decimal package for an inexact one).

func checkDivTextLen(t *testing.T, x, q num) bool {
	t.Helper()
	got, ok := divTextLen(x, q)
	if q.isZero() || q.sign() < 0 {
		if ok {
			t.Fatalf("divTextLen(%+v, %+v) = %d for a divisor that is not positive", x, q, got)
		}
		return false
	}
	var dc decCache
	d := dc.ndiv(x, q)
	if !ok {
		return false
	}
	if d.isZero() {
		t.Fatalf("divTextLen(%+v, %+v) = %d for a zero quotient", x, q, got)
	}
	if want := len(d.dec(&dc).String()); got != want {
		t.Fatalf("divTextLen(%v, %v) = %d, want %d (%s)", x.dec(&dc), q.dec(&dc), got, want, d.dec(&dc))
	}
	return true
}

func TestDivTextLen(t *testing.T) {
	cases := [][4]int64{ // x coefficient, exponent; q coefficient, exponent
		{156800, -2, 3, 0}, {-156800, -2, 3, 0}, {2, 0, 3, 0}, {1, 0, 6, 0}, {-1, 0, 7, 0},
		{5, -1, 2, 0}, {999999999999999999, 0, 7, 0}, {999999999999999999, 10, 7, 0},
		{1, -27, 3, 0}, {1, -28, 3, 0}, {2, -28, 3, 0}, {1, -29, 3, 0}, {1, 10, 999999999, 0},
		{1, 0, 999999999, 0}, {-25, -2, 4, 0}, {100, 0, 8, 0}, {1, 0, 3, -1}, {1, 0, 1000000000, 0},
		{5, 0, 1, 0}, {7, 0, 0, 0}, {7, 0, -3, 0}, {123456789, -2, 11, 0},
	}
	answered := 0
	for _, c := range cases {
		if checkDivTextLen(t, small(c[0], int32(c[1])), small(c[2], int32(c[3]))) {
			answered++
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 100000 {
		x := small(r.Int64N(2e18)-1e18, int32(r.IntN(40)-30))
		q := small(r.Int64N(20)+1, 0)
		if r.IntN(4) == 0 {
			q = small(r.Int64N(2e9)-1e8, int32(r.IntN(3)-1))
		}
		if checkDivTextLen(t, x, q) {
			answered++
		}
	}
	if answered < 50000 {
		t.Errorf("divTextLen answered %d times: the shortcut is not taken", answered)
	}
}

func FuzzDivTextLen(f *testing.F) {
	f.Add(int64(156800), int32(-2), int64(3), int32(0))
	f.Add(int64(-1), int32(-28), int64(3), int32(0))
	f.Add(int64(999999999999999999), int32(10), int64(7), int32(0))
	f.Fuzz(func(t *testing.T, xc int64, xe int32, qc int64, qe int32) {
		xe, qe = xe%400, qe%400 // keep the decimal package's arithmetic small
		checkDivTextLen(t, small(xc, xe), small(qc, qe))
	})
}
