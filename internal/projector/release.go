package projector

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// releaseTimeout bounds the release of prefetched messages at shutdown.
const releaseTimeout = 2 * time.Second

// release runs when Run stops, after the final batch is written and acked:
// it drains the iterator and naks the messages the client had prefetched but
// the projector never took (and taken, a message that arrived with the
// shutdown), so that the server redelivers them at once — to the next run or
// to another projector — instead of after the ack wait.
func (p *Projector) release(ctx context.Context, iter jetstream.MessagesContext, taken jetstream.Msg) {
	iter.Drain()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	var msgs []jetstream.Msg // at most the prefetch: BatchSize
	if taken != nil {
		msgs = append(msgs, taken)
	}
	for {
		m, err := iter.Next(jetstream.NextContext(rctx))
		if err != nil {
			break // drained (ErrMsgIteratorClosed) or out of time
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return
	}
	// The drained subscription has unsubscribed its pull requests' inbox;
	// once the server has seen that, a nak is not redelivered to one of
	// those requests (where nobody would take it until the ack wait).
	if nc := p.js.Conn(); nc != nil {
		if err := nc.FlushWithContext(rctx); err != nil {
			p.log.Warn("flush at shutdown failed", "err", err)
		}
	}
	released := 0
	for _, m := range msgs {
		if err := m.Nak(); err != nil {
			p.log.Warn("nak at shutdown failed; the message comes back after the ack wait", "subject", m.Subject(), "err", err)
			continue
		}
		released++
	}
	p.log.Info("released prefetched messages for redelivery", "messages", released)
}
