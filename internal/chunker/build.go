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
// counts (16 bytes): the plan entry and the planned digest are found by
// the part's index in the plan, and the movements of the part being filled
// are its week's.
type openPart struct {
	got    int32
	bytes  int32 // sum of (encoded size + 1)
	gotSum uint64
}

// buildWeek is the greedy state of one week in pass 2 (28 bytes): its parts
// are builder.parts[first : first+n]. The greedy rule fills them in order,
// so only the current one holds movements: a part it has left can receive
// none any more.
type buildWeek struct {
	week  isoWeek
	first int32
	n     int32
	cur   int32 // index in the week of the part the greedy rule is filling
	curN  int32
	curB  int32
	slot  int32 // 1 + index in builder.slots of the current part's movements; 0: none
}

// builder is the state of one Build call. Per chunk of the plan it keeps
// the Analysis's 16-byte plan entry and 8-byte digest, its openPart, a bit
// of skip and one of done, and a buildWeek per week: ~45 bytes.
type builder struct {
	a     *Analysis
	limit int
	emit  func(*events.Chunk) error
	parts []openPart  // by index in the plan
	skip  []uint64    // bit i: chunk i is skipped (already published)
	done  []uint64    // bit i: chunk i is complete
	weeks []buildWeek // ascending
	// slots hold the movements of the parts open weeks are filling (a
	// skipped part's none); free lists the unused ones. A file in time
	// order has one week open at a time.
	slots [][]events.Movement
	free  []int32
	// compact: the open parts hold their movements encoded (encs, by slot,
	// beside slots), each decoded when its part is complete. A statement
	// in sections holds many parts at once, and a movement's JSON takes
	// about half its struct's memory, decimals and strings included
	// (BenchmarkHeldMovement: 326 against 622 bytes for IBKR movements).
	compact bool
	encs    []encPart
	dec     events.MovementDecoder
	reuse   bool              // cfg.ReuseMovements
	spare   []events.Movement // with reuse: an emitted chunk's slice, cleared
	sums    []uint64          // planned digests by index, nil when a has none
	sz      *sizer

	lastDay  events.Date
	lastWeek int // index in weeks of lastDay's week, -1 for none
	days     dayCache
	order    []int32 // sortMovements' scratch
}

func hasBit(set []uint64, i int) bool { return set[i>>6]&(1<<(i&63)) != 0 }
func setBit(set []uint64, i int)      { set[i>>6] |= 1 << (i & 63) }

func changed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFileChanged}, args...)...)
}

// build is Build with the parser lookup injected.
func build(r io.Reader, a *Analysis, cfg Config, w Window, skip func(string) bool, emit func(*events.Chunk) error, pick pickFunc) error {
	if a == nil {
		return fmt.Errorf("%w: no analysis", ErrBadConfig)
	}
	whole, err := a.checkWindow(w)
	if err != nil {
		return err
	}
	budget := a.ByteBudget
	if budget == 0 {
		budget = cfg.ByteBudget
	}
	if budget == 0 {
		budget = DefaultByteBudget
	}
	if budget < MinByteBudget || budget > math.MaxInt32 {
		return fmt.Errorf("%w: byte budget %d is outside %d to %d", ErrBadConfig, budget, MinByteBudget, math.MaxInt32)
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
	b := &builder{a: a, limit: budget - EnvelopeReserve, emit: emit, reuse: cfg.ReuseMovements, sz: newSizer(seed),
		lastWeek: -1}
	if whole {
		w = Window{0, a.Plan.Len()}
	}
	if err := b.index(w, skip); err != nil {
		return err
	}
	b.compact = cfg.holdsEncoded(a, budget)
	var within func(events.WallTime) bool // nil: every row
	if !whole {
		from, until := a.span(w)
		within = func(t events.WallTime) bool { return t >= from && t < until }
	}

	hr := newHashReader(r)
	defer hr.close()
	br := bufio.NewReaderSize(hr, readBufferSize)
	var rows, rowErrs, ignored, outside int
	var kinds kindCounts
	var idx *parsers.Occurrences // nil: a full index
	if a.Ordered {
		idx = parsers.NewWindowedOccurrences()
	}
	err = p.Scan(br, parsers.Options{Account: a.Account, Index: idx, Within: within}, func(rec *parsers.Record) error {
		switch {
		case rec.Outside:
			rows++
			outside++
			return nil
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
	if outside > 0 {
		// The rows outside the window were counted, not converted: their
		// errors and movements are their own window's to check.
		if rows != a.Rows {
			return changed("%d rows, analysed %d", rows, a.Rows)
		}
	} else {
		if rows != a.Rows || rowErrs != a.RowErrorCount || ignored != a.IgnoredCount {
			return changed("%d rows (%d errors, %d ignored), analysed %d (%d, %d)",
				rows, rowErrs, ignored, a.Rows, a.RowErrorCount, a.IgnoredCount)
		}
		counts := make(map[events.Kind]int)
		kinds.into(counts)
		if !maps.Equal(counts, a.Counts) {
			return changed("movement counts %v, analysed %v", counts, a.Counts)
		}
	}
	for i := range a.Plan.Len() {
		if outside > 0 && !w.Contains(i+1) {
			continue
		}
		if !hasBit(b.done, i) {
			return changed("chunk %s received %d of %d movements", a.Plan.Chunk(i).ID, b.parts[i].got, a.Plan.Movements(i))
		}
	}
	return nil
}

// index builds the part states and the week index from the plan. (A
// Plan is one Analyze could have made: NewPlan checks those made elsewhere.)
func (b *builder) index(w Window, skip func(string) bool) error {
	plan := b.a.Plan.chunks
	nweeks := 0
	for i := range plan {
		if i == 0 || plan[i].week != plan[i-1].week {
			nweeks++
		}
	}
	b.weeks = make([]buildWeek, 0, nweeks)
	b.parts = make([]openPart, len(plan))
	b.skip = make([]uint64, (len(plan)+63)/64)
	b.done = make([]uint64, len(b.skip))
	if len(b.a.sums) == len(plan) {
		b.sums = b.a.sums
	}
	for i := range plan {
		if len(b.weeks) == 0 || plan[i].week != plan[i-1].week {
			b.weeks = append(b.weeks, buildWeek{week: plan[i].week, first: int32(i)})
		}
		b.weeks[len(b.weeks)-1].n++
		if !w.Contains(i+1) || skip != nil && skip(b.a.Plan.Chunk(i).ID) {
			setBit(b.skip, i)
		}
	}
	return nil
}

// weekOf returns the index in b.weeks of day d's week, or -1 with the
// week's name if the plan has no such week.
func (b *builder) weekOf(d events.Date) (int, string) {
	if d == b.lastDay && b.lastWeek >= 0 {
		return b.lastWeek, ""
	}
	wk := weekOf(d)
	i, ok := slices.BinarySearchFunc(b.weeks, wk, func(w buildWeek, wk isoWeek) int { return cmp.Compare(w.week, wk) })
	if !ok {
		return -1, wk.String()
	}
	b.lastDay, b.lastWeek = d, i
	return i, ""
}

// add assigns m to its part by the greedy rule of Analyze, and emits the part
// once it is complete.
func (b *builder) add(m *events.Movement, rowKey uint64, prev *events.Movement) error {
	size, digest, err := b.sz.measure(m, rowKey, prev)
	if err != nil {
		return err
	}
	wi, name := b.weekOf(b.days.of(m.Time))
	if wi < 0 {
		return changed("movement %s in week %s, which the plan does not have", m.ID, name)
	}
	w := &b.weeks[wi]
	cost := size + 1
	if cost > b.limit {
		return changed("movement %s of %d bytes does not fit the budget", m.ID, size)
	}
	if w.curN > 0 && int(w.curB)+cost > b.limit {
		w.cur++
		w.curN, w.curB = 0, 0
		b.release(w) // a part left incomplete: the end of Build reports it
	}
	if w.cur >= w.n {
		return changed("movement %s starts part %d of week %s, the plan has %d", m.ID, w.cur+1, w.week, w.n)
	}
	w.curN++
	w.curB += int32(cost) // cost ≤ limit < budget, and the part stays under it
	i := int(w.first + w.cur)
	pt, want := &b.parts[i], b.a.Plan.Movements(i)
	if hasBit(b.done, i) {
		return changed("chunk %s receives more than its %d planned movements", b.a.Plan.Chunk(i).ID, want)
	}
	pt.got++
	pt.bytes += int32(cost)
	pt.gotSum += digest
	if !hasBit(b.skip, i) {
		if w.slot == 0 {
			b.open(w, i, want)
		}
		if b.compact {
			e := &b.encs[w.slot-1]
			e.buf = events.AppendMovementJSON(e.buf, m, 0)
			e.ends = append(e.ends, int32(len(e.buf)))
		} else {
			b.slots[w.slot-1] = append(b.slots[w.slot-1], *m)
		}
	}
	if int(pt.got) == want {
		var buf []events.Movement
		var enc encPart
		if w.slot > 0 {
			buf, enc = b.slots[w.slot-1], b.encs[w.slot-1]
		}
		b.release(w)
		return b.finish(i, buf, &enc)
	}
	return nil
}

// holdsEncoded reports whether pass 2 holds the open parts' movements
// encoded: a statement in sections, of which one pass holds more than a
// chunk at once (a file in time order holds one part at a time, as structs,
// saving an encoding and a decoding of every movement).
func (cfg Config) holdsEncoded(a *Analysis, budget int) bool {
	switch cfg.hold {
	case holdStructs:
		return false
	case holdEncoded:
		return true
	}
	return a.PeakOpenBytes > budget
}

// encPart is an open part's movements, encoded (events.AppendMovementJSON):
// movement k is buf[ends[k-1]:ends[k]].
type encPart struct {
	buf  []byte
	ends []int32
}

// decode decodes e's movements, into the spare slice if Build may reuse it.
func (b *builder) decode(e *encPart) ([]events.Movement, error) {
	n := len(e.ends)
	var buf []events.Movement
	if b.reuse && cap(b.spare) >= n {
		buf, b.spare = b.spare[:n], nil
	} else {
		buf = make([]events.Movement, n)
	}
	start := int32(0)
	for k, end := range e.ends {
		buf[k] = events.Movement{}
		if err := b.dec.Decode(e.buf[start:end], &buf[k], 0); err != nil {
			return nil, fmt.Errorf("chunker: decode a held movement: %w", err)
		}
		start = end
	}
	return buf, nil
}

// open gives week w a slot for the movements of its current part i, of
// capacity want (compact: of the part's planned bytes).
func (b *builder) open(w *buildWeek, i, want int) {
	var buf []events.Movement
	var enc encPart
	switch {
	case b.compact:
		enc = encPart{buf: make([]byte, 0, b.a.Plan.Bytes(i)), ends: make([]int32, 0, want)}
	case cap(b.spare) >= want:
		buf, b.spare = b.spare, nil
	default:
		buf = make([]events.Movement, 0, want)
	}
	if n := len(b.free); n > 0 {
		w.slot = b.free[n-1] + 1
		b.free = b.free[:n-1]
		b.slots[w.slot-1], b.encs[w.slot-1] = buf, enc
		return
	}
	b.slots = append(b.slots, buf)
	b.encs = append(b.encs, enc)
	w.slot = int32(len(b.slots))
}

// release frees week w's slot; the movements in it are the caller's.
func (b *builder) release(w *buildWeek) {
	if w.slot == 0 {
		return
	}
	b.slots[w.slot-1], b.encs[w.slot-1] = nil, encPart{}
	b.free = append(b.free, w.slot-1)
	w.slot = 0
}

// finish checks the complete part i against the plan and emits it with its
// movements: buf, or compact, decoded from enc.
func (b *builder) finish(i int, buf []events.Movement, enc *encPart) error {
	pt, ref := &b.parts[i], b.a.Plan.Chunk(i)
	setBit(b.done, i)
	env, err := envelopeSize(b.a.SessionID, b.a.Account, b.a.Plan.Len(), &ref)
	if err != nil {
		return err
	}
	if got := bodySize(env, int(pt.bytes)); got != ref.Bytes {
		return changed("chunk %s encodes to %d bytes, planned %d", ref.ID, got, ref.Bytes)
	}
	if b.sums != nil && pt.gotSum != b.sums[i] {
		return changed("chunk %s has the planned count and size but different movements", ref.ID)
	}
	if hasBit(b.skip, i) {
		return nil
	}
	if b.compact {
		if buf, err = b.decode(enc); err != nil {
			return err
		}
	}
	b.sortMovements(buf)
	err = b.emit(&events.Chunk{
		Session:   b.a.SessionID,
		Account:   b.a.Account,
		ID:        ref.ID,
		Ordinal:   ref.Ordinal,
		Total:     b.a.Plan.Len(),
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
