package streams

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackedFuture is a PubAckFuture already acknowledged.
type ackedFuture struct {
	ok  chan *jetstream.PubAck
	msg *nats.Msg
}

func newAckedFuture(body []byte) *ackedFuture {
	f := &ackedFuture{ok: make(chan *jetstream.PubAck, 1), msg: &nats.Msg{Data: body}}
	f.ok <- &jetstream.PubAck{}
	return f
}

func (f *ackedFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *ackedFuture) Err() <-chan error            { return nil }
func (f *ackedFuture) Msg() *nats.Msg               { return f.msg }

// TestPublisherDropsAcknowledgedMessages: once a chunk is acknowledged the
// publisher keeps nothing that reaches its message (whose body is up to the
// byte budget): not in the window's backing array, not in the chunks
// waiting for the record write.
func TestPublisherDropsAcknowledgedMessages(t *testing.T) {
	const flight = 4
	p := &chunkPublisher{
		ctx: context.Background(), im: &Importer{}, rec: &SessionRecord{ID: "s"},
		window: make([]inflight, 0, flight), maxFlight: flight,
		every: 1 << 20, interval: time.Hour, lastFlush: time.Now(), ackTimeout: time.Minute,
	}
	next := 1
	push := func() {
		p.window = append(p.window, inflight{id: "c", ordinal: next, movements: 1, future: newAckedFuture(make([]byte, 1<<10))})
		next++
	}
	for range flight {
		push()
	}
	for round := range 3 * flight {
		if err := p.waitOldest(); err != nil {
			t.Fatal(err)
		}
		full := p.window[:cap(p.window)]
		for i := len(p.window); i < len(full); i++ {
			if full[i].future != nil {
				t.Fatalf("round %d: window slot %d beyond its length %d still holds a message", round, i, len(p.window))
			}
		}
		if round < 2*flight {
			push() // refill, as emit does; then drain
		}
	}
	if cap(p.window) != flight {
		t.Errorf("window grew to %d slots, want %d", cap(p.window), flight)
	}
	if p.done.Len() != 3*flight || len(p.acked) != 3*flight {
		t.Errorf("acknowledged %d (%q), waiting for the record %d; want %d", p.done.Len(), p.done, len(p.acked), 3*flight)
	}
}
