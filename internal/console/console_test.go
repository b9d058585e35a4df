package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/console"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/store/storetest"
	"github.com/foliostream/foliostream/internal/streams"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sharedTestdata is the shared test data, relative to this package.
const sharedTestdata = "../../../shared/testdata"

// now is the console's clock in these tests.
var now = time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC)

// hostileFile is a file name a statement could have: markup, quotes, an
// ampersand.
const hostileFile = `<img src=x onerror="alert(1)">&'x'.csv`

// fakeSessions is a LiveSessions over fixed records.
type fakeSessions struct {
	recs []*streams.SessionRecord
	err  error
}

func (f *fakeSessions) List(ctx context.Context) ([]*streams.SessionRecord, error) {
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.recs), nil
}

func (f *fakeSessions) Get(ctx context.Context, id string) (*streams.SessionRecord, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, r := range f.recs {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", streams.ErrSessionNotFound, id)
}

// parse reads a shared statement for account.
func parse(t *testing.T, rel, account string) []events.Movement {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedTestdata, rel))
	if err != nil {
		t.Fatal(err)
	}
	broker, err := parsers.Detect(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsers.ForBroker(broker)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parsers.Parse(p, bytes.NewReader(b), parsers.Options{Account: account})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RowErrors) > 0 {
		t.Fatalf("%s: %d row errors", rel, len(res.RowErrors))
	}
	return res.Movements
}

func chunkOf(session, account, id string, ordinal, total int, ms []events.Movement) *events.Chunk {
	return &events.Chunk{Session: session, Account: account, ID: id, Ordinal: ordinal, Total: total, Week: id[:8], Part: 1, Movements: ms}
}

// fixture is what the tests put in a store and in the session records:
// two accounts (alpha: two Tastytrade statements; beta: a multi-currency
// IBKR statement) and sessions in every phase.
type fixture struct {
	batch   *store.Batch
	results []*projections.Result
	records []*streams.SessionRecord
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pfizer := parse(t, "tastytrade/PfizerImportTest.csv", "alpha")
	options := parse(t, "tastytrade/TastytradeOptionsTest.csv", "alpha")
	multi := parse(t, "ibkr/ibkr_multi_currency_sample.csv", "beta")
	t0 := now.Add(-2 * time.Hour)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	f := &fixture{}
	f.batch = &store.Batch{
		At: at(0),
		Chunks: []*events.Chunk{
			chunkOf("a1000000000000a1", "alpha", "2024-W01.1", 1, 1, pfizer),
			chunkOf("a2000000000000a2", "alpha", "2024-W02.1", 1, 1, options),
			chunkOf("b1000000000000b1", "beta", "2024-W03.1", 1, 1, multi),
			// Two of the ten chunks of the import in progress are stored.
			chunkOf("a3000000000000a3", "alpha", "2024-W04.1", 1, 10, nil),
			chunkOf("a3000000000000a3", "alpha", "2024-W05.1", 2, 10, nil),
		},
		Sessions: []store.Session{
			{ID: "a1000000000000a1", Account: "alpha", Broker: events.BrokerTastytrade, File: "PfizerImportTest.csv",
				SHA256: "aa11", Phase: store.PhaseCompleted, TotalChunks: 1, Movements: len(pfizer),
				StartedAt: at(0), SealedAt: at(2 * time.Second), CompletedAt: at(3 * time.Second)},
			{ID: "a2000000000000a2", Account: "alpha", Broker: events.BrokerTastytrade, File: "TastytradeOptionsTest.csv",
				SHA256: "aa22", Phase: store.PhaseCompleted, TotalChunks: 1, Movements: len(options),
				StartedAt: at(time.Minute), SealedAt: at(time.Minute + time.Second), CompletedAt: at(time.Minute + 2*time.Second)},
			// Only in the store: its record is gone (e.g. the bucket was
			// recreated).
			{ID: "b1000000000000b1", Account: "beta", Broker: events.BrokerIBKR, File: "ibkr_multi_currency_sample.csv",
				SHA256: "bb11", Phase: store.PhaseCompleted, TotalChunks: 1, Movements: len(multi),
				StartedAt: at(2 * time.Minute), SealedAt: at(2*time.Minute + time.Second), CompletedAt: at(2*time.Minute + 2*time.Second)},
			{ID: "a3000000000000a3", Account: "alpha", Broker: events.BrokerTastytrade, File: "big.csv",
				SHA256: "aa33", Phase: store.PhasePublishing, TotalChunks: 10, Movements: 5000, StartedAt: now.Add(-30 * time.Second)},
		},
	}
	f.results = []*projections.Result{
		projections.Compute("alpha", append(slices.Clone(pfizer), options...)),
		projections.Compute("beta", multi),
	}
	f.records = []*streams.SessionRecord{
		{ID: "a1000000000000a1", Account: "alpha", Broker: events.BrokerTastytrade, File: "PfizerImportTest.csv",
			Path: "/home/me/inbox/PfizerImportTest.csv", SHA256: "aa11", Bytes: 1047, Phase: store.PhaseCompleted,
			Rows: 3, Movements: len(pfizer), TotalChunks: 1, Chunks: []string{"2024-W01.1"}, PublishedMovements: len(pfizer),
			StartedPublished: true, StartedAt: at(0), UpdatedAt: at(3 * time.Second), SealedAt: at(2 * time.Second), CompletedAt: at(3 * time.Second)},
		// Sealed in the record, completed in the store: the record lags.
		{ID: "a2000000000000a2", Account: "alpha", Broker: events.BrokerTastytrade, File: "TastytradeOptionsTest.csv",
			Path: "/home/me/inbox/TastytradeOptionsTest.csv", SHA256: "aa22", Bytes: 3006, Phase: store.PhaseSealed,
			Rows: 15, Movements: len(options), TotalChunks: 1, Chunks: []string{"2024-W02.1"}, PublishedMovements: len(options),
			StartedPublished: true, StartedAt: at(time.Minute), UpdatedAt: at(time.Minute + time.Second), SealedAt: at(time.Minute + time.Second)},
		// Publishing now: three of ten chunks acknowledged, two stored.
		{ID: "a3000000000000a3", Account: "alpha", Broker: events.BrokerTastytrade, File: "big.csv",
			Path: "/home/me/inbox/big.csv", SHA256: "aa33", Bytes: 700000, Phase: store.PhasePublishing,
			Rows: 5000, Movements: 5000, TotalChunks: 10, Chunks: []string{"2024-W04.1", "2024-W05.1", "2024-W06.1"},
			PublishedMovements: 1500, StartedPublished: true, StartedAt: now.Add(-30 * time.Second), UpdatedAt: now.Add(-5 * time.Second)},
		// Publishing, but no progress for ten minutes: unfinished.
		{ID: "a4000000000000a4", Account: "alpha", Broker: events.BrokerTastytrade, File: "it's here.csv",
			Path: "/home/me/in box/it's here.csv", SHA256: "aa44", Bytes: 4000, Phase: store.PhasePublishing,
			Rows: 40, Movements: 40, TotalChunks: 4, Chunks: []string{"2024-W07.1"}, PublishedMovements: 10,
			StartedAt: now.Add(-11 * time.Minute), UpdatedAt: now.Add(-10 * time.Minute),
			Error: "streams: chunk a4000000000000a4/2024-W08.1: no acknowledgement after 30s"},
		// Cancelled (Ctrl-C) with rejected rows (--skip-invalid).
		{ID: "b2000000000000b2", Account: "beta", Broker: events.BrokerIBKR, File: "-dash.csv",
			Path: "-dash.csv", SHA256: "bb22", Bytes: 2000, Phase: store.PhaseCancelled,
			Rows: 22, Movements: 20, TotalChunks: 2, Chunks: []string{"2024-W09.1"}, PublishedMovements: 12,
			Rejected: 2, Rejects: []events.RowReject{
				{Line: 7, Column: "Quantity", Value: "ten", Reason: "bad number"},
				{Line: 12, Column: "Date/Time", Value: "2024-13-45", Reason: "bad date"},
			},
			Cancellations: 1, StartedAt: now.Add(-20 * time.Minute), UpdatedAt: now.Add(-19 * time.Minute),
			CancelledAt: now.Add(-19 * time.Minute), Error: "interrupted"},
		// Failed: its file changed under the import; a hostile file name.
		{ID: "a5000000000000a5", Account: "alpha", Broker: events.BrokerTastytrade, File: hostileFile,
			Path: "/home/me/inbox/" + hostileFile, SHA256: "aa55", Bytes: 900, Phase: store.PhaseFailed,
			Rows: 9, Movements: 8, TotalChunks: 3, Chunks: []string{"2024-W10.1"}, PublishedMovements: 3,
			Rejected: 1, Rejects: []events.RowReject{{Line: 4, Column: "Symbol", Value: "<script>alert(2)</script>", Reason: "unknown symbol </td>"}},
			StartedAt: now.Add(-90 * time.Minute), UpdatedAt: now.Add(-89 * time.Minute), FailedAt: now.Add(-89 * time.Minute),
			Error: "file modified since import started"},
	}
	return f
}

// fill writes the fixture into st.
func (f *fixture) fill(t *testing.T, st store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := st.WriteBatch(ctx, f.batch); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.results {
		var done []string
		for _, s := range f.batch.Sessions {
			if s.Account == r.Account && s.Phase == store.PhaseCompleted {
				done = append(done, s.ID)
			}
		}
		if err := store.ReplaceProjections(ctx, st, r, done, f.batch.Sessions[0].CompletedAt); err != nil {
			t.Fatal(err)
		}
	}
}

// newConsole serves a console over st and the fixture's records.
func newConsole(t *testing.T, st console.Store, live console.LiveSessions) *httptest.Server {
	t.Helper()
	c, err := console.New(console.Config{Store: st, Sessions: live, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path from srv.
func get(t *testing.T, srv *httptest.Server, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// golden compares got with testdata/NAME.golden.json (rewritten with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/console -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s", path, i+1, g, w)
			}
		}
	}
}

// apiCases are the API requests of the golden tests.
var apiCases = []struct {
	name   string
	path   string
	status int
}{
	{"sessions", "/api/sessions", http.StatusOK},
	{"sessions_beta", "/api/sessions?account=beta", http.StatusOK},
	{"sessions_bad_account", "/api/sessions?account=a.b", http.StatusBadRequest},
	{"session_failed", "/api/sessions/a5000000000000a5", http.StatusOK},
	{"session_cancelled", "/api/sessions/b2000000000000b2", http.StatusOK},
	{"session_store_only", "/api/sessions/b1000000000000b1", http.StatusOK},
	{"session_unknown", "/api/sessions/ffffffffffffffff", http.StatusNotFound},
	{"accounts", "/api/accounts", http.StatusOK},
	{"snapshots_alpha", "/api/accounts/alpha/snapshots", http.StatusOK},
	{"snapshots_beta", "/api/accounts/beta/snapshots", http.StatusOK},
	{"snapshots_alpha_as_of_later", "/api/accounts/alpha/snapshots?as_of=2025-12-31", http.StatusOK},
	{"snapshots_alpha_as_of_earlier", "/api/accounts/alpha/snapshots?as_of=2024-10-15", http.StatusOK},
	{"snapshots_unknown_account", "/api/accounts/gamma/snapshots", http.StatusNotFound},
	{"snapshots_bad_as_of", "/api/accounts/alpha/snapshots?as_of=2024-02-30", http.StatusBadRequest},
	{"unknown_endpoint", "/api/nothing", http.StatusNotFound},
}

func TestAPIGolden(t *testing.T) {
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	srv := newConsole(t, st, &fakeSessions{recs: f.records})
	for _, tc := range apiCases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv, tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("GET %s: status %d, want %d: %s", tc.path, res.StatusCode, tc.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			golden(t, tc.name, body)
		})
	}
}

// The snapshots endpoint answers exactly what `projector snapshots` prints:
// projections.WriteJSON of the stored rows, or of the rows as of a day
// (AsOf after the last stored day, ComputeAsOf from the movements before
// it).
func TestSnapshotsAreTheCLIContract(t *testing.T) {
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	srv := newConsole(t, st, nil)
	ms, err := store.AccountMovements(t.Context(), st, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Projections(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	late, early := events.NewDate(2025, 12, 31), events.NewDate(2024, 10, 15)
	for _, tc := range []struct {
		query string
		r     *projections.Result
		asOf  *events.Date
	}{
		{"", stored, nil},
		{"?as_of=2025-12-31", stored.AsOf(late), &late},
		{"?as_of=2024-10-15", projections.ComputeAsOf("alpha", ms, early), &early},
	} {
		var want bytes.Buffer
		if err := projections.WriteJSON(&want, tc.r, tc.asOf); err != nil {
			t.Fatal(err)
		}
		_, got := get(t, srv, "/api/accounts/alpha/snapshots"+tc.query)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("snapshots%s: the body is not projections.WriteJSON's:\n%.400s", tc.query, got)
		}
	}
	// Before the last stored day the rows are recomputed from the
	// movements; from it on, the stored rows are carried forward.
	spy := &movementSpy{Store: st}
	srv = newConsole(t, spy, nil)
	for _, tc := range []struct {
		query string
		reads int32
	}{{"", 0}, {"?as_of=2025-12-31", 0}, {"?as_of=2025-10-03", 0}, {"?as_of=2025-10-02", 1}, {"?as_of=2024-10-15", 2}} {
		get(t, srv, "/api/accounts/alpha/snapshots"+tc.query)
		if n := spy.reads.Load(); n != tc.reads {
			t.Errorf("after snapshots%s: %d reads of the movements, want %d", tc.query, n, tc.reads)
		}
	}
}

// movementSpy counts the reads of an account's movements.
type movementSpy struct {
	store.Store
	reads atomic.Int32
}

func (s *movementSpy) ScanMovements(ctx context.Context, account string, q projections.Query, fn func(*events.Movement) error) error {
	s.reads.Add(1)
	return s.Store.ScanMovements(ctx, account, q, fn)
}

// Every store serves the same bytes: the fake, SQLite and (when the test
// server is there) ClickHouse, filled with the same batch.
func TestStoresServeTheSameAPI(t *testing.T) {
	f := newFixture(t)
	mem := storetest.NewMemory()
	f.fill(t, mem)
	ref := newConsole(t, mem, &fakeSessions{recs: f.records})

	stores := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"clickhouse": func(t *testing.T) store.Store {
			return chtest.NewStore(t, clickhouse.Options{})
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			f.fill(t, st)
			srv := newConsole(t, st, &fakeSessions{recs: f.records})
			for _, tc := range apiCases {
				_, want := get(t, ref, tc.path)
				_, got := get(t, srv, tc.path)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: GET %s differs from the memory store's:\n got %.600s\nwant %.600s", name, tc.path, got, want)
				}
			}
		})
	}
}

// Without the session records (NATS down), the console shows the store and
// says so.
func TestSessionRecordsUnavailable(t *testing.T) {
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	srv := newConsole(t, st, &fakeSessions{err: errors.New("nats: connection closed")})
	res, body := get(t, srv, "/api/sessions")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	golden(t, "sessions_store_only", body)
	if !bytes.Contains(body, []byte(`"live": false`)) || !bytes.Contains(body, []byte("nats: connection closed")) {
		t.Errorf("no warning about the records:\n%s", body)
	}
}

func TestPagesAndAssets(t *testing.T) {
	srv := newConsole(t, storetest.NewMemory(), nil)
	for _, tc := range []struct {
		path, contentType string
		status            int
	}{
		{"/", "text/html; charset=utf-8", http.StatusOK},
		{"/accounts/alpha", "text/html; charset=utf-8", http.StatusOK},
		{"/accounts/a.b", "application/json; charset=utf-8", http.StatusNotFound},
		{"/static/console.css", "text/css; charset=utf-8", http.StatusOK},
		{"/static/common.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/imports.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/account.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/nothing.js", "text/plain; charset=utf-8", http.StatusNotFound},
		{"/static/", "text/plain; charset=utf-8", http.StatusNotFound},
		{"/elsewhere", "text/plain; charset=utf-8", http.StatusNotFound},
	} {
		res, body := get(t, srv, tc.path)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if ct := res.Header.Get("Content-Type"); ct != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
		// Every asset a page names is served, and none is remote.
		if strings.HasPrefix(tc.contentType, "text/html") && tc.status == http.StatusOK {
			for _, ref := range assetRefs(string(body)) {
				if !strings.HasPrefix(ref, "/static/") {
					t.Errorf("GET %s: refers to %q, not an embedded asset", tc.path, ref)
					continue
				}
				if r, _ := get(t, srv, ref); r.StatusCode != http.StatusOK {
					t.Errorf("GET %s: asset %s: status %d", tc.path, ref, r.StatusCode)
				}
			}
		}
	}
}

// assetRefs returns the src= and href= values of a page other than links
// between pages.
func assetRefs(page string) []string {
	var out []string
	for _, attr := range []string{`src="`, `href="`} {
		rest := page
		for {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			v := rest[:strings.IndexByte(rest, '"')]
			if v != "/" {
				out = append(out, v)
			}
		}
	}
	return out
}

func TestReadOnly(t *testing.T) {
	srv := newConsole(t, storetest.NewMemory(), nil)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/api/sessions", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", method, res.StatusCode)
		}
	}
}

// Only requests naming the server by a loopback name or address (or an
// allowed host) are answered: a page that rebinds its own name to
// 127.0.0.1 is refused.
func TestHostCheck(t *testing.T) {
	c, err := console.New(console.Config{Store: storetest.NewMemory(), AllowedHosts: []string{"folio.lan"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"127.0.0.1:8080", http.StatusOK},
		{"localhost:8080", http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:8080", http.StatusOK},
		{"127.0.0.2", http.StatusOK},
		{"folio.lan:8080", http.StatusOK},
		{"evil.example:8080", http.StatusMisdirectedRequest},
		{"evil.example", http.StatusMisdirectedRequest},
		{"10.1.2.3:8080", http.StatusMisdirectedRequest},
		{"localhost.evil.example", http.StatusMisdirectedRequest},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/accounts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("Host %q: status %d, want %d", tc.host, res.StatusCode, tc.status)
		}
	}
}

// A poll that finds nothing new costs a 304.
func TestETag(t *testing.T) {
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	live := &fakeSessions{recs: f.records}
	srv := newConsole(t, st, live)
	res, _ := get(t, srv, "/api/sessions")
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res, _ := get(t, srv, "/api/sessions", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Fatalf("same content: status %d, want 304", res.StatusCode)
	}
	// Progress changes the body, so the poll gets it.
	rec := *live.recs[2]
	rec.Chunks = append(slices.Clone(rec.Chunks), "2024-W07.1")
	live.recs[2] = &rec
	res, body := get(t, srv, "/api/sessions", "If-None-Match", etag)
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"chunks_published": 4`)) {
		t.Fatalf("after progress: status %d, body:\n%s", res.StatusCode, body)
	}
}

// Nothing from a statement reaches a response unescaped: JSON escapes
// markup characters, and the pages hold no data at all.
func TestHostileTextIsEscaped(t *testing.T) {
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	srv := newConsole(t, st, &fakeSessions{recs: f.records})
	for _, path := range []string{"/api/sessions", "/api/sessions/a5000000000000a5", "/", "/accounts/alpha"} {
		_, body := get(t, srv, path)
		for _, raw := range []string{"<img", "<script>", "</td>", `onerror="`} {
			if bytes.Contains(body, []byte(raw)) {
				t.Errorf("GET %s: %q appears unescaped", path, raw)
			}
		}
	}
	_, body := get(t, srv, "/api/sessions/a5000000000000a5")
	if !bytes.Contains(body, []byte(`\u003cimg src=x onerror=\"alert(1)\"\u003e\u0026'x'.csv`)) {
		t.Errorf("the hostile file name is not in the session, JSON-escaped:\n%s", body)
	}
}

func TestResumeCommand(t *testing.T) {
	base := streams.SessionRecord{ID: "c1000000000000c1", Account: "acct", Broker: events.BrokerTastytrade,
		Phase: store.PhaseCancelled, StartedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	for _, tc := range []struct {
		name string
		nats string
		edit func(r *streams.SessionRecord)
		want string
	}{
		{"plain path", "", func(r *streams.SessionRecord) { r.Path = "/data/stmt.csv" },
			"ingest --account acct --broker tastytrade /data/stmt.csv"},
		{"quoted path", "", func(r *streams.SessionRecord) { r.Path = "/data/my file's $HOME.csv" },
			`ingest --account acct --broker tastytrade '/data/my file'\''s $HOME.csv'`},
		{"rejected rows need --skip-invalid", "", func(r *streams.SessionRecord) { r.Path = "/d/s.csv"; r.Rejected = 3 },
			"ingest --account acct --broker tastytrade --skip-invalid /d/s.csv"},
		{"no path: the file name", "", func(r *streams.SessionRecord) { r.File = "-x.csv" },
			"ingest --account acct --broker tastytrade ./-x.csv"},
		{"default server", "nats://127.0.0.1:4222", func(r *streams.SessionRecord) { r.Path = "/d/s.csv" },
			"ingest --account acct --broker tastytrade /d/s.csv"},
		{"other server", "nats://10.0.0.5:4223", func(r *streams.SessionRecord) { r.Path = "/d/s.csv" },
			"ingest --nats nats://10.0.0.5:4223 --account acct --broker tastytrade /d/s.csv"},
		{"stale publishing", "", func(r *streams.SessionRecord) { r.Phase = store.PhasePublishing; r.Path = "/d/s.csv" },
			"ingest --account acct --broker tastytrade /d/s.csv"},
		{"active publishing: none", "", func(r *streams.SessionRecord) {
			r.Phase, r.UpdatedAt, r.Path = store.PhasePublishing, now.Add(-time.Second), "/d/s.csv"
		}, ""},
		{"sealed: none", "", func(r *streams.SessionRecord) { r.Phase = store.PhaseSealed }, ""},
		{"failed: none", "", func(r *streams.SessionRecord) { r.Phase = store.PhaseFailed }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := base
			tc.edit(&rec)
			c, err := console.New(console.Config{Store: storetest.NewMemory(), Sessions: &fakeSessions{recs: []*streams.SessionRecord{&rec}},
				NATSURL: tc.nats, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(c)
			defer srv.Close()
			_, body := get(t, srv, "/api/sessions/"+rec.ID)
			var got struct {
				Unfinished    bool   `json:"unfinished"`
				ResumeCommand string `json:"resume_command"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ResumeCommand != tc.want || got.Unfinished != (tc.want != "") {
				t.Errorf("unfinished %v, resume command %q; want %q", got.Unfinished, got.ResumeCommand, tc.want)
			}
		})
	}
}

func TestNewNeedsAStore(t *testing.T) {
	if _, err := console.New(console.Config{}); !errors.Is(err, console.ErrNoStore) {
		t.Fatalf("New without a store: %v, want ErrNoStore", err)
	}
}
