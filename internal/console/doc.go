// Package console is foliostream's web console: a small, read-only web
// interface and JSON API over what the projector keeps, served by
// `projector run` on its HTTP address beside /healthz, /readyz and /metrics.
// It sits at the end of the pipeline and only reads:
//
//	session records (KV FOLIO_SESSIONS) ─┐
//	store: sessions, projections ────────┴─► console ─► browser (pages, /api/...)
//
// # Pages
//
//   - / (the imports page): every import session with its file, account,
//     broker, phase, chunks published / stored / planned, movements, rejected
//     rows, timings and last error, refreshed by polling /api/sessions once a
//     second (no page reload). An unfinished session (cancelled, or
//     publishing with no progress for [DefaultStaleAfter]) shows the exact
//     `ingest` command that resumes it; a session with rejected rows, or a
//     failed one, shows its report (line, column, value, reason).
//   - /accounts/{account}: per currency, charts over time of the broker
//     snapshots (net cash flow, realized gains, options income, dividends,
//     commissions + fees, deposited / withdrawn) and the latest snapshot as of
//     a chosen date; the latest row and a chart of every ticker; the
//     operations.
//
// The pages are static files embedded in the binary (no CDN, no build step):
// their script fetches the JSON API and builds the DOM with textContent and
// the charts as SVG elements, so nothing read from a statement (file names,
// tickers, errors) is ever parsed as markup. The Content-Security-Policy
// allows only the console's own origin, so the pages can load and send
// nothing elsewhere.
//
// # API
//
// GET only; JSON; errors are {"error": "..."} with a 4xx/5xx status.
//
//	/api/sessions[?account=NAME]                   session list
//	/api/sessions/{id}                             one session with its rejected rows
//	/api/accounts                                  accounts with movements
//	/api/accounts/{account}/snapshots[?as_of=DAY]  projections: the JSON of `projector snapshots`
//
// docs/console.md documents every field.
//
// # Safety
//
// The console never writes: any method but GET and HEAD gets 405. It answers
// only requests whose Host is a loopback name or address, the address the
// request arrived on, or one of [Config.AllowedHosts], which defeats DNS
// rebinding from a web page. Binding to loopback is the caller's business
// (`projector run --listen 127.0.0.1:PORT`).
//
// It works on any store through the read methods it declares ([Store]), so
// the SQLite and ClickHouse stores serve the same bytes.
package console
