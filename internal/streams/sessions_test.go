package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureStreamIdempotent(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ctx := testCtx(t)
	for i := range 2 {
		s, err := streams.EnsureStream(ctx, env.JS, streams.Config{})
		if err != nil {
			t.Fatalf("ensure #%d: %v", i+1, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Config
		if c.Name != events.StreamName || len(c.Subjects) != 1 || c.Subjects[0] != events.SubjectAll ||
			c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy ||
			c.Duplicates != streams.DefaultDuplicates || c.Replicas != 1 {
			t.Fatalf("ensure #%d: config %+v", i+1, c)
		}
	}
	// An update changes the window in place.
	s, err := streams.EnsureStream(ctx, env.JS, streams.Config{Duplicates: time.Hour, MaxMsgSize: 1 << 19})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	if info.Config.Duplicates != time.Hour || info.Config.MaxMsgSize != 1<<19 {
		t.Fatalf("update: got duplicates %s max msg %d", info.Config.Duplicates, info.Config.MaxMsgSize)
	}
	// A storage change cannot be applied: a clear error, not a silent no-op.
	if _, err := streams.EnsureStream(ctx, env.JS, streams.Config{Storage: jetstream.MemoryStorage}); err == nil {
		t.Fatal("changing storage type succeeded")
	}
	dlq, err := streams.EnsureDeadLetterStream(ctx, env.JS, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if dlq.CachedInfo().Config.Subjects[0] != events.SubjectDeadLetter {
		t.Fatalf("dlq subjects %v", dlq.CachedInfo().Config.Subjects)
	}
}

func TestPublishHeadersAndDedup(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ctx := testCtx(t)
	s, err := streams.EnsureStream(ctx, env.JS, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events.SessionSealed{Session: "abc", Account: "acct1", Chunks: 2, Movements: 3}
	id, err := streams.MsgIDOf(ev)
	if err != nil {
		t.Fatal(err)
	}
	if id != "abc/sealed" {
		t.Fatalf("msg id %q", id)
	}
	for i := range 3 {
		ack, err := streams.Publish(ctx, env.JS, "", ev, id)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != (i > 0) {
			t.Fatalf("publish #%d: duplicate=%v", i+1, ack.Duplicate)
		}
	}
	msg, err := s.GetLastMsgForSubject(ctx, events.SessionSubject("acct1"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Sequence != 1 {
		t.Fatalf("last sequence %d, want 1 (duplicates dropped)", msg.Sequence)
	}
	got, err := events.Unmarshal(msg.Header.Get(events.HeaderType), msg.Header.Get(events.HeaderSchema), msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.(*events.SessionSealed); *g != *ev {
		t.Fatalf("round trip: got %+v want %+v", g, ev)
	}
	if msg.Header.Get(events.HeaderMsgID) != id {
		t.Fatalf("Nats-Msg-Id %q", msg.Header.Get(events.HeaderMsgID))
	}
}

func TestPublishRefusesOversize(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{MaxPayload: 2048})
	ctx := testCtx(t)
	if _, err := streams.EnsureStream(ctx, env.JS, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	ev := &events.SessionFailed{Session: "abc", Account: "a", Reason: string(make([]byte, 3000))}
	if _, err := streams.Publish(ctx, env.JS, "", ev, "abc/failed"); !errors.Is(err, streams.ErrTooLarge) {
		t.Fatalf("got %v want ErrTooLarge", err)
	}
	if _, err := streams.PublishAsync(env.JS, "", ev, "abc/failed"); !errors.Is(err, streams.ErrTooLarge) {
		t.Fatalf("async: got %v want ErrTooLarge", err)
	}
}

func newSessions(t *testing.T) (*streams.Sessions, *natstest.Env) {
	t.Helper()
	env := natstest.Run(t, natsembed.Config{})
	s, err := streams.EnsureSessions(testCtx(t), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return s, env
}

func TestSessionsCRUD(t *testing.T) {
	s, env := newSessions(t)
	ctx := testCtx(t)
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, streams.ErrSessionNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &streams.SessionRecord{ID: "s1", Account: "a", Phase: store.PhasePublishing, TotalChunks: 2, StartedAt: t0,
		Rejects: []events.RowReject{{Line: 3, Column: "Date", Value: "x", Reason: "bad date"}}, Rejected: 1}
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &streams.SessionRecord{ID: "s1"}); !errors.Is(err, streams.ErrSessionExists) {
		t.Fatalf("create twice: %v", err)
	}
	stale := *r
	r.AddChunk("2025-W01.1", 10)
	r.AddChunk("2025-W01.1", 10)
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	stale.Phase = store.PhaseFailed
	if err := s.Put(ctx, &stale); !errors.Is(err, streams.ErrConflict) {
		t.Fatalf("stale put: got %v want ErrConflict", err)
	}
	got, err := s.Get(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != store.PhasePublishing || len(got.Chunks) != 1 || got.PublishedMovements != 10 || !got.StartedAt.Equal(t0) ||
		len(got.Rejects) != 1 || got.Rejects[0] != r.Rejects[0] || got.Revision != r.Revision {
		t.Fatalf("got %+v", got)
	}

	// Second session started earlier: List orders by start time.
	if err := s.Create(ctx, &streams.SessionRecord{ID: "s0", StartedAt: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPathSession(ctx, "a", "/x/y.csv", "s1"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "s0" || list[1].ID != "s1" {
		t.Fatalf("list: %v", ids(list))
	}
	if id, _ := s.PathSession(ctx, "a", "/x/y.csv"); id != "s1" {
		t.Fatalf("path session %q", id)
	}
	if id, _ := s.PathSession(ctx, "b", "/x/y.csv"); id != "" {
		t.Fatalf("path session of another account %q", id)
	}

	// A read-only opener sees the same bucket.
	ro, err := streams.OpenSessions(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Get(ctx, "s0"); err != nil {
		t.Fatal(err)
	}
}

func ids(rs []*streams.SessionRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestSessionsUpdateConcurrent(t *testing.T) {
	s, _ := newSessions(t)
	ctx := testCtx(t)
	if err := s.Create(ctx, &streams.SessionRecord{ID: "s", Phase: store.PhasePublishing}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Update(ctx, "s", func(r *streams.SessionRecord) error {
					r.AddChunk(fmt.Sprintf("w%d.%d", w, i), 1)
					return nil
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, "s")
	if len(got.Chunks) != writers*each || got.PublishedMovements != writers*each {
		t.Fatalf("lost updates: %d chunks, %d movements, want %d", len(got.Chunks), got.PublishedMovements, writers*each)
	}
}

func TestMarkCompletedAndWait(t *testing.T) {
	s, _ := newSessions(t)
	ctx := testCtx(t)
	if err := s.MarkCompleted(ctx, "missing", time.Now()); !errors.Is(err, streams.ErrSessionNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := s.Create(ctx, &streams.SessionRecord{ID: "s", Phase: store.PhaseSealed}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := s.WaitPhase(ctx, "s", store.PhaseCompleted)
		if err == nil && r.Phase != store.PhaseCompleted {
			err = fmt.Errorf("phase %s", r.Phase)
		}
		done <- err
	}()
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.MarkCompleted(ctx, "s", at); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r1, _ := s.Get(ctx, "s")
	if err := s.MarkCompleted(ctx, "s", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r2, _ := s.Get(ctx, "s")
	if r2.Revision != r1.Revision || !r2.CompletedAt.Equal(at) {
		t.Fatalf("second MarkCompleted changed the record: rev %d→%d, completed %s", r1.Revision, r2.Revision, r2.CompletedAt)
	}

	// Waiting on a session that fails reports it.
	if err := s.Create(ctx, &streams.SessionRecord{ID: "f", Phase: store.PhaseFailed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitPhase(ctx, "f", store.PhaseCompleted); !errors.Is(err, streams.ErrSessionFailed) {
		t.Fatalf("wait on failed: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.WaitPhase(short, "nothing", store.PhaseCompleted); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait timeout: %v", err)
	}
}
