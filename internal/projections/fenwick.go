package projections

import "github.com/shopspring/decimal"

// decTree is a Fenwick tree of exact decimals: point add and suffix sums in
// O(log n) additions. The broker's options-open test (spec/snapshots.md §3.3)
// asks every day for the premium still queued in contracts expiring on or
// after a valuation day; the tree answers without rescanning history.
type decTree struct {
	t     []decimal.Decimal
	total decimal.Decimal
}

func newDecTree(n int) *decTree { return &decTree{t: make([]decimal.Decimal, n)} }

// add adds v at index i (0-based).
func (f *decTree) add(i int, v decimal.Decimal) {
	f.total = decAdd(f.total, v)
	for i++; i <= len(f.t); i += i & -i {
		f.t[i-1] = decAdd(f.t[i-1], v)
	}
}

// prefix returns the sum of indexes [0, i).
func (f *decTree) prefix(i int) decimal.Decimal {
	var s decimal.Decimal
	for ; i > 0; i -= i & -i {
		s = decAdd(s, f.t[i-1])
	}
	return s
}

// suffix returns the sum of indexes [i, n).
func (f *decTree) suffix(i int) decimal.Decimal {
	if i <= 0 {
		return f.total
	}
	return decSub(f.total, f.prefix(i))
}

// intTree is a Fenwick tree of counts that also finds the highest non-zero
// index.
type intTree struct {
	t     []int
	total int
}

func newIntTree(n int) *intTree { return &intTree{t: make([]int, n)} }

func (f *intTree) add(i, v int) {
	f.total += v
	for i++; i <= len(f.t); i += i & -i {
		f.t[i-1] += v
	}
}

// last returns the highest index with a positive count, or -1 when all
// counts are zero. Counts must never be negative.
func (f *intTree) last() int {
	if f.total <= 0 {
		return -1
	}
	// Find the smallest position p (1-based) with prefix(p) >= total.
	pos, rem := 0, f.total
	step := 1
	for step*2 <= len(f.t) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next <= len(f.t) && f.t[next-1] < rem {
			pos = next
			rem -= f.t[next-1]
		}
	}
	return pos // 0-based index of position pos+1
}
