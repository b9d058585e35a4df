package streams

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// SessionsBucket is the KV bucket of session records.
const SessionsBucket = "FOLIO_SESSIONS"

// Key layout of the bucket.
const (
	sessionKeyPrefix = "session."
	pathKeyPrefix    = "path."
)

// Errors.
var (
	// ErrSessionNotFound: no record for that session ID.
	ErrSessionNotFound = errors.New("streams: session not found")
	// ErrSessionExists: Create found a record already there.
	ErrSessionExists = errors.New("streams: session already exists")
	// ErrConflict: the record changed since it was read (its revision moved).
	ErrConflict = errors.New("streams: session record changed concurrently")
	// ErrSessionFailed: a session waited on ended failed.
	ErrSessionFailed = errors.New("streams: session failed")
)

// maxUpdateAttempts bounds Update's compare-and-set retries.
const maxUpdateAttempts = 20

// SessionRecord is the durable state of one import session, kept by ingest
// and completed by the projector. It is JSON in the KV bucket under
// "session.<ID>".
type SessionRecord struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Broker  string `json:"broker"`
	// File is the file's base name, Path its absolute path when imported.
	File   string `json:"file"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Phase is one of the store.Phase* constants.
	Phase string `json:"phase"`
	// Rows is the number of data rows; Movements the planned movements.
	Rows      int `json:"rows"`
	Movements int `json:"movements"`
	// TotalChunks is the size of the chunk plan; Acked the ordinals (1-based
	// plan positions) of the chunks the stream has acknowledged. Acked stays
	// a few bytes whatever the file's size (see ChunkSet), so the record,
	// which is rewritten as chunks are acknowledged, does not grow with it.
	TotalChunks int      `json:"total_chunks"`
	Acked       ChunkSet `json:"acked,omitzero"`
	// Plan fingerprints the chunk plan the session was started with
	// (events.PlanFingerprint): ordinals in Acked mean something only for that
	// plan, so an import resumes the session only if it cuts the file the
	// same way. Empty in records of builds before session 4.
	Plan string `json:"plan,omitempty"`
	// Chunks lists acknowledged chunks by ID, as builds before session 4
	// wrote them (one ID per chunk). This build still reads it: an import
	// resuming such a record skips those chunks and moves the IDs its plan
	// knows into Acked (ResolveLegacy). It writes no new IDs there.
	Chunks []string `json:"chunks,omitempty"`
	// PublishedMovements counts the movements in the acknowledged chunks.
	PublishedMovements int `json:"published_movements"`
	// StartedPublished: the stream acknowledged session.started.
	StartedPublished bool `json:"started_published,omitempty"`
	// Rejected counts the rows left out with --skip-invalid; Rejects lists
	// them (possibly fewer: see RejectsTruncated).
	Rejected         int                `json:"rejected"`
	Rejects          []events.RowReject `json:"rejects,omitempty"`
	RejectsTruncated bool               `json:"rejects_truncated,omitempty"`
	// Cancellations counts interruptions (each publishes a
	// session.cancelled with its own message ID).
	Cancellations int       `json:"cancellations,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	SealedAt      time.Time `json:"sealed_at,omitzero"`
	CompletedAt   time.Time `json:"completed_at,omitzero"`
	FailedAt      time.Time `json:"failed_at,omitzero"`
	CancelledAt   time.Time `json:"cancelled_at,omitzero"`
	// Error is the last error (why the session failed or was cancelled).
	Error string `json:"error,omitempty"`

	// Revision is the KV revision the record was read at (0: never
	// stored). It is not part of the JSON.
	Revision uint64 `json:"-"`
}

// HasChunk reports whether the stream acknowledged the chunk with the given
// plan ordinal (as recorded in Acked; see ResolveLegacy for Chunks).
func (r *SessionRecord) HasChunk(ordinal int) bool { return r.Acked.Has(ordinal) }

// AddChunk records an acknowledged chunk (once) by its plan ordinal, and its
// movements.
func (r *SessionRecord) AddChunk(ordinal, movements int) {
	if r.Acked.Add(ordinal) {
		r.PublishedMovements += movements
	}
}

// ChunksDone is the number of acknowledged chunks: those in Acked and those
// still listed by ID in Chunks.
func (r *SessionRecord) ChunksDone() int { return r.Acked.Len() + len(r.Chunks) }

// ResolveLegacy moves the chunk IDs of Chunks (a record written by an
// earlier build) into Acked, using ordinal to find each ID's position in the
// plan; an ID it does not know (0) stays in Chunks. Their movements are
// counted already.
func (r *SessionRecord) ResolveLegacy(ordinal func(id string) int) {
	if len(r.Chunks) == 0 {
		return
	}
	var left []string
	for _, id := range r.Chunks {
		if n := ordinal(id); n > 0 {
			r.Acked.Add(n)
		} else {
			left = append(left, id)
		}
	}
	r.Chunks = left
}

// Sealed reports whether the session reached sealed or completed.
func (r *SessionRecord) Sealed() bool {
	return r.Phase == store.PhaseSealed || r.Phase == store.PhaseCompleted
}

// Resumable reports whether an import may continue the session: it was
// started and neither sealed nor failed.
func (r *SessionRecord) Resumable() bool {
	return r.Phase == store.PhasePublishing || r.Phase == store.PhaseCancelled
}

// Sessions is the KV bucket of session records. It is safe for concurrent
// use; concurrent writers of one record are serialised by compare-and-set
// on the KV revision (see Update).
type Sessions struct {
	kv jetstream.KeyValue
}

// SessionsConfig configures the bucket. The zero value is the default:
// bucket SessionsBucket, file storage, one replica, 5 revisions of history
// per key (for post-mortems), values up to the server's max_payload.
type SessionsConfig struct {
	Bucket   string
	Replicas int
	Storage  jetstream.StorageType
	History  uint8
}

// EnsureSessions creates or updates the default session bucket and returns
// it.
func EnsureSessions(ctx context.Context, js jetstream.JetStream) (*Sessions, error) {
	return EnsureSessionsConfig(ctx, js, SessionsConfig{})
}

// EnsureSessionsConfig creates or updates the session bucket cfg describes.
func EnsureSessionsConfig(ctx context.Context, js jetstream.JetStream, cfg SessionsConfig) (*Sessions, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = SessionsBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.History == 0 {
		cfg.History = 5
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "foliostream import session records (session.<id>) and path index (path.<hash>)",
		History:     cfg.History,
		Storage:     cfg.Storage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("streams: ensure bucket %s: %w", cfg.Bucket, err)
	}
	return &Sessions{kv: kv}, nil
}

// OpenSessions binds to an existing bucket without creating it (for
// read-only users such as `ingest status`).
func OpenSessions(ctx context.Context, js jetstream.JetStream) (*Sessions, error) {
	kv, err := js.KeyValue(ctx, SessionsBucket)
	if err != nil {
		return nil, fmt.Errorf("streams: open bucket %s: %w", SessionsBucket, err)
	}
	return &Sessions{kv: kv}, nil
}

func sessionKey(id string) string { return sessionKeyPrefix + id }

// Get returns the record of session id, or an error wrapping
// ErrSessionNotFound.
func (s *Sessions) Get(ctx context.Context, id string) (*SessionRecord, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: invalid id %q", ErrSessionNotFound, id)
	}
	var e jetstream.KeyValueEntry
	err := retry(ctx, func(ctx context.Context) (err error) {
		e, err = s.kv.Get(ctx, sessionKey(id))
		return err
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
		}
		return nil, fmt.Errorf("streams: get session %s: %w", id, err)
	}
	return decodeRecord(e)
}

func decodeRecord(e jetstream.KeyValueEntry) (*SessionRecord, error) {
	var r SessionRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("streams: decode %s revision %d: %w", e.Key(), e.Revision(), err)
	}
	r.Revision = e.Revision()
	return &r, nil
}

// Create stores a new record; it fails with ErrSessionExists if one is
// there. On success r.Revision is set.
func (s *Sessions) Create(ctx context.Context, r *SessionRecord) error {
	if !validID(r.ID) {
		return fmt.Errorf("streams: create session: invalid id %q", r.ID)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("streams: encode session %s: %w", r.ID, err)
	}
	var rev uint64
	err = retry(ctx, func(ctx context.Context) (err error) {
		rev, err = s.kv.Create(ctx, sessionKey(r.ID), b)
		return err
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s", ErrSessionExists, r.ID)
		}
		return fmt.Errorf("streams: create session %s: %w", r.ID, err)
	}
	r.Revision = rev
	return nil
}

// Put stores r if nobody changed it since it was read: a compare-and-set
// on r.Revision (0 means "must not exist yet"). It returns an error
// wrapping ErrConflict (or ErrSessionExists) when the record moved; on
// success r.Revision is the new revision.
func (s *Sessions) Put(ctx context.Context, r *SessionRecord) error {
	if r.Revision == 0 {
		return s.Create(ctx, r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("streams: encode session %s: %w", r.ID, err)
	}
	var rev uint64
	err = retry(ctx, func(ctx context.Context) (err error) {
		rev, err = s.kv.Update(ctx, sessionKey(r.ID), b, r.Revision)
		return err
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s at revision %d", ErrConflict, r.ID, r.Revision)
		}
		return fmt.Errorf("streams: update session %s: %w", r.ID, err)
	}
	r.Revision = rev
	return nil
}

// Update reads session id, applies fn to it and stores the result with
// compare-and-set, re-reading and re-applying fn when another writer got
// there first. fn must be a pure edit of the record it is given (it may
// run several times); if it returns an error nothing is stored and Update
// returns that error. Update returns the stored record.
func (s *Sessions) Update(ctx context.Context, id string, fn func(*SessionRecord) error) (*SessionRecord, error) {
	var lastErr error
	for range maxUpdateAttempts {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(r); err != nil {
			return nil, err
		}
		err = s.Put(ctx, r)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		lastErr = err
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("streams: update session %s: gave up after %d attempts: %w", id, maxUpdateAttempts, lastErr)
}

// List returns every session record ordered by start time, then ID.
func (s *Sessions) List(ctx context.Context) ([]*SessionRecord, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, sessionKeyPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("streams: list sessions: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(k, sessionKeyPrefix))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]*SessionRecord, 0, len(ids))
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if errors.Is(err, ErrSessionNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *SessionRecord) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// MarkCompleted records that the projector computed the session's
// projections at the given time. It is idempotent: a completed session
// stays as it is. It returns an error wrapping ErrSessionNotFound when
// there is no record (e.g. a stream replayed into a server without the
// bucket's history); the projector may ignore that case with errors.Is.
func (s *Sessions) MarkCompleted(ctx context.Context, id string, at time.Time) error {
	_, err := s.Update(ctx, id, func(r *SessionRecord) error {
		if r.Phase == store.PhaseCompleted {
			return errUnchanged
		}
		r.Phase = store.PhaseCompleted
		r.CompletedAt = at
		r.UpdatedAt = at
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("streams: mark %s completed: %w", id, err)
	}
	return nil
}

// errUnchanged aborts an Update whose edit found nothing to change.
var errUnchanged = errors.New("streams: unchanged")

// pathEntry is the value of a path index key.
type pathEntry struct {
	Session string `json:"session"`
	Account string `json:"account"`
	Path    string `json:"path"`
}

func pathKey(account, path string) string {
	sum := sha256.Sum256([]byte(account + "\x1f" + path))
	return pathKeyPrefix + hex.EncodeToString(sum[:16])
}

// PathSession returns the ID of the session last started for account from
// the file at path ("" when none).
func (s *Sessions) PathSession(ctx context.Context, account, path string) (string, error) {
	var e jetstream.KeyValueEntry
	err := retry(ctx, func(ctx context.Context) (err error) {
		e, err = s.kv.Get(ctx, pathKey(account, path))
		return err
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return "", nil
		}
		return "", fmt.Errorf("streams: path index of %s: %w", path, err)
	}
	var p pathEntry
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return "", fmt.Errorf("streams: decode path index of %s: %w", path, err)
	}
	if p.Account != account || p.Path != path {
		return "", nil // a hash collision: treat as unknown
	}
	return p.Session, nil
}

// SetPathSession records that the file at path is now session id for
// account.
func (s *Sessions) SetPathSession(ctx context.Context, account, path, id string) error {
	b, err := json.Marshal(pathEntry{Session: id, Account: account, Path: path})
	if err != nil {
		return fmt.Errorf("streams: encode path index: %w", err)
	}
	if err := retry(ctx, func(ctx context.Context) error {
		_, err := s.kv.Put(ctx, pathKey(account, path), b)
		return err
	}); err != nil {
		return fmt.Errorf("streams: set path index of %s: %w", path, err)
	}
	return nil
}

// WaitPhase blocks until session id reaches one of the given phases, and
// returns the record. A session that ends failed while waiting for another
// phase returns an error wrapping ErrSessionFailed. It returns ctx's error
// when ctx ends first.
func (s *Sessions) WaitPhase(ctx context.Context, id string, phases ...string) (*SessionRecord, error) {
	w, err := s.kv.Watch(ctx, sessionKey(id))
	if err != nil {
		return nil, fmt.Errorf("streams: watch session %s: %w", id, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("streams: wait for session %s to be %s: %w", id, strings.Join(phases, "|"), ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("streams: watch session %s: watcher stopped", id)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // end of initial values, or a delete
			}
			r, err := decodeRecord(e)
			if err != nil {
				return nil, err
			}
			if slices.Contains(phases, r.Phase) {
				return r, nil
			}
			if r.Phase == store.PhaseFailed {
				return r, fmt.Errorf("%w: %s: %s", ErrSessionFailed, id, r.Error)
			}
		}
	}
}

// validID accepts the characters a KV key token may hold.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ChunkSet is a set of chunk ordinals (1-based positions in a session's
// chunk plan), kept as sorted, disjoint, non-adjacent ranges. An import
// acknowledges chunks in nearly plan order, so a session's set is one range
// or a few whatever the file's size, and Add and Has cost O(log ranges). Its
// JSON is a string of ranges, e.g. "1-40,42,45-47". The zero value is the
// empty set.
type ChunkSet struct {
	r []ordinalRange
}

// ordinalRange is lo..hi, both included.
type ordinalRange struct{ lo, hi int }

// search returns the index of the first range that ends at n or later.
func (s *ChunkSet) search(n int) int {
	i, _ := slices.BinarySearchFunc(s.r, n, func(r ordinalRange, n int) int { return cmp.Compare(r.hi, n) })
	return i
}

// Has reports whether n is in the set.
func (s *ChunkSet) Has(n int) bool {
	i := s.search(n)
	return i < len(s.r) && s.r[i].lo <= n
}

// Add puts n (≥ 1) in the set and reports whether it was not there.
func (s *ChunkSet) Add(n int) bool {
	if n < 1 {
		panic(fmt.Sprintf("streams: chunk ordinal %d", n))
	}
	i := s.search(n - 1) // the first range that ends at n-1 or later
	switch {
	case i < len(s.r) && s.r[i].lo <= n && n <= s.r[i].hi:
		return false
	case i < len(s.r) && s.r[i].hi == n-1: // extends range i upwards
		s.r[i].hi = n
		if i+1 < len(s.r) && s.r[i+1].lo == n+1 {
			s.r[i].hi = s.r[i+1].hi
			s.r = slices.Delete(s.r, i+1, i+2)
		}
	case i < len(s.r) && s.r[i].lo == n+1: // extends range i downwards
		s.r[i].lo = n
	default:
		s.r = slices.Insert(s.r, i, ordinalRange{n, n})
	}
	return true
}

// Clone returns a copy that Add does not share.
func (s ChunkSet) Clone() ChunkSet { return ChunkSet{r: slices.Clone(s.r)} }

// Len is the number of ordinals in the set.
func (s *ChunkSet) Len() int {
	n := 0
	for _, r := range s.r {
		n += r.hi - r.lo + 1
	}
	return n
}

// IsZero reports whether the set is empty (for the JSON omitzero option).
func (s ChunkSet) IsZero() bool { return len(s.r) == 0 }

// String returns the ranges, e.g. "1-40,42" ("" for the empty set).
func (s ChunkSet) String() string {
	var b []byte
	for i, r := range s.r {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(r.lo), 10)
		if r.hi > r.lo {
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(r.hi), 10)
		}
	}
	return string(b)
}

// ParseChunkSet parses what String returns: comma-separated ordinals ("7")
// and ranges ("1-40"), ascending and not overlapping. Adjacent ranges are
// merged.
func ParseChunkSet(text string) (ChunkSet, error) {
	var s ChunkSet
	if text == "" {
		return s, nil
	}
	for item := range strings.SplitSeq(text, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parseOrdinal(lo)
		if err != nil {
			return ChunkSet{}, fmt.Errorf("streams: chunk set %q: %w", text, err)
		}
		b := a
		if isRange {
			if b, err = parseOrdinal(hi); err != nil {
				return ChunkSet{}, fmt.Errorf("streams: chunk set %q: %w", text, err)
			}
			if b < a {
				return ChunkSet{}, fmt.Errorf("streams: chunk set %q: range %s is backwards", text, item)
			}
		}
		last := len(s.r) - 1
		switch {
		case last >= 0 && a <= s.r[last].hi:
			return ChunkSet{}, fmt.Errorf("streams: chunk set %q: %s is not after %d", text, item, s.r[last].hi)
		case last >= 0 && a == s.r[last].hi+1:
			s.r[last].hi = b
		default:
			s.r = append(s.r, ordinalRange{a, b})
		}
	}
	return s, nil
}

// parseOrdinal accepts a decimal ordinal ≥ 1 without sign or leading zero.
func parseOrdinal(t string) (int, error) {
	if t == "" || t[0] < '1' || t[0] > '9' {
		return 0, fmt.Errorf("bad ordinal %q", t)
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("bad ordinal %q", t)
	}
	return n, nil
}

// MarshalJSON encodes the set as its String.
func (s ChunkSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes a string of ParseChunkSet's form.
func (s *ChunkSet) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		return fmt.Errorf("streams: chunk set: %w", err)
	}
	v, err := ParseChunkSet(text)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
