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

// testPublisher is a publisher with no server, a window of flight chunks
// and record writes put off: what waitOldest needs with acknowledged
// futures.
func testPublisher(flight int) *chunkPublisher {
	return &chunkPublisher{
		ctx: context.Background(), im: &Importer{}, rec: &SessionRecord{ID: "s"},
		window: make([]inflight, 0, flight), maxFlight: flight,
		every: 1 << 20, interval: time.Hour, lastFlush: time.Now(), ackTimeout: time.Minute,
	}
}

// TestPublisherDropsAcknowledgedMessages: once a chunk is acknowledged the
// publisher keeps nothing that reaches its message (whose body is up to the
// byte budget): not in the window's backing array, not in the chunks
// waiting for the record write. (The body itself may be kept for the
// next chunk: TestPublisherReusesBodies.)
func TestPublisherDropsAcknowledgedMessages(t *testing.T) {
	const flight = 4
	p := testPublisher(flight)
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

// TestPublisherReusesBodies: an acknowledged chunk's body serves a later
// chunk, so an import allocates a handful of bodies instead of one per
// chunk; a body whose message was published again is never reused (a
// future given up on may still send it); a free body too small for the
// next chunk is dropped, not kept beside a new one; and no more than
// maxFlight free bodies are ever kept.
func TestPublisherReusesBodies(t *testing.T) {
	const flight = 2
	p := testPublisher(flight)
	next := 1
	send := func(size int) []byte {
		b := p.takeBody(size)
		if len(b) != 0 || cap(b) < size {
			t.Fatalf("takeBody(%d) = len %d cap %d", size, len(b), cap(b))
		}
		b = append(b, make([]byte, size)...)
		p.window = append(p.window, inflight{id: "c", ordinal: next, movements: 1, future: newAckedFuture(b), body: b})
		next++
		return b
	}
	ack := func() {
		t.Helper()
		if err := p.waitOldest(); err != nil {
			t.Fatal(err)
		}
	}
	same := func(a, b []byte) bool { return &a[:1][0] == &b[:1][0] }

	first := send(1000)
	ack()
	if len(p.bodies) != 1 {
		t.Fatalf("%d free bodies after one acknowledgement, want 1", len(p.bodies))
	}
	if again := send(900); !same(again, first) {
		t.Fatal("a chunk that fits the acknowledged chunk's body got a new one")
	}
	ack()

	// Published again: the body stays with its message.
	b := send(800)
	p.window[len(p.window)-1].body = nil // what awaitAck does when it publishes again
	ack()
	if reused := send(800); same(reused, b) {
		t.Fatal("a body whose message was published again was reused")
	}
	ack()

	// Too small: dropped, so free and in flight stay within maxFlight + 1.
	for len(p.bodies) > 0 {
		p.takeBody(0)
	}
	send(100)
	ack()
	big := send(5000)
	if len(p.bodies) != 0 {
		t.Fatalf("a free body too small for the next chunk was kept (%d free)", len(p.bodies))
	}
	ack()
	if len(p.bodies) != 1 || !same(p.bodies[0], big) {
		t.Fatal("the larger body was not kept")
	}

	// Many in flight, then all acknowledged: at most maxFlight kept, the
	// largest ones.
	for len(p.bodies) > 0 {
		p.takeBody(0)
	}
	for _, size := range []int{10, 20} {
		send(size)
	}
	ack()
	ack()
	p.putBody(make([]byte, 0, 30))
	p.putBody(make([]byte, 0, 5))
	if len(p.bodies) != flight {
		t.Fatalf("%d free bodies kept, want at most %d", len(p.bodies), flight)
	}
	for _, b := range p.bodies {
		if cap(b) < 20 {
			t.Errorf("kept a body of %d bytes over a larger one", cap(b))
		}
	}
}
