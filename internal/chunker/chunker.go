// Package chunker analyses a statement and cuts its movements into the chunks
// that travel as JetStream messages: file hash and session ID, per-week
// counts, and a deterministic chunk plan of ISO weeks split into parts under a
// byte budget. It is pure: it reads only the io.Reader it is given.
//
// Ingest reads a file twice: [Analyze] (pass 1) validates every row and
// computes the plan without keeping movements; [Build] (pass 2) re-reads the
// same bytes and emits each chunk of the plan. Pass 1 measures movements
// without their IDs or amounts ([parsers.Options.NoIDs],
// [parsers.Options.SizeOnly]): only their encoded sizes matter to the plan,
// and they are the sizes pass 2 encodes. Memory is bounded by the open
// chunk parts (and the parser's small per-row identity index), not by the
// file: movements are never all held. A file in time order has one part
// open at a time; one in sections (IBKR) fills every week's at once, so
// pass 2 can run once per window of weeks ([Analysis.Windows],
// [BuildWindow]), its parser converting only the window's rows.
//
// # The plan
//
// A movement belongs to the ISO week (Monday to Sunday) of its statement day
// ([events.Date.ISOWeek] of Time.Day()). Within a week, movements are put into
// numbered parts greedily, in the order the parser emits them: a part closes
// when the next movement's encoded size (its JSON plus one byte for the
// separating comma) would take the part past the byte budget minus
// [EnvelopeReserve]. Chunks are ordered by week, then part; a chunk's ID is
// "<week>.<part>" (e.g. "2025-W35.1"), and its Bytes is the exact size of the
// encoded [events.Chunk] body. The same bytes therefore always give the same
// plan, the same chunk IDs and byte-identical chunk bodies.
package chunker

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// DefaultByteBudget is the default maximum encoded size of a chunk message,
// well under NATS's default 1 MiB max_payload.
const DefaultByteBudget = 512 << 10

// EnvelopeReserve is the part of the byte budget kept for a chunk's envelope
// (session, account, ID, ordinal, total, week, part). The largest possible
// envelope (a 64-character account) is about 200 bytes.
const EnvelopeReserve = 1 << 10

// MinByteBudget is the smallest byte budget Analyze accepts.
const MinByteBudget = 2 * EnvelopeReserve

// DefaultMaxReported is the default of [Config.MaxReported].
const DefaultMaxReported = 1000

// Errors.
var (
	// ErrFileChanged: pass 2 read bytes that differ from what pass 1 analysed.
	ErrFileChanged = errors.New("chunker: file changed since it was analysed")
	// ErrUnordered: the rows are not in time order and the reader cannot
	// be read a second time (see Analyze).
	ErrUnordered = errors.New("chunker: rows are not in time order and the input cannot be re-read")
	// ErrTooLarge: a single movement does not fit the byte budget.
	ErrTooLarge = errors.New("chunker: movement larger than the byte budget")
	// ErrBadConfig: a Config or Analysis that cannot be used.
	ErrBadConfig = errors.New("chunker: bad configuration")
)

// Config says how to read and cut a statement.
type Config struct {
	// Account owns the movements (a valid subject token; required).
	Account string
	// Broker is events.BrokerTastytrade, events.BrokerIBKR, or "" / "auto"
	// to detect it from the first line.
	Broker string
	// File is the file's base name (recorded, not opened).
	File string
	// ByteBudget bounds a chunk message's encoded size; 0 means
	// DefaultByteBudget. It must be at least MinByteBudget.
	ByteBudget int
	// MaxReported bounds how many row errors and ignored rows are kept in
	// the Analysis lists (the counts are always complete); 0 means
	// DefaultMaxReported, a negative value keeps none.
	MaxReported int
	// ReuseMovements tells Build that emit keeps nothing of a chunk's
	// Movements once it returns (it encodes them), so that Build may fill
	// the same slice again for a later chunk instead of allocating one per
	// chunk (a chunk's movements are a few hundred KB). Analyze ignores it.
	ReuseMovements bool

	// measureValues makes pass 1 measure the movements' values rather
	// than the stand-ins of parsers.Options.SizeOnly (tests compare the
	// two).
	measureValues bool
	// hold chooses how pass 2 holds open parts' movements (tests compare
	// the two): holdAuto encodes them when more than a chunk's budget is
	// ever open at once (Analysis.PeakOpenBytes), a statement in sections.
	hold holdMode
}

type holdMode uint8

const (
	holdAuto holdMode = iota
	holdStructs
	holdEncoded
)

// withDefaults validates cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if err := events.ValidateAccount(cfg.Account); err != nil {
		return cfg, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if cfg.ByteBudget == 0 {
		cfg.ByteBudget = DefaultByteBudget
	}
	if cfg.ByteBudget < MinByteBudget {
		return cfg, fmt.Errorf("%w: byte budget %d is below the minimum %d", ErrBadConfig, cfg.ByteBudget, MinByteBudget)
	}
	if cfg.MaxReported == 0 {
		cfg.MaxReported = DefaultMaxReported
	}
	if cfg.MaxReported < 0 {
		cfg.MaxReported = 0
	}
	return cfg, nil
}

// Analysis is the result of pass 1.
type Analysis struct {
	File          string
	SHA256        string // hex of the raw bytes
	Bytes         int64
	SessionID     string
	Broker        string
	Account       string
	Rows          int // data rows
	Movements     int // movements that count (every kind but strike adjustments)
	Counts        map[events.Kind]int
	RowErrors     []parsers.RowError
	RowErrorCount int
	Ignored       []parsers.Ignored
	IgnoredCount  int
	MinTime       events.WallTime
	MaxTime       events.WallTime
	Plan          Plan
	// ByteBudget is the budget the plan was cut with; Build cuts with the
	// same one.
	ByteBudget int
	// Ordered reports that the rows are in time order (newest or oldest
	// first, as every real export), so that Build can identify movements
	// with a bounded index ([parsers.NewWindowedOccurrences]); otherwise it
	// uses a full one, whose memory grows with the file.
	Ordered bool
	// PeakOpenBytes is the most planned bytes (chunk bodies) whose
	// movements Build holds at once when it reads the file in one pass:
	// a chunk holds its movements from its first to its last in file
	// order, and a week fills its parts one after the other. One chunk
	// for a statement in time order; the part being filled of every week
	// for one whose later rows fall in the same weeks as its earlier ones
	// (an Interactive Brokers statement, in sections): up to the whole
	// statement when its weeks have one part each.
	PeakOpenBytes int

	// sums[i] is an order-independent digest of the movements of
	// Plan.Chunk(i) (of their values, or, for a parser that gives row keys,
	// of their rows' keys and their places: see sizer.measure); Build
	// checks it before emitting. Nil when the Analysis was not made by
	// Analyze (then Build checks counts and bytes only).
	sums []uint64
	seed maphash.Seed // of the digests
}

// Analyze is pass 1: hash, parse and validate every row, and plan chunks. It
// reads r to the end. A file-level problem (unreadable, unrecognised format,
// bad header) is an error; bad rows are not: they are listed in the Analysis.
//
// Memory stays bounded for a file in time order. A file out of time order
// needs a full identity index: Analyze notices it at the end of a first
// read, and if r is an [io.Seeker] it reads the file again from where it
// started with the full index; otherwise it returns [ErrUnordered].
func Analyze(r io.Reader, cfg Config) (*Analysis, error) {
	seeker, canSeek := r.(io.Seeker)
	var start int64
	if canSeek {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canSeek = false
		}
	}
	a, err := analyzeIndexed(r, cfg, parsers.ForBroker, true)
	if err != nil || a.Ordered {
		return a, err
	}
	if !canSeek {
		return nil, ErrUnordered
	}
	if _, err := seeker.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("chunker: rewind for a second read: %w", err)
	}
	return analyzeIndexed(r, cfg, parsers.ForBroker, false)
}

// Build is pass 2: it re-reads the bytes a describes and calls emit once per
// chunk of the plan, its movements in [events.Compare] order. A chunk is
// emitted as soon as it has received all its planned movements, so for a
// file in time order (every real export) one chunk is open at a time, plus,
// for a week with strike adjustments (derived at the end of the scan), that
// week's last part; a file in no order can keep one part of every week
// open. Besides the open parts, Build keeps about 30 bytes per chunk of the
// plan (the Analysis holds 24 more: its Plan and digests). The emitted chunk belongs to emit; Build does not reuse it, unless
// cfg.ReuseMovements (then its Movements are Build's again once emit
// returns). Chunks
// for which skip returns true (already published) are neither kept nor
// emitted; skip may be nil. Rows with errors are left out (they are a's
// rejects).
//
// Build checks the bytes against the plan as it goes: a movement outside the
// plan, a chunk with more movements than planned, or a complete chunk whose
// size or content digest differs from pass 1's stops it with ErrFileChanged
// before that chunk is emitted; a different file hash or different row counts
// at the end do too. (The content digest exists only in an Analysis made by
// Analyze in this process.) Build uses a's account, broker and byte budget;
// cfg only supplies a budget when a has none, and ReuseMovements.
func Build(r io.Reader, a *Analysis, cfg Config, skip func(chunkID string) bool, emit func(*events.Chunk) error) error {
	return build(r, a, cfg, Window{}, skip, emit, parsers.ForBroker)
}

// BuildWindow is Build for the chunks of window w only (one of
// a.Windows; the zero Window is the whole plan): chunks outside w are
// neither kept nor emitted, and a parser that honours
// parsers.Options.Within converts only the rows of w's weeks, counting the
// others. The chunks of w are checked as Build checks them; the row and
// movement counts of the whole file only when the parser converted every
// row (the SHA-256 of the file is always checked). Builds over every
// window of a.Windows emit each chunk once, identical to Build's.
func BuildWindow(r io.Reader, a *Analysis, cfg Config, w Window, skip func(chunkID string) bool, emit func(*events.Chunk) error) error {
	return build(r, a, cfg, w, skip, emit, parsers.ForBroker)
}

// SessionID names the import session of a file for an account: the first 16
// hex characters of SHA-256(account 0x1F file-sha256-hex).
func SessionID(account, sha256hex string) string {
	return sessionID(account, sha256hex)
}
