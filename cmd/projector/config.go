package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/foliostream/foliostream/internal/config"
	"github.com/foliostream/foliostream/internal/metrics"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// envNames are the variables whose names predate the generic FOLIO_<FLAG>
// rule of internal/config.
var envNames = map[string]string{
	"nats":       envNATSURL,
	"clickhouse": envClickHouse,
	"v":          "", // demo's verbosity: no variable
}

// bindConfig gives every flag of fs its environment variable and its key in
// the --config file (internal/config).
func bindConfig(fs *flag.FlagSet) *config.Binding {
	return config.Bind(fs, config.Options{Env: envNames, LookupEnv: os.LookupEnv})
}

// parseFlags is fs.Parse with the environment and the --config file: the
// command line wins, then FOLIO_* variables, then the file, then defaults.
func parseFlags(fs *flag.FlagSet, args []string) error {
	b := bindConfig(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return b.Apply()
}

// scaleFlags are the flags of `projector run` about the stream's layout and
// the partition this projector consumes.
type scaleFlags struct {
	// Partition is "i/N" (internal/partition); "" consumes every account.
	Partition string
	// Replicas and Partitioned are how a missing stream, dead-letter
	// stream and session bucket are created.
	Replicas    int
	Partitioned bool
	spec        partition.Spec
}

func (s *scaleFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.Partition, "partition", "", "consume only partition I of N of the accounts (\"I/N\", 0 ≤ I < N ≤ 64) of a partitioned stream; run N projectors, one per I, on one store. The durable consumer is named DURABLE-IofN")
	fs.IntVar(&s.Replicas, "stream-replicas", streams.DefaultReplicas, "replicas of the FOLIO and FOLIO_DLQ streams and the session bucket when the projector creates them (3 on a NATS cluster); existing ones are left as they are")
	fs.BoolVar(&s.Partitioned, "stream-partitioned", false, "create the FOLIO stream partitioned by account (implied by --partition)")
}

func (s *scaleFlags) validate() error {
	spec, err := partition.Parse(s.Partition)
	if err != nil {
		return fmt.Errorf("--partition: %w", err)
	}
	s.spec = spec
	if s.Replicas < 1 || s.Replicas > 5 {
		return fmt.Errorf("--stream-replicas %d: want 1 to 5", s.Replicas)
	}
	return nil
}

// create is how missing streams are created.
func (s scaleFlags) create() streams.Config {
	return streams.Config{Replicas: s.Replicas, Partitioned: s.Partitioned || s.spec.Partitioned()}
}

// durable is the consumer name of a partition: each partition has its own,
// and a new partition count means new consumers that read the stream from
// its start (idempotently), so no message is skipped when N changes.
func (s scaleFlags) durable(base string) string {
	if !s.spec.Partitioned() {
		return base
	}
	return base + "-" + strconv.Itoa(s.spec.Index) + "of" + strconv.Itoa(s.spec.Count)
}

// errNotPartitioned: --partition on a stream without the account-slot
// transform.
var errNotPartitioned = errors.New("the stream is not partitioned by account: create it with --stream-partitioned (ingest and projector), or run without --partition")

// checkPartitioned refuses to consume a partition of a stream that does not
// store the account slots (the filters would match nothing). A missing
// stream is fine: Run creates it partitioned.
func checkPartitioned(ctx context.Context, js jetstream.JetStream, name string) error {
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	tr := s.CachedInfo().Config.SubjectTransform
	if tr == nil || tr.Source != partition.TransformSource || tr.Destination != partition.TransformDestination {
		return fmt.Errorf("stream %s: %w", name, errNotPartitioned)
	}
	return nil
}

// openSessionsBucket binds to the session records, creating the bucket
// with replicas only when it does not exist.
func openSessionsBucket(ctx context.Context, js jetstream.JetStream, replicas int) (*streams.Sessions, error) {
	s, err := streams.OpenSessions(ctx, js)
	if err == nil || !errors.Is(err, jetstream.ErrBucketNotFound) {
		return s, err
	}
	return streams.EnsureSessionsConfig(ctx, js, streams.SessionsConfig{Replicas: replicas})
}

// lagInterval is how often the consumer's state is read for the metrics.
const lagInterval = 5 * time.Second

// pollConsumer sets the consumer gauges (lag, ack pending, redelivered)
// from the server's consumer info every interval until ctx ends. A failed
// read leaves the last values (logged at debug level; /readyz reports the
// outage).
func pollConsumer(ctx context.Context, js jetstream.JetStream, stream, durable string, m *metrics.Projector, every time.Duration, log *slog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := readConsumer(ctx, js, stream, durable, m); err != nil && ctx.Err() == nil {
			log.Debug("consumer info for metrics", "durable", durable, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func readConsumer(ctx context.Context, js jetstream.JetStream, stream, durable string, m *metrics.Projector) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	m.ConsumerState(info.NumPending, info.NumAckPending, info.NumRedelivered)
	return nil
}
