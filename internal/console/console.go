package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
)

// DefaultStaleAfter is how long a publishing session may go without
// progress before the console calls it unfinished and shows the command
// that resumes it (ingest records progress at least every second while it
// publishes).
const DefaultStaleAfter = time.Minute

// SessionStore reads the import sessions the projector stored.
type SessionStore interface {
	// Sessions lists session records (all accounts when account is "").
	Sessions(ctx context.Context, account string) ([]store.Session, error)
	// Session returns one, or an error wrapping store.ErrNotFound.
	Session(ctx context.Context, id string) (store.Session, error)
	// StoredChunks counts the chunks of a session in the store.
	StoredChunks(ctx context.Context, session string) (int, error)
}

// ProjectionStore reads accounts and their projections.
type ProjectionStore interface {
	// Accounts lists accounts with movements, sorted.
	Accounts(ctx context.Context) ([]string, error)
	// Projections returns an account's stored projections.
	Projections(ctx context.Context, account string) (*projections.Result, error)
	// MovementScanner reads an account's movements (to compute the
	// projections as of an earlier day).
	store.MovementScanner
}

// Store is what the console reads from the projector's store; every
// store.Store satisfies it. It must be safe for concurrent use (requests
// are served concurrently).
type Store interface {
	SessionStore
	ProjectionStore
}

// LiveSessions reads the session records ingest keeps in the KV bucket;
// *streams.Sessions satisfies it.
type LiveSessions interface {
	// List returns every session record.
	List(ctx context.Context) ([]*streams.SessionRecord, error)
	// Get returns one, or an error wrapping streams.ErrSessionNotFound.
	Get(ctx context.Context, id string) (*streams.SessionRecord, error)
}

// Config configures a [Console].
type Config struct {
	// Store is the projector's store (required).
	Store Store
	// Sessions are the live session records; nil shows only what the
	// store has (no progress while publishing, no rejected rows).
	Sessions LiveSessions
	// NATSURL is the server ingest must reach to resume a session; it is
	// written into the resume command when it is not ingest's default
	// (nats://127.0.0.1:4222).
	NATSURL string
	// StaleAfter: see DefaultStaleAfter (0 means the default).
	StaleAfter time.Duration
	// AllowedHosts are extra host names (without port) the console answers
	// to, besides loopback names and addresses and the address a request
	// arrived on; "*" allows any (then nothing protects against DNS
	// rebinding).
	AllowedHosts []string
	// Timeout bounds the store and KV reads of one request (0: 30s).
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
}

// Console serves the pages and the API. It is an http.Handler, safe for
// concurrent use.
type Console struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	static fs.FS
}

//go:embed static
var staticFiles embed.FS

// ErrNoStore: Config.Store is nil.
var ErrNoStore = errors.New("console: no store")

// New returns a console over cfg.Store.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	c.static = sub
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET /{$}", c.page("index.html"))
	c.mux.HandleFunc("GET /accounts/{account}", c.accountPage)
	assets := http.StripPrefix("/static/", http.FileServerFS(sub))
	c.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		assets.ServeHTTP(w, r)
	})
	c.mux.HandleFunc("GET /api/sessions", c.apiSessions)
	c.mux.HandleFunc("GET /api/sessions/{id}", c.apiSession)
	c.mux.HandleFunc("GET /api/accounts", c.apiAccounts)
	c.mux.HandleFunc("GET /api/accounts/{account}/snapshots", c.apiSnapshots)
	c.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	})
	return c, nil
}

// contentSecurityPolicy lets a page load and contact only the console.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "the console is read-only")
		return
	}
	if !c.hostAllowed(r) {
		writeError(w, http.StatusMisdirectedRequest, "host not allowed: the console answers loopback names and addresses (docs/console.md)")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether r's Host names this server: a loopback name
// or address, the local address the connection arrived on, or an allowed
// host. A web page that rebinds its own name to 127.0.0.1 sends its own name
// as Host, and is refused.
func (c *Console) hostAllowed(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return true
		}
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ta, ok := la.(*net.TCPAddr); ok && ta.IP.Equal(ip) {
				return true
			}
		}
	}
	return slices.Contains(c.cfg.AllowedHosts, "*") || slices.ContainsFunc(c.cfg.AllowedHosts, func(a string) bool {
		return strings.EqualFold(a, host)
	})
}

// page serves one embedded HTML page.
func (c *Console) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(c.static, name)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

// accountPage serves the account page for a valid account name.
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request) {
	if err := events.ValidateAccount(r.PathValue("account")); err != nil {
		writeError(w, http.StatusNotFound, "no such account")
		return
	}
	c.page("account.html")(w, r)
}

// ctx bounds a request's reads.
func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.cfg.Timeout)
}

// fail answers 500 and logs err (the one place request errors are handled).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	c.log.Error("console request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
}
