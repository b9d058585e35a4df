package streams

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRetryBoundsEachAttempt: a request sent just before the connection
// dropped never gets its reply. Under a caller's long deadline, retry must
// still give up on that attempt after attemptTimeout and send again, not
// wait for the caller's deadline (TestBrokerRestart found ingest failing
// "update session: context deadline exceeded" after a 30 s wait).
func TestRetryBoundsEachAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*attemptTimeout)
	defer cancel()
	start := time.Now()
	attempts := 0
	err := retry(ctx, func(actx context.Context) error {
		attempts++
		if attempts == 1 {
			<-actx.Done() // the lost reply
			return actx.Err()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("retry: %v after %d attempts", err, attempts)
	}
	if attempts != 2 {
		t.Errorf("%d attempts, want 2", attempts)
	}
	if took := time.Since(start); took > 2*attemptTimeout {
		t.Errorf("took %s: the first attempt was not cut at %s", took, attemptTimeout)
	}
}

// TestRetryStops: errors that are not outages are returned at once, and a
// cancelled context stops the retries.
func TestRetryStops(t *testing.T) {
	boom := errors.New("boom")
	attempts := 0
	if err := retry(t.Context(), func(context.Context) error { attempts++; return boom }); !errors.Is(err, boom) || attempts != 1 {
		t.Errorf("permanent error: got %v after %d attempts, want boom after 1", err, attempts)
	}
	ctx, cancel := context.WithCancel(t.Context())
	attempts = 0
	err := retry(ctx, func(context.Context) error {
		attempts++
		if attempts == 3 {
			cancel()
		}
		return nats.ErrDisconnected
	})
	if !errors.Is(err, nats.ErrDisconnected) || attempts != 3 {
		t.Errorf("cancelled: got %v after %d attempts, want ErrDisconnected after 3", err, attempts)
	}
}

func TestTransient(t *testing.T) {
	full := &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}
	tests := []struct {
		name          string
		err           error
		transient     bool
		isStorageFull bool
	}{
		{"disconnected", nats.ErrDisconnected, true, false},
		{"timeout", fmt.Errorf("publish: %w", nats.ErrTimeout), true, false},
		{"JetStream unavailable", &jetstream.APIError{Code: 503, ErrorCode: 10008}, true, false},
		{"storage full", fmt.Errorf("update: %w", full), false, true},
		{"storage resources exceeded", &jetstream.APIError{Code: 500, ErrorCode: 10047}, false, true},
		{"account resources exceeded", &jetstream.APIError{Code: 400, ErrorCode: 10002}, false, true},
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: 10003}, false, false},
		{"nil", nil, false, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.transient {
			t.Errorf("%s: Transient = %v, want %v", tt.name, got, tt.transient)
		}
		if got := errors.Is(classify(tt.err), ErrStorageFull); got != tt.isStorageFull {
			t.Errorf("%s: classified as storage full = %v, want %v", tt.name, got, tt.isStorageFull)
		}
	}
	// retry gives up on a full store at once.
	calls := 0
	err := retry(t.Context(), func(context.Context) error { calls++; return full })
	if calls != 1 || !errors.Is(err, ErrStorageFull) {
		t.Errorf("retry of a full store: %d calls, %v", calls, err)
	}
}
