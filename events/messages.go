package events

import (
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"slices"
	"strconv"
	"time"
)

// Type names an event type; it travels in [HeaderType].
type Type string

const (
	TypeChunk            Type = "chunk"
	TypeSessionStarted   Type = "session.started"
	TypeSessionSealed    Type = "session.sealed"
	TypeSessionFailed    Type = "session.failed"
	TypeSessionCancelled Type = "session.cancelled"
)

// Event is implemented by every message type of the stream.
type Event interface {
	EventType() Type
	EventAccount() string
	EventSession() string
}

// ChunkRef describes one chunk of a session's plan. Schema 1's
// session.started carried the whole plan as chunk refs; schema 2's carries
// its size and [PlanFingerprint].
type ChunkRef struct {
	// ID is "<ISO week>.<part>", e.g. "2025-W35.1"; unique within a session.
	ID string `json:"id"`
	// Ordinal is the chunk's 1-based position in the plan (weeks ascending,
	// then parts).
	Ordinal int    `json:"ordinal"`
	Week    string `json:"week"`
	Part    int    `json:"part"`
	// Movements is the number of movements (of every kind) in the chunk.
	Movements int `json:"movements"`
	// Bytes is the encoded size of the chunk message body.
	Bytes int `json:"bytes"`
}

// Chunk is one JetStream message: the movements of one part of one ISO week
// of one import session. Its Nats-Msg-Id is [MsgID](Session, ID).
type Chunk struct {
	Session string `json:"session"`
	Account string `json:"account"`
	ID      string `json:"id"`
	Ordinal int    `json:"ordinal"`
	Total   int    `json:"total"`
	Week    string `json:"week"`
	Part    int    `json:"part"`
	// Movements are in [Compare] order.
	Movements []Movement `json:"movements"`
}

func (c *Chunk) EventType() Type      { return TypeChunk }
func (c *Chunk) EventAccount() string { return c.Account }
func (c *Chunk) EventSession() string { return c.Session }

// MsgID is the JetStream de-duplication ID of a session's message: the
// session, a slash, and the chunk ID or lifecycle step.
func MsgID(session, id string) string { return session + "/" + id }

// RowReject is a row the parser could not turn into movements.
type RowReject struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// SessionStarted opens an import session: what the file is and the chunk plan
// that follows: how many chunks, and the plan's fingerprint. (Schema 1 listed
// every chunk of the plan, which made the event grow with the file: see
// [Unmarshal] for how such an event reads.)
type SessionStarted struct {
	Session   string       `json:"session"`
	Account   string       `json:"account"`
	Broker    string       `json:"broker"`
	File      string       `json:"file"`
	SHA256    string       `json:"sha256"`
	Bytes     int64        `json:"bytes"`
	Rows      int          `json:"rows"`
	MinTime   WallTime     `json:"min_time,omitzero"`
	MaxTime   WallTime     `json:"max_time,omitzero"`
	Movements int          `json:"movements"`
	Counts    map[Kind]int `json:"counts,omitempty"`
	Ignored   int          `json:"ignored"`
	// Chunks is the number of chunks in the plan; each chunk message
	// carries its ordinal and this total.
	Chunks int `json:"chunks"`
	// Plan is the plan's [PlanFingerprint].
	Plan string `json:"plan"`
	// Rejects are the rows left out with --skip-invalid.
	Rejects   []RowReject `json:"rejects,omitempty"`
	StartedAt time.Time   `json:"started_at"`
}

func (s *SessionStarted) EventType() Type      { return TypeSessionStarted }
func (s *SessionStarted) EventAccount() string { return s.Account }
func (s *SessionStarted) EventSession() string { return s.Session }

// SessionSealed says every chunk of the session is in the stream.
type SessionSealed struct {
	Session   string    `json:"session"`
	Account   string    `json:"account"`
	Chunks    int       `json:"chunks"`
	Movements int       `json:"movements"`
	SealedAt  time.Time `json:"sealed_at"`
}

func (s *SessionSealed) EventType() Type      { return TypeSessionSealed }
func (s *SessionSealed) EventAccount() string { return s.Account }
func (s *SessionSealed) EventSession() string { return s.Session }

// SessionFailed ends a session that will never be sealed (e.g. the file was
// modified since the import started).
type SessionFailed struct {
	Session  string    `json:"session"`
	Account  string    `json:"account"`
	Reason   string    `json:"reason"`
	FailedAt time.Time `json:"failed_at"`
}

func (s *SessionFailed) EventType() Type      { return TypeSessionFailed }
func (s *SessionFailed) EventAccount() string { return s.Account }
func (s *SessionFailed) EventSession() string { return s.Session }

// SessionCancelled records that an import was interrupted; the session stays
// resumable.
type SessionCancelled struct {
	Session     string    `json:"session"`
	Account     string    `json:"account"`
	Reason      string    `json:"reason"`
	CancelledAt time.Time `json:"cancelled_at"`
}

func (s *SessionCancelled) EventType() Type      { return TypeSessionCancelled }
func (s *SessionCancelled) EventAccount() string { return s.Account }
func (s *SessionCancelled) EventSession() string { return s.Session }

// PlanFingerprint identifies a chunk plan, given its chunks in ordinal order:
// 16 hex digits of the SHA-256 of every chunk's ordinal, ID and movement
// count. Two analyses of the same file cut with the same byte budget have the
// same fingerprint.
func PlanFingerprint(plan iter.Seq[ChunkRef]) string {
	h := sha256.New()
	var b []byte
	for c := range plan {
		b = strconv.AppendInt(b[:0], int64(c.Ordinal), 10)
		b = append(b, ' ')
		b = append(b, c.ID...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(c.Movements), 10)
		b = append(b, '\n')
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sessionStartedV1 is session.started in schema 1: the plan in full.
type sessionStartedV1 struct {
	SessionStarted
	Chunks []ChunkRef `json:"chunks"`
}

// upgrade is the schema-2 reading of a schema-1 session.started.
func (v *sessionStartedV1) upgrade() *SessionStarted {
	s := v.SessionStarted
	s.Chunks = len(v.Chunks)
	s.Plan = PlanFingerprint(slices.Values(v.Chunks))
	return &s
}
