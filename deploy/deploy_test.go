package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// Subcommands of each binary, as their --help is asked for ("" is the
// subcommand-less `ingest FILE...`).
var subcommands = map[string][]string{
	"ingest":    {"", "watch", "status", "analyze"},
	"projector": {"run", "replay", "snapshots", "compute", "demo"},
}

// sectionOf is the config-file section of a subcommand.
func sectionOf(sub string) string {
	if sub == "" {
		return "import"
	}
	return sub
}

// cli is what one subcommand accepts: flags (name → type: string, int,
// duration, bool, value) and environment variables (name → the type of the
// flag that documents it).
type cli struct {
	flags map[string]string
	env   map[string]string
}

// accepted[binary][subcommand] is read from the real binaries' --help.
var accepted = map[string]map[string]cli{}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "foliostream-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy: the go command is needed to build the binaries:", err)
		return 1
	}
	for bin, subs := range subcommands {
		path := filepath.Join(dir, bin)
		build := exec.Command(gobin, "build", "-o", path, "./cmd/"+bin)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "deploy: build cmd/%s: %v\n%s", bin, err, out)
			return 1
		}
		accepted[bin] = map[string]cli{}
		for _, sub := range subs {
			args := []string{"--help"}
			if sub != "" {
				args = []string{sub, "--help"}
			}
			cmd := exec.Command(path, args...)
			cmd.Env = []string{"HOME=" + dir} // no FOLIO_* of the caller in the defaults
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			_ = cmd.Run() // --help exits non-zero for some subcommands
			c := parseHelp(out.String())
			if len(c.flags) == 0 {
				fmt.Fprintf(os.Stderr, "deploy: %s %s --help lists no flag:\n%s", bin, sub, out.String())
				return 1
			}
			accepted[bin][sub] = c
		}
	}
	return m.Run()
}

var (
	flagLine = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9-]*)(?: ([a-z]+))?(?:\t|$)`)
	envRef   = regexp.MustCompile(`\benv (FOLIO_[A-Z0-9_]+)`)
	envName  = regexp.MustCompile(`\b(FOLIO_[A-Z0-9_]+)\b`)
)

// parseHelp reads flag.PrintDefaults output: "  -name type" lines, each
// followed by its usage, which names its variable ("env FOLIO_X") and maybe
// other variables it reads.
func parseHelp(help string) cli {
	c := cli{flags: map[string]string{}, env: map[string]string{}}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		if m := flagLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
			typ := m[2]
			if typ == "" {
				typ = "bool"
			}
			c.flags[cur] = typ
		}
		if cur == "" {
			continue
		}
		if envRef.MatchString(line) {
			for _, e := range envName.FindAllString(line, -1) {
				if _, ok := c.env[e]; !ok {
					c.env[e] = c.flags[cur]
				}
			}
		}
	}
	return c
}

// TestHelpDocumentsEveryFlag: every flag of every subcommand names its
// environment variable in --help (internal/config annotates them).
func TestHelpDocumentsEveryFlag(t *testing.T) {
	for bin, subs := range accepted {
		for sub, c := range subs {
			envs := map[string]bool{}
			for e := range c.env {
				envs[e] = true
			}
			for f := range c.flags {
				if f == "v" || f == "h" || f == "help" {
					continue
				}
				want := "FOLIO_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
				switch f {
				case "nats":
					want = "FOLIO_NATS_URL"
				case "clickhouse":
					want = "FOLIO_CLICKHOUSE_DSN"
				}
				if !envs[want] {
					t.Errorf("%s %s: --%s does not document %s", bin, sub, f, want)
				}
			}
			if _, ok := c.flags["config"]; !ok {
				t.Errorf("%s %s has no --config", bin, sub)
			}
		}
	}
}

// checkValue checks that v parses as a flag of type typ would.
func checkValue(typ, v string) error {
	var err error
	switch typ {
	case "int":
		_, err = strconv.Atoi(v)
	case "duration":
		_, err = time.ParseDuration(v)
	case "bool":
		_, err = strconv.ParseBool(v)
	}
	return err
}

// invocation is one foliostream process a deployment runs.
type invocation struct {
	where   string // for messages
	bin     string
	sub     string
	flags   map[string]string
	args    []string
	env     map[string]string // FOLIO_* (values with substitutions resolved)
	config  map[string]any    // the --config file, if any
	healthz []string          // URLs or ports probing /healthz, /readyz
}

// parseCommand splits a container command into binary, subcommand, flags
// and positional arguments, checking the flags against the subcommand.
func parseCommand(t *testing.T, where string, argv []string) *invocation {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("%s: no command", where)
	}
	inv := &invocation{where: where, bin: argv[0], flags: map[string]string{}, env: map[string]string{}}
	subs, ok := accepted[inv.bin]
	if !ok {
		t.Fatalf("%s: command %q is not one of the binaries %v", where, inv.bin, mapsKeys(accepted))
	}
	rest := argv[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		if _, ok := subs[rest[0]]; ok {
			inv.sub, rest = rest[0], rest[1:]
		}
	}
	c, ok := subs[inv.sub]
	if !ok {
		t.Fatalf("%s: %s has no subcommand %q", where, inv.bin, inv.sub)
	}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "-") {
			inv.args = append(inv.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		typ, ok := c.flags[name]
		if !ok {
			t.Errorf("%s: %s %s has no flag --%s", where, inv.bin, inv.sub, name)
			continue
		}
		if !hasVal && typ != "bool" {
			if i+1 >= len(rest) {
				t.Errorf("%s: --%s without a value", where, name)
				continue
			}
			i++
			val = rest[i]
		}
		if !hasVal && typ == "bool" {
			val = "true"
		}
		if err := checkValue(typ, val); err != nil {
			t.Errorf("%s: --%s %q: %v", where, name, val, err)
		}
		inv.flags[name] = val
	}
	return inv
}

func mapsKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkEnv checks one FOLIO_* variable of an invocation.
func (inv *invocation) checkEnv(t *testing.T, name, value string) {
	t.Helper()
	c := accepted[inv.bin][inv.sub]
	typ, ok := c.env[name]
	if !ok {
		t.Errorf("%s: %s %s reads no variable %s", inv.where, inv.bin, inv.sub, name)
		return
	}
	inv.env[name] = value
	if strings.Contains(value, "${") {
		return // Compose interpolation, a secret
	}
	if err := checkValue(typ, value); err != nil {
		t.Errorf("%s: %s=%q: %v", inv.where, name, value, err)
	}
}

// setting returns the value a flag gets, as internal/config would: the
// command line, the environment, the config file's section, its top level.
func (inv *invocation) setting(flagName, env string) (string, bool) {
	if v, ok := inv.flags[flagName]; ok {
		return v, true
	}
	if v, ok := inv.env[env]; ok {
		return v, true
	}
	if sec, ok := inv.config[sectionOf(inv.sub)].(map[string]any); ok {
		if v, ok := sec[flagName]; ok {
			return fmt.Sprint(v), true
		}
	}
	if v, ok := inv.config[flagName]; ok {
		if _, isSection := v.(map[string]any); !isSection {
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

// listenPort is the port of --listen, or "" when the process serves no HTTP.
func (inv *invocation) listenPort(t *testing.T) string {
	t.Helper()
	v, ok := inv.setting("listen", "FOLIO_LISTEN")
	if !ok || v == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		t.Errorf("%s: --listen %q: %v", inv.where, v, err)
	}
	return port
}

// checkConfigFile checks a --config file against the subcommands that read
// it: every section is a subcommand of a binary that reads it, every key of
// a section a flag of it, every shared key a flag of at least one reader,
// every value of the right type.
func checkConfigFile(t *testing.T, where string, cfg map[string]any, readers []*invocation) {
	t.Helper()
	for key, v := range cfg {
		if sec, ok := v.(map[string]any); ok {
			var inv *invocation
			for _, r := range readers {
				if sectionOf(r.sub) == key {
					inv = r
				}
			}
			if inv == nil {
				t.Errorf("%s: section %q is no subcommand that reads the file", where, key)
				continue
			}
			c := accepted[inv.bin][inv.sub]
			for k, sv := range sec {
				typ, ok := c.flags[k]
				if !ok {
					t.Errorf("%s: %s.%s: %s %s has no flag --%s", where, key, k, inv.bin, inv.sub, k)
					continue
				}
				if err := checkValue(typ, fmt.Sprint(sv)); err != nil {
					t.Errorf("%s: %s.%s: %v", where, key, k, err)
				}
			}
			continue
		}
		found := false
		for _, r := range readers {
			if typ, ok := accepted[r.bin][r.sub].flags[key]; ok {
				found = true
				if err := checkValue(typ, fmt.Sprint(v)); err != nil {
					t.Errorf("%s: %s: %v", where, key, err)
				}
			}
		}
		if !found {
			t.Errorf("%s: key %q is a flag of none of its readers", where, key)
		}
	}
}

// goModVersions returns go.mod's go version and nats-server version, as
// MAJOR.MINOR.
func goModVersions(t *testing.T) (goVersion, natsVersion string) {
	t.Helper()
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	majorMinor := func(v string) string {
		parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
		return parts[0] + "." + parts[1]
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "go":
			goVersion = majorMinor(f[1])
		case len(f) >= 2 && f[0] == "github.com/nats-io/nats-server/v2":
			natsVersion = majorMinor(f[1])
		}
	}
	if goVersion == "" || natsVersion == "" {
		t.Fatal("go.mod: go or nats-server version not found")
	}
	return goVersion, natsVersion
}

// checkImage accepts only the images the deployment is made of: ours, the
// NATS server of the version the binaries embed and test against, and a
// pinned ClickHouse.
func checkImage(t *testing.T, where, image string) string {
	t.Helper()
	_, natsVersion := goModVersions(t)
	name, tag, _ := strings.Cut(image, ":")
	switch name {
	case "foliostream":
		return "foliostream"
	case "nats":
		if !strings.HasPrefix(tag, natsVersion+"-") && tag != natsVersion {
			t.Errorf("%s: image %s: want NATS %s, the server version in go.mod", where, image, natsVersion)
		}
		return "nats"
	case "clickhouse/clickhouse-server":
		if tag == "" || tag == "latest" {
			t.Errorf("%s: image %s: pin a ClickHouse version", where, image)
		}
		return "clickhouse"
	}
	t.Errorf("%s: image %q is none of foliostream, nats, clickhouse/clickhouse-server", where, image)
	return ""
}

// natsConf parses a NATS configuration with nats-server's own parser, with
// env set for its $VARIABLES.
func natsConf(t *testing.T, name, text string, env map[string]string) *server.Options {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("%s: nats-server refuses it: %v", name, err)
	}
	return opts
}

// checkNATSOptions checks what foliostream needs of a cluster node.
func checkNATSOptions(t *testing.T, where string, opts *server.Options, serverName string) {
	t.Helper()
	if opts.ServerName != serverName {
		t.Errorf("%s: server_name %q, want %q", where, opts.ServerName, serverName)
	}
	if !opts.JetStream || opts.StoreDir == "" || !opts.SyncAlways {
		t.Errorf("%s: want JetStream with a store_dir and sync_interval always (got %v, %q, %v)", where, opts.JetStream, opts.StoreDir, opts.SyncAlways)
	}
	if opts.Port != 4222 || opts.HTTPPort != 8222 || opts.Cluster.Port != 6222 || opts.Cluster.Name == "" {
		t.Errorf("%s: ports client %d, monitor %d, cluster %d (%q): want 4222, 8222, 6222 and a cluster name",
			where, opts.Port, opts.HTTPPort, opts.Cluster.Port, opts.Cluster.Name)
	}
	if int(opts.MaxPayload) < chunker.DefaultByteBudget+1024 {
		t.Errorf("%s: max_payload %d cannot carry a chunk of %d bytes and its headers", where, opts.MaxPayload, chunker.DefaultByteBudget)
	}
	if len(opts.Users) != 1 || opts.Users[0].Username != "folio" || opts.Users[0].Password == "" {
		t.Errorf("%s: want the one user folio with a password, got %d users", where, len(opts.Users))
	}
}

func routeHosts(t *testing.T, where string, opts *server.Options) []string {
	t.Helper()
	var hosts []string
	for _, r := range opts.Routes {
		if r.Port() != "6222" {
			t.Errorf("%s: route %s is not on the cluster port 6222", where, r)
		}
		hosts = append(hosts, r.Hostname())
	}
	return hosts
}

// natsURLs checks a NATS URL list and returns its hosts.
func natsURLs(t *testing.T, where, list string) []string {
	t.Helper()
	var hosts []string
	for _, u := range strings.Split(list, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Scheme != "nats" || p.Port() != "4222" {
			t.Errorf("%s: NATS URL %q: want nats://HOST:4222", where, u)
			continue
		}
		hosts = append(hosts, p.Hostname())
	}
	return hosts
}

// clickhouseDSN checks a ClickHouse DSN and returns host, database, user.
func clickhouseDSN(t *testing.T, where, dsn string) (host, db, user string) {
	t.Helper()
	p, err := url.Parse(dsn)
	if err != nil || p.Scheme != "clickhouse" || p.Port() != "9000" {
		t.Errorf("%s: ClickHouse DSN %q: want clickhouse://USER@HOST:9000/DB", where, dsn)
		return "", "", ""
	}
	if _, has := p.User.Password(); has {
		t.Errorf("%s: ClickHouse DSN has a password: keep it in FOLIO_CLICKHOUSE_PASSWORD", where)
	}
	return p.Hostname(), strings.TrimPrefix(p.Path, "/"), p.User.Username()
}

// checkPartitions checks that the projectors' --partition values cover
// 0..N-1 of one N, each once.
func checkPartitions(t *testing.T, where string, specs []string) {
	t.Helper()
	seen := map[int]bool{}
	n := 0
	for _, s := range specs {
		spec, err := partition.Parse(s)
		if err != nil || !spec.Partitioned() {
			t.Errorf("%s: --partition %q: %v", where, s, err)
			continue
		}
		if n != 0 && spec.Count != n {
			t.Errorf("%s: partitions of %d and %d projectors", where, n, spec.Count)
		}
		n = spec.Count
		if seen[spec.Index] {
			t.Errorf("%s: partition %s twice", where, spec)
		}
		seen[spec.Index] = true
	}
	if len(seen) != n {
		t.Errorf("%s: %d projectors for %d partitions %v", where, len(seen), n, specs)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	goVersion, _ := goModVersions(t)
	text := string(data)
	if !strings.Contains(text, "FROM golang:"+goVersion) {
		t.Errorf("Dockerfile does not build with Go %s (go.mod)", goVersion)
	}
	for bin := range subcommands {
		if !strings.Contains(text, "./cmd/"+bin) || !strings.Contains(text, "/out/"+bin) {
			t.Errorf("Dockerfile does not build cmd/%s", bin)
		}
	}
	if !strings.Contains(text, "/usr/local/bin/") || !strings.Contains(text, "EXPOSE 8080 9090") {
		t.Error("Dockerfile: binaries not on the PATH or ports not exposed")
	}
	if _, err := os.Stat("Dockerfile.dockerignore"); err != nil {
		t.Error(err)
	}
}

// The Compose file, decoded (merge keys resolved by yaml.v3).
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string `yaml:"image"`
	Build       *struct{ Context, Dockerfile string }
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	byKind := map[string][]string{}
	built := false
	var projectors []string
	for name, s := range cf.Services {
		where := "compose.yaml: " + name
		kind := checkImage(t, where, s.Image)
		byKind[kind] = append(byKind[kind], name)
		if s.Build != nil {
			if kind != "foliostream" || s.Build.Dockerfile != "deploy/Dockerfile" || s.Build.Context != ".." {
				t.Errorf("%s: builds %+v", where, s.Build)
			}
			built = true
		}
		for dep := range s.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("%s: depends on unknown service %s", where, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			switch {
			case strings.HasPrefix(src, "./"):
				if _, err := os.Stat(src); err != nil && !strings.Contains(v, "inbox") {
					t.Errorf("%s: mounts %s: %v", where, src, err)
				}
			case strings.HasPrefix(src, "${"):
			default:
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("%s: volume %s not declared", where, src)
				}
			}
		}
		if kind != "foliostream" {
			continue
		}
		inv := parseCommand(t, where, s.Command)
		for k, v := range s.Environment {
			if !strings.HasPrefix(k, "FOLIO_") {
				t.Errorf("%s: variable %s: foliostream reads only FOLIO_*", where, k)
				continue
			}
			inv.checkEnv(t, k, v)
		}
		port := inv.listenPort(t)
		if port == "" || s.Healthcheck == nil {
			t.Errorf("%s: serves no --listen or has no health check", where)
			continue
		}
		if want := "http://127.0.0.1:" + port + "/readyz"; !slices.Contains(s.Healthcheck.Test, want) {
			t.Errorf("%s: health check %v does not probe %s", where, s.Healthcheck.Test, want)
		}
		for _, p := range s.Ports {
			if _, container, _ := strings.Cut(p, ":"); container != port {
				t.Errorf("%s: publishes %s, but listens on %s", where, p, port)
			}
		}
		for _, host := range natsURLs(t, where, inv.env["FOLIO_NATS_URL"]) {
			if !slices.Contains(servicesWithImage(cf, "nats"), host) {
				t.Errorf("%s: NATS host %s is not a NATS service", where, host)
			}
		}
		if r := inv.env["FOLIO_STREAM_REPLICAS"]; r != "3" {
			t.Errorf("%s: FOLIO_STREAM_REPLICAS %q: the cluster runs R3", where, r)
		}
		if inv.env["FOLIO_NATS_USER"] != "folio" || s.Environment["FOLIO_NATS_PASSWORD"] == "" {
			t.Errorf("%s: no NATS credentials", where)
		}
		if inv.bin == "projector" {
			if inv.sub != "run" {
				t.Errorf("%s: runs projector %s", where, inv.sub)
			}
			host, db, user := clickhouseDSN(t, where, inv.env["FOLIO_CLICKHOUSE_DSN"])
			ch, ok := cf.Services[host]
			if !ok || !strings.HasPrefix(ch.Image, "clickhouse/") || ch.Environment["CLICKHOUSE_DB"] != db || ch.Environment["CLICKHOUSE_USER"] != user {
				t.Errorf("%s: ClickHouse %s/%s as %s is not the clickhouse service's", where, host, db, user)
			}
			projectors = append(projectors, inv.env["FOLIO_PARTITION"])
		}
		if inv.bin == "ingest" {
			if inv.sub != "watch" || len(inv.args) != 1 {
				t.Errorf("%s: want ingest watch DIR, got %v", where, s.Command)
			} else if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+inv.args[0]) }) {
				t.Errorf("%s: watches %s, which is no volume", where, inv.args[0])
			}
		}
	}
	if !built {
		t.Error("compose.yaml: no service builds the foliostream image")
	}
	if len(byKind["nats"]) != 3 || len(byKind["clickhouse"]) != 1 || len(projectors) < 2 {
		t.Errorf("compose.yaml: %d NATS nodes, %d ClickHouse, %d projectors: want 3, 1, 2 or more", len(byKind["nats"]), len(byKind["clickhouse"]), len(projectors))
	}
	checkPartitions(t, "compose.yaml", projectors)

	// The NATS nodes: one config file, server_name from the service.
	conf, err := os.ReadFile("nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range byKind["nats"] {
		s := cf.Services[name]
		where := "compose.yaml: " + name
		if !slices.Contains(s.Volumes, "./nats/nats.conf:/etc/nats/nats.conf:ro") ||
			!slices.Equal(s.Command, []string{"nats-server", "--config", "/etc/nats/nats.conf"}) {
			t.Errorf("%s: does not run nats-server on deploy/nats/nats.conf", where)
		}
		opts := natsConf(t, "nats.conf", string(conf), map[string]string{
			"NATS_SERVER_NAME": s.Environment["NATS_SERVER_NAME"], "NATS_PASSWORD": "secret",
		})
		checkNATSOptions(t, where, opts, name)
		if hosts := routeHosts(t, where, opts); !sameSet(hosts, byKind["nats"]) {
			t.Errorf("%s: routes to %v, the NATS services are %v", where, hosts, byKind["nats"])
		}
	}
}

// servicesWithImage names the services running image IMAGE:*.
func servicesWithImage(cf composeFile, kind string) []string {
	var out []string
	for name, s := range cf.Services {
		if strings.HasPrefix(s.Image, kind+":") {
			out = append(out, name)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// k8sObject is the part of a manifest the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       k8sSpec           `yaml:"spec"`
}

type k8sSpec struct {
	// Services
	Selector  yaml.Node `yaml:"selector"`
	ClusterIP string    `yaml:"clusterIP"`
	Ports     []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort any    `yaml:"targetPort"`
	} `yaml:"ports"`
	// Workloads
	Replicas    *int   `yaml:"replicas"`
	ServiceName string `yaml:"serviceName"`
	Template    struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Containers []k8sContainer `yaml:"containers"`
			Volumes    []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				PersistentVolumeClaim *struct {
					ClaimName string `yaml:"claimName"`
				} `yaml:"persistentVolumeClaim"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
	// PodDisruptionBudgets
	MaxUnavailable any `yaml:"maxUnavailable"`
	MinAvailable   any `yaml:"minAvailable"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// matchLabels reads a selector: a Service's map or a workload's or PDB's
// matchLabels.
func matchLabels(n yaml.Node) map[string]string {
	var direct map[string]string
	if n.Decode(&direct) == nil && direct != nil {
		if _, ok := direct["matchLabels"]; !ok {
			return direct
		}
	}
	var wrapped struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	_ = n.Decode(&wrapped)
	return wrapped.MatchLabels
}

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	data, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	var objs []k8sObject
	for _, r := range kust.Resources {
		f, err := os.Open(filepath.Join("kubernetes", r))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: an object without apiVersion, kind or name", r)
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != kust.Namespace {
				t.Errorf("%s: %s %s in namespace %q, want %q", r, o.Kind, o.Metadata.Name, o.Metadata.Namespace, kust.Namespace)
			}
			objs = append(objs, o)
		}
		f.Close()
	}
	return objs
}

func TestKubernetes(t *testing.T) {
	objs := loadManifests(t)
	find := func(kind, name string) *k8sObject {
		for i := range objs {
			if objs[i].Kind == kind && objs[i].Metadata.Name == name {
				return &objs[i]
			}
		}
		return nil
	}
	var readers []*invocation
	var configName, configKey string
	workloads := 0
	for _, o := range objs {
		if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
			continue
		}
		workloads++
		where := "kubernetes: " + o.Kind + " " + o.Metadata.Name
		labels := o.Spec.Template.Metadata.Labels
		if sel := matchLabels(o.Spec.Selector); len(sel) == 0 || !subset(sel, labels) {
			t.Errorf("%s: selector %v does not match its pods %v", where, sel, labels)
		}
		replicas := 1
		if o.Spec.Replicas != nil {
			replicas = *o.Spec.Replicas
		}
		if o.Kind == "StatefulSet" {
			if svc := find("Service", o.Spec.ServiceName); svc == nil || !subset(matchLabels(svc.Spec.Selector), labels) {
				t.Errorf("%s: serviceName %q is no Service selecting its pods", where, o.Spec.ServiceName)
			}
		}
		if replicas > 1 {
			pdb := false
			for _, p := range objs {
				if p.Kind == "PodDisruptionBudget" && subset(matchLabels(p.Spec.Selector), labels) &&
					(p.Spec.MaxUnavailable != nil || p.Spec.MinAvailable != nil) {
					pdb = true
				}
			}
			if !pdb {
				t.Errorf("%s: %d replicas and no PodDisruptionBudget", where, replicas)
			}
		}
		volumes := map[string]string{} // volume name → ConfigMap name
		for _, v := range o.Spec.Template.Spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				if find("ConfigMap", v.ConfigMap.Name) == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s", where, v.Name, v.ConfigMap.Name)
				}
				volumes[v.Name] = v.ConfigMap.Name
			case v.PersistentVolumeClaim != nil:
				if find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) == nil {
					t.Errorf("%s: volume %s: no PersistentVolumeClaim %s", where, v.Name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			where := where + " container " + c.Name
			kind := checkImage(t, where, c.Image)
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
				t.Errorf("%s: want cpu and memory requests and a memory limit, got %+v", where, c.Resources)
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet == nil {
				t.Errorf("%s: want HTTP liveness and readiness probes", where)
				continue
			}
			portOf := func(p any) int {
				if n, ok := p.(int); ok {
					return n
				}
				for _, cp := range c.Ports {
					if cp.Name == fmt.Sprint(p) {
						return cp.ContainerPort
					}
				}
				t.Errorf("%s: probe port %v is no container port", where, p)
				return 0
			}
			for _, s := range objs {
				if s.Kind != "Service" || !subset(matchLabels(s.Spec.Selector), labels) {
					continue
				}
				for _, p := range s.Spec.Ports {
					if portOf(p.TargetPort) == 0 {
						t.Errorf("%s: Service %s targets port %v, which it does not have", where, s.Metadata.Name, p.TargetPort)
					}
				}
			}
			if kind == "nats" {
				checkK8sNATS(t, where, find, o, replicas)
				continue
			}
			if kind != "foliostream" {
				continue
			}
			inv := parseCommand(t, where, c.Command)
			defined := map[string]bool{}
			var partitionSpec string
			for _, e := range c.Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					if s := find("Secret", ref.Name); s == nil || s.StringData[ref.Key] == "" && s.Data[ref.Key] == "" {
						t.Errorf("%s: %s from Secret %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
					}
					inv.checkEnv(t, e.Name, "${secret}")
				case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
					if strings.HasPrefix(e.Name, "FOLIO_") {
						t.Errorf("%s: %s from a field", where, e.Name)
					}
					defined[e.Name] = true
				default:
					v := e.Value
					for name := range defined {
						v = strings.ReplaceAll(v, "$("+name+")", "0")
					}
					if strings.Contains(v, "$(") {
						t.Errorf("%s: %s=%q refers to an undefined variable", where, e.Name, e.Value)
					}
					if e.Name == "FOLIO_PARTITION" {
						partitionSpec = e.Value
						if e.Value != fmt.Sprintf("$(POD_INDEX)/%d", replicas) ||
							!defined["POD_INDEX"] {
							t.Errorf("%s: FOLIO_PARTITION %q: want $(POD_INDEX)/%d (the pod index of %d replicas)", where, e.Value, replicas, replicas)
						}
					}
					inv.checkEnv(t, e.Name, v)
				}
			}
			if inv.bin == "projector" && replicas > 1 && partitionSpec == "" {
				t.Errorf("%s: %d projectors without --partition", where, replicas)
			}
			if path, ok := inv.env["FOLIO_CONFIG"]; ok {
				dir, key := filepath.Split(path)
				var cm string
				for _, m := range c.VolumeMounts {
					if filepath.Clean(m.MountPath) == filepath.Clean(dir) {
						cm = volumes[m.Name]
					}
				}
				o := find("ConfigMap", cm)
				if o == nil || o.Data[key] == "" {
					t.Errorf("%s: FOLIO_CONFIG %s is in no mounted ConfigMap", where, path)
				} else {
					if err := yaml.Unmarshal([]byte(o.Data[key]), &inv.config); err != nil {
						t.Errorf("%s: %s: %v", where, path, err)
					}
					configName, configKey = cm, key
					readers = append(readers, inv)
				}
			}
			port := inv.listenPort(t)
			for _, pr := range []struct {
				probe *k8sProbe
				path  string
			}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
				if pr.probe.HTTPGet.Path != pr.path || strconv.Itoa(portOf(pr.probe.HTTPGet.Port)) != port {
					t.Errorf("%s: probe %s on port %v, want %s on --listen's %s", where, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port, pr.path, port)
				}
			}
			if nats, ok := inv.setting("nats", "FOLIO_NATS_URL"); ok {
				for _, host := range natsURLs(t, where, nats) {
					if s := find("Service", host); s == nil || s.Spec.Ports[0].Port != 4222 {
						t.Errorf("%s: NATS host %s is no Service on 4222", where, host)
					}
				}
			} else {
				t.Errorf("%s: no --nats", where)
			}
			if v, _ := inv.setting("stream-replicas", "FOLIO_STREAM_REPLICAS"); v != "3" {
				t.Errorf("%s: --stream-replicas %q: the cluster runs R3", where, v)
			}
			if inv.bin == "projector" {
				dsn, _ := inv.setting("clickhouse", "FOLIO_CLICKHOUSE_DSN")
				host, _, _ := clickhouseDSN(t, where, dsn)
				if s := find("Service", host); s == nil || s.Spec.Ports[0].Port != 9000 {
					t.Errorf("%s: ClickHouse host %q is no Service on 9000", where, host)
				}
				if _, ok := inv.env["FOLIO_CLICKHOUSE_PASSWORD"]; !ok {
					t.Errorf("%s: no ClickHouse password", where)
				}
			}
			if _, ok := inv.env["FOLIO_NATS_PASSWORD"]; !ok {
				t.Errorf("%s: no NATS password", where)
			}
		}
	}
	if workloads < 4 {
		t.Errorf("%d workloads: want NATS, ClickHouse, projector and ingest", workloads)
	}
	if len(readers) < 2 {
		t.Fatalf("the config file is read by %d processes, want projector and ingest", len(readers))
	}
	var cfg map[string]any
	_ = yaml.Unmarshal([]byte(find("ConfigMap", configName).Data[configKey]), &cfg)
	checkConfigFile(t, "kubernetes: ConfigMap "+configName, cfg, readers)
}

// checkK8sNATS checks the NATS StatefulSet's configuration: it parses, each
// pod's routes name every pod through the headless Service.
func checkK8sNATS(t *testing.T, where string, find func(kind, name string) *k8sObject, o k8sObject, replicas int) {
	t.Helper()
	cm := find("ConfigMap", "nats-config")
	if cm == nil {
		t.Fatalf("%s: no ConfigMap nats-config", where)
	}
	svc := find("Service", o.Spec.ServiceName)
	if svc == nil || svc.Spec.ClusterIP != "None" {
		t.Fatalf("%s: serviceName %q is not a headless Service", where, o.Spec.ServiceName)
	}
	var want []string
	for i := range replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local", o.Metadata.Name, i, svc.Metadata.Name, o.Metadata.Namespace))
	}
	for i := range replicas {
		pod := fmt.Sprintf("%s-%d", o.Metadata.Name, i)
		opts := natsConf(t, "nats.conf", cm.Data["nats.conf"], map[string]string{"POD_NAME": pod, "NATS_PASSWORD": "secret"})
		checkNATSOptions(t, where+" "+pod, opts, pod)
		if hosts := routeHosts(t, where, opts); !sameSet(hosts, want) {
			t.Errorf("%s: routes %v, want %v", where, hosts, want)
		}
	}
	if replicas != 3 {
		t.Errorf("%s: %d NATS nodes, want 3 (R3)", where, replicas)
	}
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
