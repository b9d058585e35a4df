package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
	"github.com/foliostream/foliostream/internal/store/storetest"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/foliostream/foliostream/internal/watch"
	"github.com/shopspring/decimal"
)

// The browser test: the whole pipeline (embedded NATS, a real `projector
// run` process serving the console, the drop folder with the importer) and a
// real headless Chromium driving the pages, as issue 10 asks.

// envChromium names a Chromium binary to use instead of looking one up.
const envChromium = "FOLIO_CHROMIUM"

// envArtifacts names the directory the screenshots go to.
const envArtifacts = "FOLIO_TEST_ARTIFACTS"

// browserStatement is the statement dropped in the browser test: 173 rows,
// 478 movements, 57 weekly chunks, several tickers, options and stock.
const browserStatement = sharedTestdata + "/tastytrade/MPWImportTest.csv"

// browserFile is the name it is dropped under: markup that would run
// script if the page ever parsed a file name as HTML.
const browserFile = `<img src=x onerror="window.__pwned=1">MPW.csv`

// chromium returns the browser binary, or skips the test loudly; under CI
// (CI set) a missing browser fails the test, since .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "SKIPPING the browser test: no chromium binary on PATH (apt-get install chromium, or set " +
		envChromium + "); .ci/run installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestMain removes the projector binary the tests built (proctest.Build).
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

// listening is the projector's log line naming the console's address.
var listening = regexp.MustCompile(`"msg":"health endpoints listening","addr":"([^"]+)"`)

// pipelineUnderTest is a running pipeline: NATS, session records, a
// projector process serving the console at base, and where its store is.
type pipelineUnderTest struct {
	natsURL  string
	env      *natstest.Env
	sessions *streams.Sessions
	base     string
	// storeArgs name the store for the projector subcommands.
	storeArgs []string
	bin       string
}

func startPipeline(t *testing.T, storeArgs []string) *pipelineUnderTest {
	t.Helper()
	bin := proctest.Build(t, "github.com/foliostream/foliostream/cmd/projector")
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(t.Context(), env.JS, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	kv, err := streams.EnsureSessions(t.Context(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--nats", env.URL, "--listen", "127.0.0.1:0", "--log-format", "json",
		"--batch-size", "8", "--batch-age", "20ms"}, storeArgs...)
	p := proctest.Start(t, bin, args...)
	addr := p.WaitMatch(t, listening)[1]
	pl := &pipelineUnderTest{natsURL: env.URL, env: env, sessions: kv, base: "http://" + addr, storeArgs: storeArgs, bin: bin}
	proctest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("projector exited:\n%s", p.Stderr.String())
		default:
		}
		res, err := http.Get(pl.base + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", res.Status)
		}
		return nil
	})
	return pl
}

// snapshots runs `projector snapshots` on the pipeline's store.
func (pl *pipelineUnderTest) snapshots(t *testing.T, account, asOf string) []byte {
	t.Helper()
	args := append([]string{"snapshots", "--account", account}, pl.storeArgs...)
	if asOf != "" {
		args = append(args, "--as-of", asOf)
	}
	cmd := exec.CommandContext(t.Context(), pl.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("projector %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (pl *pipelineUnderTest) apiGet(t *testing.T, path string) []byte {
	t.Helper()
	res, err := http.Get(pl.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	return b
}

// gate holds the import at chosen points until the test releases it.
type gate struct {
	reached chan string
	release chan struct{}
	chunks  int // chunk emissions seen (the importer's goroutine only)
	holdAt  int // the emission to hold at
}

func (g *gate) pause(ctx context.Context, point string) {
	switch {
	case point == "started":
	case strings.HasPrefix(point, "chunk:"):
		g.chunks++
		if g.chunks != g.holdAt {
			return
		}
		point = "chunk #" + strconv.Itoa(g.chunks)
	default:
		return
	}
	select {
	case g.reached <- point:
	case <-ctx.Done():
		return
	}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

// await waits for the import to reach a held point.
func (g *gate) await(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-g.reached:
		if got != want {
			t.Fatalf("import held at %q, want %q", got, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the import did not reach %q", want)
	}
}

// startInbox watches a drop folder with the importer, as `ingest watch`
// does, holding the import at the gate's points.
func startInbox(t *testing.T, pl *pipelineUnderTest, account string, g *gate) (dir string, filed <-chan watch.Result) {
	t.Helper()
	dir = t.TempDir()
	out := make(chan watch.Result, 4)
	importFn := func(ctx context.Context, path string) (watch.Result, error) {
		im := &streams.Importer{JS: pl.env.JS, Sessions: pl.sessions}
		res, err := im.Import(ctx, streams.Request{Path: path, Account: account, Broker: "auto",
			MaxInFlight: 1, RecordEvery: 1, Pause: g.pause})
		if err != nil {
			return watch.Result{Rejected: true, Note: err.Error()}, nil
		}
		return watch.Result{Note: string(res.Outcome)}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- watch.Run(ctx, watch.Config{Dir: dir, Import: importFn, Interval: 50 * time.Millisecond,
			OnFiled: func(name, dest string, r watch.Result) { out <- r }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("watch: %v", err)
		}
	})
	return dir, out
}

// drop writes a file into dir the way a careful program does: under a
// temporary name, then renamed.
func drop(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".incoming.part")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// browser starts headless Chromium with the sandbox's flags.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	base, cancelBase := context.WithTimeout(context.Background(), 4*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelBase()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	// Record script errors and Content-Security-Policy violations of
	// every page.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__folioErrors = [];
		addEventListener('error', (e) => __folioErrors.push('error: ' + e.message));
		addEventListener('unhandledrejection', (e) => __folioErrors.push('rejection: ' + e.reason));
		document.addEventListener('securitypolicyviolation', (e) => __folioErrors.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));
	`}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// eval evaluates a JavaScript expression and decodes its JSON value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := evalErr[T](ctx, expr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// evalErr is eval for polling: a page between two loads is not an error of
// the test.
func evalErr[T any](ctx context.Context, expr string) (T, error) {
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		return v, fmt.Errorf("evaluate %.60q: %w", expr, err)
	}
	return v, nil
}

// pageHealthy fails the test if the page threw, was refused something by
// its CSP, or loaded anything from another origin.
func pageHealthy(t *testing.T, ctx context.Context) {
	t.Helper()
	errs := eval[[]string](t, ctx, `window.__folioErrors || ['the error recorder is missing']`)
	if len(errs) > 0 {
		t.Errorf("the page reported errors: %q", errs)
	}
	foreign := eval[[]string](t, ctx, `performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith(location.origin + '/'))`)
	if len(foreign) > 0 {
		t.Errorf("the page loaded resources from elsewhere: %q", foreign)
	}
}

// screenshot saves the whole page as a PNG artifact.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(envArtifacts)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "foliostream-console-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// rowState is what the imports page shows of one session.
type rowState struct {
	Phase     string `json:"phase"`
	Chunks    string `json:"chunks"`
	Stored    string `json:"stored"`
	Movements string `json:"movements"`
	File      string `json:"file"`
	Account   string `json:"account"`
	Images    int    `json:"images"`
	Polls     int    `json:"polls"`
	Marker    string `json:"marker"`
	Pwned     bool   `json:"pwned"`
}

func readRow(ctx context.Context, id string) (*rowState, error) {
	return evalErr[*rowState](ctx, `(() => {
		const tr = document.querySelector('tr[data-session="`+id+`"]');
		if (!tr) return null;
		const f = (n) => tr.querySelector('td[data-field="' + n + '"]');
		return {
			phase: f('phase').querySelector('[data-phase]').dataset.phase,
			chunks: f('chunks').querySelector('[data-value="chunks"]').textContent,
			stored: f('chunks').querySelector('[data-value="stored"]').textContent,
			movements: f('movements').textContent,
			file: f('file').textContent,
			account: f('account').textContent,
			images: document.querySelectorAll('#sessions img').length,
			polls: Number(document.body.dataset.polls || 0),
			marker: window.__folioMarker || '',
			pwned: window.__pwned === 1,
		};
	})()`)
}

// waitRow waits until the session's row satisfies ok.
func waitRow(t *testing.T, ctx context.Context, id, what string, ok func(*rowState) bool) *rowState {
	t.Helper()
	var last *rowState
	proctest.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		var err error
		if last, err = readRow(ctx, id); err != nil {
			return err
		}
		if last == nil || !ok(last) {
			return fmt.Errorf("the imports page does not show %s yet: %+v", what, last)
		}
		return nil
	})
	return last
}

func TestBrowser(t *testing.T) {
	stores := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string { return []string{"--data", t.TempDir()} }},
		{"clickhouse", func(t *testing.T) []string {
			return []string{"--data", t.TempDir(), "--clickhouse", chtest.NewDatabase(t)}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := browser(t) // skips without a browser, before anything starts
			args := st.args(t)
			runBrowserFlow(t, ctx, startPipeline(t, args), st.name)
		})
	}
}

func runBrowserFlow(t *testing.T, ctx context.Context, pl *pipelineUnderTest, name string) {
	const account = "web"
	statement, err := os.ReadFile(browserStatement)
	if err != nil {
		t.Fatal(err)
	}

	// 1. The imports page, before anything is imported.
	if err := chromedp.Do(ctx, chromedp.Navigate(pl.base+"/")); err != nil {
		t.Fatal(err)
	}
	proctest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if ok, err := evalErr[bool](ctx, `Number(document.body.dataset.polls || 0) > 0 && !document.getElementById('empty').hidden`); ok || err != nil {
			return err
		}
		return errors.New("the empty imports page has not rendered")
	})
	// A reload would lose this.
	eval[bool](t, ctx, `(window.__folioMarker = 'never reloaded', true)`)

	// 2. Drop the statement; hold the import right after session.started.
	g := &gate{reached: make(chan string), release: make(chan struct{}), holdAt: 4}
	inbox, filed := startInbox(t, pl, account, g)
	drop(t, inbox, browserFile, statement)
	g.await(t, "started")
	recs, err := pl.sessions.List(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("session records: %v, %v", recs, err)
	}
	rec := recs[0]
	total := rec.TotalChunks
	if total < 5 {
		t.Fatalf("test bug: the statement has %d chunks; the test holds the import at the 4th", total)
	}
	row := waitRow(t, ctx, rec.ID, "the session publishing with 0 chunks", func(r *rowState) bool {
		return r.Phase == store.PhasePublishing && r.Chunks == fmt.Sprintf("0 / %d", total)
	})
	if row.File != browserFile {
		t.Errorf("file shown as %q, want the name as dropped, %q", row.File, browserFile)
	}
	if row.Account != account {
		t.Errorf("account shown as %q", row.Account)
	}

	// 3. Let it publish three chunks and hold it again.
	g.release <- struct{}{}
	g.await(t, "chunk #4")
	waitRow(t, ctx, rec.ID, "3 chunks published", func(r *rowState) bool {
		return r.Phase == store.PhasePublishing && r.Chunks == fmt.Sprintf("3 / %d", total)
	})
	screenshot(t, ctx, name+"-imports-publishing")

	// 4. Let it finish: sealed, then completed by the projector.
	g.release <- struct{}{}
	select {
	case r := <-filed:
		if r.Rejected {
			t.Fatalf("the drop folder rejected the statement: %s", r.Note)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the statement was not imported")
	}
	final, err := pl.sessions.Get(t.Context(), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	row = waitRow(t, ctx, rec.ID, "the session completed", func(r *rowState) bool {
		return r.Phase == store.PhaseCompleted
	})
	if want := fmt.Sprintf("%d / %d", total, total); row.Chunks != want {
		t.Errorf("completed session shows chunks %q, want %q", row.Chunks, want)
	}
	if want := fmt.Sprintf("stored %d", total); row.Stored != want {
		t.Errorf("completed session shows %q, want %q", row.Stored, want)
	}
	if want := fmt.Sprintf("%d / %d", final.Movements, final.Movements); row.Movements != want {
		t.Errorf("completed session shows movements %q, want %q", row.Movements, want)
	}
	if row.Marker != "never reloaded" || row.Polls < 3 {
		t.Errorf("the page was reloaded or never polled: marker %q, %d polls", row.Marker, row.Polls)
	}
	if row.Images != 0 || row.Pwned {
		t.Errorf("the file name was parsed as markup: %d <img> in the table, script ran: %v", row.Images, row.Pwned)
	}
	pageHealthy(t, ctx)
	screenshot(t, ctx, name+"-imports")

	// 5. The account page, reached by its link on the imports page.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-session="`+rec.ID+`"] td[data-field="account"] a`))); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, ctx, "stored")
	cli := pl.snapshots(t, account, "")
	if api := pl.apiGet(t, "/api/accounts/"+account+"/snapshots"); !bytes.Equal(api, cli) {
		t.Errorf("/api/accounts/%s/snapshots differs from `projector snapshots`:\n api %.300s\n cli %.300s", account, api, cli)
	}
	checkAccountPage(t, ctx, cli)
	pageHealthy(t, ctx)
	screenshot(t, ctx, name+"-account")

	// 6. As of an earlier day, chosen on the page.
	want := decodeCLI(t, cli)
	days := want.Broker
	asOf := exactString(days[len(days)/2]["date"])
	eval[bool](t, ctx, `(() => {
		const i = document.getElementById('as-of');
		i.value = '`+asOf+`';
		i.dispatchEvent(new Event('change'));
		return true;
	})()`)
	waitLoaded(t, ctx, asOf)
	cliAsOf := pl.snapshots(t, account, asOf)
	if api := pl.apiGet(t, "/api/accounts/"+account+"/snapshots?as_of="+asOf); !bytes.Equal(api, cliAsOf) {
		t.Errorf("snapshots as of %s: the API differs from `projector snapshots --as-of`", asOf)
	}
	checkAccountPage(t, ctx, cliAsOf)
	if got := eval[string](t, ctx, `location.search`); got != "?as_of="+asOf {
		t.Errorf("the page's address says %q, want ?as_of=%s", got, asOf)
	}
	pageHealthy(t, ctx)
	screenshot(t, ctx, name+"-account-as-of")
}

// waitLoaded waits until the account page rendered the projections as of
// want ("stored" for the stored ones).
func waitLoaded(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	proctest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		got, err := evalErr[string](ctx, `document.body.dataset.loaded || ''`)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if got == "error" {
			return errors.New("the account page failed: " + eval[string](t, ctx, `document.getElementById('status').textContent`))
		}
		return fmt.Errorf("the account page shows %q, want %q", got, want)
	})
}

// cliSnapshots is `projector snapshots` JSON, every value kept as JSON gave
// it (numbers as json.Number).
type cliSnapshots struct {
	Broker     []map[string]any `json:"broker_snapshots"`
	Tickers    []map[string]any `json:"ticker_snapshots"`
	Operations []map[string]any `json:"operations"`
}

func decodeCLI(t *testing.T, b []byte) *cliSnapshots {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out cliSnapshots
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Broker) == 0 || len(out.Tickers) == 0 || len(out.Operations) == 0 {
		t.Fatalf("test bug: the projections are empty: %.300s", b)
	}
	return &out
}

func exactString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// Display formats, as the CLI's table prints them (shopspring StringFixed:
// half away from zero), with thousands separators.
func fixed(s string, places int32) string {
	out := decimal.RequireFromString(s).StringFixed(places)
	neg := strings.HasPrefix(out, "-")
	out = strings.TrimPrefix(out, "-")
	ip, fp, _ := strings.Cut(out, ".")
	var b strings.Builder
	for i, c := range ip {
		if i > 0 && (len(ip)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if fp != "" {
		b.WriteString("." + fp)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func money(v any) string { return fixed(exactString(v), 2) }
func pct(v any) string   { return fixed(exactString(v), 4) }
func yesNo(v any) string {
	if v == true {
		return "yes"
	}
	return "no"
}
func same(v any) string { return exactString(v) }

// shownValue is a table cell: its exact value and its text.
type shownValue struct {
	Exact string `json:"exact"`
	Text  string `json:"text"`
}

type shownChart struct {
	Chart    string `json:"chart"`
	Ticker   string `json:"ticker"`
	Currency string `json:"currency"`
	Series   string `json:"series"`
	Declared int    `json:"declared"`
	Vertices int    `json:"vertices"`
}

type shownAccount struct {
	Currencies []struct {
		Currency string                `json:"currency"`
		Latest   map[string]shownValue `json:"latest"`
		Charts   []shownChart          `json:"charts"`
	} `json:"currencies"`
	Tickers []struct {
		Ticker   string                `json:"ticker"`
		Currency string                `json:"currency"`
		Fields   map[string]shownValue `json:"fields"`
	} `json:"tickers"`
	TickerCharts []shownChart            `json:"tickerCharts"`
	Operations   []map[string]shownValue `json:"operations"`
}

const readAccountPage = `(() => {
	const cellValue = (td) => ({exact: td.dataset.exact ?? td.textContent, text: td.textContent});
	const lines = (fig, extra) => [...fig.querySelectorAll('polyline')].map((pl) => Object.assign({
		series: pl.dataset.series, declared: Number(pl.dataset.points), vertices: pl.points.numberOfItems}, extra));
	const out = {currencies: [], tickers: [], tickerCharts: [], operations: []};
	for (const sec of document.querySelectorAll('section.currency')) {
		const c = {currency: sec.dataset.currency, latest: {}, charts: []};
		for (const td of sec.querySelectorAll('table.latest td[data-field]')) c.latest[td.dataset.field] = cellValue(td);
		for (const fig of sec.querySelectorAll('figure[data-chart]')) c.charts.push(...lines(fig, {chart: fig.dataset.chart}));
		out.currencies.push(c);
	}
	for (const tr of document.querySelectorAll('#tickers tbody tr[data-ticker]')) {
		const r = {ticker: tr.dataset.ticker, currency: tr.dataset.currency, fields: {}};
		for (const td of tr.querySelectorAll('td[data-field]')) r.fields[td.dataset.field] = cellValue(td);
		out.tickers.push(r);
	}
	for (const fig of document.querySelectorAll('#ticker-charts figure')) {
		out.tickerCharts.push(...lines(fig, {ticker: fig.dataset.ticker, currency: fig.dataset.currency}));
	}
	for (const tr of document.querySelectorAll('#operations tbody tr[data-operation]')) {
		const o = {};
		for (const td of tr.querySelectorAll('td[data-field]')) o[td.dataset.field] = cellValue(td);
		out.operations.push(o);
	}
	return out;
})()`

// The fields each table shows, with how the page formats them.
var (
	brokerShown = map[string]func(any) string{
		"date": same, "movement_counter": same, "net_cash_flow": money, "realized_gains": money,
		"realized_percentage": pct, "unrealized_gains": money, "unrealized_gains_percentage": pct,
		"invested": money, "options_income": money, "dividends_received": money, "other_income": money,
		"commissions": money, "fees": money, "deposited": money, "withdrawn": money, "open_trades": yesNo,
	}
	tickerShown = map[string]func(any) string{
		"ticker": same, "currency": same, "date": same, "total_shares": same, "cost_basis": money,
		"realized": money, "options": money, "dividends": money, "performance": pct, "open_trades": yesNo,
	}
	operationShown = map[string]func(any) string{
		"ticker": same, "currency": same, "open_date": same,
		"close_date": func(v any) string {
			if v == nil {
				return "–"
			}
			return exactString(v)
		},
		"is_open": func(v any) string {
			if v == true {
				return "open"
			}
			return "closed"
		},
		"realized": money, "premium": money, "dividends": money, "dividend_taxes": money,
		"commissions": money, "fees": money, "capital_deployed": money, "performance": pct,
	}
	// brokerChartSeries are the lines of the broker charts.
	brokerChartSeries = []string{"net_cash_flow", "realized_gains", "options_income", "dividends_received",
		"commissions_fees", "deposited_withdrawn", "deposited_withdrawn"}
)

// checkCells compares a row shown on the page with the CLI's row.
func checkCells(t *testing.T, where string, shown map[string]shownValue, want map[string]any, fields map[string]func(any) string) {
	t.Helper()
	for f, format := range fields {
		got, ok := shown[f]
		if !ok {
			t.Errorf("%s: the page does not show %s", where, f)
			continue
		}
		v := want[f]
		wantExact := exactString(v)
		if f == "close_date" && v == nil {
			wantExact = "–"
		}
		if f == "is_open" {
			wantExact = exactString(v)
		}
		if got.Exact != wantExact {
			t.Errorf("%s: %s is %q on the page, %q in `projector snapshots`", where, f, got.Exact, wantExact)
		}
		if w := format(v); got.Text != w {
			t.Errorf("%s: %s shows %q, want %q (of %s)", where, f, got.Text, w, wantExact)
		}
	}
}

// checkAccountPage compares the account page with `projector snapshots`
// JSON: one section per currency whose charts have one point per broker row
// and whose latest table is the last row; one ticker row and chart per
// series, the chart with one point per ticker row; every operation.
func checkAccountPage(t *testing.T, ctx context.Context, cli []byte) {
	t.Helper()
	want := decodeCLI(t, cli)
	shown := eval[shownAccount](t, ctx, readAccountPage)

	var currencies []string
	byCurrency := map[string][]map[string]any{}
	for _, r := range want.Broker {
		c := exactString(r["currency"])
		if byCurrency[c] == nil {
			currencies = append(currencies, c)
		}
		byCurrency[c] = append(byCurrency[c], r)
	}
	if len(shown.Currencies) != len(currencies) {
		t.Fatalf("the page shows %d currencies, `projector snapshots` has %v", len(shown.Currencies), currencies)
	}
	for i, c := range shown.Currencies {
		rows := byCurrency[currencies[i]]
		if c.Currency != currencies[i] {
			t.Errorf("currency section %d is %q, want %q", i, c.Currency, currencies[i])
			continue
		}
		var series []string
		for _, ch := range c.Charts {
			series = append(series, ch.Chart)
			if ch.Vertices != len(rows) || ch.Declared != len(rows) {
				t.Errorf("%s chart %s/%s: %d points drawn (%d declared), want %d (one per broker row)",
					c.Currency, ch.Chart, ch.Series, ch.Vertices, ch.Declared, len(rows))
			}
		}
		if !slices.Equal(series, brokerChartSeries) {
			t.Errorf("%s charts: %v, want %v", c.Currency, series, brokerChartSeries)
		}
		checkCells(t, c.Currency+" latest snapshot", c.Latest, rows[len(rows)-1], brokerShown)
	}

	type key struct{ ticker, currency string }
	var keys []key
	byTicker := map[key][]map[string]any{}
	for _, r := range want.Tickers {
		k := key{exactString(r["ticker"]), exactString(r["currency"])}
		if byTicker[k] == nil {
			keys = append(keys, k)
		}
		byTicker[k] = append(byTicker[k], r)
	}
	if len(shown.Tickers) != len(keys) {
		t.Fatalf("the page shows %d ticker rows, want %d", len(shown.Tickers), len(keys))
	}
	for i, r := range shown.Tickers {
		k := keys[i]
		if r.Ticker != k.ticker || r.Currency != k.currency {
			t.Errorf("ticker row %d is %s/%s, want %s/%s", i, r.Ticker, r.Currency, k.ticker, k.currency)
			continue
		}
		rows := byTicker[k]
		checkCells(t, "ticker "+k.ticker, r.Fields, rows[len(rows)-1], tickerShown)
	}
	if len(shown.TickerCharts) != 4*len(keys) {
		t.Errorf("%d ticker chart lines, want 4 for each of %d tickers", len(shown.TickerCharts), len(keys))
	}
	for _, ch := range shown.TickerCharts {
		n := len(byTicker[key{ch.Ticker, ch.Currency}])
		if ch.Vertices != n || n == 0 {
			t.Errorf("ticker chart %s/%s %s: %d points drawn, want %d", ch.Ticker, ch.Currency, ch.Series, ch.Vertices, n)
		}
	}

	if len(shown.Operations) != len(want.Operations) {
		t.Fatalf("the page shows %d operations, want %d", len(shown.Operations), len(want.Operations))
	}
	for i, o := range shown.Operations {
		checkCells(t, fmt.Sprintf("operation %d", i), o, want.Operations[i], operationShown)
	}
}

// The imports page shows the report of a failed session and of one with
// rejected rows, the command that resumes an unfinished one, and the
// account page draws one section per currency: on the fixture of the
// handler tests, served in-process.
func TestBrowserReports(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)
	st := storetest.NewMemory()
	f.fill(t, st)
	srv := newConsole(t, st, &fakeSessions{recs: f.records})

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Open    bool       `json:"open"`
		Summary string     `json:"summary"`
		Rows    [][]string `json:"rows"`
	}
	type extra struct {
		Hidden  bool    `json:"hidden"`
		Resume  string  `json:"resume"`
		Report  *report `json:"report"`
		File    string  `json:"file"`
		Unfinis bool    `json:"unfinished"`
	}
	read := func(id string) (*extra, error) {
		return evalErr[*extra](ctx, `(() => {
			const tr = document.querySelector('tr[data-session="`+id+`"]');
			const x = document.querySelector('tr[data-extra-for="`+id+`"]');
			if (!tr || !x) return null;
			const code = x.querySelector('code[data-field="resume"]');
			const d = x.querySelector('details.report');
			return {
				hidden: x.hidden,
				resume: code ? code.textContent : '',
				file: tr.querySelector('td[data-field="file"]').textContent,
				unfinished: !!tr.querySelector('.badge.unfinished'),
				report: d ? {open: d.open, summary: d.querySelector('summary').textContent,
					rows: [...d.querySelectorAll('table.rejects > tbody > tr')].map((r) => [...r.children].map((c) => c.textContent))} : null,
			};
		})()`)
	}
	wait := func(id, what string, ok func(*extra) bool) *extra {
		t.Helper()
		var last *extra
		proctest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			var err error
			if last, err = read(id); err != nil {
				return err
			}
			if last == nil || !ok(last) {
				if last != nil && last.Report != nil {
					return fmt.Errorf("session %s does not show %s yet: %+v %+v", id, what, last, *last.Report)
				}
				return fmt.Errorf("session %s does not show %s yet: %+v", id, what, last)
			}
			return nil
		})
		return last
	}

	// Failed, with a hostile file name and a hostile rejected value: the
	// report is open and lists the rows as text.
	failed := wait("a5000000000000a5", "its report", func(x *extra) bool { return x.Report != nil && len(x.Report.Rows) == 1 })
	if !failed.Report.Open || failed.Report.Summary != "Failed: file modified since import started" {
		t.Errorf("failed session's report: %+v", failed.Report)
	}
	if want := []string{"4", "Symbol", "<script>alert(2)</script>", "unknown symbol </td>"}; !slices.Equal(failed.Report.Rows[0], want) {
		t.Errorf("failed session's rejected row: %q, want %q", failed.Report.Rows[0], want)
	}
	if failed.File != hostileFile || failed.Resume != "" {
		t.Errorf("failed session: file %q, resume %q", failed.File, failed.Resume)
	}

	// Cancelled with rejected rows: the resume command and a closed report.
	cancelled := wait("b2000000000000b2", "its report", func(x *extra) bool { return x.Report != nil && len(x.Report.Rows) == 2 })
	if cancelled.Resume != "ingest --account beta --broker ibkr --skip-invalid ./-dash.csv" || !cancelled.Unfinis {
		t.Errorf("cancelled session: resume %q, unfinished badge %v", cancelled.Resume, cancelled.Unfinis)
	}
	if cancelled.Report.Open || cancelled.Report.Summary != "2 rejected rows" || cancelled.Report.Rows[1][0] != "12" {
		t.Errorf("cancelled session's report: %+v", cancelled.Report)
	}

	// Publishing with no progress for ten minutes: unfinished, with the
	// quoted path.
	stale := wait("a4000000000000a4", "the resume command", func(x *extra) bool { return x.Resume != "" })
	if want := `ingest --account alpha --broker tastytrade '/home/me/in box/it'\''s here.csv'`; stale.Resume != want {
		t.Errorf("stale session: resume %q, want %q", stale.Resume, want)
	}
	// Publishing now, completed: no extra row.
	for _, id := range []string{"a3000000000000a3", "a1000000000000a1"} {
		if x := wait(id, "its row", func(*extra) bool { return true }); !x.Hidden || x.Unfinis {
			t.Errorf("session %s: extra row shown %v, unfinished %v", id, !x.Hidden, x.Unfinis)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#sessions img, #sessions script').length`); n != 0 {
		t.Errorf("%d elements parsed from statement text", n)
	}
	pageHealthy(t, ctx)
	screenshot(t, ctx, "fixture-imports")

	// A multi-currency account.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/accounts/beta")); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, ctx, "stored")
	_, body := get(t, srv, "/api/accounts/beta/snapshots")
	checkAccountPage(t, ctx, body)
	if n := len(eval[[]string](t, ctx, `[...document.querySelectorAll('section.currency')].map((s) => s.dataset.currency)`)); n < 2 {
		t.Errorf("test bug: account beta shows %d currencies, want a multi-currency account", n)
	}
	pageHealthy(t, ctx)
	screenshot(t, ctx, "fixture-account-beta")
}
