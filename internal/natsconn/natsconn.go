// Package natsconn builds foliostream's client connections to NATS: the
// authentication (user and password, token, NKey seed or credentials file)
// and TLS (CA, client certificate) an external server asks for, the
// reconnect policy both binaries share, and error messages that say what
// to fix without ever printing a secret.
//
// Both commands (cmd/ingest, cmd/projector) register the same flags with
// [Auth.Register] and bind the environment with [Auth.ApplyEnv]:
//
//	--nats-user USER             FOLIO_NATS_USER
//	--nats-password PASSWORD     FOLIO_NATS_PASSWORD       (prefer the env or a file: flags show in ps)
//	--nats-password-file FILE    FOLIO_NATS_PASSWORD_FILE
//	--nats-token TOKEN           FOLIO_NATS_TOKEN
//	--nats-token-file FILE       FOLIO_NATS_TOKEN_FILE
//	--nats-nkey FILE             FOLIO_NATS_NKEY           (a file holding an NKey user seed, SU...)
//	--nats-creds FILE            FOLIO_NATS_CREDS          (a .creds file: user JWT and seed)
//	--nats-tls-ca FILE           FOLIO_NATS_TLS_CA         (PEM CA bundle that signed the server's certificate)
//	--nats-tls-cert FILE         FOLIO_NATS_TLS_CERT       (PEM client certificate, for servers that verify clients)
//	--nats-tls-key FILE          FOLIO_NATS_TLS_KEY
//
// Credentials may also sit in the URL (nats://user:password@host:4222);
// [Redact] removes them from anything printed. Flag defaults are always
// empty, so `--help` never shows a value taken from the environment.
//
// [Connect] dials with these options, reconnects forever (a broker restart
// is an outage to ride out, not an error), keeps a bounded reconnect buffer,
// logs disconnections and reconnections with the URL redacted, and turns
// the server's refusals into [ErrAuth] or [ErrTLS] with a hint naming the
// flags to check.
package natsconn

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults of [Config].
const (
	DefaultTimeout       = 5 * time.Second
	DefaultReconnectWait = 250 * time.Millisecond
	// DefaultReconnectBuf bounds what a client buffers while disconnected
	// (nats.go's default): publishes beyond it fail at once instead of
	// piling up in memory.
	DefaultReconnectBuf = 8 << 20
)

// Errors.
var (
	// ErrAuth: the server refused the credentials (or required some and
	// none were given).
	ErrAuth = errors.New("natsconn: NATS refused the credentials")
	// ErrTLS: the TLS handshake failed (unknown authority, bad client
	// certificate, TLS required or not offered).
	ErrTLS = errors.New("natsconn: TLS with the NATS server failed")
	// ErrConfig: flags that cannot be used together or files that cannot be
	// read.
	ErrConfig = errors.New("natsconn: bad NATS credentials configuration")
)

// Auth says how to authenticate to and secure the connection with an
// external server. The zero value connects in plain text without
// credentials (the embedded server on loopback).
type Auth struct {
	// User and Password (or PasswordFile, whose content without the
	// trailing newline is the password).
	User         string
	Password     string
	PasswordFile string
	// Token (or TokenFile).
	Token     string
	TokenFile string
	// NKeySeed is a file holding an NKey user seed.
	NKeySeed string
	// Creds is a credentials file (user JWT and NKey seed, as `nsc`
	// writes it).
	Creds string
	// TLSCA is a PEM bundle of the authorities trusted for the server's
	// certificate (the system roots when empty and TLS is required).
	TLSCA string
	// TLSCert and TLSKey are the client certificate and its key (PEM), for
	// servers that verify clients.
	TLSCert string
	TLSKey  string
}

// field describes one setting: its flag, its environment variable, whether
// it is a secret, and where it lives in Auth.
type field struct {
	flag, env, usage string
	secret           bool
	ptr              func(a *Auth) *string
}

func fields() []field {
	return []field{
		{"nats-user", "FOLIO_NATS_USER", "user name for an external NATS server", false, func(a *Auth) *string { return &a.User }},
		{"nats-password", "FOLIO_NATS_PASSWORD", "password for --nats-user (prefer the env variable or --nats-password-file: flags show in ps)", true, func(a *Auth) *string { return &a.Password }},
		{"nats-password-file", "FOLIO_NATS_PASSWORD_FILE", "file holding the password for --nats-user", false, func(a *Auth) *string { return &a.PasswordFile }},
		{"nats-token", "FOLIO_NATS_TOKEN", "authentication token (prefer the env variable or --nats-token-file)", true, func(a *Auth) *string { return &a.Token }},
		{"nats-token-file", "FOLIO_NATS_TOKEN_FILE", "file holding the authentication token", false, func(a *Auth) *string { return &a.TokenFile }},
		{"nats-nkey", "FOLIO_NATS_NKEY", "file holding an NKey user seed (SU...)", false, func(a *Auth) *string { return &a.NKeySeed }},
		{"nats-creds", "FOLIO_NATS_CREDS", "credentials file (user JWT and seed)", false, func(a *Auth) *string { return &a.Creds }},
		{"nats-tls-ca", "FOLIO_NATS_TLS_CA", "PEM file of the CA that signed the NATS server's certificate (turns TLS on)", false, func(a *Auth) *string { return &a.TLSCA }},
		{"nats-tls-cert", "FOLIO_NATS_TLS_CERT", "PEM client certificate for a server that verifies clients (with --nats-tls-key)", false, func(a *Auth) *string { return &a.TLSCert }},
		{"nats-tls-key", "FOLIO_NATS_TLS_KEY", "PEM key of --nats-tls-cert", false, func(a *Auth) *string { return &a.TLSKey }},
	}
}

// Register declares the flags of a on fs. Every default is empty.
func (a *Auth) Register(fs *flag.FlagSet) {
	for _, f := range fields() {
		fs.StringVar(f.ptr(a), f.flag, "", f.usage+" (env "+f.env+")")
	}
}

// ApplyEnv fills, from the environment variables listed in the package
// documentation, every setting whose flag was not given on fs's command
// line (call it after fs.Parse). lookup is os.LookupEnv in the commands.
func (a *Auth) ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range fields() {
		if set[f.flag] {
			continue
		}
		if v, ok := lookup(f.env); ok && v != "" {
			*f.ptr(a) = v
		}
	}
}

// EnvVars returns the environment variables ApplyEnv reads, by flag name.
func EnvVars() map[string]string {
	out := map[string]string{}
	for _, f := range fields() {
		out[f.flag] = f.env
	}
	return out
}

// Secrets returns the secret values a holds (passwords, tokens, the
// password in url), for callers that check their output never shows one.
func (a Auth) Secrets(rawURL string) []string {
	var out []string
	for _, f := range fields() {
		if v := *f.ptr(&a); f.secret && v != "" {
			out = append(out, v)
		}
	}
	for _, u := range strings.Split(rawURL, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			if pw, ok := p.User.Password(); ok && pw != "" {
				out = append(out, pw)
			} else if name := p.User.Username(); name != "" {
				out = append(out, name) // nats://TOKEN@host
			}
		}
	}
	return out
}

// Enabled reports whether a asks for anything (credentials or TLS).
func (a Auth) Enabled() bool { return a != Auth{} }

// hasCredentials reports whether a gives any way to authenticate.
func (a Auth) hasCredentials() bool {
	return a.User != "" || a.Token != "" || a.TokenFile != "" || a.NKeySeed != "" || a.Creds != ""
}

// Validate reports settings that cannot be used together: more than one
// way to authenticate, a password without a user, a certificate without
// its key.
func (a Auth) Validate() error {
	var ways []string
	if a.User != "" || a.Password != "" || a.PasswordFile != "" {
		ways = append(ways, "--nats-user")
	}
	if a.Token != "" || a.TokenFile != "" {
		ways = append(ways, "--nats-token")
	}
	if a.NKeySeed != "" {
		ways = append(ways, "--nats-nkey")
	}
	if a.Creds != "" {
		ways = append(ways, "--nats-creds")
	}
	switch {
	case len(ways) > 1:
		return fmt.Errorf("%w: choose one way to authenticate, not %s", ErrConfig, strings.Join(ways, " and "))
	case (a.Password != "" || a.PasswordFile != "") && a.User == "":
		return fmt.Errorf("%w: a password needs --nats-user", ErrConfig)
	case a.Password != "" && a.PasswordFile != "":
		return fmt.Errorf("%w: --nats-password and --nats-password-file both given", ErrConfig)
	case a.Token != "" && a.TokenFile != "":
		return fmt.Errorf("%w: --nats-token and --nats-token-file both given", ErrConfig)
	case (a.TLSCert == "") != (a.TLSKey == ""):
		return fmt.Errorf("%w: --nats-tls-cert and --nats-tls-key go together", ErrConfig)
	}
	return nil
}

// readSecret reads a secret file: its content without surrounding white
// space. The error names the file, never the content.
func readSecret(flagName, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: --%s: %w", ErrConfig, flagName, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%w: --%s: %s is empty", ErrConfig, flagName, path)
	}
	return s, nil
}

// Options returns the nats.go options for a (none for the zero value).
// Files are read now, so that a missing or unreadable one is reported at
// start-up.
func (a Auth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.User != "":
		pw := a.Password
		if a.PasswordFile != "" {
			var err error
			if pw, err = readSecret("nats-password-file", a.PasswordFile); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.UserInfo(a.User, pw))
	case a.Token != "" || a.TokenFile != "":
		tok := a.Token
		if a.TokenFile != "" {
			var err error
			if tok, err = readSecret("nats-token-file", a.TokenFile); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.Token(tok))
	case a.NKeySeed != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("%w: --nats-nkey %s: %w", ErrConfig, a.NKeySeed, err)
		}
		opts = append(opts, o)
	case a.Creds != "":
		if _, err := os.Stat(a.Creds); err != nil {
			return nil, fmt.Errorf("%w: --nats-creds: %w", ErrConfig, err)
		}
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	// Check the TLS files now (nats.go reads them in the option).
	var probe nats.Options
	for _, o := range opts {
		if err := o(&probe); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return opts, nil
}

// Config is one client connection.
type Config struct {
	// URL of the server (a comma-separated list for a cluster); it may
	// carry credentials, which are never printed.
	URL string
	// Name is the client name the server shows (connz).
	Name string
	// Auth is the credentials and TLS of an external server.
	Auth Auth
	// Timeout bounds the first connection; 0 means DefaultTimeout.
	Timeout time.Duration
	// ReconnectWait is the pause between reconnect attempts; 0 means
	// DefaultReconnectWait. Reconnection never gives up.
	ReconnectWait time.Duration
	// Logger receives disconnection and reconnection lines; nil discards.
	Logger *slog.Logger
}

// Connect dials cfg.URL with cfg.Auth and the reconnect policy. extra
// options are applied last. A refusal of the credentials wraps [ErrAuth], a
// TLS failure [ErrTLS]; the message names the server with its credentials
// redacted and says which flags to check.
func Connect(cfg Config, extra ...nats.Option) (*nats.Conn, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := cfg.Auth.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		nats.Name(cfg.Name),
		nats.Timeout(cfg.Timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectBufSize(DefaultReconnectBuf),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				log.Warn("disconnected from NATS", "url", Redact(nc.ConnectedUrlRedacted()), "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "url", Redact(nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS asynchronous error", "subject", subject, "err", err)
		}),
	)
	opts = append(opts, extra...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, explain(cfg, err)
	}
	return nc, nil
}

// explain wraps a connection error with the server (redacted) and a hint.
func explain(cfg Config, err error) error {
	where := Redact(cfg.URL)
	msg := err.Error()
	switch {
	case errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		strings.Contains(strings.ToLower(msg), "authorization violation") || strings.Contains(msg, "Authentication"):
		hint := "check --nats-user/--nats-password(-file), --nats-token(-file), --nats-nkey or --nats-creds"
		if !cfg.Auth.hasCredentials() && !hasUserInfo(cfg.URL) {
			hint = "the server requires credentials: give --nats-user and a password, --nats-token, --nats-nkey or --nats-creds"
		}
		return fmt.Errorf("%w at %s (%s): %s", ErrAuth, where, hint, scrub(msg, cfg))
	case isTLS(err):
		hint := "check --nats-tls-ca (the CA that signed the server's certificate), --nats-tls-cert and --nats-tls-key"
		return fmt.Errorf("%w at %s (%s): %s", ErrTLS, where, hint, scrub(msg, cfg))
	}
	return fmt.Errorf("natsconn: connect to NATS at %s: %w", where, scrubbed{err, cfg})
}

func isTLS(err error) bool {
	if errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) ||
		errors.Is(err, nats.ErrClientCertOrRootCAsRequired) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "tls") || strings.Contains(s, "x509") || strings.Contains(s, "certificate")
}

// scrubbed is an error whose message has the configuration's secrets
// removed; it still unwraps to the original.
type scrubbed struct {
	err error
	cfg Config
}

func (s scrubbed) Error() string { return scrub(s.err.Error(), s.cfg) }
func (s scrubbed) Unwrap() error { return s.err }

// scrub removes every secret of cfg from s.
func scrub(s string, cfg Config) string {
	for _, secret := range cfg.Auth.Secrets(cfg.URL) {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

func hasUserInfo(raw string) bool {
	for _, u := range strings.Split(raw, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			return true
		}
	}
	return false
}

// Redact returns the URL (or comma-separated URLs) with any user
// information replaced by "***": nats://***@host:4222. Text that does not
// parse as a URL has everything before an '@' replaced.
func Redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, part := range parts {
		parts[i] = redactOne(strings.TrimSpace(part))
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		return s[:i+3] + "***" + s[at:]
	}
	return "***" + s[at:]
}
