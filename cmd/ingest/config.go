package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/foliostream/foliostream/internal/config"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// envNames are the variables whose names predate the generic FOLIO_<FLAG>
// rule of internal/config.
var envNames = map[string]string{
	"nats": envNATSURL,
}

// bindConfig gives every flag of fs its environment variable and its key in
// the --config file (internal/config). Call Apply on the result after
// parsing.
func bindConfig(fs *flag.FlagSet) *config.Binding {
	section := fs.Name()
	if section == "ingest" {
		section = "import" // `ingest FILE...`
	}
	return config.Bind(fs, config.Options{Section: section, Env: envNames, LookupEnv: os.LookupEnv})
}

// streamFlags say how ingest creates the stream and the session bucket when
// they do not exist yet; existing ones are used as they are.
type streamFlags struct {
	// Replicas of the stream, the dead-letter stream and the bucket (3 on
	// a cluster).
	Replicas int
	// Partitioned creates the stream with the account-slot subject
	// transform (internal/partition) for `projector run --partition`.
	Partitioned bool
}

func (s *streamFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.Replicas, "stream-replicas", streams.DefaultReplicas, "replicas of the FOLIO stream and the session bucket when ingest creates them (3 on a NATS cluster); existing ones are left as they are")
	fs.BoolVar(&s.Partitioned, "stream-partitioned", false, "create the FOLIO stream partitioned by account, for `projector run --partition` (must match the projector's setting)")
}

func (s streamFlags) validate() error {
	if s.Replicas < 0 || s.Replicas > 5 { // 0: not registered (status)
		return fmt.Errorf("--stream-replicas %d: want 1 to 5", s.Replicas)
	}
	return nil
}

func (s streamFlags) config() streams.Config {
	return streams.Config{Replicas: s.Replicas, Partitioned: s.Partitioned}
}

// openOrCreateSessions binds to the session records, creating the bucket
// only when it does not exist: updating an existing one to ingest's settings
// could change the replicas an operator gave it.
func openOrCreateSessions(ctx context.Context, js jetstream.JetStream, s streamFlags) (*streams.Sessions, error) {
	kv, err := streams.OpenSessions(ctx, js)
	if err == nil || !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}
	return streams.EnsureSessionsConfig(ctx, js, streams.SessionsConfig{Replicas: s.Replicas})
}
