package chunker

// DefaultOpenBytes bounds the planned bytes of the chunks a pass of Build
// holds open at once, for callers that read a file in windows
// (Analysis.Windows). A statement whose later rows fall in the same weeks
// as its earlier ones (an Interactive Brokers statement, in sections)
// fills every week's chunk at once, so one pass holds all of it when its
// weeks have one chunk each (1 GB for a 1M-row IBKR statement).
const DefaultOpenBytes = 32 << 20

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
