package natsconn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// startServer starts an embedded JetStream server with opts adjusted by
// adjust (authentication, TLS) and returns its client URL.
func startServer(t *testing.T, adjust func(o *server.Options)) string {
	t.Helper()
	o := natsembed.Options(natsembed.Config{StoreDir: t.TempDir(), Port: natsembed.RandomPort, NoLog: true})
	adjust(o)
	srv, err := natsembed.StartOptions(o, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

// writeFile writes content to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// requireWorks checks that the connection can use JetStream.
func requireWorks(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream over the authenticated connection: %v", err)
	}
}

// requireNoSecret fails if s shows any of the secrets.
func requireNoSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("%q shows the secret %q", s, secret)
		}
	}
}

func TestUserPasswordTokenNKeyCreds(t *testing.T) {
	dir := t.TempDir()
	const user, password, token = "folio", "s3cret-Pa55", "tok-9f8e7d6c"

	userKP, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	userSeed, _ := userKP.Seed()
	userPub, _ := userKP.PublicKey()
	// A credentials file: a user JWT signed by an account, itself signed by
	// an operator the server trusts (operator mode), and the user's seed.
	operatorKP, _ := nkeys.CreateOperator()
	operatorPub, _ := operatorKP.PublicKey()
	opClaims := jwt.NewOperatorClaims(operatorPub)
	accountKP, _ := nkeys.CreateAccount()
	accountPub, _ := accountKP.PublicKey()
	accClaims := jwt.NewAccountClaims(accountPub)
	accClaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accountJWT, err := accClaims.Encode(operatorKP)
	if err != nil {
		t.Fatal(err)
	}
	credsKP, _ := nkeys.CreateUser()
	credsPub, _ := credsKP.PublicKey()
	credsSeed, _ := credsKP.Seed()
	userClaims := jwt.NewUserClaims(credsPub)
	userClaims.IssuerAccount = accountPub
	userJWT, err := userClaims.Encode(accountKP)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, credsSeed)
	if err != nil {
		t.Fatal(err)
	}
	strangerKP, _ := nkeys.CreateUser()
	strangerPub, _ := strangerKP.PublicKey()
	strangerSeed, _ := strangerKP.Seed()
	otherAccountKP, _ := nkeys.CreateAccount()
	strangerJWT, _ := jwt.NewUserClaims(strangerPub).Encode(otherAccountKP)
	strangerCreds, _ := jwt.FormatUserConfig(strangerJWT, strangerSeed)
	// JetStream in operator mode needs a system account.
	systemKP, _ := nkeys.CreateAccount()
	systemPub, _ := systemKP.PublicKey()
	systemJWT, err := jwt.NewAccountClaims(systemPub).Encode(operatorKP)
	if err != nil {
		t.Fatal(err)
	}
	operatorURL := startServer(t, func(o *server.Options) {
		resolver := &server.MemAccResolver{}
		for pub, claim := range map[string]string{accountPub: accountJWT, systemPub: systemJWT} {
			if err := resolver.Store(pub, claim); err != nil {
				t.Fatal(err)
			}
		}
		o.TrustedOperators = []*jwt.OperatorClaims{opClaims}
		o.AccountResolver = resolver
		o.SystemAccount = systemPub
	})
	credsFile := writeFile(t, dir, "user.creds", string(creds))
	seedFile := writeFile(t, dir, "user.nk", string(userSeed)+"\n")
	wrongKP, _ := nkeys.CreateUser()
	wrongSeed, _ := wrongKP.Seed()
	wrongSeedFile := writeFile(t, dir, "wrong.nk", string(wrongSeed))

	userURL := startServer(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: user, Password: password}}
	})
	tokenURL := startServer(t, func(o *server.Options) { o.Authorization = token })
	nkeyURL := startServer(t, func(o *server.Options) {
		o.Nkeys = []*server.NkeyUser{{Nkey: userPub}}
	})
	hostOf := func(u string) string { return strings.TrimPrefix(u, "nats://") }

	tests := []struct {
		name    string
		url     string
		auth    Auth
		wantErr error
	}{
		{"user and password", userURL, Auth{User: user, Password: password}, nil},
		{"password file", userURL, Auth{User: user, PasswordFile: writeFile(t, dir, "pw", password+"\n")}, nil},
		{"password in the URL", "nats://" + user + ":" + password + "@" + hostOf(userURL), Auth{}, nil},
		{"wrong password", userURL, Auth{User: user, Password: "wrong-" + password}, ErrAuth},
		{"wrong password in the URL", "nats://" + user + ":nope-" + password + "@" + hostOf(userURL), Auth{}, ErrAuth},
		{"no credentials", userURL, Auth{}, ErrAuth},
		{"token", tokenURL, Auth{Token: token}, nil},
		{"token file", tokenURL, Auth{TokenFile: writeFile(t, dir, "tok", token)}, nil},
		{"wrong token", tokenURL, Auth{Token: "x" + token}, ErrAuth},
		{"nkey seed", nkeyURL, Auth{NKeySeed: seedFile}, nil},
		{"unknown nkey", nkeyURL, Auth{NKeySeed: wrongSeedFile}, ErrAuth},
		{"credentials file", operatorURL, Auth{Creds: credsFile}, nil},
		{"credentials of an unknown account", operatorURL, Auth{Creds: writeFile(t, dir, "stranger.creds", string(strangerCreds))}, ErrAuth},
		{"missing credentials file", operatorURL, Auth{Creds: filepath.Join(dir, "nope.creds")}, ErrConfig},
		{"missing password file", userURL, Auth{User: user, PasswordFile: filepath.Join(dir, "nope")}, ErrConfig},
		{"two ways at once", userURL, Auth{User: user, Password: password, Token: token}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs proctest.SyncBuffer
			nc, err := Connect(Config{URL: tt.url, Name: "test", Auth: tt.auth, Timeout: 2 * time.Second,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer nc.Close()
				requireWorks(t, nc)
				return
			}
			if nc != nil {
				nc.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("connect: %v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			requireNoSecret(t, msg, password, "wrong-"+password, "nope-"+password, token, "x"+token, string(userSeed), string(wrongSeed))
			requireNoSecret(t, logs.String(), password, token)
			if tt.wantErr == ErrAuth && (!strings.Contains(strings.ToLower(msg), "authorization violation") || !strings.Contains(msg, "--nats-")) {
				t.Errorf("error %q should say the server refused the credentials and which flags to check", msg)
			}
			if tt.wantErr == ErrAuth && !strings.Contains(msg, "127.0.0.1") {
				t.Errorf("error %q should name the server", msg)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}
}

// tlsFiles is a throwaway PKI: a CA, a server certificate for 127.0.0.1
// and a client certificate, all signed by the CA, plus a second CA that
// signed nothing of this.
type tlsFiles struct {
	ca, otherCA, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "EC PRIVATE KEY", der)
	}
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k, der
	}
	leaf := func(cn string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	ca, caKey, caDER := newCA("foliostream test CA")
	_, _, otherDER := newCA("some other CA")
	srvDER, srvKey := leaf("nats server", ca, caKey, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf("folio client", ca, caKey, x509.ExtKeyUsageClientAuth)
	return tlsFiles{
		ca:         write("ca.pem", "CERTIFICATE", caDER),
		otherCA:    write("other-ca.pem", "CERTIFICATE", otherDER),
		serverCert: write("server.pem", "CERTIFICATE", srvDER),
		serverKey:  writeKey("server-key.pem", srvKey),
		clientCert: write("client.pem", "CERTIFICATE", cliDER),
		clientKey:  writeKey("client-key.pem", cliKey),
	}
}

func TestTLS(t *testing.T) {
	pki := newPKI(t)
	tlsServer := func(verifyClients bool) string {
		return startServer(t, func(o *server.Options) {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
				CertFile: pki.serverCert, KeyFile: pki.serverKey, CaFile: pki.ca, Verify: verifyClients,
			})
			if err != nil {
				t.Fatal(err)
			}
			o.TLSConfig, o.TLS, o.TLSVerify, o.TLSTimeout = tc, true, verifyClients, 2
		})
	}
	plain := tlsServer(false)
	mutual := tlsServer(true)
	withUser := startServer(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.serverCert, KeyFile: pki.serverKey})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS, o.TLSTimeout = tc, true, 2
		o.Users = []*server.User{{Username: "u", Password: "tls-pass"}}
	})
	tests := []struct {
		name    string
		url     string
		auth    Auth
		wantErr error
	}{
		{"CA given", plain, Auth{TLSCA: pki.ca}, nil},
		{"tls scheme and CA", strings.Replace(plain, "nats://", "tls://", 1), Auth{TLSCA: pki.ca}, nil},
		{"no CA: unknown authority", plain, Auth{}, ErrTLS},
		{"wrong CA", plain, Auth{TLSCA: pki.otherCA}, ErrTLS},
		{"client certificate", mutual, Auth{TLSCA: pki.ca, TLSCert: pki.clientCert, TLSKey: pki.clientKey}, nil},
		{"client certificate missing", mutual, Auth{TLSCA: pki.ca}, ErrTLS},
		{"TLS and password", withUser, Auth{TLSCA: pki.ca, User: "u", Password: "tls-pass"}, nil},
		{"TLS and wrong password", withUser, Auth{TLSCA: pki.ca, User: "u", Password: "bad-pass"}, ErrAuth},
		{"certificate without key", plain, Auth{TLSCA: pki.ca, TLSCert: pki.clientCert}, ErrConfig},
		{"unreadable CA", plain, Auth{TLSCA: filepath.Join(t.TempDir(), "none.pem")}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := Connect(Config{URL: tt.url, Name: "test", Auth: tt.auth, Timeout: 3 * time.Second})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer nc.Close()
				if !nc.TLSRequired() {
					t.Error("connection is not TLS")
				}
				requireWorks(t, nc)
				return
			}
			if nc != nil {
				nc.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("connect: %v, want %v", err, tt.wantErr)
			}
			requireNoSecret(t, err.Error(), "bad-pass", "tls-pass")
			t.Logf("%s: %v", tt.name, err)
		})
	}
}

func TestFlagsAndEnv(t *testing.T) {
	var a Auth
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a.Register(fs)
	if err := fs.Parse([]string{"--nats-user", "cli-user", "--nats-tls-ca", "/ca.pem"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FOLIO_NATS_USER":     "env-user",
		"FOLIO_NATS_PASSWORD": "env-secret",
		"FOLIO_NATS_TLS_CERT": "/cert.pem",
		"FOLIO_NATS_TLS_KEY":  "/key.pem",
	}
	a.ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := Auth{User: "cli-user", Password: "env-secret", TLSCA: "/ca.pem", TLSCert: "/cert.pem", TLSKey: "/key.pem"}
	if a != want {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
	// Every flag has an empty default: --help never shows an env value.
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	requireNoSecret(t, help.String(), "env-secret", "env-user")
	fs.VisitAll(func(f *flag.Flag) {
		if f.DefValue != "" {
			t.Errorf("--%s has default %q", f.Name, f.DefValue)
		}
		if env := EnvVars()[f.Name]; env == "" || !strings.Contains(f.Usage, env) {
			t.Errorf("--%s usage %q does not name its env variable", f.Name, f.Usage)
		}
	})
	if got := a.Secrets("nats://u:url-pw@h:4222,nats://tok@h2:4222"); strings.Join(got, ",") != "env-secret,url-pw,tok" {
		t.Errorf("secrets %q", got)
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:p@h:4222", "nats://***@h:4222"},
		{"nats://token@h:4222", "nats://***@h:4222"},
		{"tls://u:p@a:1, nats://b:2", "tls://***@a:1,nats://b:2"},
		{"u:p@weird", "***@weird"},
		{"nats://u:p@ss@h:1", "nats://***@h:1"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    Auth
		ok   bool
	}{
		{"zero", Auth{}, true},
		{"password without user", Auth{Password: "p"}, false},
		{"token and nkey", Auth{Token: "t", NKeySeed: "f"}, false},
		{"nkey and creds", Auth{NKeySeed: "f", Creds: "c"}, false},
		{"password twice", Auth{User: "u", Password: "p", PasswordFile: "f"}, false},
		{"token twice", Auth{Token: "t", TokenFile: "f"}, false},
		{"key without certificate", Auth{TLSKey: "k"}, false},
		{"user and TLS", Auth{User: "u", Password: "p", TLSCA: "ca", TLSCert: "c", TLSKey: "k"}, true},
	} {
		err := tt.a.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not wrap ErrConfig", tt.name, err)
		}
	}
}

// A broker restart is ridden out: the client reconnects by itself to a
// server restarted on the same port and store, logging both events with
// the URL (and its password) redacted.
func TestReconnectsAfterRestart(t *testing.T) {
	store := t.TempDir()
	start := func(port int) *server.Server {
		o := natsembed.Options(natsembed.Config{StoreDir: store, Port: port, NoLog: true})
		o.Users = []*server.User{{Username: "u", Password: "pw-in-url"}}
		srv, err := natsembed.StartOptions(o, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start(natsembed.RandomPort)
	port := srv.Addr().(*net.TCPAddr).Port
	var logs proctest.SyncBuffer
	nc, err := Connect(Config{URL: "nats://u:pw-in-url@" + strings.TrimPrefix(srv.ClientURL(), "nats://"),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), ReconnectWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "disconnected from NATS") {
			return errors.New("no disconnection logged")
		}
		return nil
	})
	srv2 := start(port)
	defer func() { srv2.Shutdown(); srv2.WaitForShutdown() }()
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !nc.IsConnected() {
			return errors.New("not reconnected")
		}
		return nil
	})
	requireWorks(t, nc)
	// The client reports itself connected before its reconnect handler,
	// which logs, has run on the client's callback goroutine.
	proctest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "reconnected to NATS") {
			return fmt.Errorf("no reconnection logged:\n%s", logs.String())
		}
		return nil
	})
	requireNoSecret(t, logs.String(), "pw-in-url")
}
