package projector

import (
	"context"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Metrics receives the projector's measurements (Config.Metrics);
// *metrics.Projector implements it with Prometheus collectors. The methods
// are called on the consumer goroutine and must not block. It is an
// observer, so one interface for the four events the projector reports
// rather than one per event.
type Metrics interface {
	// Received: a message was delivered; typ is "chunk", "session" or
	// "poison", delivery its delivery count (1 the first time).
	Received(typ string, delivery uint64)
	// Written: one batch write holding chunks chunks and movements
	// movements took took; err is nil when it is stored.
	Written(chunks, movements int, took time.Duration, err error)
	// DeadLettered: a poison message was copied to the dead-letter stream.
	DeadLettered()
	// Projected: phase 2 of one account took took and, when err is nil,
	// completed sessions sessions.
	Projected(sessions int, took time.Duration, err error)
}

// nopMetrics is the Metrics of a projector without Config.Metrics.
type nopMetrics struct{}

func (nopMetrics) Received(string, uint64)                {}
func (nopMetrics) Written(int, int, time.Duration, error) {}
func (nopMetrics) DeadLettered()                          {}
func (nopMetrics) Projected(int, time.Duration, error)    {}

// Message types reported to Metrics.Received.
const (
	typeChunk   = "chunk"
	typeSession = "session"
	typePoison  = "poison"
)

// received reports a delivered message to the metrics.
func (p *processor) received(md *jetstream.MsgMetadata, e events.Event) {
	typ := typePoison
	switch {
	case e == nil:
	case e.EventType() == events.TypeChunk:
		typ = typeChunk
	default:
		typ = typeSession
	}
	var delivery uint64 = 1
	if md != nil {
		delivery = md.NumDelivered
	}
	p.cfg.Metrics.Received(typ, delivery)
}

// observedWrite is write, measured.
func (p *processor) observedWrite(ctx context.Context) error {
	movements := 0
	for _, c := range p.chunks {
		movements += len(c.Movements)
	}
	chunks := len(p.chunks)
	start := time.Now()
	err := p.write(ctx)
	p.cfg.Metrics.Written(chunks, movements, time.Since(start), err)
	return err
}

// observedProject is projectAccount, measured.
func (p *processor) observedProject(ctx context.Context, account string, sessions []string) error {
	start := time.Now()
	err := p.projectAccount(ctx, account, sessions)
	p.cfg.Metrics.Projected(len(sessions), time.Since(start), err)
	return err
}
