package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream defaults.
const (
	// DefaultDuplicates is the stream's de-duplication window: a message with
	// a Nats-Msg-Id already seen within it is acknowledged and dropped.
	DefaultDuplicates = 24 * time.Hour
	// DefaultReplicas suits a single server; a cluster runs R3.
	DefaultReplicas = 1
	// DeadLetterStreamName holds poison messages copied by the projector.
	DeadLetterStreamName = "FOLIO_DLQ"
)

// Config is the stream's configuration. The zero value is the documented
// default: stream events.StreamName on events.SubjectAll, file storage,
// limits retention with no limit (the stream is the source of truth for
// replay and keeps everything), a 24 h duplicate window, one replica,
// messages up to the server's max_payload.
type Config struct {
	// Name of the stream; "" means events.StreamName.
	Name string
	// Subjects; nil means []string{events.SubjectAll}.
	Subjects []string
	// Duplicates is the Nats-Msg-Id window; 0 means DefaultDuplicates.
	Duplicates time.Duration
	// Replicas; 0 means DefaultReplicas.
	Replicas int
	// MaxMsgSize bounds one message in bytes; 0 means the server's
	// max_payload (-1 to the server).
	MaxMsgSize int32
	// Storage is jetstream.FileStorage (the zero value) or MemoryStorage
	// (tests only).
	Storage jetstream.StorageType
	// MaxBytes bounds the stream's size; 0 means unlimited. A stream that
	// fills up refuses new messages (DiscardNew) rather than dropping old
	// ones: the stream is the source of truth.
	MaxBytes int64
	// Partitioned stores every message under its account's hash slot with
	// the subject transform of package partition (folio.chunk.<account> is
	// stored as folio.chunk.<account>.<slot>), so that several projectors
	// can each consume a partition of the accounts. Publishers are
	// unaffected. Decide it when the stream is created: messages stored
	// before the transform was added carry no slot.
	Partitioned bool
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = events.StreamName
	}
	if c.Subjects == nil {
		c.Subjects = []string{events.SubjectAll}
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	return c
}

// StreamConfig returns the JetStream configuration EnsureStream applies for
// cfg.
func StreamConfig(cfg Config) jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	maxMsg := cfg.MaxMsgSize
	if maxMsg == 0 {
		maxMsg = -1
	}
	maxBytes := cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	sc := jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "foliostream import sessions and weekly movement chunks",
		Subjects:    cfg.Subjects,
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    maxBytes,
		MaxAge:      0,
		MaxMsgSize:  maxMsg,
		Discard:     jetstream.DiscardNew,
		Storage:     cfg.Storage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.Duplicates,
	}
	if cfg.Partitioned {
		sc.SubjectTransform = &jetstream.SubjectTransformConfig{Source: partition.TransformSource, Destination: partition.TransformDestination}
	}
	return sc
}

// EnsureStream creates the stream, or updates it to cfg if it exists:
// calling it on every start is safe. It fails (wrapping the server's error)
// when the existing stream cannot be changed to cfg, e.g. a different
// storage type.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	return ensure(ctx, js, StreamConfig(cfg))
}

// EnsureDeadLetterStream creates or updates DeadLetterStreamName on
// events.SubjectDeadLetter, with cfg's storage, replicas and size limits
// (cfg.Name, cfg.Subjects and cfg.Partitioned are ignored). Dead letters are outside
// events.SubjectAll so a replay never reads them.
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	cfg.Name = DeadLetterStreamName
	cfg.Subjects = []string{events.SubjectDeadLetter}
	cfg.Partitioned = false
	sc := StreamConfig(cfg)
	sc.Description = "foliostream poison messages, with the reason in the " + events.HeaderDeadLetterReason + " header"
	return ensure(ctx, js, sc)
}

func ensure(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("streams: ensure stream %s on %v: %w", sc.Name, sc.Subjects, err)
	}
	return s, nil
}
