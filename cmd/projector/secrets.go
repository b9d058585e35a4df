package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/foliostream/foliostream/internal/store/clickhouse"
)

// Environment variables of the ClickHouse secrets (the DSN itself is
// envClickHouse).
const (
	envClickHousePassword     = "FOLIO_CLICKHOUSE_PASSWORD"
	envClickHousePasswordFile = "FOLIO_CLICKHOUSE_PASSWORD_FILE"
	envClickHouseTLSCA        = "FOLIO_CLICKHOUSE_TLS_CA"
)

// chSecrets is the ClickHouse password and TLS given apart from the DSN, so
// that the DSN can sit in a config file or a manifest without a secret.
// The password comes from the environment or a file, never from a flag
// (flags show in ps).
type chSecrets struct {
	// PasswordFile holds the password of the DSN's user.
	PasswordFile string
	// TLSCA is a PEM bundle of the CA that signed the server's certificate;
	// it turns TLS on.
	TLSCA string
	// password is FOLIO_CLICKHOUSE_PASSWORD.
	password string
}

func (c *chSecrets) register(fs *flag.FlagSet) {
	fs.StringVar(&c.PasswordFile, "clickhouse-password-file", "", "file holding the password of the --clickhouse user (env "+envClickHousePasswordFile+"; or the password itself in env "+envClickHousePassword+")")
	fs.StringVar(&c.TLSCA, "clickhouse-tls-ca", "", "PEM file of the CA that signed the ClickHouse server's certificate; turns TLS on (env "+envClickHouseTLSCA+")")
}

// applyEnv fills what the command line (set: the flags given) left unset.
func (c *chSecrets) applyEnv(set map[string]bool) {
	if !set["clickhouse-password-file"] {
		c.PasswordFile = os.Getenv(envClickHousePasswordFile)
	}
	if !set["clickhouse-tls-ca"] {
		c.TLSCA = os.Getenv(envClickHouseTLSCA)
	}
	c.password = os.Getenv(envClickHousePassword)
}

// apply returns the DSN with the password put in and the store options
// with the TLS configuration.
func (c *chSecrets) apply(dsn string) (string, clickhouse.Options, error) {
	var opts clickhouse.Options
	pw := c.password
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", opts, fmt.Errorf("--clickhouse-password-file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	if pw != "" {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", opts, fmt.Errorf("%w: --clickhouse is not a URL", clickhouse.ErrInvalidDSN)
		}
		user := "default"
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, pw)
		dsn = u.String()
	}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return "", opts, fmt.Errorf("--clickhouse-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", opts, fmt.Errorf("--clickhouse-tls-ca: no certificate in %s", c.TLSCA)
		}
		opts.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return dsn, opts, nil
}

// scrubDSN removes the DSN's password (as written and as URL-escaped) from
// an error message; the error still unwraps to the original.
func scrubDSN(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil {
		// An unparsable DSN: keep nothing of it but the error's kind.
		if errors.Is(err, clickhouse.ErrInvalidDSN) {
			return fmt.Errorf("%w (the DSN is not shown: it may hold a password)", clickhouse.ErrInvalidDSN)
		}
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	return scrubbedErr{err: err, secrets: []string{pw, url.QueryEscape(pw), url.PathEscape(pw)}}
}

// scrubbedErr is an error whose message hides secrets.
type scrubbedErr struct {
	err     error
	secrets []string
}

func (s scrubbedErr) Error() string {
	msg := s.err.Error()
	for _, x := range s.secrets {
		msg = strings.ReplaceAll(msg, x, "***")
	}
	return msg
}

func (s scrubbedErr) Unwrap() error { return s.err }
