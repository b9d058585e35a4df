package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

const tastyHeader = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n"

// statement is a synthetic Tastytrade statement of deposits, newest first
// like a real export: rows deposits spread over days days from 2024-01-01,
// with a description padded by pad bytes; the rows listed in bad get an
// unparseable date.
type statement struct {
	rows, days, pad int
	bad             []int
	salt            string // changes every row's description (a modified file)
}

func (s statement) csv() string {
	var b strings.Builder
	b.WriteString(tastyHeader)
	start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := s.rows - 1; i >= 0; i-- {
		day := start.AddDate(0, 0, i*s.days/s.rows).Add(time.Duration(i%3600) * time.Second)
		date := day.Format("2006-01-02T15:04:05") + "+0000"
		for _, j := range s.bad {
			if j == i {
				date = "not-a-date"
			}
		}
		desc := fmt.Sprintf("ACH DEPOSIT %d %s%s", i, s.salt, strings.Repeat("x", s.pad))
		fmt.Fprintf(&b, "%s,Money Movement,Deposit,,,,%s,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n", date, desc, 100+i, 100+i)
	}
	return b.String()
}

func (s statement) write(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s.csv()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type rig struct {
	env      *natstest.Env
	js       jetstream.JetStream
	stream   jetstream.Stream
	sessions *streams.Sessions
	im       *streams.Importer
	dir      string
}

func newRig(t testing.TB, cfg natsembed.Config) *rig {
	t.Helper()
	env := natstest.Run(t, cfg)
	ctx := testCtx(t)
	js, err := jetstream.New(env.Conn, jetstream.WithPublishAsyncMaxPending(streams.DefaultMaxInFlight))
	if err != nil {
		t.Fatal(err)
	}
	st, err := streams.EnsureStream(ctx, js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := streams.EnsureSessions(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{env: env, js: js, stream: st, sessions: ss, dir: t.TempDir(),
		im: &streams.Importer{JS: js, Sessions: ss}}
}

// message is one message of the stream.
type message struct {
	subject, msgID, typ string
	size                int
	event               events.Event
}

func (r *rig) messages(t *testing.T) []message {
	t.Helper()
	ctx := testCtx(t)
	info, err := r.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := r.stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		ev, err := events.Unmarshal(m.Header.Get(events.HeaderType), m.Header.Get(events.HeaderSchema), m.Data)
		if err != nil {
			t.Fatalf("seq %d undecodable: %v", seq, err)
		}
		size := len(m.Data)
		for k, vs := range m.Header {
			for _, v := range vs {
				size += len(k) + len(v) + 4
			}
		}
		out = append(out, message{subject: m.Subject, msgID: m.Header.Get(events.HeaderMsgID), typ: m.Header.Get(events.HeaderType), size: size, event: ev})
	}
	return out
}

// countByID counts the stream's messages per Nats-Msg-Id.
func countByID(ms []message) map[string]int {
	c := map[string]int{}
	for _, m := range ms {
		c[m.msgID]++
	}
	return c
}

// requireExactlyOnce checks that every chunk of a's plan is in the stream
// exactly once, with the movements the plan says, and nothing else of
// type chunk.
func requireExactlyOnce(t *testing.T, ms []message, a *chunker.Analysis) {
	t.Helper()
	counts := countByID(ms)
	chunks := 0
	movements := 0
	for _, m := range ms {
		if c, ok := m.event.(*events.Chunk); ok {
			chunks++
			if m.subject != events.ChunkSubject(a.Account) || m.msgID != events.MsgID(a.SessionID, c.ID) {
				t.Fatalf("chunk %s on %s with id %s", c.ID, m.subject, m.msgID)
			}
			for i := range c.Movements {
				if c.Movements[i].Kind.Counts() {
					movements++
				}
			}
		}
	}
	for _, ref := range a.Plan.Refs() {
		if n := counts[events.MsgID(a.SessionID, ref.ID)]; n != 1 {
			t.Fatalf("chunk %s is in the stream %d times, want 1", ref.ID, n)
		}
	}
	if chunks != a.Plan.Len() || movements != a.Movements {
		t.Fatalf("stream has %d chunks / %d movements, plan %d / %d", chunks, movements, a.Plan.Len(), a.Movements)
	}
}

func TestImportSameFileThreeTimes(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	ctx := testCtx(t)
	path := statement{rows: 120, days: 60}.write(t, filepath.Join(r.dir, "s.csv"))
	req := streams.Request{Path: path, Account: "acct1"}

	var outcomes []streams.Outcome
	var analysis *chunker.Analysis
	for i := range 3 {
		if i == 2 {
			// The projector completes the session between runs 2 and 3.
			if err := r.sessions.MarkCompleted(ctx, analysis.SessionID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		res, err := r.im.Import(ctx, req)
		if err != nil {
			t.Fatalf("import #%d: %v", i+1, err)
		}
		outcomes = append(outcomes, res.Outcome)
		analysis = res.Analysis
	}
	want := []streams.Outcome{streams.OutcomeSealed, streams.OutcomeAlreadySealed, streams.OutcomeAlreadyCompleted}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v want %v", outcomes, want)
	}
	if analysis.Plan.Len() < 5 {
		t.Fatalf("test file has %d chunks; want several weeks", analysis.Plan.Len())
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, analysis)
	counts := countByID(ms)
	if counts[analysis.SessionID+"/started"] != 1 || counts[analysis.SessionID+"/sealed"] != 1 || len(ms) != analysis.Plan.Len()+2 {
		t.Fatalf("stream: %v", counts)
	}
	rec, _ := r.sessions.Get(ctx, analysis.SessionID)
	if rec.Phase != store.PhaseCompleted || rec.ChunksDone() != rec.TotalChunks || rec.Acked.String() != fmt.Sprintf("1-%d", rec.TotalChunks) ||
		len(rec.Chunks) != 0 || rec.PublishedMovements != analysis.Movements {
		t.Fatalf("record %+v", rec)
	}
	// The first event is session.started with the plan's size and
	// fingerprint (the record's); the last is sealed.
	st, ok := ms[0].event.(*events.SessionStarted)
	if !ok || st.Chunks != analysis.Plan.Len() || st.Plan != rec.Plan || st.SHA256 != analysis.SHA256 || st.File != "s.csv" {
		t.Fatalf("first message %+v", ms[0].event)
	}
	if _, ok := ms[len(ms)-1].event.(*events.SessionSealed); !ok {
		t.Fatalf("last message %s", ms[len(ms)-1].typ)
	}
}

// cancelAt returns a context and a Request.Pause hook that cancels it at
// the n-th pause point with the prefix (chunks are emitted in file order,
// in these tests newest week first, so count them).
func cancelAt(t *testing.T, prefix string, n int) (context.Context, func(context.Context, string)) {
	ctx, cancel := context.WithCancel(testCtx(t))
	seen := 0
	return ctx, func(_ context.Context, p string) {
		if strings.HasPrefix(p, prefix) {
			if seen++; seen == n {
				cancel()
			}
		}
	}
}

func TestImportCancelledThenResumed(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 200, days: 100}.write(t, filepath.Join(r.dir, "c.csv"))

	// Interrupted mid-chunks, after the third: stops between chunks.
	ctx, hook := cancelAt(t, "chunk:", 3)
	res, err := r.im.Import(ctx, streams.Request{Path: path, Account: "acct1", Pause: hook})
	if !errors.Is(err, streams.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v want ErrCancelled", err)
	}
	rec, _ := r.sessions.Get(testCtx(t), res.Analysis.SessionID)
	// Chunks are emitted newest week first: the last three of the plan.
	if want := fmt.Sprintf("%d-%d", rec.TotalChunks-2, rec.TotalChunks); rec.Phase != store.PhaseCancelled || rec.Cancellations != 1 ||
		rec.ChunksDone() != 3 || rec.Acked.String() != want || rec.TotalChunks <= 3 {
		t.Fatalf("after cancel: phase %s cancellations %d chunks %d/%d (%q)", rec.Phase, rec.Cancellations, rec.ChunksDone(), rec.TotalChunks, rec.Acked)
	}
	// Interrupted again, after every chunk but before sealing.
	ctx, hook = cancelAt(t, "before-sealed", 1)
	res, err = r.im.Import(ctx, streams.Request{Path: path, Account: "acct1", Pause: hook})
	if !errors.Is(err, streams.ErrCancelled) {
		t.Fatalf("second run: %v", err)
	}
	if !res.Resumed || res.Skipped != 3 || res.Published != rec.TotalChunks-3 {
		t.Fatalf("second run resumed=%v skipped %d published %d", res.Resumed, res.Skipped, res.Published)
	}
	// Third run: nothing left to publish but the seal.
	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != streams.OutcomeSealed || res.Published != 0 || res.Session.Phase != store.PhaseSealed || res.Session.Error != "" {
		t.Fatalf("third run: %+v", res)
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, res.Analysis)
	counts := countByID(ms)
	id := res.Analysis.SessionID
	for _, step := range []string{"started", "cancelled.1", "cancelled.2", "sealed"} {
		if counts[id+"/"+step] != 1 {
			t.Fatalf("%s: %d messages (%v)", step, counts[id+"/"+step], counts)
		}
	}
}

// TestImportRefusesChangedPlan: a session interrupted after three chunks
// is not resumed by a run that cuts the file another way (a smaller byte
// budget): its acknowledged ordinals would name other chunks. Nothing is
// published and the record is left as it was; the original budget then
// resumes it, and every movement is published exactly once.
func TestImportRefusesChangedPlan(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 200, days: 100}.write(t, filepath.Join(r.dir, "p.csv"))
	ctx, hook := cancelAt(t, "chunk:", 3)
	res, err := r.im.Import(ctx, streams.Request{Path: path, Account: "acct1", Pause: hook})
	if !errors.Is(err, streams.ErrCancelled) {
		t.Fatalf("first run: %v", err)
	}
	before, err := r.sessions.Get(testCtx(t), res.Analysis.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if fp := res.Analysis.Plan.Fingerprint(); before.Plan != fp {
		t.Fatalf("record plan %q, analysis %q", before.Plan, fp)
	}
	messages := len(r.messages(t))

	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", ByteBudget: chunker.MinByteBudget})
	if !errors.Is(err, streams.ErrPlanChanged) {
		t.Fatalf("resume with another budget: %v, want ErrPlanChanged", err)
	}
	if res.Analysis.Plan.Len() == before.TotalChunks {
		t.Fatalf("the smaller budget cut the file into the same %d chunks: the test proves nothing", before.TotalChunks)
	}
	after, err := r.sessions.Get(testCtx(t), before.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision != before.Revision || len(r.messages(t)) != messages {
		t.Fatalf("refused resume changed things: revision %d -> %d, messages %d -> %d",
			before.Revision, after.Revision, messages, len(r.messages(t)))
	}

	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Skipped != 3 || res.Outcome != streams.OutcomeSealed {
		t.Fatalf("resume with the original budget: resumed=%v skipped %d outcome %v", res.Resumed, res.Skipped, res.Outcome)
	}
	requireExactlyOnce(t, r.messages(t), res.Analysis)
}

// TestImportResumesLegacyRecord resumes a session whose record lists its
// acknowledged chunks by ID, as builds before session 4 wrote it: those
// chunks are skipped, and the record ends with every ordinal in Acked and
// no IDs left.
func TestImportResumesLegacyRecord(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 200, days: 100}.write(t, filepath.Join(r.dir, "l.csv"))
	ctx, hook := cancelAt(t, "chunk:", 4)
	res, err := r.im.Import(ctx, streams.Request{Path: path, Account: "acct1", Pause: hook})
	if !errors.Is(err, streams.ErrCancelled) {
		t.Fatalf("first run: %v", err)
	}
	a := res.Analysis
	rec, err := r.sessions.Get(testCtx(t), a.SessionID)
	if err != nil || rec.ChunksDone() != 4 {
		t.Fatalf("after cancel: %v, %d chunks", err, rec.ChunksDone())
	}
	// Rewrite the record as the old build kept it: IDs, newest first (the
	// acknowledgement order), and no "acked".
	var ids []string
	for i := a.Plan.Len() - 1; i >= 0; i-- {
		if rec.HasChunk(a.Plan.Chunk(i).Ordinal) {
			ids = append(ids, a.Plan.Chunk(i).ID)
		}
	}
	rec.Chunks, rec.Acked = ids, streams.ChunkSet{}
	if b, _ := json.Marshal(rec); !strings.Contains(string(b), `"chunks":["`) || strings.Contains(string(b), `"acked"`) {
		t.Fatalf("legacy record %s", b)
	}
	if err := r.sessions.Put(testCtx(t), rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.sessions.Get(testCtx(t), a.SessionID); got.ChunksDone() != 4 || got.Acked.Len() != 0 {
		t.Fatalf("legacy record read back: %d chunks, acked %q", got.ChunksDone(), got.Acked)
	}

	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", RecordEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Skipped != 4 || res.Published != a.Plan.Len()-4 || res.Outcome != streams.OutcomeSealed {
		t.Fatalf("resume: resumed=%v skipped %d published %d of %d, outcome %s", res.Resumed, res.Skipped, res.Published, a.Plan.Len(), res.Outcome)
	}
	got := res.Session
	if len(got.Chunks) != 0 || got.Acked.String() != fmt.Sprintf("1-%d", a.Plan.Len()) || got.PublishedMovements != a.Movements {
		t.Fatalf("record after resume: chunks %v acked %q published movements %d of %d", got.Chunks, got.Acked, got.PublishedMovements, a.Movements)
	}
	requireExactlyOnce(t, r.messages(t), a)
}

func TestImportModifiedFile(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := filepath.Join(r.dir, "m.csv")
	statement{rows: 80, days: 40}.write(t, path)

	// A partial import of the first content.
	ctx, cancel := context.WithCancel(testCtx(t))
	first, err := r.im.Import(ctx, streams.Request{Path: path, Account: "acct1", Pause: func(_ context.Context, p string) {
		if p == "chunk:1" {
			cancel()
		}
	}})
	if !errors.Is(err, streams.ErrCancelled) {
		t.Fatalf("first: %v", err)
	}
	// The file changes; importing it fails the old session and starts a new one.
	statement{rows: 90, days: 40}.write(t, path)
	second, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Superseded != first.Analysis.SessionID || second.Analysis.SessionID == first.Analysis.SessionID || second.Outcome != streams.OutcomeSealed {
		t.Fatalf("second: superseded %q outcome %s", second.Superseded, second.Outcome)
	}
	old, _ := r.sessions.Get(testCtx(t), first.Analysis.SessionID)
	if old.Phase != store.PhaseFailed || old.Error != streams.ReasonFileModified || old.FailedAt.IsZero() {
		t.Fatalf("old session: %+v", old)
	}
	ms := r.messages(t)
	var failed *events.SessionFailed
	for _, m := range ms {
		if f, ok := m.event.(*events.SessionFailed); ok {
			failed = f
		}
	}
	if failed == nil || failed.Session != first.Analysis.SessionID || failed.Reason != streams.ReasonFileModified {
		t.Fatalf("session.failed: %+v", failed)
	}
	requireExactlyOnce(t, onlySession(ms, second.Analysis.SessionID), second.Analysis)

	// A sealed session is left alone when its file changes afterwards.
	statement{rows: 95, days: 40}.write(t, path)
	third, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	if third.Superseded != "" {
		t.Fatalf("sealed session superseded: %s", third.Superseded)
	}
	sec, _ := r.sessions.Get(testCtx(t), second.Analysis.SessionID)
	if sec.Phase != store.PhaseSealed {
		t.Fatalf("sealed session became %s", sec.Phase)
	}
}

func onlySession(ms []message, session string) []message {
	var out []message
	for _, m := range ms {
		if m.event.EventSession() == session {
			out = append(out, m)
		}
	}
	return out
}

func TestImportFileChangedDuringImport(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := filepath.Join(r.dir, "w.csv")
	statement{rows: 60, days: 30}.write(t, path)
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", Pause: func(_ context.Context, p string) {
		if p == "started" {
			statement{rows: 60, days: 30, salt: "changed"}.write(t, path)
		}
	}})
	if !errors.Is(err, streams.ErrFileModified) {
		t.Fatalf("got %v want ErrFileModified", err)
	}
	rec, _ := r.sessions.Get(testCtx(t), res.Analysis.SessionID)
	if rec.Phase != store.PhaseFailed || rec.Error != streams.ReasonFileModified {
		t.Fatalf("record: %s %q", rec.Phase, rec.Error)
	}
}

func TestImportInvalidRows(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 50, days: 20, bad: []int{7, 31}}.write(t, filepath.Join(r.dir, "bad.csv"))
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	var ire *streams.InvalidRowsError
	if !errors.As(err, &ire) || !errors.Is(err, streams.ErrInvalidRows) || !streams.Rejection(err) {
		t.Fatalf("got %v want InvalidRowsError", err)
	}
	if ire.Analysis.RowErrorCount != 2 || len(ire.Analysis.RowErrors) != 2 || ire.Analysis.RowErrors[0].Line == 0 {
		t.Fatalf("row errors %+v", ire.Analysis.RowErrors)
	}
	if ms := r.messages(t); len(ms) != 0 {
		t.Fatalf("refused file published %d messages", len(ms))
	}
	if _, err := r.sessions.Get(testCtx(t), res.Analysis.SessionID); !errors.Is(err, streams.ErrSessionNotFound) {
		t.Fatalf("refused file has a session record: %v", err)
	}

	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Rejected != 2 || len(res.Session.Rejects) != 2 || res.Session.Rejects[0].Reason == "" || res.Analysis.Movements != 48 {
		t.Fatalf("skip-invalid record: rejected %d %+v movements %d", res.Session.Rejected, res.Session.Rejects, res.Analysis.Movements)
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, res.Analysis)
	st := ms[0].event.(*events.SessionStarted)
	if len(st.Rejects) != 2 || st.Rejects[0].Line != res.Session.Rejects[0].Line {
		t.Fatalf("started rejects %+v", st.Rejects)
	}
}

func TestImportInvalidAccounts(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 5, days: 5}.write(t, filepath.Join(r.dir, "a.csv"))
	for _, acct := range []string{"", "a.b", "*", ">", "a b", "acct>", "a\x00b", strings.Repeat("a", 65)} {
		_, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: acct})
		if !errors.Is(err, events.ErrInvalidAccount) {
			t.Errorf("account %q: got %v want ErrInvalidAccount", acct, err)
		}
	}
	if ms := r.messages(t); len(ms) != 0 {
		t.Fatalf("%d messages published", len(ms))
	}
}

func TestImportSplitsUnderSmallMaxPayload(t *testing.T) {
	const maxPayload = 16 << 10
	r := newRig(t, natsembed.Config{MaxPayload: maxPayload})
	// 4 weeks of 150 rows of ~300 bytes: every week needs several parts.
	path := statement{rows: 600, days: 28, pad: 200}.write(t, filepath.Join(r.dir, "big.csv"))
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	weeks := map[string]bool{}
	parts := 0
	for _, c := range res.Analysis.Plan.Refs() {
		weeks[c.Week] = true
		if c.Part > 1 {
			parts++
		}
	}
	if parts == 0 || res.Analysis.Plan.Len() <= len(weeks) {
		t.Fatalf("no week was split: %d chunks over %d weeks", res.Analysis.Plan.Len(), len(weeks))
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, res.Analysis)
	for _, m := range ms {
		if m.size > maxPayload {
			t.Fatalf("%s is %d bytes > max payload %d", m.msgID, m.size, maxPayload)
		}
	}

	// A budget above the max payload (a misconfiguration) is refused before
	// anything too large is sent.
	path2 := statement{rows: 600, days: 28, pad: 200, salt: "2"}.write(t, filepath.Join(r.dir, "big2.csv"))
	_, err = r.im.Import(testCtx(t), streams.Request{Path: path2, Account: "acct2", ByteBudget: 4 * maxPayload})
	if !errors.Is(err, streams.ErrTooLarge) {
		t.Fatalf("oversized budget: got %v want ErrTooLarge", err)
	}
	for _, m := range r.messages(t) {
		if m.size > maxPayload {
			t.Fatalf("%s is %d bytes > max payload %d", m.msgID, m.size, maxPayload)
		}
	}
}

// TestImportBodiesAreTheChunks: the publisher encodes each chunk into the
// body of one acknowledged before it (the bodies are reused), so every
// message in the stream must still be byte for byte the chunk Build makes,
// encoded on its own: over many chunks of different sizes (a small budget,
// rows of varied length, weeks of varied size), with one in flight and with
// several.
func TestImportBodiesAreTheChunks(t *testing.T) {
	for _, flight := range []int{1, 3} {
		t.Run(fmt.Sprintf("in-flight-%d", flight), func(t *testing.T) {
			r := newRig(t, natsembed.Config{})
			var b strings.Builder
			b.WriteString(tastyHeader)
			start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
			const rows = 900
			for i := rows - 1; i >= 0; i-- {
				// Days of 1 to 12 rows, descriptions of 0 to 400 bytes.
				day := start.AddDate(0, 0, i*i/(rows*12)+i/7).Add(time.Duration(i) * time.Second)
				fmt.Fprintf(&b, "%s+0000,Money Movement,Deposit,,,,ACH %d %s,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n",
					day.Format("2006-01-02T15:04:05"), i, strings.Repeat("y", (i*37)%401), 100+i, 100+i)
			}
			path := filepath.Join(r.dir, "varied.csv")
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", ByteBudget: 4 << 10, MaxInFlight: flight})
			if err != nil {
				t.Fatal(err)
			}
			if res.Passes != 1 {
				t.Errorf("a statement in time order was read %d times in pass 2, want once", res.Passes)
			}
			if res.Analysis.Plan.Len() < 50 {
				t.Fatalf("only %d chunks: the test needs many", res.Analysis.Plan.Len())
			}
			if sizes := requireBodiesAreTheChunks(t, r, path, res.Analysis); sizes < 10 {
				t.Fatalf("only %d distinct chunk sizes: the test needs varied ones", sizes)
			}
		})
	}
}

// requireBodiesAreTheChunks checks that the stream holds every chunk of a
// exactly once, each byte for byte the chunk one Build of the file makes,
// encoded alone, and returns how many distinct body sizes there were.
func requireBodiesAreTheChunks(t *testing.T, r *rig, path string, a *chunker.Analysis) int {
	t.Helper()
	want := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sizes := map[int]bool{}
	err = chunker.Build(f, a, chunker.Config{}, nil, func(c *events.Chunk) error {
		body, err := events.Marshal(c)
		want[events.MsgID(c.Session, c.ID)] = body
		sizes[len(body)] = true
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.stream.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := r.stream.GetMsg(testCtx(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(events.HeaderMsgID)
		if m.Header.Get(events.HeaderType) != string(events.TypeChunk) || !strings.HasPrefix(id, a.SessionID+"/") {
			continue
		}
		w, ok := want[id]
		if !ok {
			t.Fatalf("seq %d: chunk %s is not one Build makes", seq, id)
		}
		if string(m.Data) != string(w) {
			t.Fatalf("seq %d: chunk %s's body differs from the chunk encoded alone (%d bytes, want %d)", seq, id, len(m.Data), len(w))
		}
		got[id]++
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("chunk %s is in the stream %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunk messages, want %d", len(got), len(want))
	}
	return len(sizes)
}

// TestImportInSectionsReadsInWindows: a statement whose second section
// falls in the same weeks as its first (as an Interactive Brokers
// statement's dividends after its trades) makes pass 2 hold every week's
// open chunk at once; above Request.OpenBytes the file is read once per
// window of weeks. Every chunk is published once and is the chunk one
// pass makes; an interrupted import resumes without reading again the
// windows already acknowledged.
func TestImportInSectionsReadsInWindows(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	var b strings.Builder
	b.WriteString(tastyHeader)
	start := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	const rows, days = 300, 120
	for _, kind := range []string{"Deposit", "Withdrawal"} {
		for i := rows - 1; i >= 0; i-- {
			day := start.AddDate(0, 0, i*days/rows).Add(time.Duration(i%3600) * time.Second)
			fmt.Fprintf(&b, "%s+0000,Money Movement,%s,,,,ACH %s %d %s,%d.00,0,,--,0.00,,,,,,,,%d.00,USD\n",
				day.Format("2006-01-02T15:04:05"), kind, kind, i, strings.Repeat("z", (i*13)%97), 100+i, 100+i)
		}
	}
	path := filepath.Join(r.dir, "sections.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const budget, open = 4 << 10, 16 << 10
	req := streams.Request{Path: path, Account: "acct1", ByteBudget: budget, OpenBytes: open}

	// Whole, on a server of its own: the number of windows.
	whole, err := newRig(t, natsembed.Config{}).im.Import(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	windows := whole.Passes
	if windows < 3 {
		t.Fatalf("read %d times: the test needs at least 3 windows", windows)
	}

	// Interrupted after half the chunks.
	a, err := chunker.Analyze(strings.NewReader(b.String()), chunker.Config{Account: "acct1", ByteBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	if a.PeakOpenBytes <= 2*open {
		t.Fatalf("fixture: one pass holds %d bytes, the test needs well over %d", a.PeakOpenBytes, open)
	}
	ctx, hook := cancelAt(t, "chunk:", a.Plan.Len()/2)
	req.Pause = hook
	res, err := r.im.Import(ctx, req)
	if !errors.Is(err, streams.ErrCancelled) {
		t.Fatalf("got %v want ErrCancelled", err)
	}
	first := res.Passes
	if first < 2 {
		t.Fatalf("the interrupted run read the file %d times; half the chunks need more than one window", first)
	}

	req.Pause = nil
	res, err = r.im.Import(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Skipped == 0 || res.Published+res.Skipped != a.Plan.Len() {
		t.Fatalf("resumed=%v skipped %d published %d of %d", res.Resumed, res.Skipped, res.Published, a.Plan.Len())
	}
	// The resumed run reads only the windows not wholly acknowledged: the
	// one interrupted is read by both runs.
	if first+res.Passes != windows+1 {
		t.Errorf("read %d times interrupted and %d resumed; %d windows", first, res.Passes, windows)
	}
	requireExactlyOnce(t, r.messages(t), res.Analysis)
	requireBodiesAreTheChunks(t, r, path, res.Analysis)

	// At the default the same file is read once.
	res, err = r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct2", ByteBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passes != 1 {
		t.Errorf("at the default OpenBytes the file was read %d times, want once", res.Passes)
	}
	requireBodiesAreTheChunks(t, r, path, res.Analysis)
}

// TestImportPlanLargerThanMaxPayload imports a file whose chunk plan alone,
// listed chunk by chunk as schema 1's session.started did, exceeds the
// server's max payload: such a file could not be imported at all (every
// statement of more than ~11,000 chunks under the default 1 MiB).
// session.started now carries the plan's size and fingerprint.
func TestImportPlanLargerThanMaxPayload(t *testing.T) {
	const maxPayload = 4 << 10
	r := newRig(t, natsembed.Config{MaxPayload: maxPayload})
	path := statement{rows: 400, days: 400}.write(t, filepath.Join(r.dir, "long.csv"))
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := json.Marshal(res.Analysis.Plan.Refs())
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) <= maxPayload {
		t.Fatalf("the plan lists in %d bytes, under the max payload %d: the test proves nothing", len(listed), maxPayload)
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, res.Analysis)
	st, ok := ms[0].event.(*events.SessionStarted)
	if !ok || st.Chunks != res.Analysis.Plan.Len() || st.Plan != res.Analysis.Plan.Fingerprint() {
		t.Fatalf("first message %+v", ms[0].event)
	}
	for _, m := range ms {
		if m.size > maxPayload {
			t.Fatalf("%s is %d bytes > max payload %d", m.msgID, m.size, maxPayload)
		}
	}
}

// TestImportStopsWhenStoreIsFull: a server whose JetStream storage is full
// answers "insufficient resources" with status 503, like an outage; an
// import used to retry it for DefaultOutageTimeout on every call (minutes).
// It now stops at once with ErrStorageFull, and what the session record
// says was acknowledged is in the stream.
func TestImportStopsWhenStoreIsFull(t *testing.T) {
	r := newRig(t, natsembed.Config{MaxStore: 2 << 20})
	path := statement{rows: 6000, days: 300, pad: 200}.write(t, filepath.Join(r.dir, "big.csv"))
	start := time.Now()
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	took := time.Since(start)
	importErr := err
	if !errors.Is(err, streams.ErrStorageFull) {
		t.Fatalf("import into a full store: %v, want ErrStorageFull", err)
	}
	if took > streams.DefaultOutageTimeout/2 {
		t.Errorf("the import took %s to give up: it retried a full store as an outage", took)
	}
	if strings.Count(err.Error(), "storage is full") != 1 {
		t.Errorf("the error repeats itself: %v", err)
	}
	rec, err := r.sessions.Get(testCtx(t), res.Analysis.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Resumable() {
		t.Errorf("session %s in phase %s is not resumable", rec.ID, rec.Phase)
	}
	inStream := map[string]bool{}
	for _, m := range r.messages(t) {
		inStream[m.msgID] = true
	}
	for i, c := range res.Analysis.Plan.All() {
		if rec.HasChunk(i+1) && !inStream[events.MsgID(rec.ID, c.ID)] {
			t.Errorf("the record lists chunk %s, which is not in the stream", c.ID)
		}
	}
	if len(inStream) < 2 || rec.ChunksDone() == res.Analysis.Plan.Len() {
		t.Fatalf("%d messages in the stream, %d of %d chunks recorded: the store was not full", len(inStream), rec.ChunksDone(), res.Analysis.Plan.Len())
	}
	// The file is not at fault: `ingest watch` keeps it and retries (a
	// rejection would move it to failed/).
	if streams.Rejection(importErr) {
		t.Errorf("a full store is a rejection of the file: %v", importErr)
	}
}

func TestImportProgressAndBatchedRecord(t *testing.T) {
	r := newRig(t, natsembed.Config{})
	path := statement{rows: 300, days: 150}.write(t, filepath.Join(r.dir, "p.csv"))
	var last streams.Progress
	calls := 0
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1", RecordEvery: 8, RecordInterval: time.Hour,
		Progress: func(p streams.Progress) {
			if p.ChunksDone < last.ChunksDone || p.MovementsDone < last.MovementsDone {
				t.Errorf("progress went back: %+v after %+v", p, last)
			}
			last = p
			calls++
		}})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Analysis.Plan.Len()
	if calls != n+1 || last.ChunksDone != n || last.ChunksTotal != n || last.MovementsDone != res.Analysis.Movements {
		t.Fatalf("progress: %d calls, last %+v, plan %d chunks %d movements", calls, last, n, res.Analysis.Movements)
	}
	// Session-record writes are batched: far fewer KV writes than chunks.
	kvs, err := r.js.Stream(testCtx(t), "KV_"+streams.SessionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := kvs.Info(testCtx(t))
	writes := int(info.State.LastSeq)
	if maxWrites := n/8 + 6; writes > maxWrites {
		t.Fatalf("%d KV writes for %d chunks, want at most %d", writes, n, maxWrites)
	}
}

func TestImportBudgetFollowsStreamMaxMsgSize(t *testing.T) {
	const maxMsg = 12 << 10
	r := newRig(t, natsembed.Config{})
	if _, err := streams.EnsureStream(testCtx(t), r.js, streams.Config{MaxMsgSize: maxMsg}); err != nil {
		t.Fatal(err)
	}
	path := statement{rows: 300, days: 14, pad: 100}.write(t, filepath.Join(r.dir, "s.csv"))
	res, err := r.im.Import(testCtx(t), streams.Request{Path: path, Account: "acct1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Analysis.ByteBudget > maxMsg {
		t.Fatalf("budget %d above the stream's max message size %d", res.Analysis.ByteBudget, maxMsg)
	}
	ms := r.messages(t)
	requireExactlyOnce(t, ms, res.Analysis)
	for _, m := range ms {
		if m.size > maxMsg {
			t.Fatalf("%s is %d bytes", m.msgID, m.size)
		}
	}
}
