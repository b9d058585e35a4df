package events

import (
	"errors"
	"fmt"
)

// Stream and subject names (DESIGN.md §4).
const (
	// StreamName is the JetStream stream that holds every event.
	StreamName = "FOLIO"
	// SubjectAll matches every subject of the stream.
	SubjectAll = "folio.>"
	// SubjectDeadLetter is where the projector copies poison messages, with
	// the reason in [HeaderDeadLetterReason]. It is outside "folio.>" on
	// purpose: dead letters are not replayed into projections.
	SubjectDeadLetter = "foliodlq.poison"
)

// Header names carried on every message.
const (
	HeaderSchema = "Folio-Schema"
	HeaderType   = "Folio-Type"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderDeadLetterReason says why a message was dead-lettered.
	HeaderDeadLetterReason = "Folio-Dead-Letter-Reason"
)

// ErrInvalidAccount is returned for an account name that is not a safe
// subject token.
var ErrInvalidAccount = errors.New("events: invalid account name")

// MaxAccountLen bounds account names.
const MaxAccountLen = 64

// ValidateAccount checks that name can be used as one subject token: 1 to
// MaxAccountLen characters of ASCII letters, digits, '-' and '_'. Anything that
// could be a wildcard ('*', '>'), a separator ('.'), whitespace or a control
// byte is refused.
func ValidateAccount(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty (use --account NAME)", ErrInvalidAccount)
	}
	if len(name) > MaxAccountLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidAccount, name, MaxAccountLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("%w: %q has %q at byte %d (allowed: letters, digits, '-', '_')", ErrInvalidAccount, name, c, i)
		}
	}
	return nil
}

// ChunkSubject is the subject a chunk of account's movements is published on.
func ChunkSubject(account string) string { return "folio.chunk." + account }

// SessionSubject is the subject account's session lifecycle events go to.
func SessionSubject(account string) string { return "folio.session." + account }

// Subject maps an event to its subject: the one place that decides it.
func Subject(e Event) string {
	if e.EventType() == TypeChunk {
		return ChunkSubject(e.EventAccount())
	}
	return SessionSubject(e.EventAccount())
}
