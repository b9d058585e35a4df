package projector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/nats-io/nats.go/jetstream"
)

// TestShutdownReleasesPrefetched: when the projector stops (SIGTERM) it
// writes and acks the batch it holds, and naks the messages the client had
// prefetched but not taken, so that a restarted projector, or another one,
// gets them at once rather than after the ack wait (a minute here), and
// ends with the complete tables.
func TestShutdownReleasesPrefetched(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := openSQLite(t, filepath.Join(t.TempDir(), "folio.db"))
	s := newStatement("rel", "acct", history("acct", "r", events.NewDate(2025, 1, 6), 40))
	cfg := testConfig()
	cfg.BatchSize = 8
	cfg.BatchAge = 20 * time.Second
	cfg.BackOff = []time.Duration{time.Minute}
	buffered := make(chan struct{}, 1)
	cfg.Pause = func(ctx context.Context, point string) {
		if point == projector.PointBuffered {
			select {
			case buffered <- struct{}{}:
			default:
			}
			<-ctx.Done() // hold the first message until the shutdown
		}
	}
	_, stop := run(t, env.JS, st, cfg)
	publish(t, env.JS, s.events()...)
	select {
	case <-buffered:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing buffered")
	}
	// The client has prefetched more than the one message taken.
	proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		info := consumerInfo(t, env.JS, projector.DefaultDurable)
		if info.NumAckPending < 2 {
			return fmt.Errorf("%d messages delivered", info.NumAckPending)
		}
		return nil
	})
	stop()
	if n, _ := st.StoredChunks(t.Context(), "rel"); n != 0 && n != 1 {
		t.Errorf("%d chunks stored after the shutdown, want the one buffered at most", n)
	}
	// A new projector on the same consumer takes everything over at once:
	// without the release, the prefetched messages would wait for the
	// minute of ack wait and the session would not complete in time.
	cfg.Pause = nil
	cfg.BatchAge = 20 * time.Millisecond
	run(t, env.JS, st, cfg)
	waitCompleted(t, st, "rel")
	requireProjections(t, st, "acct", s.all)
}

func consumerInfo(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(t.Context(), events.StreamName, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}
