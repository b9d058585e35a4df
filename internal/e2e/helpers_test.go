package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"

	_ "modernc.org/sqlite"
)

// fastFlags make a projector quick to batch and to redeliver after a crash.
var fastFlags = []string{"--batch-size", "4", "--batch-age", "20ms", "--backoff", "1s,1s,2s"}

// listening is the projector's log line naming the address of its HTTP
// endpoints (/healthz, /readyz, /metrics and the console).
var listening = regexp.MustCompile(`"msg":"health endpoints listening","addr":"([^"]+)"`)

// projectorModule is the import path of the projector command.
const projectorModule = "github.com/foliostream/foliostream/cmd/projector"

// projectorBinary is cmd/projector built for the tests.
func projectorBinary(t *testing.T) string { return proctest.Build(t, projectorModule) }

// projectorCmd is `projector run` against natsURL over dataDir with the
// fast flags, extra environment variables and flags; the console is off
// unless flags name a --listen address (127.0.0.1:0, never the default
// port: tests run in parallel).
func projectorCmd(t *testing.T, natsURL, dataDir string, env []string, flags ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"run", "--nats", natsURL, "--data", dataDir, "--log-format", "json", "--listen", "off"}, fastFlags...)
	cmd := exec.Command(projectorBinary(t), append(args, flags...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// startProjector starts `projector run` against natsURL over dataDir, with
// extra environment variables and flags, and waits until it consumes. The
// process is killed when the test ends if it is still running.
func startProjector(t *testing.T, natsURL, dataDir string, env []string, flags ...string) *proctest.Proc {
	t.Helper()
	p := proctest.StartCmd(t, projectorCmd(t, natsURL, dataDir, env, flags...))
	p.WaitFor(t, `"msg":"projector consuming"`)
	return p
}

// cli runs a projector subcommand to completion.
func cli(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, projectorBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("projector %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pipeline is an embedded NATS server with the stream and the session
// records, and the statement importer writing into it.
type pipeline struct {
	env      *natstest.Env
	sessions *streams.Sessions
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(t.Context(), env.JS, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	kv, err := streams.EnsureSessions(t.Context(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{env: env, sessions: kv}
}

// importFile imports a statement for account the way `ingest` does and
// returns once it is sealed in the stream.
func (pl *pipeline) importFile(t *testing.T, path, account string) *streams.Result {
	t.Helper()
	im := &streams.Importer{JS: pl.env.JS, Sessions: pl.sessions}
	res, err := im.Import(t.Context(), streams.Request{Path: path, Account: account, Broker: "auto"})
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return res
}

// waitCompleted waits until the projector marked the sessions completed
// in the session records.
func (pl *pipeline) waitCompleted(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := pl.sessions.WaitPhase(ctx, id, store.PhaseCompleted)
		cancel()
		if err != nil {
			t.Fatalf("session %s: %v", id, err)
		}
	}
}

// volatileColumns differ between two runs of the same data: instants taken
// from a clock.
var volatileColumns = map[string]bool{"stored_at": true, "started_at": true, "sealed_at": true, "completed_at": true, "applied_at": true}

// dump reads every table of the store at path as text rows, in key order,
// without the volatile columns and the tables skip names.
func dump(t *testing.T, path string, skip ...string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := map[string]string{
		"movements":        "id",
		"import_sessions":  "id",
		"import_chunks":    "session, chunk_id",
		"rejects":          "session, line, column_name, reason",
		"broker_snapshots": "account, currency, date",
		"ticker_snapshots": "account, ticker, currency, date",
		"operations":       "account, seq",
		"schema_version":   "version",
	}
	out := map[string][]string{}
	for table, key := range tables {
		if slices.Contains(skip, table) {
			continue
		}
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table+" ORDER BY "+key)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, c := range cols {
				if volatileColumns[c] || slices.Contains(skip, table+"."+c) {
					continue
				}
				fmt.Fprintf(&b, "%s=%s|", c, vals[i].String)
			}
			out[table] = append(out[table], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// requireSameDump fails unless two dumps hold the same rows.
func requireSameDump(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(want["movements"]) == 0 || len(want["broker_snapshots"]) == 0 {
		t.Fatalf("test bug: the reference store is empty: %d movements, %d broker rows",
			len(want["movements"]), len(want["broker_snapshots"]))
	}
	for table, w := range want {
		g := got[table]
		if len(g) != len(w) {
			t.Errorf("%s: %d rows, want %d", table, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s row %d:\n got %s\nwant %s", table, i, g[i], w[i])
				break
			}
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("unexpected table %s", table)
		}
	}
}

// reference runs a clean pipeline (fresh stream, fresh store, a projector
// with no fault) over the statements and returns its store's dump.
func reference(t *testing.T, account string, files ...string) map[string][]string {
	t.Helper()
	pl := newPipeline(t)
	dir := t.TempDir()
	p := startProjector(t, pl.env.URL, dir, nil)
	for _, f := range files {
		res := pl.importFile(t, f, account)
		pl.waitCompleted(t, res.Session.ID)
	}
	p.Stop(t)
	return dump(t, filepath.Join(dir, "folio.db"))
}

// writeStatement writes the header and the given data rows of a statement
// to a new file.
func writeStatement(t *testing.T, name, header string, rows []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(header+"\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readStatement returns the header and data rows of a CSV statement.
func readStatement(t *testing.T, path string) (header string, rows []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("%s: no data rows", path)
	}
	return lines[0], lines[1:]
}
