package projector

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/nats-io/nats.go/jetstream"
)

// prefetchDepth is how many decoded messages a prefetch holds: about one
// batch of full chunks (8 MiB of 512 KiB bodies), so that the next batch is
// decoded while the current one is written.
const prefetchDepth = 16

// fetched is a message taken from the consumer and decoded.
type fetched struct {
	msg jetstream.Msg
	e   events.Event
	err error // the message does not decode: a poison message
}

// prefetch takes messages from a consumer's iterator and decodes them on a
// goroutine of its own, so that decoding overlaps the store writes, which
// the loop's goroutine does synchronously. Its channel bounds what it holds
// to prefetchDepth messages (the client's pull-ahead is on top of that).
// The goroutine stops at stop, at an iterator error, or with the context
// it was started with.
type prefetch struct {
	out    chan fetched
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
	held   jetstream.Msg // taken from the iterator, not handed over when stopped
	err    error         // the iterator's error that stopped it, if any
}

func startPrefetch(ctx context.Context, iter jetstream.MessagesContext, log *slog.Logger) *prefetch {
	ctx, cancel := context.WithCancel(ctx)
	f := &prefetch{out: make(chan fetched, prefetchDepth), cancel: cancel, done: make(chan struct{}), log: log}
	go f.run(ctx, iter)
	return f
}

func (f *prefetch) run(ctx context.Context, iter jetstream.MessagesContext) {
	defer close(f.done)
	defer close(f.out)
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		switch {
		case ctx.Err() != nil:
			if err == nil {
				f.held = msg
			}
			return
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			// The server went quiet for a while (a cluster node lost, a
			// leader elected): the iterator pulls again by itself.
			f.log.Warn("no heartbeat from the consumer; pulling again")
			continue
		case err != nil:
			f.err = err
			return
		}
		e, derr := decode(msg)
		select {
		case f.out <- fetched{msg: msg, e: e, err: derr}:
		case <-ctx.Done():
			f.held = msg
			return
		}
	}
}

// stop stops the goroutine and returns, in order, the messages it took
// from the iterator and did not hand over. It may be called more than once
// (the later calls return nothing).
func (f *prefetch) stop() []jetstream.Msg {
	f.cancel()
	<-f.done
	var msgs []jetstream.Msg
	for m := range f.out {
		msgs = append(msgs, m.msg)
	}
	if f.held != nil {
		msgs = append(msgs, f.held)
		f.held = nil
	}
	return msgs
}

var (
	// errIdle: no message came before the deadline.
	errIdle = errors.New("no message before the deadline")
	// errStopped: next after stop.
	errStopped = errors.New("prefetch stopped")
)

// next waits for the next decoded message until the deadline (none: until
// ctx ends). It returns errIdle at the deadline, ctx's error when ctx
// ends, and the iterator's error when the goroutine stopped on one.
func (f *prefetch) next(ctx context.Context, deadline time.Time) (fetched, error) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case m, ok := <-f.out:
		switch {
		case ok:
			return m, nil
		case f.err != nil: // set before out was closed
			return fetched{}, f.err
		case ctx.Err() != nil:
			return fetched{}, ctx.Err()
		}
		return fetched{}, errStopped
	case <-timeout:
		return fetched{}, errIdle
	case <-ctx.Done():
		return fetched{}, ctx.Err()
	}
}
