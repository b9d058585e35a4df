package projector_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/store/storetest"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"
)

// testConfig is a projector configuration with short timings.
func testConfig() projector.Config {
	return projector.Config{
		BatchSize:   8,
		BatchAge:    20 * time.Millisecond,
		BackOff:     []time.Duration{2 * time.Second, 4 * time.Second},
		NakDelay:    50 * time.Millisecond,
		MaxNakDelay: 200 * time.Millisecond,
	}
}

// run starts a projector until the test ends (or stop is called) and
// fails the test if Run returns an error.
func run(t *testing.T, js jetstream.JetStream, st store.Store, cfg projector.Config) (p *projector.Projector, stop func()) {
	t.Helper()
	p, err := projector.New(js, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	proctest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !p.Ready() {
			return errors.New("projector not ready")
		}
		return nil
	})
	return p, stop
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// statement is one import session's events.
type statement struct {
	started *events.SessionStarted
	chunks  []*events.Chunk
	sealed  *events.SessionSealed
	all     []events.Movement
}

// newStatement builds a session of account from movements, one chunk per
// ISO week.
func newStatement(session, account string, ms []events.Movement) *statement {
	st := &statement{all: ms}
	byWeek := map[string][]events.Movement{}
	var weeks []string
	for _, m := range ms {
		w := m.Time.Day().ISOWeek()
		if _, ok := byWeek[w]; !ok {
			weeks = append(weeks, w)
		}
		byWeek[w] = append(byWeek[w], m)
	}
	slices.Sort(weeks)
	at := time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC)
	st.started = &events.SessionStarted{Session: session, Account: account, Broker: events.BrokerTastytrade,
		File: session + ".csv", SHA256: "ab" + session, Movements: len(ms), StartedAt: at}
	for i, w := range weeks {
		c := &events.Chunk{Session: session, Account: account, ID: w + ".1", Ordinal: i + 1, Total: len(weeks),
			Week: w, Part: 1, Movements: byWeek[w]}
		st.chunks = append(st.chunks, c)
	}
	st.started.Chunks = len(weeks)
	st.sealed = &events.SessionSealed{Session: session, Account: account, Chunks: len(weeks), Movements: len(ms), SealedAt: at.Add(time.Second)}
	return st
}

// history returns n days of activity for account: a deposit, then stock and
// option trades, and a dividend.
func history(account, prefix string, start events.Date, days int) []events.Movement {
	var ms []events.Movement
	id := func(i int, kind events.Kind) string { return fmt.Sprintf("%s%030d:%s:0", prefix, i, kind) }
	for i := range days {
		d := start.AddDays(i * 3)
		t := events.WallTimeOf(d.Time().Add(10 * time.Hour))
		switch i % 4 {
		case 0:
			ms = append(ms, events.Movement{ID: id(i, events.KindCash), Account: account, Broker: events.BrokerTastytrade,
				Kind: events.KindCash, Time: t, Currency: "USD", CashType: events.CashDeposit, Amount: dec("1000.50")})
		case 1:
			ms = append(ms, events.Movement{ID: id(i, events.KindStock), Account: account, Broker: events.BrokerTastytrade,
				Kind: events.KindStock, Time: t, Currency: "USD", Ticker: "PFE", Code: events.BuyToOpen,
				Quantity: dec("10"), Price: dec("25.13"), Commissions: dec("1"), Fees: dec("0.12")})
		case 2:
			ms = append(ms, events.Movement{ID: id(i, events.KindOption), Account: account, Broker: events.BrokerTastytrade,
				Kind: events.KindOption, Time: t, Part: 1, Currency: "USD", Ticker: "PFE", Code: events.SellToOpen,
				Quantity: dec("1"), OptionType: events.Call, Strike: dec("30"), Expiration: d.AddDays(30),
				Premium: dec("45"), NetPremium: dec("43.86"), Multiplier: dec("100"), Commissions: dec("1"), Fees: dec("0.14")})
		case 3:
			ms = append(ms, events.Movement{ID: id(i, events.KindDividend), Account: account, Broker: events.BrokerTastytrade,
				Kind: events.KindDividend, Time: t, Currency: "USD", Ticker: "PFE", Amount: dec("4.30")})
		}
	}
	return ms
}

func publish(t *testing.T, js jetstream.JetStream, es ...events.Event) {
	t.Helper()
	for _, e := range es {
		id, err := streams.MsgIDOf(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(t.Context(), js, "", e, id); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *statement) events() []events.Event {
	es := []events.Event{s.started}
	for _, c := range s.chunks {
		es = append(es, c)
	}
	return append(es, s.sealed)
}

func ensureStream(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	if _, err := streams.EnsureStream(t.Context(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
}

func waitCompleted(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, id := range ids {
			s, err := st.Session(t.Context(), id)
			if err != nil {
				return err
			}
			if s.Phase != store.PhaseCompleted {
				return fmt.Errorf("session %s is %s", id, s.Phase)
			}
		}
		return nil
	})
}

// requireProjections checks the stored projections against Compute over
// want.
func requireProjections(t *testing.T, st store.Store, account string, want []events.Movement) {
	t.Helper()
	got, err := st.Projections(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	exp := projections.Compute(account, want)
	if err := equalResults(got, exp); err != nil {
		t.Fatalf("projections of %s: %v", account, err)
	}
	ms, err := store.AccountMovements(t.Context(), st, account)
	if err != nil {
		t.Fatal(err)
	}
	unique := map[string]bool{}
	for _, m := range want {
		unique[m.ID] = true
	}
	if len(ms) != len(unique) {
		t.Fatalf("%s: %d movements stored, want %d", account, len(ms), len(unique))
	}
}

// equalResults compares two results through their JSON contract, which is
// exact (every digit) and a function of the values only.
func equalResults(got, want *projections.Result) error {
	var g, w bytesBuffer
	if err := projections.WriteJSON(&g, got, nil); err != nil {
		return err
	}
	if err := projections.WriteJSON(&w, want, nil); err != nil {
		return err
	}
	if g.String() != w.String() {
		return fmt.Errorf("results differ:\n got %s\nwant %s", g.String(), w.String())
	}
	if len(want.Broker) == 0 {
		return errors.New("test bug: empty expected result")
	}
	return nil
}

type bytesBuffer struct{ b []byte }

func (b *bytesBuffer) Write(p []byte) (int, error) { b.b = append(b.b, p...); return len(p), nil }
func (b *bytesBuffer) String() string              { return string(b.b) }

func TestSessionProjected(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := storetest.NewMemory()
	kv, err := streams.EnsureSessions(t.Context(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	s := newStatement("sessa", "acct", history("acct", "a", events.NewDate(2025, 8, 4), 12))
	if err := kv.Create(t.Context(), &streams.SessionRecord{ID: "sessa", Account: "acct", Phase: store.PhaseSealed}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Sessions = kv
	run(t, env.JS, st, cfg)
	publish(t, env.JS, s.events()...)
	waitCompleted(t, st, "sessa")
	requireProjections(t, st, "acct", s.all)
	got, err := st.Session(t.Context(), "sessa")
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalChunks != len(s.chunks) || got.File != "sessa.csv" || got.Movements != len(s.all) || got.CompletedAt.IsZero() {
		t.Errorf("session record %+v", got)
	}
	if n, _ := st.StoredChunks(t.Context(), "sessa"); n != len(s.chunks) {
		t.Errorf("StoredChunks = %d, want %d", n, len(s.chunks))
	}
	proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		r, err := kv.Get(t.Context(), "sessa")
		if err != nil {
			return err
		}
		if r.Phase != store.PhaseCompleted {
			return fmt.Errorf("session record phase %s, want completed", r.Phase)
		}
		return nil
	})
	requireAllAcked(t, env.JS, projector.DefaultDurable)
}

// requireAllAcked waits until the durable consumer has nothing pending.
func requireAllAcked(t *testing.T, js jetstream.JetStream, durable string) {
	t.Helper()
	proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		c, err := js.Consumer(t.Context(), events.StreamName, durable)
		if err != nil {
			return err
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.NumPending != 0 {
			return fmt.Errorf("consumer %s: %d ack pending, %d pending", durable, info.NumAckPending, info.NumPending)
		}
		return nil
	})
}

// Redelivered and duplicated messages (the same chunk published again under
// another message ID, as a replay or a resumed import past the duplicate
// window would) change nothing.
func TestDuplicatesChangeNothing(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := storetest.NewMemory()
	s := newStatement("dup", "acct", history("acct", "d", events.NewDate(2025, 1, 6), 10))
	run(t, env.JS, st, testConfig())
	publish(t, env.JS, s.events()...)
	waitCompleted(t, st, "dup")
	before, err := st.Projections(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		for _, e := range s.events() {
			id, _ := streams.MsgIDOf(e)
			if _, err := streams.Publish(t.Context(), env.JS, "", e, fmt.Sprintf("%s#%d", id, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	requireAllAcked(t, env.JS, projector.DefaultDurable)
	requireProjections(t, st, "acct", s.all)
	after, err := st.Projections(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	if err := equalResults(after, before); err != nil {
		t.Fatal(err)
	}
}

// A sealed event that arrives before some of its chunks (a chunk naked and
// redelivered later) keeps the session pending until the last chunk is
// stored.
func TestSealedBeforeChunks(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := storetest.NewMemory()
	s := newStatement("ooo", "acct", history("acct", "o", events.NewDate(2025, 3, 3), 9))
	if len(s.chunks) < 3 {
		t.Fatalf("test needs 3 chunks, has %d", len(s.chunks))
	}
	run(t, env.JS, st, testConfig())
	publish(t, env.JS, s.started, s.chunks[0], s.sealed)
	proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		got, err := st.Session(t.Context(), "ooo")
		if err != nil {
			return err
		}
		if got.Phase != store.PhaseSealed {
			return fmt.Errorf("phase %s, want sealed while chunks are missing", got.Phase)
		}
		return nil
	})
	r, err := st.Projections(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Broker) != 0 {
		t.Fatalf("projections computed with chunks missing: %d broker rows", len(r.Broker))
	}
	for _, c := range s.chunks[1:] {
		publish(t, env.JS, c)
	}
	waitCompleted(t, st, "ooo")
	requireProjections(t, st, "acct", s.all)
}

// Two statements of one account that overlap form one history; both
// sessions complete.
func TestOverlappingStatements(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := storetest.NewMemory()
	all := history("acct", "v", events.NewDate(2025, 2, 3), 16)
	a := newStatement("ova", "acct", all[:10])
	b := newStatement("ovb", "acct", all[6:])
	run(t, env.JS, st, testConfig())
	publish(t, env.JS, a.events()...)
	publish(t, env.JS, b.events()...)
	waitCompleted(t, st, "ova", "ovb")
	requireProjections(t, st, "acct", all)
}

// countingStore counts WriteProjections per account.
type countingStore struct {
	store.Store
	mu       sync.Mutex
	replaces map[string]int
}

func (c *countingStore) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	c.mu.Lock()
	c.replaces[account]++
	c.mu.Unlock()
	return c.Store.WriteProjections(ctx, account, emit, completed, at)
}

func (c *countingStore) count(account string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replaces[account]
}

// sessionsOf makes n statements of account, the i-th a history of days
// days from start + i*step days, in session "<prefix><i>": their events in
// order, their session IDs and all their movements.
func sessionsOf(account, prefix string, n int, start events.Date, step, days int) (es []events.Event, ids []string, all []events.Movement) {
	for i := range n {
		ms := history(account, fmt.Sprintf("%s%d", prefix, i), start.AddDays(step*i), days)
		s := newStatement(fmt.Sprintf("%s%d", prefix, i), account, ms)
		es = append(es, s.events()...)
		ids = append(ids, s.started.Session)
		all = append(all, ms...)
	}
	return es, ids, all
}

// Several sessions of one account sealed in one batch cost one phase 2.
func TestPhase2Coalesced(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	st := &countingStore{Store: storetest.NewMemory(), replaces: map[string]int{}}
	es, ids, all := sessionsOf("acct", "co", 3, events.NewDate(2025, 4, 7), 1, 2)
	// Everything is in the stream before the projector starts, and one
	// batch holds it all.
	publish(t, env.JS, es...)
	cfg := testConfig()
	cfg.BatchSize = len(es)
	cfg.BatchAge = time.Second
	cfg.BackOff = []time.Duration{5 * time.Second}
	run(t, env.JS, st, cfg)
	waitCompleted(t, st, ids...)
	requireProjections(t, st, "acct", all)
	if n := st.count("acct"); n != 1 {
		t.Errorf("phase 2 ran %d times for one batch of 3 sessions, want 1", n)
	}
}

// A backlog of imports into one account costs one phase 2, however many
// batches it spans: while the consumer is behind the stream, sealed sessions
// wait for it to catch up (each computation reads the whole history, so one
// per import would be quadratic in a folder of statements). Phase2MaxDelay
// bounds the wait, and a negative one computes after every write that
// completes a session, as before.
func TestPhase2WaitsForBacklog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxDelay time.Duration
		slow     time.Duration // each write takes this long at least
		want     func(n int) bool
		wantText string
	}{
		{name: "default", want: func(n int) bool { return n == 1 }, wantText: "1"},
		{name: "never waits", maxDelay: -1, want: func(n int) bool { return n == 5 }, wantText: "5, one per session"},
		{name: "bounded wait", maxDelay: time.Millisecond, slow: 5 * time.Millisecond,
			want: func(n int) bool { return n >= 2 }, wantText: "at least 2: the wait ends before the backlog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := natstest.Run(t, natsembed.Config{})
			ensureStream(t, env.JS)
			st := &countingStore{Store: storetest.NewMemory(), replaces: map[string]int{}}
			es, ids, all := sessionsOf("acct", "bk", 5, events.NewDate(2025, 1, 6), 7, 3)
			publish(t, env.JS, es...)
			cfg := testConfig()
			cfg.BatchSize = 3 // a session (started, chunk, sealed) a batch: five batches
			cfg.Phase2MaxDelay = tc.maxDelay
			if tc.slow > 0 {
				cfg.Pause = func(_ context.Context, point string) {
					if point == projector.PointWritten {
						time.Sleep(tc.slow)
					}
				}
			}
			run(t, env.JS, st, cfg)
			waitCompleted(t, st, ids...)
			requireProjections(t, st, "acct", all)
			if n := st.count("acct"); !tc.want(n) {
				t.Errorf("phase 2 ran %d times for a backlog of 5 sessions in %d messages, want %s", n, len(es), tc.wantText)
			}
			requireAllAcked(t, env.JS, projector.DefaultDurable)
		})
	}
}

// Batches of two messages keep flowing: with a read-ahead as small as the
// batch, the pull iterator sometimes stopped pulling with messages pending
// (3 of 450 runs under -race); the read-ahead is at least 16 now.
func TestSmallBatchesKeepFlowing(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	mem := storetest.NewMemory()
	es, ids, all := sessionsOf("acct", "sb", 5, events.NewDate(2025, 1, 6), 7, 3)
	publish(t, env.JS, es...)
	cfg := testConfig()
	cfg.BatchSize = 2
	run(t, env.JS, mem, cfg)
	waitCompleted(t, mem, ids...)
	requireProjections(t, mem, "acct", all)
	requireAllAcked(t, env.JS, projector.DefaultDurable)
}

func TestPoisonDeadLettered(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	st := storetest.NewMemory()
	good := newStatement("good", "acct", history("acct", "g", events.NewDate(2025, 5, 5), 5))
	data, err := events.Marshal(good.chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	otherAccount := *good.chunks[0]
	otherAccount.Movements = slices.Clone(otherAccount.Movements)
	otherAccount.Movements[0].Account = "someone-else"
	otherData, err := events.Marshal(&otherAccount)
	if err != nil {
		t.Fatal(err)
	}
	poison := []struct {
		name, subject, typ, schema string
		data                       []byte
		reason                     error
	}{
		{"not json", events.ChunkSubject("acct"), "chunk", events.SchemaHeader, []byte("{not json"), events.ErrMalformed},
		{"future schema", events.ChunkSubject("acct"), "chunk", "99", data, events.ErrUnsupportedSchema},
		{"unknown type", events.ChunkSubject("acct"), "chunk.v9", events.SchemaHeader, data, events.ErrUnknownType},
		{"wrong subject", events.ChunkSubject("other"), "chunk", events.SchemaHeader, data, projector.ErrInvalid},
		{"foreign movement", events.ChunkSubject("acct"), "chunk", events.SchemaHeader, otherData, projector.ErrInvalid},
	}
	for i, p := range poison {
		m := nats.NewMsg(p.subject)
		m.Header.Set(events.HeaderType, p.typ)
		m.Header.Set(events.HeaderSchema, p.schema)
		m.Data = p.data
		if _, err := env.JS.PublishMsg(t.Context(), m, jetstream.WithMsgID(fmt.Sprintf("poison-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	run(t, env.JS, st, testConfig())
	publish(t, env.JS, good.events()...)
	waitCompleted(t, st, "good")
	requireProjections(t, st, "acct", good.all)
	requireAllAcked(t, env.JS, projector.DefaultDurable)

	dlq, err := env.JS.OrderedConsumer(t.Context(), streams.DeadLetterStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := dlq.Fetch(len(poison)+1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != len(poison) {
		t.Fatalf("%d dead letters, want %d", len(got), len(poison))
	}
	for i, m := range got {
		p := poison[i]
		if m.Subject() != events.SubjectDeadLetter || string(m.Data()) != string(p.data) {
			t.Errorf("%s: dead letter on %s with %d bytes", p.name, m.Subject(), len(m.Data()))
		}
		h := m.Headers()
		if h.Get(events.HeaderDeadLetterReason) == "" || h.Get(projector.HeaderDeadLetterSubject) != p.subject ||
			h.Get(projector.HeaderDeadLetterSequence) != fmt.Sprint(i+1) {
			t.Errorf("%s: headers %v", p.name, h)
		}
		t.Logf("%s: %s", p.name, h.Get(events.HeaderDeadLetterReason))
	}
}

// The store fails for a while: nothing is acked, nothing is lost; when it
// comes back the projector catches up by itself.
func TestStoreOutage(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	mem := storetest.NewMemory()
	outage := errors.New("disk unplugged")
	mem.Fail(outage)
	s := newStatement("out", "acct", history("acct", "u", events.NewDate(2025, 6, 2), 10))
	run(t, env.JS, mem, testConfig())
	publish(t, env.JS, s.events()...)
	// The projector retries: the messages are delivered more than once and
	// stay unacked.
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		c, err := env.JS.Consumer(t.Context(), events.StreamName, projector.DefaultDurable)
		if err != nil {
			return err
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumRedelivered == 0 || info.AckFloor.Stream != 0 {
			return fmt.Errorf("redelivered %d, ack floor %d", info.NumRedelivered, info.AckFloor.Stream)
		}
		return nil
	})
	if mem.Writes() != 0 {
		t.Fatalf("%d writes during the outage", mem.Writes())
	}
	mem.Fail(nil)
	waitCompleted(t, mem, "out")
	requireProjections(t, mem, "acct", s.all)
	requireAllAcked(t, env.JS, projector.DefaultDurable)
}

// A session a crash left sealed (written and acked, phase 2 not run) is
// projected when the projector starts, with no new message.
func TestStartupRecoversSealed(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	mem := storetest.NewMemory()
	s := newStatement("rec", "acct", history("acct", "r", events.NewDate(2025, 7, 7), 6))
	b := &store.Batch{Chunks: s.chunks, At: time.Now()}
	b.Sessions = []store.Session{projector.MergeSession(projector.MergeSession(store.Session{}, s.started), s.sealed)}
	if err := mem.WriteBatch(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	run(t, env.JS, mem, testConfig())
	waitCompleted(t, mem, "rec")
	requireProjections(t, mem, "acct", s.all)
}

// Sealed sessions found at start-up wait for the backlog like the others:
// a restart in the middle of a folder of statements computes the account
// once, after the backlog, not once at start-up and once after.
func TestStartupSealedWaitsForBacklog(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	st := &countingStore{Store: storetest.NewMemory(), replaces: map[string]int{}}
	s := newStatement("rec", "acct", history("acct", "r", events.NewDate(2025, 7, 7), 6))
	b := &store.Batch{Chunks: s.chunks, At: time.Now()}
	b.Sessions = []store.Session{projector.MergeSession(projector.MergeSession(store.Session{}, s.started), s.sealed)}
	if err := st.WriteBatch(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	es, ids, all := sessionsOf("acct", "bl", 3, events.NewDate(2025, 8, 4), 7, 3)
	publish(t, env.JS, es...)
	cfg := testConfig()
	cfg.BatchSize = 3
	run(t, env.JS, st, cfg)
	waitCompleted(t, st, append(ids, "rec")...)
	requireProjections(t, st, "acct", append(s.all, all...))
	if n := st.count("acct"); n != 1 {
		t.Errorf("phase 2 ran %d times for a sealed session and a backlog of 3, want 1", n)
	}
}

// Shutdown writes and acks what was buffered. The whole statement is in the
// stream before the projector starts, so that the batch is not written
// before its last message (a consumer that has caught up writes at once),
// and the last message is held at PointBuffered until the shutdown.
func TestShutdownFlushes(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	mem := storetest.NewMemory()
	s := newStatement("sd", "acct", history("acct", "s", events.NewDate(2025, 9, 1), 6))
	cfg := testConfig()
	cfg.BatchSize = 100
	cfg.BatchAge = time.Minute
	cfg.BackOff = []time.Duration{5 * time.Minute}
	n := len(s.events())
	last := make(chan struct{})
	buffered := 0
	cfg.Pause = func(ctx context.Context, point string) {
		if point != projector.PointBuffered {
			return
		}
		if buffered++; buffered == n {
			close(last)
			<-ctx.Done()
		}
	}
	publish(t, env.JS, s.events()...)
	_, stop := run(t, env.JS, mem, cfg)
	select {
	case <-last:
	case <-time.After(5 * time.Second):
		t.Fatal("messages not buffered")
	}
	if mem.Writes() != 0 {
		t.Fatalf("%d writes before the batch is full, old or caught up", mem.Writes())
	}
	stop()
	if n, _ := mem.StoredChunks(t.Context(), "sd"); n != len(s.chunks) {
		t.Fatalf("after shutdown %d chunks stored, want %d", n, len(s.chunks))
	}
	requireAllAcked(t, env.JS, projector.DefaultDurable)
}

// A consumer that has caught up with the stream writes its batch once the
// stream was idle for BatchIdle (20 ms), not after the batch age (an hour
// here): a statement published while the projector runs completes in
// seconds. And under a backlog the batches still fill: a statement already
// in the stream is written in batches of BatchSize messages.
func TestCaughtUpFlushes(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	mem := storetest.NewMemory()
	backlog := newStatement("bl", "acct", history("acct", "b", events.NewDate(2025, 3, 3), 30))
	publish(t, env.JS, backlog.events()...)
	cfg := testConfig()
	cfg.BatchSize = 8
	cfg.BatchAge = time.Hour
	cfg.BackOff = []time.Duration{3 * time.Hour}
	run(t, env.JS, mem, cfg)
	waitCompleted(t, mem, "bl")
	// Writes counts the batches and phase 2's projection write.
	if n, want := mem.Writes(), (len(backlog.events())+cfg.BatchSize-1)/cfg.BatchSize+1; n != want {
		t.Errorf("a backlog of %d messages took %d writes, want %d (batches of %d, then phase 2)",
			len(backlog.events()), n, want, cfg.BatchSize)
	}
	later := newStatement("lt", "acct", history("acct", "l", events.NewDate(2025, 6, 2), 3))
	publish(t, env.JS, later.events()...)
	waitCompleted(t, mem, "lt")
	requireProjections(t, mem, "acct", append(backlog.all, later.all...))
	requireAllAcked(t, env.JS, projector.DefaultDurable)
}

// Replay into a fresh store gives the same tables as the incremental run.
func TestReplayEqualsIncremental(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	live := openSQLite(t, filepath.Join(t.TempDir(), "live.db"))
	var ids []string
	var es []events.Event
	for i, account := range []string{"alice", "bob", "alice"} {
		s := newStatement(fmt.Sprintf("rp%d", i), account, history(account, fmt.Sprintf("p%d", i), events.NewDate(2024, 12, 2).AddDays(5*i), 11))
		es = append(es, s.events()...)
		ids = append(ids, s.started.Session)
	}
	// A poison message in the middle: skipped by the replay too.
	m := nats.NewMsg(events.ChunkSubject("alice"))
	m.Header.Set(events.HeaderType, "chunk")
	m.Header.Set(events.HeaderSchema, "7")
	run(t, env.JS, live, testConfig())
	publish(t, env.JS, es[:5]...)
	if _, err := env.JS.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	publish(t, env.JS, es[5:]...)
	waitCompleted(t, live, ids...)

	fresh := openSQLite(t, filepath.Join(t.TempDir(), "replay.db"))
	stats, err := projector.Replay(t.Context(), env.JS, fresh, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != len(es)+1 || stats.Poison != 1 || stats.Pending != 0 {
		t.Errorf("replay stats %+v, want %d messages, 1 poison, 0 pending", stats, len(es)+1)
	}
	requireSameStores(t, live, fresh)
}

// Replay of an account reads only its subjects.
func TestReplayAccount(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	ensureStream(t, env.JS)
	a := newStatement("ra", "alice", history("alice", "a", events.NewDate(2025, 1, 6), 5))
	b := newStatement("rb", "bob", history("bob", "b", events.NewDate(2025, 1, 6), 5))
	publish(t, env.JS, a.events()...)
	publish(t, env.JS, b.events()...)
	fresh := storetest.NewMemory()
	cfg := testConfig()
	cfg.FilterSubjects = []string{events.ChunkSubject("bob"), events.SessionSubject("bob")}
	stats, err := projector.Replay(t.Context(), env.JS, fresh, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != len(b.events()) {
		t.Errorf("replay read %d messages, want %d", stats.Messages, len(b.events()))
	}
	accounts, _ := fresh.Accounts(t.Context())
	if !slices.Equal(accounts, []string{"bob"}) {
		t.Errorf("accounts %v, want [bob]", accounts)
	}
	waitCompleted(t, fresh, "rb")
	requireProjections(t, fresh, "bob", b.all)
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// requireSameStores compares every account's movements, sessions (without
// the completion instant, which is the clock of the run) and projections.
func requireSameStores(t *testing.T, a, b store.Store) {
	t.Helper()
	ctx := t.Context()
	accA, err := a.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accB, err := b.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(accA, accB) || len(accA) == 0 {
		t.Fatalf("accounts %v and %v", accA, accB)
	}
	for _, account := range accA {
		ma, _ := store.AccountMovements(ctx, a, account)
		mb, _ := store.AccountMovements(ctx, b, account)
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d and %d movements", account, len(ma), len(mb))
		}
		for i := range ma {
			if !ma[i].Equal(&mb[i]) {
				t.Fatalf("%s movement %d: %+v and %+v", account, i, ma[i], mb[i])
			}
		}
		pa, _ := a.Projections(ctx, account)
		pb, _ := b.Projections(ctx, account)
		if err := equalResults(pa, pb); err != nil {
			t.Fatalf("%s: %v", account, err)
		}
		sa, _ := a.Sessions(ctx, account)
		sb, _ := b.Sessions(ctx, account)
		if len(sa) != len(sb) {
			t.Fatalf("%s: %d and %d sessions", account, len(sa), len(sb))
		}
		for i := range sa {
			x, y := sa[i], sb[i]
			if x.CompletedAt.IsZero() != y.CompletedAt.IsZero() {
				t.Errorf("session %s completed in one store only", x.ID)
			}
			x.CompletedAt, y.CompletedAt = time.Time{}, time.Time{}
			if !x.StartedAt.Equal(y.StartedAt) || !x.SealedAt.Equal(y.SealedAt) {
				t.Errorf("session %s times differ: %+v and %+v", x.ID, x, y)
			}
			x.StartedAt, y.StartedAt, x.SealedAt, y.SealedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if x != y {
				t.Errorf("session %s: %+v and %+v", x.ID, x, y)
			}
		}
	}
}

// flakyProjections fails WriteProjections until allowed.
type flakyProjections struct {
	store.Store
	mu      sync.Mutex
	allowed bool
	failed  int
}

func (f *flakyProjections) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	f.mu.Lock()
	if !f.allowed {
		f.failed++
		f.mu.Unlock()
		return errors.New("projections table locked")
	}
	f.mu.Unlock()
	return f.Store.WriteProjections(ctx, account, emit, completed, at)
}

func (f *flakyProjections) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// Phase 2 failing is retried on a timer: the session completes once the
// store accepts the projections, with no new message.
func TestPhase2Retried(t *testing.T) {
	env := natstest.Run(t, natsembed.Config{})
	st := &flakyProjections{Store: storetest.NewMemory()}
	s := newStatement("p2", "acct", history("acct", "f", events.NewDate(2025, 5, 5), 6))
	run(t, env.JS, st, testConfig())
	publish(t, env.JS, s.events()...)
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := st.failures(); n < 2 {
			return fmt.Errorf("%d phase 2 attempts", n)
		}
		return nil
	})
	requireAllAcked(t, env.JS, projector.DefaultDurable)
	got, err := st.Session(t.Context(), "p2")
	if err != nil || got.Phase != store.PhaseSealed {
		t.Fatalf("session %+v, %v; want sealed while phase 2 fails", got, err)
	}
	st.mu.Lock()
	st.allowed = true
	st.mu.Unlock()
	waitCompleted(t, st, "p2")
	requireProjections(t, st, "acct", s.all)
}

func TestMergeSession(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	started := &events.SessionStarted{Session: "s", Account: "a", Broker: "tastytrade", File: "f.csv", SHA256: "ff",
		Movements: 9, Chunks: 3, Rejects: make([]events.RowReject, 2), StartedAt: at}
	sealed := &events.SessionSealed{Session: "s", Account: "a", Chunks: 4, Movements: 10, SealedAt: at.Add(time.Minute)}
	failed := &events.SessionFailed{Session: "s", Account: "a", Reason: "file modified"}
	cancelled := &events.SessionCancelled{Session: "s", Account: "a", Reason: "interrupted"}
	completed := store.Session{ID: "s", Account: "a", Phase: store.PhaseCompleted, TotalChunks: 4, Movements: 10,
		StartedAt: at, SealedAt: at.Add(time.Minute), CompletedAt: at.Add(time.Hour)}
	tests := []struct {
		name   string
		base   store.Session
		events []events.Event
		phase  string
		chunks int
		errMsg string
	}{
		{"started", store.Session{}, []events.Event{started}, store.PhasePublishing, 3, ""},
		{"started sealed", store.Session{}, []events.Event{started, sealed}, store.PhaseSealed, 4, ""},
		{"sealed then late started", store.Session{}, []events.Event{sealed, started}, store.PhaseSealed, 4, ""},
		{"sealed twice", store.Session{}, []events.Event{started, sealed, sealed}, store.PhaseSealed, 4, ""},
		{"cancelled then resumed and sealed", store.Session{}, []events.Event{started, cancelled, sealed}, store.PhaseSealed, 4, ""},
		{"cancelled", store.Session{}, []events.Event{started, cancelled}, store.PhaseCancelled, 3, "interrupted"},
		{"started after cancel stays cancelled", store.Session{}, []events.Event{started, cancelled, started}, store.PhaseCancelled, 3, "interrupted"},
		{"failed", store.Session{}, []events.Event{started, failed}, store.PhaseFailed, 3, "file modified"},
		{"cancel after failure", store.Session{}, []events.Event{started, failed, cancelled}, store.PhaseFailed, 3, "file modified"},
		{"redelivered after completion", completed, []events.Event{started, sealed, cancelled}, store.PhaseCompleted, 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.base
			for _, e := range tt.events {
				s = projector.MergeSession(s, e)
			}
			if s.Phase != tt.phase || s.TotalChunks != tt.chunks || s.Error != tt.errMsg {
				t.Errorf("got phase %s, %d chunks, error %q; want %s, %d, %q", s.Phase, s.TotalChunks, s.Error, tt.phase, tt.chunks, tt.errMsg)
			}
			if s.ID != "s" || s.Account != "a" {
				t.Errorf("got id %q account %q", s.ID, s.Account)
			}
			if tt.base.Phase == "" && (s.File != "f.csv" || s.Rejected != 2 || !s.StartedAt.Equal(at)) {
				t.Errorf("started fields not kept: %+v", s)
			}
		})
	}
}
