// Package partition spreads accounts over projector instances so that adding
// projectors adds throughput (DESIGN.md §9, docs/operations.md "Scale-out").
//
// # How accounts are partitioned
//
// A partitioned FOLIO stream carries a subject transform, applied by the
// server to every message as it is stored:
//
//	folio.*.*  →  folio.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(64,2)}}
//
// so a chunk published on folio.chunk.<account> is stored on
// folio.chunk.<account>.<slot>, and the account's session events on
// folio.session.<account>.<slot>, where slot is a stable hash of the account
// name (FNV-1a, 32 bits, modulo [Slots]: the server's deterministic token
// partitioning, reproduced by [Slot]). Publishers are unchanged: ingest still
// publishes on folio.chunk.<account>.
//
// Projector i of N ([Spec]) owns the slots s with s mod N = i and consumes
// them with one durable consumer whose FilterSubjects are folio.*.*.<s> for
// each of its slots ([Spec.FilterSubjects]). Every message of an account,
// chunks and lifecycle events alike, lands in the same slot, hence in one
// projector, which alone runs the account's phase 2.
//
// The slot count is fixed (64) rather than equal to the number of projectors:
// a stored message keeps its slot forever, and changing N only changes which
// slots each projector filters, never the stream. N can be anything from 1 to
// [Slots].
//
// # Why not consumer filters on account names
//
// A consumer filtered on known accounts' subjects would have to be updated
// whenever a new account appears, and nats-server keeps a consumer's position
// when its filter changes: the new account's messages stored before the update
// would be skipped. Hash slots in the stored subject cover every future
// account with filters that never change.
package partition

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
)

// Slots is the number of hash slots accounts are spread over. It is part of
// the stored subjects of a partitioned stream: never change it.
const Slots = 64

// Subject-transform patterns of a partitioned stream (see the package doc).
const (
	// TransformSource matches the subjects events.Subject gives an event.
	TransformSource = "folio.*.*"
	// TransformDestination appends the account's slot as a fourth token.
	TransformDestination = "folio.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(64,2)}}"
)

// ErrSpec: a partition spec is not "i/N" with 0 ≤ i < N ≤ Slots.
var ErrSpec = errors.New("partition: want INDEX/COUNT with 0 ≤ INDEX < COUNT ≤ 64")

// Slot returns the slot a partitioned stream stores account's messages
// under: FNV-1a 32 of the name, modulo Slots, exactly as the server's
// {{partition(64,2)}} computes it.
func Slot(account string) int {
	h := fnv.New32a()
	h.Write([]byte(account))
	return int(h.Sum32() % Slots)
}

// Spec is one partition: projector Index of Count. The zero value (Count 0)
// means "not partitioned": every account.
type Spec struct {
	Index, Count int
}

// Parse reads "i/N" (e.g. "0/3"); "" gives the zero Spec.
func Parse(s string) (Spec, error) {
	if s == "" {
		return Spec{}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Spec{}, fmt.Errorf("%w: %q", ErrSpec, s)
	}
	index, err1 := strconv.Atoi(strings.TrimSpace(i))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	spec := Spec{Index: index, Count: count}
	if err1 != nil || err2 != nil || count < 1 || spec.Validate() != nil {
		return Spec{}, fmt.Errorf("%w: %q", ErrSpec, s)
	}
	return spec, nil
}

// Validate reports a spec outside 0 ≤ Index < Count ≤ Slots (the zero Spec
// is valid).
func (s Spec) Validate() error {
	if s == (Spec{}) {
		return nil
	}
	if s.Count < 1 || s.Count > Slots || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("%w: %d/%d", ErrSpec, s.Index, s.Count)
	}
	return nil
}

// Partitioned reports whether s selects a strict subset of the accounts
// (Count > 1).
func (s Spec) Partitioned() bool { return s.Count > 1 }

// String is "i/N", or "" for the zero Spec.
func (s Spec) String() string {
	if s == (Spec{}) {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// OwnsSlot reports whether slot belongs to the partition.
func (s Spec) OwnsSlot(slot int) bool {
	if !s.Partitioned() {
		return true
	}
	return slot%s.Count == s.Index
}

// Owns reports whether account's messages belong to the partition.
func (s Spec) Owns(account string) bool { return s.OwnsSlot(Slot(account)) }

// FilterSubjects returns the consumer filters of the partition on a
// partitioned stream, folio.*.*.<slot> for each slot it owns; nil when s is
// not partitioned (the consumer reads everything).
func (s Spec) FilterSubjects() []string {
	if !s.Partitioned() {
		return nil
	}
	var out []string
	for slot := s.Index; slot < Slots; slot += s.Count {
		out = append(out, "folio.*.*."+strconv.Itoa(slot))
	}
	return out
}

// AccountSubjects returns consumer filters for one account's chunks and
// session events that match on a partitioned stream and on a plain one.
func AccountSubjects(account string) []string {
	c, s := events.ChunkSubject(account), events.SessionSubject(account)
	return []string{c, c + ".*", s, s + ".*"}
}

// BaseSubject returns the subject an event was published on: subject
// without the slot token a partitioned stream appends (folio.chunk.a.17 →
// folio.chunk.a). Any other subject is returned as it is.
func BaseSubject(subject string) string {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 || strings.Count(subject, ".") != 3 {
		return subject
	}
	if n, err := strconv.Atoi(subject[i+1:]); err != nil || n < 0 || n >= Slots || subject[i+1:] != strconv.Itoa(n) {
		return subject
	}
	return subject[:i]
}
