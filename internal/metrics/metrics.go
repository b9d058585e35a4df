// Package metrics holds foliostream's Prometheus collectors: the
// measurements of ingest ([Ingest]) and of the projector ([Projector]),
// registered on a registry that each process creates ([NewRegistry]) and
// serves on /metrics ([Handler]). There is no global registry: a test builds
// its own and reads it back.
//
// Names follow the Prometheus conventions: the foliostream_ namespace, base
// units (seconds), _total for counters, one label with a small fixed set of
// values (outcome, type) whose series all exist from the start at zero.
//
// # Ingest
//
//	foliostream_files_total{outcome}                   files handled: imported, already_imported, rejected, failed, cancelled, error
//	foliostream_sessions_total{outcome}                session transitions: started, resumed, sealed, cancelled, failed
//	foliostream_chunks_published_total                 chunk messages acknowledged by the stream
//	foliostream_movements_published_total              movements in them
//	foliostream_chunk_publish_duration_seconds         publish → stream acknowledgement, per chunk
//
// # Projector
//
//	foliostream_messages_total{type}                   messages delivered: chunk, session, poison
//	foliostream_redeliveries_total                     deliveries after the first (crash, nak, ack wait)
//	foliostream_dead_letters_total                     poison messages copied to the dead-letter stream
//	foliostream_chunks_persisted_total                 chunks written to the store
//	foliostream_movements_persisted_total              movements written (a redelivered chunk counts again: writes are idempotent)
//	foliostream_store_write_duration_seconds           one batch write (successful or not)
//	foliostream_store_write_errors_total               failed batch writes (the batch is naked and retried)
//	foliostream_phase2_duration_seconds                one account's projections: read, compute, replace
//	foliostream_phase2_errors_total                    failed phase-2 runs (retried)
//	foliostream_sessions_completed_total               sessions whose projections were computed
//	foliostream_consumer_pending_messages              messages in the stream not yet delivered (lag)
//	foliostream_consumer_ack_pending_messages          delivered, not yet acknowledged
//	foliostream_consumer_redelivered_messages          delivered more than once, not yet acknowledged
//
// The registry also carries the standard go_* and process_* collectors.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "foliostream"

// Label values of foliostream_files_total{outcome}.
const (
	FileImported        = "imported"         // published and sealed in this run
	FileAlreadyImported = "already_imported" // sealed or completed before: nothing published
	FileRejected        = "rejected"         // invalid rows, not a statement...: nothing published
	FileFailed          = "failed"           // modified while importing: the session failed
	FileCancelled       = "cancelled"        // interrupted: the session is resumable
	FileError           = "error"            // transient (NATS unreachable...): retried
)

// FileOutcomes lists every outcome label of foliostream_files_total.
var FileOutcomes = []string{FileImported, FileAlreadyImported, FileRejected, FileFailed, FileCancelled, FileError}

// Label values of foliostream_sessions_total{outcome}.
const (
	SessionStarted   = "started"   // ingest: a new session record
	SessionResumed   = "resumed"   // ingest: an existing session continued
	SessionSealed    = "sealed"    // ingest: every chunk acknowledged, session.sealed published
	SessionCancelled = "cancelled" // ingest: interrupted
	SessionFailed    = "failed"    // ingest: the file changed under the import
)

// IngestSessionOutcomes lists every outcome label of foliostream_sessions_total.
var IngestSessionOutcomes = []string{SessionStarted, SessionResumed, SessionSealed, SessionCancelled, SessionFailed}

// Label values of foliostream_messages_total{type}.
const (
	MessageChunk   = "chunk"
	MessageSession = "session"
	MessagePoison  = "poison"
)

// Buckets of the latency histograms, in seconds: 1 ms to about 16 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// NewRegistry returns an empty registry with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus exposition formats.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
}

func counterVec(name, help, label string, values []string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{label})
	for _, value := range values {
		v.WithLabelValues(value)
	}
	return v
}

func histogram(name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: latencyBuckets})
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
}

// Ingest is the collectors of ingest. It implements the Metrics interface of
// internal/streams (the Importer's hook). Its methods are safe for
// concurrent use.
type Ingest struct {
	files              *prometheus.CounterVec
	sessions           *prometheus.CounterVec
	chunksPublished    prometheus.Counter
	movementsPublished prometheus.Counter
	chunkPublish       prometheus.Histogram
}

// NewIngest creates ingest's collectors and registers them on reg.
func NewIngest(reg prometheus.Registerer) *Ingest {
	m := &Ingest{
		files: counterVec("files_total", "Statement files handled by ingest, by outcome.", "outcome", FileOutcomes),
		sessions: counterVec("sessions_total", "Import-session transitions, by outcome.", "outcome",
			IngestSessionOutcomes),
		chunksPublished:    counter("chunks_published_total", "Chunk messages acknowledged by the stream."),
		movementsPublished: counter("movements_published_total", "Movements in the chunk messages acknowledged by the stream."),
		chunkPublish: histogram("chunk_publish_duration_seconds",
			"Time from publishing a chunk message to the stream's acknowledgement, as the publisher observes it."),
	}
	reg.MustRegister(m.files, m.sessions, m.chunksPublished, m.movementsPublished, m.chunkPublish)
	return m
}

// File counts a file handled with outcome (File*).
func (m *Ingest) File(outcome string) { m.files.WithLabelValues(outcome).Inc() }

// Session counts a session transition (Session*).
func (m *Ingest) Session(outcome string) { m.sessions.WithLabelValues(outcome).Inc() }

// ChunkPublished counts a chunk of movements acknowledged took after it was
// sent.
func (m *Ingest) ChunkPublished(movements int, took time.Duration) {
	m.chunksPublished.Inc()
	m.movementsPublished.Add(float64(movements))
	m.chunkPublish.Observe(took.Seconds())
}

// Projector is the collectors of the projector. It implements the Metrics
// interface of internal/projector. Its methods are safe for concurrent use.
type Projector struct {
	messages           *prometheus.CounterVec
	redeliveries       prometheus.Counter
	deadLetters        prometheus.Counter
	chunksPersisted    prometheus.Counter
	movementsPersisted prometheus.Counter
	storeWrite         prometheus.Histogram
	storeWriteErrors   prometheus.Counter
	phase2             prometheus.Histogram
	phase2Errors       prometheus.Counter
	sessions           prometheus.Counter
	pending            prometheus.Gauge
	ackPending         prometheus.Gauge
	redelivered        prometheus.Gauge
}

// NewProjector creates the projector's collectors and registers them on reg.
func NewProjector(reg prometheus.Registerer) *Projector {
	m := &Projector{
		messages: counterVec("messages_total", "Messages delivered to the projector, by type.", "type",
			[]string{MessageChunk, MessageSession, MessagePoison}),
		redeliveries:       counter("redeliveries_total", "Deliveries of a message after its first."),
		deadLetters:        counter("dead_letters_total", "Poison messages copied to the dead-letter stream and terminated."),
		chunksPersisted:    counter("chunks_persisted_total", "Chunks written to the store."),
		movementsPersisted: counter("movements_persisted_total", "Movements written to the store (a redelivered chunk is written, idempotently, again)."),
		storeWrite:         histogram("store_write_duration_seconds", "Duration of one batch write to the store, successful or not."),
		storeWriteErrors:   counter("store_write_errors_total", "Batch writes that failed (the batch is naked and redelivered)."),
		phase2:             histogram("phase2_duration_seconds", "Duration of phase 2 for one account: read its movements, compute, replace its projections."),
		phase2Errors:       counter("phase2_errors_total", "Phase-2 runs that failed (retried)."),
		sessions:           counter("sessions_completed_total", "Import sessions whose projections the projector computed."),
		pending:            gauge("consumer_pending_messages", "Messages in the stream for the durable consumer, not yet delivered (the lag)."),
		ackPending:         gauge("consumer_ack_pending_messages", "Messages delivered to the durable consumer and not yet acknowledged."),
		redelivered:        gauge("consumer_redelivered_messages", "Messages delivered more than once and not yet acknowledged."),
	}
	reg.MustRegister(m.messages, m.redeliveries, m.deadLetters, m.chunksPersisted, m.movementsPersisted,
		m.storeWrite, m.storeWriteErrors, m.phase2, m.phase2Errors, m.sessions, m.pending, m.ackPending, m.redelivered)
	return m
}

// Received counts a delivered message of type typ (Message*); delivery is
// its delivery count, 1 the first time.
func (m *Projector) Received(typ string, delivery uint64) {
	m.messages.WithLabelValues(typ).Inc()
	if delivery > 1 {
		m.redeliveries.Inc()
	}
}

// Written records one batch write that took took: chunks and movements are
// what it held; err is nil when it was stored.
func (m *Projector) Written(chunks, movements int, took time.Duration, err error) {
	m.storeWrite.Observe(took.Seconds())
	if err != nil {
		m.storeWriteErrors.Inc()
		return
	}
	m.chunksPersisted.Add(float64(chunks))
	m.movementsPersisted.Add(float64(movements))
}

// DeadLettered counts a poison message copied to the dead-letter stream.
func (m *Projector) DeadLettered() { m.deadLetters.Inc() }

// Projected records phase 2 of one account that took took and, when err is
// nil, completed sessions.
func (m *Projector) Projected(sessions int, took time.Duration, err error) {
	m.phase2.Observe(took.Seconds())
	if err != nil {
		m.phase2Errors.Inc()
		return
	}
	m.sessions.Add(float64(sessions))
}

// ConsumerState sets the consumer gauges from the server's consumer info.
func (m *Projector) ConsumerState(pending uint64, ackPending, redelivered int) {
	m.pending.Set(float64(pending))
	m.ackPending.Set(float64(ackPending))
	m.redelivered.Set(float64(redelivered))
}
