package projections

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// The trees against a plain slice, over random updates.
func TestFenwickTreesMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 8, 33} {
		dt, it := newDecTree(n), newIntTree(n)
		decs := make([]decimal.Decimal, n)
		ints := make([]int, n)
		for step := range 500 {
			i := rng.IntN(n)
			v := decimal.New(int64(rng.IntN(2001)-1000), -int32(rng.IntN(4)))
			dt.add(i, v)
			decs[i] = decs[i].Add(v)
			if c := rng.IntN(3) - 1; ints[i]+c >= 0 {
				it.add(i, c)
				ints[i] += c
			}
			for k := 0; k <= n; k++ {
				var want decimal.Decimal
				for _, d := range decs[k:] {
					want = want.Add(d)
				}
				if got := dt.suffix(k); !got.Equal(want) {
					t.Fatalf("n %d step %d: suffix(%d) = %s, want %s", n, step, k, got, want)
				}
			}
			last := -1
			for k, c := range ints {
				if c > 0 {
					last = k
				}
			}
			if got := it.last(); got != last {
				t.Fatalf("n %d step %d: last() = %d, want %d (%v)", n, step, got, last, ints)
			}
		}
	}
}
