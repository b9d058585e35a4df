package streams

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Broker outages. A server restart, a failover or a network blip makes the
// client reconnect (natsconn reconnects forever); meanwhile a request times
// out, an async publish fails with nats.ErrDisconnected and JetStream may
// answer "no responders" or "temporarily unavailable" while it recovers its
// streams. Every call of this package that reaches the server retries such
// errors with backoff, for as long as DefaultOutageTimeout, and stops at
// once when its context ends. A retry is safe: a publish carries the same
// Nats-Msg-Id (the stream keeps one copy), a KV create that did land
// reports ErrSessionExists, and a compare-and-set that did land reports a
// conflict that Update resolves by re-reading.
const (
	// DefaultOutageTimeout is how long a call keeps retrying through an
	// outage before it returns the error.
	DefaultOutageTimeout = 2 * time.Minute
	// attemptTimeout bounds one attempt (less when the caller's context
	// ends sooner).
	attemptTimeout = 5 * time.Second
	retryFirst     = 50 * time.Millisecond
	retryMax       = 2 * time.Second
)

// Transient reports whether err is a broker outage that a retry can get
// through: disconnected, reconnecting, timed out, no responders, or
// JetStream not ready yet.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{
		nats.ErrDisconnected, nats.ErrConnectionReconnecting, nats.ErrNoResponders, nats.ErrTimeout,
		context.DeadlineExceeded, jetstream.ErrNoStreamResponse, jetstream.ErrAsyncPublishTimeout,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503: JetStream (or its meta leader) temporarily unavailable.
		return apiErr.Code == 503
	}
	return false
}

// retry runs f until it succeeds, fails with an error that is not
// Transient, ctx ends, or DefaultOutageTimeout has passed since the first
// failure. Each attempt gets at most attemptTimeout.
func retry(ctx context.Context, f func(ctx context.Context) error) error {
	var deadline time.Time
	wait := retryFirst
	for {
		// Every attempt is bounded, even under a caller's longer deadline:
		// a request sent just before the connection dropped never gets its
		// reply, and must be sent again rather than waited for until the
		// caller's deadline.
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := f(actx)
		cancel()
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(DefaultOutageTimeout)
		}
		if now.After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}
