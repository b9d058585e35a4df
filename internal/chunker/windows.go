package chunker

import (
	"fmt"
	"time"

	"github.com/foliostream/foliostream/events"
)

// DefaultOpenBytes bounds the planned bytes of the chunks a pass of Build
// holds open at once, for callers that read a file in windows
// (Analysis.Windows). A statement whose later rows fall in the same weeks
// as its earlier ones (an Interactive Brokers statement, in sections)
// fills every week's chunk at once, so one pass holds all of it when its
// weeks have one chunk each (1 GB for a 1M-row IBKR statement). 8 MiB
// keeps a synthetic IBKR statement's import at 28–29 / 37–38 / 39 MiB for
// 10k / 100k / 1M rows (1, 6 and 58 passes: 0.3 / 2.4–3.0 / 95–102 s),
// against 32 / 92–101 / 113 MiB in 0.2 / 2.1 / 37–40 s at 32 MiB with
// the movements held as structs (BENCHMARKS.md, "What changed in session
// 9").
const DefaultOpenBytes = 8 << 20

// Window is a range of an Analysis's plan, by chunk index: Lo ≤ i < Hi.
type Window struct{ Lo, Hi int }

// Windows cuts a's plan into windows of consecutive weeks (the plan is in
// week order), for a caller to run Build once per window, skipping the
// chunks outside it, so that each pass holds at most openBytes (0:
// DefaultOpenBytes) of chunks. Build fills a week's parts one after the
// other, so a window holds at most, for each of its weeks, that week's
// largest chunk: windows keep that sum within openBytes, at least one
// week each. A plan whose single pass holds no more (PeakOpenBytes: a
// file in time order holds about one chunk) is one window.
func (a *Analysis) Windows(openBytes int) []Window {
	n := a.Plan.Len()
	if openBytes <= 0 {
		openBytes = DefaultOpenBytes
	}
	if a.PeakOpenBytes <= openBytes {
		return []Window{{0, n}}
	}
	var ws []Window
	lo, sum := 0, 0
	for i := 0; i < n; {
		week, most := a.Plan.chunks[i].week, 0
		j := i
		for ; j < n && a.Plan.chunks[j].week == week; j++ {
			most = max(most, a.Plan.Bytes(j))
		}
		if i > lo && sum+most > openBytes {
			ws = append(ws, Window{lo, i})
			lo, sum = i, 0
		}
		sum += most
		i = j
	}
	return append(ws, Window{lo, n})
}

// Contains reports whether chunk ordinal n (1-based, as in the plan's
// ChunkRefs) is in w.
func (w Window) Contains(ordinal int) bool { return ordinal > w.Lo && ordinal <= w.Hi }

// checkWindow reports whether w is the whole plan (the zero Window is), or
// an error if it is not a range of whole weeks of it.
func (a *Analysis) checkWindow(w Window) (whole bool, err error) {
	n := a.Plan.Len()
	if w == (Window{}) || w == (Window{0, n}) {
		return true, nil
	}
	chunks := a.Plan.chunks
	switch {
	case w.Lo < 0 || w.Hi > n || w.Lo >= w.Hi:
		return false, fmt.Errorf("%w: window %d to %d of a plan of %d chunks", ErrBadConfig, w.Lo, w.Hi, n)
	case w.Lo > 0 && chunks[w.Lo].week == chunks[w.Lo-1].week,
		w.Hi < n && chunks[w.Hi].week == chunks[w.Hi-1].week:
		return false, fmt.Errorf("%w: window %d to %d cuts a week", ErrBadConfig, w.Lo, w.Hi)
	}
	return false, nil
}

// span returns the wall-clock times of w's weeks: from 00:00 on the Monday
// of the first to 00:00 on the Monday after the last.
func (a *Analysis) span(w Window) (from, until events.WallTime) {
	return a.Plan.chunks[w.Lo].week.start(), a.Plan.chunks[w.Hi-1].week.start() + 7*86400
}

// start returns 00:00 on the Monday of week wk (week 1 holds January 4th).
func (wk isoWeek) start() events.WallTime {
	jan4 := time.Date(int(wk)/100, time.January, 4, 0, 0, 0, 0, time.UTC)
	back := (int(jan4.Weekday()) + 6) % 7 // days since Monday
	return events.WallTimeOf(jan4.AddDate(0, 0, 7*(int(wk)%100-1)-back))
}
