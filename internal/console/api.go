package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// ErrUnknownAccount: the store holds no movements for the account.
var ErrUnknownAccount = errors.New("console: account not in the store")

// apiSessions serves GET /api/sessions[?account=NAME].
func (c *Console) apiSessions(w http.ResponseWriter, r *http.Request) {
	account := r.URL.Query().Get("account")
	if account != "" {
		if err := events.ValidateAccount(account); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	list, err := c.listSessions(ctx, account)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, r, list)
}

// apiSession serves GET /api/sessions/{id}.
func (c *Console) apiSession(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	s, err := c.session(ctx, r.PathValue("id"))
	if errors.Is(err, errNoSession) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, r, s)
}

// accountList is the body of /api/accounts.
type accountList struct {
	Accounts []string `json:"accounts"`
}

// apiAccounts serves GET /api/accounts.
func (c *Console) apiAccounts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	accounts, err := c.cfg.Store.Accounts(ctx)
	if err != nil {
		c.fail(w, r, fmt.Errorf("console: accounts: %w", err))
		return
	}
	if accounts == nil {
		accounts = []string{}
	}
	writeJSON(w, r, accountList{Accounts: accounts})
}

// apiSnapshots serves GET /api/accounts/{account}/snapshots[?as_of=DAY]:
// the bytes `projector snapshots --account NAME [--as-of DAY]` prints.
func (c *Console) apiSnapshots(w http.ResponseWriter, r *http.Request) {
	account := r.PathValue("account")
	if err := events.ValidateAccount(account); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	var asOf events.Date
	if s := r.URL.Query().Get("as_of"); s != "" {
		d, err := events.ParseDate(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "as_of: "+err.Error())
			return
		}
		asOf = d
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	var buf bytes.Buffer
	err := WriteSnapshots(ctx, &buf, c.cfg.Store, account, asOf)
	if errors.Is(err, ErrUnknownAccount) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeBody(w, r, buf.Bytes())
}

// WriteSnapshots writes account's projections as `projector snapshots`
// does: the stored rows when asOf is zero; as of asOf otherwise, recomputed
// from the movements when asOf is before the last stored day (stored rows
// after it would leak into it, spec/snapshots.md §3.3). The JSON contract
// is projections.WriteJSON's. It returns an error wrapping
// ErrUnknownAccount when the store has no movements for the account.
func WriteSnapshots(ctx context.Context, w io.Writer, st ProjectionStore, account string, asOf events.Date) error {
	accounts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("console: accounts: %w", err)
	}
	if !slices.Contains(accounts, account) {
		return fmt.Errorf("%w: %q", ErrUnknownAccount, account)
	}
	r, err := st.Projections(ctx, account)
	if err != nil {
		return fmt.Errorf("console: projections of %s: %w", account, err)
	}
	var at *events.Date
	if !asOf.IsZero() {
		at = &asOf
		if asOf >= lastDay(r) {
			r = r.AsOf(asOf)
		} else {
			ms, err := store.AccountMovements(ctx, st, account)
			if err != nil {
				return fmt.Errorf("console: movements of %s: %w", account, err)
			}
			r = projections.ComputeAsOf(account, ms, asOf)
		}
	}
	return projections.WriteJSON(w, r, at)
}

// lastDay is the latest date in r.
func lastDay(r *projections.Result) events.Date {
	var d events.Date
	for _, b := range r.Broker {
		d = max(d, b.Date)
	}
	for _, t := range r.Tickers {
		d = max(d, t.Date)
	}
	for _, o := range r.Operations {
		d = max(d, o.OpenDate, o.CloseDate)
	}
	return d
}

// writeJSON encodes v (indented, HTML-escaped) and writes it.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // only unencodable types fail
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, r, buf.Bytes())
}

// writeBody writes a JSON body with a strong ETag, answering 304 when the
// client already has it (the imports page polls).
func writeBody(w http.ResponseWriter, r *http.Request, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// writeError answers {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
