package projector

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPrefetchStopReturnsWhatItHolds: the prefetch holds at most
// prefetchDepth decoded messages plus the one it took last, hands them over
// in stream order, and stop returns every message it took and did not hand
// over, in order, so that Run can release them all.
func TestPrefetchStopReturnsWhatItHolds(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ctx := t.Context()
	if _, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "PF", Subjects: []string{"pf.>"}}); err != nil {
		t.Fatal(err)
	}
	const n = prefetchDepth + 10
	for i := range n {
		if _, err := env.JS.Publish(ctx, "pf.x", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, "PF", jetstream.ConsumerConfig{Durable: "pf", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(4))
	if err != nil {
		t.Fatal(err)
	}
	defer iter.Stop()
	pf := startPrefetch(ctx, iter, slog.New(slog.DiscardHandler))
	const handed = 3
	for i := range handed {
		f, err := pf.next(ctx, time.Now().Add(10*time.Second))
		if err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
		if got := string(f.msg.Data()); got != fmt.Sprint(i) {
			t.Fatalf("message %d is %q, want stream order", i, got)
		}
		if f.err == nil {
			t.Fatalf("message %q decoded as an event; want a decode error (not an event)", f.msg.Data())
		}
	}
	// The goroutine fills its channel and blocks holding one more.
	proctest.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if len(pf.out) < prefetchDepth {
			return fmt.Errorf("%d messages prefetched", len(pf.out))
		}
		return nil
	})
	rest := pf.stop()
	if len(rest) < prefetchDepth || len(rest) > prefetchDepth+1 {
		t.Fatalf("stop returned %d messages, want the %d prefetched (and the one held)", len(rest), prefetchDepth)
	}
	for i, m := range rest {
		if got, want := string(m.Data()), fmt.Sprint(handed+i); got != want {
			t.Fatalf("stop's message %d is %q, want %q (stream order, none lost)", i, got, want)
		}
	}
	if again := pf.stop(); len(again) != 0 {
		t.Errorf("a second stop returned %d messages", len(again))
	}
	if _, err := pf.next(ctx, time.Time{}); !errors.Is(err, errStopped) {
		t.Errorf("next after stop = %v, want errStopped", err)
	}
}
