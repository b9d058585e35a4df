package chunker

import (
	"bufio"
	"cmp"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// openPart is the state of one chunk of the plan while Build fills it.
// Build keeps one for every chunk of the plan, so it holds only what it
// counts (24 bytes): the plan entry and the planned digest are found by
// the part's index in the plan, and the movements of the part being filled
// are its week's.
type openPart struct {
	got    int32
	skip   bool
	done   bool
	bytes  int // sum of (encoded size + 1)
	gotSum uint64
}

// buildWeek is the greedy state of one week in pass 2: its parts are
// builder.parts[first : first+n]. The greedy rule fills them in order, so
// only the current one holds movements: a part it has left can receive
// none any more.
type buildWeek struct {
	first int32
	n     int32
	cur   int32 // index in the week of the part the greedy rule is filling
	curN  int32
	curB  int
	buf   []events.Movement // the current part's movements (none if skipped)
}

// builder is the state of one Build call.
type builder struct {
	a     *Analysis
	limit int
	emit  func(*events.Chunk) error
	parts []openPart // by index in the plan
	weeks map[string]*buildWeek
	reuse bool              // cfg.ReuseMovements
	spare []events.Movement // with reuse: an emitted chunk's slice, cleared
	sums  []uint64          // planned digests by index, nil when a has none
	sz    *sizer

	lastDay  events.Date
	lastWeek *buildWeek
	days     dayCache
	order    []int32 // sortMovements' scratch
}

func changed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFileChanged}, args...)...)
}

// build is Build with the parser lookup injected.
func build(r io.Reader, a *Analysis, cfg Config, skip func(string) bool, emit func(*events.Chunk) error, pick pickFunc) error {
	if a == nil {
		return fmt.Errorf("%w: no analysis", ErrBadConfig)
	}
	budget := a.ByteBudget
	if budget == 0 {
		budget = cfg.ByteBudget
	}
	if budget == 0 {
		budget = DefaultByteBudget
	}
	if budget < MinByteBudget {
		return fmt.Errorf("%w: byte budget %d is below the minimum %d", ErrBadConfig, budget, MinByteBudget)
	}
	if err := events.ValidateAccount(a.Account); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	p, err := pick(a.Broker)
	if err != nil {
		return err
	}
	seed := a.seed
	if seed == (maphash.Seed{}) { // not made by Analyze: no digests to check
		seed = maphash.MakeSeed()
	}
	b := &builder{a: a, limit: budget - EnvelopeReserve, emit: emit, reuse: cfg.ReuseMovements, sz: newSizer(seed)}
	if err := b.index(skip); err != nil {
		return err
	}

	hr := newHashReader(r)
	defer hr.close()
	br := bufio.NewReaderSize(hr, readBufferSize)
	var rows, rowErrs, ignored int
	var kinds kindCounts
	var idx *parsers.Occurrences // nil: a full index
	if a.Ordered {
		idx = parsers.NewWindowedOccurrences()
	}
	err = p.Scan(br, parsers.Options{Account: a.Account, Index: idx}, func(rec *parsers.Record) error {
		switch {
		case rec.Err != nil:
			rows++
			rowErrs++
			return nil
		case rec.Ignored != "":
			rows++
			ignored++
			return nil
		}
		if rec.Line > 0 {
			rows++
		}
		var prev *events.Movement
		for i := range rec.Movements {
			m := &rec.Movements[i]
			kinds.add(m.Kind)
			if err := b.add(m, rec.RowKey, prev); err != nil {
				return fmt.Errorf("line %d: %w", rec.Line, err)
			}
			prev = m
		}
		return nil
	})
	if err != nil {
		return err
	}
	if idx != nil && idx.Unordered() {
		return changed("rows out of time order in a file analysed as time-ordered")
	}
	if err := drain(br); err != nil {
		return err
	}
	if sum := hr.sum(); sum != a.SHA256 {
		return changed("SHA-256 %s, analysed %s", sum, a.SHA256)
	}
	if rows != a.Rows || rowErrs != a.RowErrorCount || ignored != a.IgnoredCount {
		return changed("%d rows (%d errors, %d ignored), analysed %d (%d, %d)",
			rows, rowErrs, ignored, a.Rows, a.RowErrorCount, a.IgnoredCount)
	}
	counts := make(map[events.Kind]int)
	kinds.into(counts)
	if !maps.Equal(counts, a.Counts) {
		return changed("movement counts %v, analysed %v", counts, a.Counts)
	}
	for i := range a.Chunks {
		if pt := &b.parts[i]; !pt.done {
			ref := &a.Chunks[i]
			return changed("chunk %s received %d of %d movements", ref.ID, pt.got, ref.Movements)
		}
	}
	return nil
}

// index builds the part states and the week index from the plan and checks
// that the plan is one Analyze could have made (a week's parts are
// consecutive, numbered from 1).
func (b *builder) index(skip func(string) bool) error {
	chunks := b.a.Chunks
	if len(chunks) > math.MaxInt32 {
		return fmt.Errorf("%w: a plan of %d chunks", ErrBadConfig, len(chunks))
	}
	nweeks := 0
	for i := range chunks {
		if i == 0 || chunks[i].Week != chunks[i-1].Week {
			nweeks++
		}
	}
	weeks := make([]buildWeek, 0, nweeks) // one allocation; b.weeks points into it
	b.weeks = make(map[string]*buildWeek, nweeks)
	b.parts = make([]openPart, len(chunks))
	if len(b.a.sums) == len(chunks) {
		b.sums = b.a.sums
	}
	var w *buildWeek
	for i := range chunks {
		ref := &chunks[i]
		if w == nil || ref.Week != chunks[i-1].Week {
			if b.weeks[ref.Week] != nil {
				return fmt.Errorf("%w: chunk plan entry %d (%s) is out of order or inconsistent", ErrBadConfig, i+1, ref.ID)
			}
			weeks = append(weeks, buildWeek{first: int32(i)})
			w = &weeks[len(weeks)-1]
			b.weeks[ref.Week] = w
		}
		if ref.Part != int(w.n)+1 || ref.Ordinal != i+1 || ref.Movements <= 0 || ref.Movements > math.MaxInt32 || ref.ID != chunkID(ref.Week, ref.Part) {
			return fmt.Errorf("%w: chunk plan entry %d (%s) is out of order or inconsistent", ErrBadConfig, i+1, ref.ID)
		}
		w.n++
		b.parts[i].skip = skip != nil && skip(ref.ID)
	}
	return nil
}

func (b *builder) weekOf(d events.Date) (*buildWeek, string) {
	if d == b.lastDay && b.lastWeek != nil {
		return b.lastWeek, ""
	}
	name := d.ISOWeek()
	w := b.weeks[name]
	if w != nil {
		b.lastDay, b.lastWeek = d, w
	}
	return w, name
}

// add assigns m to its part by the greedy rule of Analyze, and emits the part
// once it is complete.
func (b *builder) add(m *events.Movement, rowKey uint64, prev *events.Movement) error {
	size, digest, err := b.sz.measure(m, rowKey, prev)
	if err != nil {
		return err
	}
	w, name := b.weekOf(b.days.of(m.Time))
	if w == nil {
		return changed("movement %s in week %s, which the plan does not have", m.ID, name)
	}
	cost := size + 1
	if cost > b.limit {
		return changed("movement %s of %d bytes does not fit the budget", m.ID, size)
	}
	if w.curN > 0 && w.curB+cost > b.limit {
		w.cur++
		w.curN, w.curB = 0, 0
		w.buf = nil // a part left incomplete: the end of Build reports it
	}
	if w.cur >= w.n {
		return changed("movement %s starts part %d of week %s, the plan has %d", m.ID, w.cur+1, m.Time.Day().ISOWeek(), w.n)
	}
	w.curN++
	w.curB += cost
	i := int(w.first + w.cur)
	pt, ref := &b.parts[i], &b.a.Chunks[i]
	if pt.done {
		return changed("chunk %s receives more than its %d planned movements", ref.ID, ref.Movements)
	}
	pt.got++
	pt.bytes += cost
	pt.gotSum += digest
	if !pt.skip {
		if w.buf == nil {
			if cap(b.spare) >= ref.Movements {
				w.buf, b.spare = b.spare, nil
			} else {
				w.buf = make([]events.Movement, 0, ref.Movements)
			}
		}
		w.buf = append(w.buf, *m)
	}
	if int(pt.got) == ref.Movements {
		buf := w.buf
		w.buf = nil
		return b.finish(i, buf)
	}
	return nil
}

// finish checks the complete part i against the plan and emits it with its
// movements buf.
func (b *builder) finish(i int, buf []events.Movement) error {
	pt, ref := &b.parts[i], &b.a.Chunks[i]
	pt.done = true
	env, err := envelopeSize(b.a.SessionID, b.a.Account, len(b.a.Chunks), ref)
	if err != nil {
		return err
	}
	if got := bodySize(env, pt.bytes); got != ref.Bytes {
		return changed("chunk %s encodes to %d bytes, planned %d", ref.ID, got, ref.Bytes)
	}
	if b.sums != nil && pt.gotSum != b.sums[i] {
		return changed("chunk %s has the planned count and size but different movements", ref.ID)
	}
	if pt.skip {
		return nil
	}
	b.sortMovements(buf)
	err = b.emit(&events.Chunk{
		Session:   b.a.SessionID,
		Account:   b.a.Account,
		ID:        ref.ID,
		Ordinal:   ref.Ordinal,
		Total:     len(b.a.Chunks),
		Week:      ref.Week,
		Part:      ref.Part,
		Movements: buf,
	})
	if err == nil && b.reuse && cap(buf) > cap(b.spare) {
		clear(buf) // drop what the movements point to
		b.spare = buf[:0]
	}
	return err
}

// sortMovements puts ms in events.Compare order (movements that compare
// equal, which only a parser repeating IDs makes, keep their order). It
// sorts indexes, then moves each movement once: a movement is several
// hundred bytes, too big to swap around.
func (b *builder) sortMovements(ms []events.Movement) {
	less := func(i, j int) bool { return events.Compare(&ms[i], &ms[j]) < 0 }
	sorted := true
	for i := 1; i < len(ms) && sorted; i++ {
		sorted = !less(i, i-1)
	}
	if sorted {
		return
	}
	idx := b.order[:0]
	for i := range ms {
		idx = append(idx, int32(i))
	}
	if less(len(ms)-1, 0) {
		// Newest first, as real exports are: reversed, the indexes are
		// nearly in order, which the sort is quick on.
		slices.Reverse(idx)
	}
	b.order = idx
	slices.SortFunc(idx, func(i, j int32) int {
		if c := events.Compare(&ms[i], &ms[j]); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	// idx[k] is the movement that goes to position k: follow each cycle
	// of the permutation with one movement aside, marking placed
	// positions with -1.
	for start := range idx {
		if idx[start] < 0 || int(idx[start]) == start {
			continue
		}
		tmp := ms[start]
		k := start
		for {
			from := int(idx[k])
			idx[k] = -1
			if from == start {
				ms[k] = tmp
				break
			}
			ms[k] = ms[from]
			k = from
		}
	}
}
