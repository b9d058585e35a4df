package chunker

import (
	"bufio"
	"cmp"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// openPart is one chunk of the plan while Build fills it.
type openPart struct {
	ref    *events.ChunkRef
	sum    uint64 // planned digest
	hasSum bool
	skip   bool

	got    int
	bytes  int // sum of (encoded size + 1)
	gotSum uint64
	done   bool
	buf    []events.Movement
}

// buildWeek is the greedy state of one week in pass 2.
type buildWeek struct {
	parts []*openPart
	cur   int // index of the part the greedy rule is filling
	curN  int
	curB  int
}

// builder is the state of one Build call.
type builder struct {
	a     *Analysis
	limit int
	emit  func(*events.Chunk) error
	weeks map[string]*buildWeek
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
	b := &builder{a: a, limit: budget - EnvelopeReserve, emit: emit, weeks: make(map[string]*buildWeek), sz: newSizer(seed)}
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
		ref := &a.Chunks[i]
		w := b.weeks[ref.Week]
		if pt := w.parts[ref.Part-1]; !pt.done {
			return changed("chunk %s received %d of %d movements", ref.ID, pt.got, ref.Movements)
		}
	}
	return nil
}

// index builds the per-week part list from the plan and checks that the plan
// is one Analyze could have made.
func (b *builder) index(skip func(string) bool) error {
	for i := range b.a.Chunks {
		ref := &b.a.Chunks[i]
		w := b.weeks[ref.Week]
		if w == nil {
			w = &buildWeek{}
			b.weeks[ref.Week] = w
		}
		if ref.Part != len(w.parts)+1 || ref.Ordinal != i+1 || ref.Movements <= 0 || ref.ID != chunkID(ref.Week, ref.Part) {
			return fmt.Errorf("%w: chunk plan entry %d (%s) is out of order or inconsistent", ErrBadConfig, i+1, ref.ID)
		}
		pt := &openPart{ref: ref, skip: skip != nil && skip(ref.ID)}
		if len(b.a.sums) == len(b.a.Chunks) {
			pt.sum, pt.hasSum = b.a.sums[i], true
		}
		w.parts = append(w.parts, pt)
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
	}
	if w.cur >= len(w.parts) {
		return changed("movement %s starts part %d of week %s, the plan has %d", m.ID, w.cur+1, m.Time.Day().ISOWeek(), len(w.parts))
	}
	w.curN++
	w.curB += cost
	pt := w.parts[w.cur]
	if pt.done {
		return changed("chunk %s receives more than its %d planned movements", pt.ref.ID, pt.ref.Movements)
	}
	pt.got++
	pt.bytes += cost
	pt.gotSum += digest
	if !pt.skip {
		if pt.buf == nil {
			pt.buf = make([]events.Movement, 0, pt.ref.Movements)
		}
		pt.buf = append(pt.buf, *m)
	}
	if pt.got == pt.ref.Movements {
		return b.finish(pt)
	}
	return nil
}

// finish checks a complete part against the plan and emits it.
func (b *builder) finish(pt *openPart) error {
	pt.done = true
	ref := pt.ref
	env, err := envelopeSize(b.a.SessionID, b.a.Account, len(b.a.Chunks), ref)
	if err != nil {
		return err
	}
	if got := bodySize(env, pt.bytes); got != ref.Bytes {
		return changed("chunk %s encodes to %d bytes, planned %d", ref.ID, got, ref.Bytes)
	}
	if pt.hasSum && pt.gotSum != pt.sum {
		return changed("chunk %s has the planned count and size but different movements", ref.ID)
	}
	if pt.skip {
		return nil
	}
	buf := pt.buf
	pt.buf = nil
	b.sortMovements(buf)
	return b.emit(&events.Chunk{
		Session:   b.a.SessionID,
		Account:   b.a.Account,
		ID:        ref.ID,
		Ordinal:   ref.Ordinal,
		Total:     len(b.a.Chunks),
		Week:      ref.Week,
		Part:      ref.Part,
		Movements: buf,
	})
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
