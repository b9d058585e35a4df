package chunker

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"slices"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// pickFunc returns the parser for a broker name ([parsers.ForBroker]; tests
// pass a fake).
type pickFunc func(broker string) (parsers.Parser, error)

// readBufferSize is the read buffer between the file and the parser; the
// broker is detected from its head.
const readBufferSize = 64 << 10

// hashReader passes bytes through while hashing and counting them.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashReader(r io.Reader) *hashReader { return &hashReader{r: r, h: sha256.New()} }

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashReader) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

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
	w.parts[i].n++
	w.parts[i].bytes += cost
	return w, i, nil
}

// plan returns the final chunk plan and the part digests, with exact chunk
// sizes.
func (p *planner) plan(session, account string) ([]events.ChunkRef, []uint64, error) {
	names := make([]string, 0, len(p.weeks))
	total := 0
	for name, w := range p.weeks {
		names = append(names, name)
		total += len(w.parts)
	}
	slices.Sort(names)
	refs := make([]events.ChunkRef, 0, total)
	sums := make([]uint64, 0, total)
	for _, name := range names {
		for i, pt := range p.weeks[name].parts {
			refs = append(refs, events.ChunkRef{
				ID:        chunkID(name, i+1),
				Ordinal:   len(refs) + 1,
				Week:      name,
				Part:      i + 1,
				Movements: pt.n,
			})
			sums = append(sums, pt.sum)
		}
	}
	for i := range refs {
		env, err := envelopeSize(session, account, total, &refs[i])
		if err != nil {
			return nil, nil, err
		}
		pt := p.weeks[refs[i].Week].parts[refs[i].Part-1]
		refs[i].Bytes = bodySize(env, pt.bytes)
	}
	return refs, sums, nil
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
	seen := false
	var idx *parsers.Occurrences
	if windowed {
		idx = parsers.NewWindowedOccurrences()
	}
	err = p.Scan(br, parsers.Options{Account: cfg.Account, Index: idx}, func(rec *parsers.Record) error {
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
		for i := range rec.Movements {
			m := &rec.Movements[i]
			size, digest, err := sz.measure(m)
			if err != nil {
				return err
			}
			w, pi, err := pl.add(m.Time.Day(), size)
			if err != nil {
				return fmt.Errorf("line %d, movement %s: %w", rec.Line, m.ID, err)
			}
			w.parts[pi].sum += digest
			a.Counts[m.Kind]++
			if m.Kind.Counts() {
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
	if err := drain(br); err != nil {
		return nil, err
	}
	a.SHA256 = hr.sum()
	a.Bytes = hr.n
	a.SessionID = SessionID(a.Account, a.SHA256)
	a.Chunks, a.sums, err = pl.plan(a.SessionID, a.Account)
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
