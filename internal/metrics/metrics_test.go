package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/metrics"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The collectors implement the hooks of the packages they observe.
var (
	_ streams.Metrics   = (*metrics.Ingest)(nil)
	_ projector.Metrics = (*metrics.Projector)(nil)
)

// TestLint runs Prometheus's own linter on every metric of both binaries.
func TestLint(t *testing.T) {
	reg := metrics.NewRegistry()
	metrics.NewIngest(reg)
	p := metrics.NewProjector(reg)
	p.Written(1, 1, time.Millisecond, nil)
	p.Projected(1, time.Millisecond, nil)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		if strings.HasPrefix(pr.Metric, metrics.Namespace+"_") {
			t.Errorf("%s: %s", pr.Metric, pr.Text)
		}
	}
}

// TestOutcomesAgree: every outcome internal/streams reports is a
// pre-created label value, so its series exists from the start.
func TestOutcomesAgree(t *testing.T) {
	for _, o := range []string{streams.FileImported, streams.FileAlreadyImported, streams.FileRejected,
		streams.FileFailed, streams.FileCancelled, streams.FileError} {
		if !slices.Contains(metrics.FileOutcomes, o) {
			t.Errorf("file outcome %q of streams is not in metrics.FileOutcomes", o)
		}
	}
	for _, o := range []string{streams.SessionStarted, streams.SessionResumed, streams.SessionSealed,
		streams.SessionCancelled, streams.SessionFailed} {
		if !slices.Contains(metrics.IngestSessionOutcomes, o) {
			t.Errorf("session outcome %q of streams is not in metrics.IngestSessionOutcomes", o)
		}
	}
}

func TestIngest(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewIngest(reg)
	m.File(metrics.FileImported)
	m.File(metrics.FileImported)
	m.File(metrics.FileRejected)
	m.Session(metrics.SessionStarted)
	m.Session(metrics.SessionSealed)
	m.ChunkPublished(120, 3*time.Millisecond)
	m.ChunkPublished(80, 40*time.Millisecond)
	want := `
# HELP foliostream_files_total Statement files handled by ingest, by outcome.
# TYPE foliostream_files_total counter
foliostream_files_total{outcome="already_imported"} 0
foliostream_files_total{outcome="cancelled"} 0
foliostream_files_total{outcome="error"} 0
foliostream_files_total{outcome="failed"} 0
foliostream_files_total{outcome="imported"} 2
foliostream_files_total{outcome="rejected"} 1
# HELP foliostream_movements_published_total Movements in the chunk messages acknowledged by the stream.
# TYPE foliostream_movements_published_total counter
foliostream_movements_published_total 200
# HELP foliostream_chunks_published_total Chunk messages acknowledged by the stream.
# TYPE foliostream_chunks_published_total counter
foliostream_chunks_published_total 2
# HELP foliostream_sessions_total Import-session transitions, by outcome.
# TYPE foliostream_sessions_total counter
foliostream_sessions_total{outcome="cancelled"} 0
foliostream_sessions_total{outcome="failed"} 0
foliostream_sessions_total{outcome="resumed"} 0
foliostream_sessions_total{outcome="sealed"} 1
foliostream_sessions_total{outcome="started"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "foliostream_files_total",
		"foliostream_movements_published_total", "foliostream_chunks_published_total", "foliostream_sessions_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "foliostream_chunk_publish_duration_seconds"); err != nil || n != 1 {
		t.Errorf("publish histogram: %d series, %v", n, err)
	}
	body := scrape(t, reg)
	for _, line := range []string{
		`foliostream_chunk_publish_duration_seconds_count 2`,
		`foliostream_chunk_publish_duration_seconds_bucket{le="0.004"} 1`,
		`foliostream_chunk_publish_duration_seconds_bucket{le="0.064"} 2`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
}

func TestProjector(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewProjector(reg)
	m.Received(metrics.MessageChunk, 1)
	m.Received(metrics.MessageChunk, 3)
	m.Received(metrics.MessageSession, 2)
	m.Received(metrics.MessagePoison, 1)
	m.DeadLettered()
	m.Written(2, 300, 5*time.Millisecond, nil)
	m.Written(1, 100, time.Second, errors.New("store down"))
	m.Projected(2, 20*time.Millisecond, nil)
	m.Projected(1, time.Millisecond, errors.New("store down"))
	m.ConsumerState(42, 7, 1)
	body := scrape(t, reg)
	for _, line := range []string{
		`foliostream_messages_total{type="chunk"} 2`,
		`foliostream_messages_total{type="session"} 1`,
		`foliostream_messages_total{type="poison"} 1`,
		`foliostream_redeliveries_total 2`,
		`foliostream_dead_letters_total 1`,
		`foliostream_chunks_persisted_total 2`,
		`foliostream_movements_persisted_total 300`,
		`foliostream_store_write_duration_seconds_count 2`,
		`foliostream_store_write_errors_total 1`,
		`foliostream_phase2_duration_seconds_count 2`,
		`foliostream_phase2_errors_total 1`,
		`foliostream_sessions_completed_total 2`,
		`foliostream_consumer_pending_messages 42`,
		`foliostream_consumer_ack_pending_messages 7`,
		`foliostream_consumer_redelivered_messages 1`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
}

// scrape serves reg with Handler and returns the text exposition.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return string(body)
}
