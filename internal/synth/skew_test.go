package synth

import "testing"

// TestSkewedIndex pins floor(x² · n / 2^106): the range [0, n), monotone in
// x, and exact values at u = x / 2^53 = 1/2 (u² = 1/4) and u → 1.
func TestSkewedIndex(t *testing.T) {
	const top = 1<<53 - 1
	for _, n := range []int{1, 2, 3, 20, 300} {
		if got := skewedIndex(0, n); got != 0 {
			t.Errorf("n=%d: x=0 gives %d, want 0", n, got)
		}
		if got := skewedIndex(top, n); got != n-1 {
			t.Errorf("n=%d: largest x gives %d, want %d", n, got, n-1)
		}
		if got, want := skewedIndex(1<<52, n), n/4; got != want {
			t.Errorf("n=%d: u=1/2 gives %d, want floor(n/4) = %d", n, got, want)
		}
		prev := 0
		for i := uint64(0); i <= 1<<12; i++ {
			x := i * (top >> 12)
			got := skewedIndex(x, n)
			if got < prev || got >= n {
				t.Fatalf("n=%d: x=%d gives %d after %d", n, x, got, prev)
			}
			prev = got
		}
	}
}
