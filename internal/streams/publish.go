package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/foliostream/foliostream/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Lifecycle steps: the part after the slash of a lifecycle message's
// Nats-Msg-Id (events.MsgID(session, step)). A chunk's step is its chunk ID.
const (
	StepStarted = "started"
	StepSealed  = "sealed"
	StepFailed  = "failed"
)

// CancelledStep is the step of a session's n-th cancellation (n from 1):
// a session may be interrupted more than once, and each interruption is a
// message of its own.
func CancelledStep(n int) string { return "cancelled." + strconv.Itoa(n) }

// MsgIDOf returns the Nats-Msg-Id e is published with: the chunk ID for a
// chunk, the lifecycle step otherwise. A cancellation needs its counter,
// so for it use events.MsgID(session, CancelledStep(n)).
func MsgIDOf(e events.Event) (string, error) {
	switch v := e.(type) {
	case *events.Chunk:
		return events.MsgID(v.Session, v.ID), nil
	case *events.SessionStarted:
		return events.MsgID(v.Session, StepStarted), nil
	case *events.SessionSealed:
		return events.MsgID(v.Session, StepSealed), nil
	case *events.SessionFailed:
		return events.MsgID(v.Session, StepFailed), nil
	}
	return "", fmt.Errorf("streams: no fixed message ID for %s", e.EventType())
}

// ErrTooLarge: an encoded message exceeds the connection's max payload. It
// is never sent.
var ErrTooLarge = errors.New("streams: message larger than the server's max payload")

// NewMsg encodes e into a message for its subject (events.Subject) with the
// schema and type headers and Nats-Msg-Id msgID.
func NewMsg(e events.Event, msgID string) (*nats.Msg, error) {
	return newMsg(e, msgID, nil)
}

// newMsg is NewMsg with the body appended to buf[:0] when buf is not nil
// (a buffer of the chunk's planned size, or one reused): then it is
// encoded with no scratch buffer and no copy.
func newMsg(e events.Event, msgID string, buf []byte) (*nats.Msg, error) {
	var data []byte
	var err error
	if buf != nil {
		data, err = events.AppendMarshal(buf[:0], e)
	} else {
		data, err = events.Marshal(e)
	}
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(events.Subject(e))
	m.Header.Set(events.HeaderSchema, events.SchemaHeader)
	m.Header.Set(events.HeaderType, string(e.EventType()))
	m.Header.Set(events.HeaderMsgID, msgID)
	m.Data = data
	return m, nil
}

// msgSize is what a message counts against max_payload: headers and body.
func msgSize(m *nats.Msg) int {
	n := len(m.Data)
	// "NATS/1.0\r\n" + "Key: Value\r\n"... + "\r\n"
	n += len("NATS/1.0\r\n\r\n")
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// checkSize refuses a message the connection could not carry.
func checkSize(js jetstream.JetStream, m *nats.Msg) error {
	if js.Conn() == nil {
		return nil
	}
	maxp := js.Conn().MaxPayload()
	if maxp > 0 && int64(msgSize(m)) > maxp {
		return fmt.Errorf("%w: %s %s is %d bytes, max payload %d", ErrTooLarge, m.Subject, m.Header.Get(events.HeaderMsgID), msgSize(m), maxp)
	}
	return nil
}

// Publish sends e synchronously to stream (events.StreamName when "") with
// Nats-Msg-Id msgID and returns the stream's acknowledgement. A duplicate
// within the stream's window is acknowledged with PubAck.Duplicate set.
func Publish(ctx context.Context, js jetstream.JetStream, stream string, e events.Event, msgID string) (*jetstream.PubAck, error) {
	m, err := NewMsg(e, msgID)
	if err != nil {
		return nil, err
	}
	if err := checkSize(js, m); err != nil {
		return nil, err
	}
	// Retried through a broker outage under the same Nats-Msg-Id (retry.go).
	var ack *jetstream.PubAck
	err = retry(ctx, func(ctx context.Context) (err error) {
		ack, err = js.PublishMsg(ctx, m, publishOpts(stream, msgID)...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("streams: publish %s %s: %w", m.Subject, msgID, err)
	}
	return ack, nil
}

// PublishAsync sends e without waiting; the future resolves with the
// stream's acknowledgement. The number in flight is bounded by the
// jetstream.WithPublishAsyncMaxPending option js was created with. The
// body is encoded into buf[:0] when buf is not nil (nil: a new buffer);
// the message, future.Msg(), keeps it until the future resolves and
// longer if it is published again, so the caller may reuse buf only
// after that.
func PublishAsync(js jetstream.JetStream, stream string, e events.Event, msgID string, buf []byte) (jetstream.PubAckFuture, error) {
	m, err := newMsg(e, msgID, buf)
	if err != nil {
		return nil, err
	}
	if err := checkSize(js, m); err != nil {
		return nil, err
	}
	f, err := js.PublishMsgAsync(m, publishOpts(stream, msgID)...)
	if err != nil {
		return nil, fmt.Errorf("streams: publish %s %s: %w", m.Subject, msgID, err)
	}
	return f, nil
}

func publishOpts(stream, msgID string) []jetstream.PublishOpt {
	if stream == "" {
		stream = events.StreamName
	}
	return []jetstream.PublishOpt{jetstream.WithMsgID(msgID), jetstream.WithExpectStream(stream)}
}
