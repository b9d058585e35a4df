package streams

import (
	"context"
	"errors"
	"fmt"
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

// ErrStorageFull: the server refused to store a message because JetStream
// reached its storage limit (its max_file_store, or the disk): nothing a
// retry can get through until an operator frees space or raises the limit.
// An import stops at once with it, resumable once there is room.
var ErrStorageFull = errors.New("streams: the NATS server's JetStream storage is full (free space or raise its max_file_store, then import again: the session resumes)")

// JetStream's error codes (nats-server's errors.json) for a store at its
// limits; the first is answered with status 503, like a real outage.
const (
	jsErrInsufficientResources    = 10023 // JSInsufficientResourcesErr
	jsErrStorageResourcesExceeded = 10047 // JSStorageResourcesExceededErr
	jsErrMemoryResourcesExceeded  = 10028 // JSMemoryResourcesExceededErr
	jsErrAccountResourcesExceeded = 10002 // JSAccountResourcesExceededErr
)

// storageFull reports whether err is JetStream refusing for want of storage.
func storageFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jsErrInsufficientResources, jsErrStorageResourcesExceeded, jsErrMemoryResourcesExceeded, jsErrAccountResourcesExceeded:
		return true
	}
	return false
}

// classify marks err with ErrStorageFull when it is one.
func classify(err error) error {
	if err != nil && storageFull(err) && !errors.Is(err, ErrStorageFull) {
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return err
}

// Transient reports whether err is a broker outage that a retry can get
// through: disconnected, reconnecting, timed out, no responders, or
// JetStream not ready yet. A full store is not one (ErrStorageFull).
func Transient(err error) bool {
	if err == nil || storageFull(err) {
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
			return classify(err)
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
