package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foliostream/foliostream/internal/proctest"
)

// testPKI writes a throwaway CA and a server certificate for 127.0.0.1
// signed by it, and returns the paths (CA, certificate, key).
func testPKI(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: "nats"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}

// requireNoSecret fails when out shows secret.
func requireNoSecret(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

// An external nats-server that requires a user, a password and TLS with
// a private CA: ingest and the projector reach it with --nats-user, the
// password from the environment and --nats-tls-ca, and the pipeline runs;
// a wrong password is refused with an error that says so and names the
// flags, and neither logs nor `ingest status` ever show the password.
func TestNATSAuthAndTLSEndToEnd(t *testing.T) {
	const user, password = "folio", "pw-7c1e9a-secret"
	ca, cert, key := testPKI(t)
	port := proctest.FreePort(t)
	config := jetStreamConfig(port, t.TempDir(), fmt.Sprintf(`
authorization { users = [ { user: %q, password: %q } ] }
tls { cert_file: %q, key_file: %q, timeout: 2 }
`, user, password, cert, key))
	startNATSProc(t, config, port, nats.UserInfo(user, password), nats.RootCAs(ca))
	url := fmt.Sprintf("tls://127.0.0.1:%d", port)
	authFlags := []string{"--nats-user", user, "--nats-tls-ca", ca}
	goodEnv := []string{"FOLIO_NATS_PASSWORD=" + password}

	// The projector, authenticated.
	dir := t.TempDir()
	p := startProjector(t, url, dir, goodEnv, authFlags...)

	// ingest, authenticated, waits for the projector.
	r := runIngest(t, goodEnv, append([]string{"--nats", url, "--account", "secure", "--log-format", "json", "--wait", "--timeout", "60s", mpwFile}, authFlags...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "completed") {
		t.Fatalf("authenticated import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	status := runIngest(t, goodEnv, append([]string{"status", "--nats", url, "--format", "json"}, authFlags...)...)
	if status.code != 0 || !strings.Contains(status.stdout, `"completed"`) {
		t.Fatalf("status: exit %d\n%s\n%s", status.code, status.stdout, status.stderr)
	}

	// Wrong or missing credentials, and TLS without the CA.
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong password", []string{"FOLIO_NATS_PASSWORD=not-" + password}, authFlags, "refused the credentials"},
		{"no credentials", nil, []string{"--nats-tls-ca", ca}, "requires credentials"},
		{"password in the URL, wrong", nil, []string{"--nats-tls-ca", ca}, "refused the credentials"},
		{"no CA", goodEnv, []string{"--nats-user", user}, "--nats-tls-ca"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := url
			if strings.Contains(c.name, "URL") {
				u = fmt.Sprintf("tls://%s:url-%s@127.0.0.1:%d", user, password, port)
			}
			for _, cmd := range [][]string{
				{"--nats", u, "--account", "secure", "--log-format", "json", mpwFile},
				{"status", "--nats", u},
			} {
				r := runIngest(t, c.env, append(cmd, c.args...)...)
				out := r.stdout + r.stderr
				if r.code == 0 || !strings.Contains(out, c.want) {
					t.Errorf("ingest %s: exit %d, want a failure saying %q:\n%s", cmd[0], r.code, c.want, out)
				}
				requireNoSecret(t, "ingest output", out, password)
			}
			cmd := exec.Command(projectorBinary(t), append([]string{"replay", "--nats", u, "--data", t.TempDir(), "--out", filepath.Join(t.TempDir(), "x.db")}, c.args...)...)
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("projector replay: %v, want a failure saying %q:\n%s", err, c.want, out)
			}
			requireNoSecret(t, "projector output", string(out), password)
		})
	}
	p.Stop(t)
	requireNoSecret(t, "projector log", p.Stderr.String(), password)
	requireNoSecret(t, "ingest log", r.stdout+r.stderr, password)
	requireNoSecret(t, "ingest status", status.stdout+status.stderr, password)
}

// No secret given by environment or in a URL or DSN is ever printed: not
// by --help (flag defaults), not in the errors of an unreachable server, a
// refused password or a malformed DSN, not in logs.
func TestSecretsNeverPrinted(t *testing.T) {
	dead := proctest.FreePort(t) // nothing listens there
	const natsPW, chPW, chEnvPW, dsnPW = "natsPW-4417", "chPW-9902", "chEnvPW-1357", "dsnPW-2468"
	env := []string{
		"FOLIO_NATS_URL=nats://u:" + natsPW + "@127.0.0.1:" + fmt.Sprint(dead),
		"FOLIO_NATS_USER=u",
		"FOLIO_NATS_PASSWORD=" + natsPW,
		"FOLIO_CLICKHOUSE_DSN=clickhouse://u:" + chPW + "@127.0.0.1:" + fmt.Sprint(dead) + "/db",
		"FOLIO_CLICKHOUSE_PASSWORD=" + chEnvPW,
	}
	secrets := []string{natsPW, chPW, chEnvPW, dsnPW}
	run := func(bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	ingest, projector := ingestBinary(t), projectorBinary(t)
	outputs := map[string]string{
		"ingest --help":          run(ingest, "--help"),
		"ingest status --help":   run(ingest, "status", "--help"),
		"ingest watch --help":    run(ingest, "watch", "--help"),
		"ingest (unreachable)":   run(ingest, "--account", "a", "--connect-timeout", "1s", mpwFile),
		"ingest status (unrch.)": run(ingest, "status", "--connect-timeout", "1s"),
		"projector run --help":   run(projector, "run", "--help"),
		"projector replay -h":    run(projector, "replay", "--help"),
		"projector run (unreachable ClickHouse)": run(projector, "run", "--data", t.TempDir(), "--nats-port", "-1", "--listen", "off",
			"--log-format", "json"),
		"projector run (malformed DSN)": run(projector, "run", "--data", t.TempDir(), "--nats-port", "-1", "--listen", "off", "--log-format", "json",
			"--clickhouse", "clickhouse://u:"+dsnPW+"@127.0.0.1:notaport/db"),
		"projector snapshots (unreachable ClickHouse)": run(projector, "snapshots", "--account", "a"),
		"projector replay (unreachable NATS)": run(projector, "replay", "--data", t.TempDir(), "--clickhouse", "",
			"--out", filepath.Join(t.TempDir(), "x.db")),
	}
	for what, out := range outputs {
		requireNoSecret(t, what, out, secrets...)
		if strings.Contains(what, "(") && strings.TrimSpace(out) == "" {
			t.Errorf("%s printed nothing: the failure must be explained", what)
		}
		t.Logf("%s: %s", what, lastLine(out))
	}
}

// The embedded NATS server of `projector run` listens on loopback only.
func TestEmbeddedServerLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"run", "--data", dir, "--nats-port", "-1", "--log-format", "json", "--listen", "off"}, fastFlags...)
	p := proctest.Start(t, projectorBinary(t), args...)
	p.WaitFor(t, `"msg":"projector consuming"`)
	var url string
	sc := bufio.NewScanner(strings.NewReader(p.Stderr.String()))
	for sc.Scan() {
		var line struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "embedded NATS server listening" {
			url = line.URL
		}
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("embedded server URL %q (%v): want loopback 127.0.0.1", url, err)
	}
	// Not reachable on any other address of this machine.
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		tried++
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), port), time.Second); err == nil {
			c.Close()
			t.Errorf("the embedded server answers on %s", ipn.IP)
		}
	}
	t.Logf("embedded server at %s; not reachable on %d other local address(es)", url, tried)
	p.Stop(t)
}

// Account names are subject tokens: anything that could change a subject
// (dots, wildcards, spaces, an empty name) is refused by both binaries
// before anything is published or consumed.
func TestAccountNamesValidated(t *testing.T) {
	pl := newPipeline(t)
	for _, bad := range []string{"a.b", "a*", "a>", "a b", "", "folio.chunk.x", "x\ny", strings.Repeat("a", 200)} {
		r := runIngest(t, nil, "--nats", pl.env.URL, "--account", bad, mpwFile)
		if r.code != 2 || !strings.Contains(r.stderr, "account") {
			t.Errorf("ingest --account %q: exit %d\n%s", bad, r.code, r.stderr)
		}
		if bad == "" {
			continue
		}
		if _, err := cli(t, "run", "--nats", pl.env.URL, "--data", t.TempDir(), "--accounts", bad); err == nil {
			t.Errorf("projector run --accounts %q accepted", bad)
		}
	}
	if n := streamCount(t, pl.env.JS); n != 0 {
		t.Errorf("%d messages published", n)
	}
}
