package chunker

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// pickFunc returns the parser for a broker name ([parsers.ForBroker]; tests
// pass a fake).
type pickFunc func(broker string) (parsers.Parser, error)

// readBufferSize is the read buffer between the file and the parser; the
// broker is detected from its head. The Tastytrade parser's CSV reader
// asks for at least this much once the head is consumed, so bufio.Reader
// hands those reads straight to the file rather than copying them through
// this buffer.
const readBufferSize = 64 << 10

// hashReader passes bytes through while counting them and hashing them with
// SHA-256 on a goroutine of its own, so that, given a second core, the hash
// of the file (a tenth of pass 1) overlaps its parsing. Read copies the
// bytes into one of a few buffers that the goroutine hashes in order. The
// goroutine lives until close, which every user defers; sum closes too.
type hashReader struct {
	r io.Reader
	n int64

	full   chan []byte // buffers to hash, in order
	free   chan []byte // hashed buffers, to fill again
	made   int         // buffers allocated
	buf    []byte      // the buffer being filled
	done   chan struct{}
	digest [sha256.Size]byte // set by the goroutine before done closes
	closed bool
}

const (
	hashBuffers    = 8
	hashBufferSize = 64 << 10
)

func newHashReader(r io.Reader) *hashReader {
	h := &hashReader{r: r, full: make(chan []byte, hashBuffers), free: make(chan []byte, hashBuffers), done: make(chan struct{})}
	go h.hash()
	return h
}

// hash is the goroutine: it hashes the buffers until full is closed.
func (h *hashReader) hash() {
	defer close(h.done)
	d := sha256.New()
	for b := range h.full {
		d.Write(b)
		h.free <- b[:0]
	}
	d.Sum(h.digest[:0])
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	for data := p[:n]; len(data) > 0; {
		if h.buf == nil {
			select {
			case h.buf = <-h.free:
			default:
				if h.made < hashBuffers {
					h.made++
					h.buf = make([]byte, 0, hashBufferSize)
				} else {
					h.buf = <-h.free
				}
			}
		}
		k := copy(h.buf[len(h.buf):cap(h.buf)], data)
		h.buf = h.buf[:len(h.buf)+k]
		data = data[k:]
		if len(h.buf) == cap(h.buf) {
			h.full <- h.buf
			h.buf = nil
		}
	}
	return n, err
}

// close hands over the last bytes and waits for the goroutine to end.
func (h *hashReader) close() {
	if h.closed {
		return
	}
	h.closed = true
	if len(h.buf) > 0 {
		h.full <- h.buf
	}
	h.buf = nil
	close(h.full)
	<-h.done
}

// sum closes h and returns the hex SHA-256 of the bytes read.
func (h *hashReader) sum() string {
	h.close()
	return hex.EncodeToString(h.digest[:])
}

// drain reads what the parser left unread so the hash covers every byte.
func drain(br *bufio.Reader) error {
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("chunker: read: %w", err)
	}
	return nil
}

// pickParser resolves the broker name ("" or "auto": detect it from the head
// of br) and returns the broker and its parser.
func pickParser(br *bufio.Reader, broker string, pick pickFunc) (string, parsers.Parser, error) {
	if broker == "" || broker == "auto" {
		head, err := br.Peek(br.Size())
		if err != nil && !errors.Is(err, io.EOF) {
			return "", nil, fmt.Errorf("chunker: read: %w", err)
		}
		broker, err = parsers.Detect(head)
		if err != nil {
			return "", nil, err
		}
	}
	p, err := pick(broker)
	if err != nil {
		return "", nil, err
	}
	return broker, p, nil
}

// part is one planned part of a week while the plan is built.
type part struct {
	n     int    // movements
	bytes int    // sum of (encoded size + 1)
	sum   uint64 // sum of movement digests
	// first and last are the file-order numbers of the part's first and
	// last movements: pass 2 holds the part's movements between the two.
	first, last int
}

type week struct {
	name  string
	parts []part
}

// planner assigns movements to (week, part) by the greedy rule.
type planner struct {
	limit int // byte budget minus EnvelopeReserve
	weeks map[string]*week

	lastDay  events.Date
	lastWeek *week
	seq      int // movements added
}

func newPlanner(budget int) *planner {
	return &planner{limit: budget - EnvelopeReserve, weeks: make(map[string]*week)}
}

// weekOf returns the week state of day d, creating it on first use.
func (p *planner) weekOf(d events.Date) *week {
	if d == p.lastDay && p.lastWeek != nil {
		return p.lastWeek
	}
	name := d.ISOWeek()
	w := p.weeks[name]
	if w == nil {
		w = &week{name: name, parts: []part{{}}}
		p.weeks[name] = w
	}
	p.lastDay, p.lastWeek = d, w
	return w
}

// add assigns a movement of the given encoded size to its part and returns the
// week and the part's index.
func (p *planner) add(d events.Date, size int) (*week, int, error) {
	cost := size + 1
	if cost > p.limit {
		return nil, 0, fmt.Errorf("%w: %d bytes, budget %d (%d for movements)", ErrTooLarge, size, p.limit+EnvelopeReserve, p.limit)
	}
	w := p.weekOf(d)
	i := len(w.parts) - 1
	if cur := w.parts[i]; cur.n > 0 && cur.bytes+cost > p.limit {
		w.parts = append(w.parts, part{})
		i++
	}
	p.seq++
	if w.parts[i].n == 0 {
		w.parts[i].first = p.seq
	}
	w.parts[i].n++
	w.parts[i].bytes += cost
	w.parts[i].last = p.seq
	return w, i, nil
}

// plan returns the final chunk plan and the part digests, with exact chunk
// sizes, and the plan's peak open bytes (Analysis.PeakOpenBytes).
func (p *planner) plan(session, account string) (Plan, []uint64, int, error) {
	names := make([]string, 0, len(p.weeks))
	total := 0
	for name, w := range p.weeks {
		names = append(names, name)
		total += len(w.parts)
	}
	slices.Sort(names)
	if total > math.MaxInt32 {
		return Plan{}, nil, 0, fmt.Errorf("%w: a plan of %d chunks", ErrTooLarge, total)
	}
	plan := Plan{chunks: make([]plannedChunk, 0, total)}
	sums := make([]uint64, 0, total)
	// open: +bytes at a part's first movement, -bytes after its last.
	type step struct{ at, bytes int }
	open := make([]step, 0, 2*total)
	for _, name := range names {
		wk, ok := parseWeek(name)
		if !ok {
			return Plan{}, nil, 0, fmt.Errorf("chunker: week %q", name)
		}
		for i, pt := range p.weeks[name].parts {
			ref := events.ChunkRef{ID: chunkID(name, i+1), Ordinal: len(plan.chunks) + 1, Week: name, Part: i + 1}
			env, err := envelopeSize(session, account, total, &ref)
			if err != nil {
				return Plan{}, nil, 0, err
			}
			bytes := bodySize(env, pt.bytes)
			if bytes > math.MaxInt32 || pt.n > math.MaxInt32 {
				return Plan{}, nil, 0, fmt.Errorf("%w: chunk %s of %d bytes", ErrTooLarge, ref.ID, bytes)
			}
			open = append(open, step{pt.first, bytes}, step{pt.last + 1, -bytes})
			plan.chunks = append(plan.chunks, plannedChunk{week: wk, part: int32(i + 1), movements: int32(pt.n), bytes: int32(bytes)})
			sums = append(sums, pt.sum)
		}
	}
	slices.SortFunc(open, func(a, b step) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.bytes, b.bytes)) })
	peak, cur := 0, 0
	for _, st := range open {
		cur += st.bytes
		peak = max(peak, cur)
	}
	return plan, sums, peak, nil
}

func chunkID(week string, part int) string { return fmt.Sprintf("%s.%d", week, part) }

// envelopeSize is the encoded size of ref's chunk with no movements ("[]").
func envelopeSize(session, account string, total int, ref *events.ChunkRef) (int, error) {
	b, err := events.Marshal(&events.Chunk{
		Session: session, Account: account, ID: ref.ID, Ordinal: ref.Ordinal, Total: total,
		Week: ref.Week, Part: ref.Part, Movements: []events.Movement{},
	})
	if err != nil {
		return 0, err
	}
	if len(b) > EnvelopeReserve {
		return 0, fmt.Errorf("%w: chunk envelope of %d bytes exceeds the reserve of %d", ErrBadConfig, len(b), EnvelopeReserve)
	}
	return len(b), nil
}

// bodySize is the size of a chunk body from its envelope size (which counts
// an empty "[]") and partBytes, the sum of (movement size + 1) over its n
// movements: env + (partBytes - n) + (n - 1) commas.
func bodySize(env, partBytes int) int {
	if partBytes == 0 {
		return env
	}
	return env + partBytes - 1
}

// analyze is Analyze with the parser lookup injected.
func analyze(r io.Reader, cfg Config, pick pickFunc) (*Analysis, error) {
	return analyzeIndexed(r, cfg, pick, false)
}

// analyzeIndexed is pass 1 with a windowed (bounded) or a full identity
// index. With a windowed index, Analysis.Ordered reports whether the file
// was in time order: when it was not, the IDs (and so the plan) computed
// after the first out-of-order row may be wrong and the caller must analyse
// again with a full index.
func analyzeIndexed(r io.Reader, cfg Config, pick pickFunc, windowed bool) (*Analysis, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hr := newHashReader(r)
	defer hr.close()
	br := bufio.NewReaderSize(hr, readBufferSize)
	broker, p, err := pickParser(br, strings.ToLower(strings.TrimSpace(cfg.Broker)), pick)
	if err != nil {
		return nil, err
	}
	a := &Analysis{
		File:       cfg.File,
		Broker:     broker,
		Account:    cfg.Account,
		Counts:     make(map[events.Kind]int),
		ByteBudget: cfg.ByteBudget,
	}
	pl := newPlanner(cfg.ByteBudget)
	a.seed = maphash.MakeSeed()
	sz := newSizer(a.seed)
	sz.expect(cfg.Account, broker)
	seen := false
	var idx *parsers.Occurrences
	if windowed {
		idx = parsers.NewWindowedOccurrences()
	}
	var kinds kindCounts
	var days dayCache
	// Pass 1 needs the movements' sizes, not their IDs or their amounts
	// (see Options.NoIDs and Options.SizeOnly); the digests use
	// Record.RowKey in their place, in both passes. SizeOnly's stand-ins
	// are measured by the sizer's default-format rules, so it is asked
	// for only when they apply (sz.fast). A record's text is used only
	// in the callback, or cloned (the row errors, ignored rows, the
	// sizer's memos, the kinds), so the parser may reuse it
	// (Options.ReuseText).
	opts := parsers.Options{Account: cfg.Account, Index: idx, NoIDs: true, SizeOnly: sz.fast && !cfg.measureValues, ReuseText: true}
	err = p.Scan(br, opts, func(rec *parsers.Record) error {
		switch {
		case rec.Err != nil:
			a.Rows++
			a.RowErrorCount++
			if len(a.RowErrors) < cfg.MaxReported {
				a.RowErrors = append(a.RowErrors, cloneRowError(rec.Err))
			}
			return nil
		case rec.Ignored != "":
			a.Rows++
			a.IgnoredCount++
			if len(a.Ignored) < cfg.MaxReported {
				a.Ignored = append(a.Ignored, parsers.Ignored{Line: rec.Line, Reason: strings.Clone(rec.Ignored)})
			}
			return nil
		}
		if rec.Line > 0 {
			a.Rows++
		}
		var prev *events.Movement
		for i := range rec.Movements {
			m := &rec.Movements[i]
			size, digest, err := sz.measure(m, rec.RowKey, prev)
			prev = m
			if err != nil {
				return err
			}
			w, pi, err := pl.add(days.of(m.Time), size)
			if err != nil {
				return fmt.Errorf("line %d, %s movement at %s: %w", rec.Line, m.Kind, m.Time, err)
			}
			w.parts[pi].sum += digest
			if kinds.add(m.Kind) {
				a.Movements++
			}
			if !seen || m.Time < a.MinTime {
				a.MinTime = m.Time
			}
			if !seen || m.Time > a.MaxTime {
				a.MaxTime = m.Time
			}
			seen = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kinds.into(a.Counts)
	if err := drain(br); err != nil {
		return nil, err
	}
	a.SHA256 = hr.sum()
	a.Bytes = hr.n
	a.SessionID = SessionID(a.Account, a.SHA256)
	a.Plan, a.sums, a.PeakOpenBytes, err = pl.plan(a.SessionID, a.Account)
	if err != nil {
		return nil, err
	}
	a.Ordered = windowed && !idx.Unordered()
	return a, nil
}

// cloneRowError copies e so it outlives the parser's callback.
func cloneRowError(e *parsers.RowError) parsers.RowError {
	return parsers.RowError{Line: e.Line, Column: strings.Clone(e.Column), Value: strings.Clone(e.Value), Err: e.Err}
}

// kindCounts counts movements by kind: a statement has a handful of kinds,
// so a short list is quicker than a map.
type kindCounts struct {
	kinds  []events.Kind
	n      []int
	counts []bool // kinds[i].Counts()
}

// add counts a movement of kind k and reports k.Counts().
func (c *kindCounts) add(k events.Kind) bool {
	for i := range c.kinds {
		if c.kinds[i] == k {
			c.n[i]++
			return c.counts[i]
		}
	}
	c.kinds = append(c.kinds, events.Kind(strings.Clone(string(k)))) // k may be reused text (Options.ReuseText)
	c.n = append(c.n, 1)
	c.counts = append(c.counts, k.Counts())
	return k.Counts()
}

// into adds the counts to m.
func (c *kindCounts) into(m map[events.Kind]int) {
	for i, k := range c.kinds {
		m[k] += c.n[i]
	}
}

// dayCache is WallTime.Day, remembering the last day: a statement's rows
// come in runs of the same day.
type dayCache struct {
	n  int64 // days since 1970-01-01 of d
	d  events.Date
	ok bool
}

func (c *dayCache) of(w events.WallTime) events.Date {
	n := int64(w) / 86400
	if int64(w)%86400 < 0 {
		n--
	}
	if !c.ok || n != c.n {
		c.n, c.d, c.ok = n, w.Day(), true
	}
	return c.d
}
