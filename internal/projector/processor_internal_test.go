package projector

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The loop wakes up for a phase 2 that waited long enough only when no
// batch is buffered: with one, the batch's own deadline comes first and its
// write runs phase 2, and a deadline already past would make the loop spin.
func TestDeadlinePhase2Due(t *testing.T) {
	cfg := Config{}
	cfg.setDefaults()
	now := time.Now()
	p := newProcessor(nil, cfg, true)
	p.projectDue = now.Add(-time.Second)
	if d := p.deadline(); !d.Equal(p.projectDue) {
		t.Errorf("no batch: deadline %v, want the phase-2 due time %v", d, p.projectDue)
	}
	p.msgs = []jetstream.Msg{nil}
	p.oldest = now
	if d, want := p.deadline(), now.Add(cfg.BatchAge); !d.Equal(want) {
		t.Errorf("a batch buffered: deadline %v, want its age limit %v", d, want)
	}
	p.retryAt = now.Add(-2 * time.Second)
	if d := p.deadline(); !d.Equal(p.retryAt) {
		t.Errorf("a retry due: deadline %v, want %v", d, p.retryAt)
	}
}
