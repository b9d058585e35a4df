package projector

import (
	"context"
	"fmt"

	"github.com/foliostream/foliostream/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// ReplayStats says what a replay read.
type ReplayStats struct {
	// Messages is the number of messages read, Poison how many of them
	// were skipped as poison.
	Messages int
	Poison   int
	// LastSequence is the stream sequence of the last message read.
	LastSequence uint64
	// Pending counts sealed sessions left without phase 2 (chunks missing
	// from the stream).
	Pending int
}

// Replay rebuilds st from the stream's first sequence: every message the
// consumer's filter selects, up to the last one present when Replay starts,
// goes through the same processing as Run (batches, session records, phase
// 2), with an ephemeral ordered consumer and no acks. st should be empty.
// Poison messages are skipped (Run already dead-lettered them). A store error
// stops the replay.
func Replay(ctx context.Context, js jetstream.JetStream, st store.Store, cfg Config) (ReplayStats, error) {
	var stats ReplayStats
	cfg.setDefaults()
	cons, err := js.OrderedConsumer(ctx, cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: cfg.FilterSubjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return stats, fmt.Errorf("projector: replay %s: %w", cfg.Stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return stats, fmt.Errorf("projector: replay %s: %w", cfg.Stream, err)
	}
	proc := newProcessor(st, cfg, false)
	if info.NumPending > 0 {
		iter, err := cons.Messages(jetstream.PullMaxMessages(readAhead(cfg.BatchSize)))
		if err != nil {
			return stats, fmt.Errorf("projector: replay %s: %w", cfg.Stream, err)
		}
		defer iter.Stop()
		for {
			msg, err := iter.Next(jetstream.NextContext(ctx))
			if err != nil {
				return stats, fmt.Errorf("projector: replay %s after sequence %d: %w", cfg.Stream, stats.LastSequence, err)
			}
			md, err := msg.Metadata()
			if err != nil {
				return stats, fmt.Errorf("projector: replay %s: %w", cfg.Stream, err)
			}
			stats.Messages++
			stats.LastSequence = md.Sequence.Stream
			proc.handle(ctx, msg)
			if proc.fatal != nil {
				return stats, fmt.Errorf("projector: replay %s at sequence %d: %w", cfg.Stream, md.Sequence.Stream, proc.fatal)
			}
			if md.NumPending == 0 {
				break
			}
		}
	}
	proc.flush(ctx)
	proc.phase2(ctx)
	if proc.fatal != nil {
		return stats, fmt.Errorf("projector: replay %s: %w", cfg.Stream, proc.fatal)
	}
	stats.Poison = proc.poison
	stats.Pending = len(proc.pending)
	return stats, ctx.Err()
}
