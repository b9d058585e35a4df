package chunker

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
)

// Plan is a file's chunk plan: its chunks in ordinal order, weeks ascending,
// then parts. It keeps 16 bytes per chunk, so that what ingest holds for the
// whole import stays small beside what it holds in flight (a 6M-row
// statement plans ~12,000 chunks: ~190 KB); [Plan.Chunk] and [Plan.All] give
// the chunks as [events.ChunkRef]s. The zero Plan has no chunks.
type Plan struct {
	chunks []plannedChunk
}

// plannedChunk is one chunk of a Plan.
type plannedChunk struct {
	week      isoWeek
	part      int32 // 1-based
	movements int32
	bytes     int32
}

// isoWeek is an ISO week as ISO year × 100 + week number: it orders as the
// weeks do, and as their "YYYY-Www" names do.
type isoWeek int32

// weekOf returns the ISO week of d.
func weekOf(d events.Date) isoWeek {
	y, w := d.Time().ISOWeek()
	return isoWeek(y*100 + w)
}

// String is the week's name, "YYYY-Www" ([events.Date.ISOWeek]).
func (w isoWeek) String() string {
	b := make([]byte, 0, 8)
	b = appendPadded(b, int(w)/100, 4)
	b = append(b, '-', 'W')
	b = appendPadded(b, int(w)%100, 2)
	return string(b)
}

func appendPadded(b []byte, v, width int) []byte {
	for n := len(strconv.Itoa(v)); n < width; n++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

// parseWeek reads a week name "YYYY-Www".
func parseWeek(s string) (isoWeek, bool) {
	if len(s) != 8 || s[4] != '-' || s[5] != 'W' {
		return 0, false
	}
	y, err1 := strconv.Atoi(s[:4])
	w, err2 := strconv.Atoi(s[6:])
	if err1 != nil || err2 != nil || y < 0 || w < 1 || w > 53 || s[0] == '+' || s[6] == '+' || s[6] == '-' {
		return 0, false
	}
	return isoWeek(y*100 + w), true
}

// NewPlan returns the Plan of refs, which must be a plan Analyze could have
// made: ordinals 1, 2, …; weeks ascending, each week's parts numbered from 1;
// IDs "<week>.<part>"; at least one movement per chunk. It is for plans
// made elsewhere (tests, tools); [Analyze] makes its own.
func NewPlan(refs []events.ChunkRef) (Plan, error) {
	p := Plan{chunks: make([]plannedChunk, 0, len(refs))}
	bad := func(i int, ref *events.ChunkRef) (Plan, error) {
		return Plan{}, fmt.Errorf("%w: chunk plan entry %d (%s) is out of order or inconsistent", ErrBadConfig, i+1, ref.ID)
	}
	if len(refs) > math.MaxInt32 {
		return Plan{}, fmt.Errorf("%w: a plan of %d chunks", ErrBadConfig, len(refs))
	}
	for i := range refs {
		ref := &refs[i]
		w, ok := parseWeek(ref.Week)
		if !ok || ref.Ordinal != i+1 || ref.Movements <= 0 || ref.Movements > math.MaxInt32 ||
			ref.Bytes < 0 || ref.Bytes > math.MaxInt32 || ref.ID != chunkID(ref.Week, ref.Part) {
			return bad(i, ref)
		}
		want := 1 // the part a new week starts with
		if i > 0 {
			prev := p.chunks[i-1]
			switch {
			case w < prev.week:
				return bad(i, ref)
			case w == prev.week:
				want = int(prev.part) + 1
			}
		}
		if ref.Part != want {
			return bad(i, ref)
		}
		p.chunks = append(p.chunks, plannedChunk{week: w, part: int32(ref.Part), movements: int32(ref.Movements), bytes: int32(ref.Bytes)})
	}
	return p, nil
}

// Len is the number of chunks.
func (p Plan) Len() int { return len(p.chunks) }

// Chunk returns the chunk of ordinal i+1.
func (p Plan) Chunk(i int) events.ChunkRef {
	c := p.chunks[i]
	week := c.week.String()
	return events.ChunkRef{
		ID: chunkID(week, int(c.part)), Ordinal: i + 1, Week: week, Part: int(c.part),
		Movements: int(c.movements), Bytes: int(c.bytes),
	}
}

// Movements is the number of movements (every kind) of the chunk of ordinal
// i+1, without making its ChunkRef.
func (p Plan) Movements(i int) int { return int(p.chunks[i].movements) }

// Bytes is the exact size of the body of the chunk of ordinal i+1.
func (p Plan) Bytes(i int) int { return int(p.chunks[i].bytes) }

// All yields the chunks with their indexes (ordinal - 1), in order.
func (p Plan) All() iter.Seq2[int, events.ChunkRef] {
	return func(yield func(int, events.ChunkRef) bool) {
		for i := range p.chunks {
			if !yield(i, p.Chunk(i)) {
				return
			}
		}
	}
}

// Refs returns every chunk as a slice, for printing a plan.
func (p Plan) Refs() []events.ChunkRef {
	refs := make([]events.ChunkRef, len(p.chunks))
	for i := range p.chunks {
		refs[i] = p.Chunk(i)
	}
	return refs
}

// Fingerprint is the plan's [events.PlanFingerprint].
func (p Plan) Fingerprint() string {
	return events.PlanFingerprint(func(yield func(events.ChunkRef) bool) {
		for _, c := range p.All() {
			if !yield(c) {
				return
			}
		}
	})
}

// Ordinal returns the ordinal of the chunk with the given ID, or 0 if the
// plan has none.
func (p Plan) Ordinal(id string) int {
	name, partText, ok := strings.Cut(id, ".")
	w, okWeek := parseWeek(name)
	part, err := strconv.Atoi(partText)
	if !ok || !okWeek || err != nil || part < 1 || part > math.MaxInt32 {
		return 0
	}
	i, found := p.search(w, int32(part))
	if !found || chunkID(name, part) != id {
		return 0
	}
	return i + 1
}

// search returns the index of chunk (w, part), or where it would be.
func (p Plan) search(w isoWeek, part int32) (int, bool) {
	lo, hi := 0, len(p.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c := p.chunks[m]; c.week < w || c.week == w && c.part < part {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(p.chunks) && p.chunks[lo].week == w && p.chunks[lo].part == part
}
