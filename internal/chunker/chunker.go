// Package chunker analyses a statement and cuts its movements into the chunks
// that travel as JetStream messages: file hash and session ID, per-week
// counts, and a deterministic chunk plan of ISO weeks split into parts under a
// byte budget. It is pure: it reads only the io.Reader it is given.
//
// Ingest reads a file twice: [Analyze] (pass 1) validates every row and
// computes the plan without keeping movements; [Build] (pass 2) re-reads the
// same bytes and emits each chunk of the plan. Memory is bounded by the open
// chunk parts, not by the file.
package chunker

import (
	"errors"
	"io"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// DefaultByteBudget is the default maximum encoded size of a chunk message,
// well under NATS's default 1 MiB max_payload.
const DefaultByteBudget = 512 << 10

// Errors.
var (
	// ErrFileChanged: pass 2 read bytes that differ from what pass 1 analysed.
	ErrFileChanged = errors.New("chunker: file changed since it was analysed")
	// ErrTooLarge: a single movement does not fit the byte budget.
	ErrTooLarge = errors.New("chunker: movement larger than the byte budget")
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
	// DefaultByteBudget.
	ByteBudget int
	// MaxReported bounds how many row errors and ignored rows are kept in
	// the Analysis lists (the counts are always complete); 0 means 1000.
	MaxReported int
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
	Chunks        []events.ChunkRef
}

// Analyze is pass 1: hash, parse and validate every row, and plan chunks.
func Analyze(r io.Reader, cfg Config) (*Analysis, error) {
	return nil, errors.New("chunker: not implemented yet")
}

// Build is pass 2: it re-reads the bytes a describes and calls emit once per
// chunk of the plan, in an order that keeps memory bounded. Chunks for which
// skip returns true (already published) are not encoded or emitted. Rows
// with errors are left out (they are a's rejects). If the bytes differ from
// a's, Build returns ErrFileChanged before emitting a chunk that would differ
// from the plan.
func Build(r io.Reader, a *Analysis, cfg Config, skip func(chunkID string) bool, emit func(*events.Chunk) error) error {
	return errors.New("chunker: not implemented yet")
}

// SessionID names the import session of a file for an account: the first 16
// hex characters of SHA-256(account 0x1F file-sha256-hex).
func SessionID(account, sha256hex string) string {
	return sessionID(account, sha256hex)
}
