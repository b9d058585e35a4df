package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
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

func testCtx(t testing.TB) context.Context {
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
	if _, err := streams.PublishAsync(env.JS, "", ev, "abc/failed", nil); !errors.Is(err, streams.ErrTooLarge) {
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
	r.AddChunk(1, 10)
	r.AddChunk(1, 10)
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
	if got.Phase != store.PhasePublishing || got.ChunksDone() != 1 || !got.HasChunk(1) || got.HasChunk(2) || got.PublishedMovements != 10 || !got.StartedAt.Equal(t0) ||
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
					r.AddChunk(1+w*each+i, 1)
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
	if got.ChunksDone() != writers*each || got.Acked.String() != fmt.Sprintf("1-%d", writers*each) || got.PublishedMovements != writers*each {
		t.Fatalf("lost updates: %d chunks (%q), %d movements, want %d", got.ChunksDone(), got.Acked, got.PublishedMovements, writers*each)
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

func TestChunkSetAgainstMap(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 0))
		const n = 300
		var s streams.ChunkSet
		want := map[int]bool{}
		// Mostly in order, as acknowledgements come, with stragglers and
		// repeats.
		for i := 0; i < 2*n; i++ {
			k := 1 + i/2
			if rng.IntN(4) == 0 {
				k = 1 + rng.IntN(n)
			}
			if added := s.Add(k); added == want[k] {
				t.Fatalf("seed %d: Add(%d) = %v with %d already in: %v", seed, k, added, k, want[k])
			}
			want[k] = true
			if s.Len() != len(want) {
				t.Fatalf("seed %d: Len %d, want %d", seed, s.Len(), len(want))
			}
		}
		for k := 0; k <= n+2; k++ {
			if s.Has(k) != want[k] {
				t.Fatalf("seed %d: Has(%d) = %v", seed, k, s.Has(k))
			}
		}
		// The text is canonical: ranges ascending, disjoint, not adjacent,
		// and it parses back to the same set.
		text := s.String()
		var runs []string
		for k := 1; k <= n+1; k++ {
			if want[k] && !want[k-1] {
				lo := k
				for want[k+1] {
					k++
				}
				if k == lo {
					runs = append(runs, strconv.Itoa(lo))
				} else {
					runs = append(runs, fmt.Sprintf("%d-%d", lo, k))
				}
			}
		}
		if want := strings.Join(runs, ","); text != want {
			t.Fatalf("seed %d: String %q, want %q", seed, text, want)
		}
		back, err := streams.ParseChunkSet(text)
		if err != nil || back.String() != text || back.Len() != s.Len() {
			t.Fatalf("seed %d: ParseChunkSet(%q) = %q, %v", seed, text, back, err)
		}
	}
}

func TestChunkSetAdd(t *testing.T) {
	tests := []struct {
		add  []int
		want string
	}{
		{nil, ""},
		{[]int{1, 2, 3}, "1-3"},
		{[]int{3, 2, 1}, "1-3"},
		{[]int{1, 3}, "1,3"},
		{[]int{1, 3, 2}, "1-3"},
		{[]int{5, 1, 3, 4}, "1,3-5"},
		{[]int{10, 20, 15, 11, 19, 1}, "1,10-11,15,19-20"},
		{[]int{2, 2, 2}, "2"},
	}
	for _, tt := range tests {
		var s streams.ChunkSet
		for _, k := range tt.add {
			s.Add(k)
		}
		if s.String() != tt.want {
			t.Errorf("Add %v: %q, want %q", tt.add, s.String(), tt.want)
		}
	}
}

func TestParseChunkSet(t *testing.T) {
	good := map[string]string{"": "", "1": "1", "1-3": "1-3", "1-3,4": "1-4", "1-3,4-6,8": "1-6,8", "2,4": "2,4", "7-7": "7"}
	for in, want := range good {
		s, err := streams.ParseChunkSet(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseChunkSet(%q) = %q, %v; want %q", in, s.String(), err, want)
		}
	}
	for _, in := range []string{"0", "01", "-1", "+1", " 1", "1 ", "a", "1-", "-", ",", "1,", ",1", "1,,2", "3-1", "1,1", "2,1", "1-3,2-5", "1-3,3", "1-2-3", "99999999999999999999"} {
		if s, err := streams.ParseChunkSet(in); err == nil {
			t.Errorf("ParseChunkSet(%q) = %q, want an error", in, s.String())
		}
	}
}

// TestSessionRecordJSON: a record as this build writes it keeps its
// acknowledged chunks as ranges of ordinals and reads back equal; a record
// as earlier builds wrote it (IDs in "chunks") still reads, counts and
// resolves through the plan.
func TestSessionRecordJSON(t *testing.T) {
	r := streams.SessionRecord{ID: "s1", Phase: store.PhasePublishing, TotalChunks: 6}
	for _, k := range []int{6, 5, 4, 2} {
		r.AddChunk(k, 10)
	}
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"acked":"2,4-6"`) || strings.Contains(string(b), `"chunks"`) {
		t.Fatalf("record JSON %s", b)
	}
	var back streams.SessionRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Acked.String() != "2,4-6" || back.ChunksDone() != 4 || back.PublishedMovements != 40 || !back.HasChunk(5) || back.HasChunk(3) {
		t.Fatalf("read back %+v", back)
	}
	if b, _ := json.Marshal(&streams.SessionRecord{ID: "empty"}); strings.Contains(string(b), "acked") {
		t.Fatalf("empty set written: %s", b)
	}

	legacy := `{"id":"s2","account":"a","broker":"tastytrade","file":"f.csv","sha256":"ab","bytes":10,"phase":"cancelled",` +
		`"rows":9,"movements":30,"total_chunks":4,"chunks":["2024-W03.1","2024-W02.2","1999-W01.1"],"published_movements":21,` +
		`"started_published":true,"rejected":0,"started_at":"2026-11-29T10:00:00Z"}`
	var old streams.SessionRecord
	if err := json.Unmarshal([]byte(legacy), &old); err != nil {
		t.Fatal(err)
	}
	if old.ChunksDone() != 3 || old.Acked.Len() != 0 || !old.Resumable() {
		t.Fatalf("legacy record: %d chunks done, acked %q", old.ChunksDone(), old.Acked)
	}
	plan := map[string]int{"2024-W01.1": 1, "2024-W02.1": 2, "2024-W02.2": 3, "2024-W03.1": 4}
	old.ResolveLegacy(func(id string) int { return plan[id] })
	if old.Acked.String() != "3-4" || fmt.Sprint(old.Chunks) != "[1999-W01.1]" || old.ChunksDone() != 3 || old.PublishedMovements != 21 {
		t.Fatalf("resolved: acked %q, left %v, %d done, %d movements", old.Acked, old.Chunks, old.ChunksDone(), old.PublishedMovements)
	}

	for _, bad := range []string{`{"acked":"2-1"}`, `{"acked":5}`, `{"acked":"x"}`} {
		var r streams.SessionRecord
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s decoded to acked %q, want an error", bad, r.Acked)
		}
	}
}
