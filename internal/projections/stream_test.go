package projections

import (
	"errors"
	"runtime"
	"testing"

	"github.com/foliostream/foliostream/events"
)

// countingSink counts rows and, every sampleEvery rows, measures the live
// heap after a collection.
type countingSink struct {
	rows, sampleEvery int
	peak              uint64
	fail              error
}

func (s *countingSink) row() error {
	s.rows++
	if s.sampleEvery > 0 && s.rows%s.sampleEvery == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapAlloc)
	}
	return s.fail
}

func (s *countingSink) Broker(*BrokerSnapshot) error    { return s.row() }
func (s *countingSink) Ticker(*TickerSnapshot) error    { return s.row() }
func (s *countingSink) Operation(*Operation, int) error { return s.row() }
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
func scanOf(ms []events.Movement) ScanFunc { return sliceScan(canonical(ms, 0)) }

// The streaming computation keeps what the following days need, not the
// history: the memory it holds beyond its input does not grow with the
// history's length (10× the movements, about the same live heap).
func TestComputeToMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300k-movement history")
	}
	held := func(n int) uint64 {
		ms := synthHistory(n, 7)
		scan := scanOf(ms) // the input and its canonical index are the caller's
		base := liveHeap()
		sink := &countingSink{sampleEvery: 5000}
		if err := ComputeTo("a", scan, sink); err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(ms)
		if sink.peak < base {
			return 0
		}
		return sink.peak - base
	}
	small, large := held(30_000), held(300_000)
	t.Logf("live heap held by the computation: %d KB at 30k movements, %d KB at 300k", small>>10, large>>10)
	// One bit per option contract grows (under 40 KB here); the rest must
	// not.
	if large > 2*small+1<<20 {
		t.Errorf("computation held %d KB at 300k movements vs %d KB at 30k: grows with the history", large>>10, small>>10)
	}
}

// A sink's error stops the computation and comes back unwrapped.
func TestComputeToSinkError(t *testing.T) {
	boom := errors.New("disk full")
	sink := &countingSink{fail: boom}
	err := ComputeTo("a", scanOf(synthHistory(2000, 1)), sink)
	if !errors.Is(err, boom) {
		t.Fatalf("ComputeTo = %v, want the sink's error", err)
	}
	if sink.rows != 1 {
		t.Errorf("sink got %d rows after failing on the first, want 1", sink.rows)
	}
}

// A history that changes between the scans (here: an option contract that
// the link pass did not see) is refused, not computed from two histories.
func TestComputeToHistoryChanged(t *testing.T) {
	ms := canonical(synthHistory(3000, 1), 0)
	var extra *events.Movement
	for _, m := range ms {
		if m.Kind == events.KindOption {
			c := *m
			c.ID = "extra:" + c.ID
			extra = &c
			break
		}
	}
	if extra == nil {
		t.Fatal("test bug: no option contract in the history")
	}
	pass := 0
	scan := func(q Query, fn func(*events.Movement) error) error {
		pass++
		if err := sliceScan(ms)(q, fn); err != nil {
			return err
		}
		if pass == 3 { // the main pass sees one more contract, at the end
			return fn(extra)
		}
		return nil
	}
	err := ComputeTo("a", scan, &countingSink{})
	if !errors.Is(err, ErrHistoryChanged) {
		t.Fatalf("ComputeTo = %v, want ErrHistoryChanged", err)
	}
}
