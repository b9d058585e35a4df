package projector

import (
	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
)

// phaseRank orders phases so that merging never moves a session backwards:
// a redelivered "started" after "sealed", or a "sealed" after phase 2 marked
// it completed, leaves the later phase.
func phaseRank(p string) int {
	switch p {
	case "":
		return 0
	case store.PhasePublishing:
		return 1
	case store.PhaseCancelled:
		return 2 // resumable: a resumed import publishes the rest, then seals
	case store.PhaseSealed:
		return 3
	case store.PhaseFailed:
		return 4
	case store.PhaseCompleted:
		return 5
	}
	return 0
}

// MergeSession applies a lifecycle event to a session record (the zero
// Session when the store has none) and returns the new record. It is
// idempotent and tolerant of order: applying the same events in any order
// and any number of times gives the same phase. A cancelled session stays
// cancelled until it is sealed (a resumed import publishes the missing chunks
// and then seals) or fails.
func MergeSession(s store.Session, e events.Event) store.Session {
	s.ID = e.EventSession()
	s.Account = e.EventAccount()
	advance := func(phase string) {
		if phaseRank(phase) > phaseRank(s.Phase) {
			s.Phase = phase
		}
	}
	switch v := e.(type) {
	case *events.SessionStarted:
		s.Broker, s.File, s.SHA256 = v.Broker, v.File, v.SHA256
		if s.TotalChunks == 0 || s.SealedAt.IsZero() {
			s.TotalChunks = v.Chunks
		}
		if s.Movements == 0 || s.SealedAt.IsZero() {
			s.Movements = v.Movements
		}
		s.Rejected = len(v.Rejects)
		if s.StartedAt.IsZero() || v.StartedAt.Before(s.StartedAt) {
			s.StartedAt = v.StartedAt
		}
		advance(store.PhasePublishing)
	case *events.SessionSealed:
		// The sealed event states the final plan: it wins over started's.
		s.TotalChunks, s.Movements = v.Chunks, v.Movements
		if s.SealedAt.IsZero() {
			s.SealedAt = v.SealedAt
		}
		if phaseRank(s.Phase) < phaseRank(store.PhaseSealed) {
			s.Error = "" // a cancelled import that resumed and sealed is fine
		}
		advance(store.PhaseSealed)
	case *events.SessionFailed:
		if phaseRank(s.Phase) < phaseRank(store.PhaseFailed) {
			s.Error = v.Reason
		}
		advance(store.PhaseFailed)
	case *events.SessionCancelled:
		if phaseRank(s.Phase) <= phaseRank(store.PhaseCancelled) {
			s.Phase = store.PhaseCancelled
			s.Error = v.Reason
		}
	}
	return s
}

// rejectsOf returns the store rows of a started event's rejected rows.
func rejectsOf(v *events.SessionStarted) []store.Reject {
	out := make([]store.Reject, 0, len(v.Rejects))
	for _, r := range v.Rejects {
		out = append(out, store.Reject{Session: v.Session, Account: v.Account, RowReject: r})
	}
	return out
}
