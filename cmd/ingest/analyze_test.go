package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
)

const shared = "../../../shared/testdata"

// runAnalyzeCmd runs "ingest analyze args..." in-process.
func runAnalyzeCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmdAnalyze(context.Background(), args, &out, &errb)
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			t.Fatalf("analyze %v: error without an exit status: %v", args, err)
		}
		code = ee.code
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// analysisOut is the part of the JSON output the tests read.
type analysisOut struct {
	File          string         `json:"file"`
	SHA256        string         `json:"sha256"`
	SessionID     string         `json:"session_id"`
	Broker        string         `json:"broker"`
	Account       string         `json:"account"`
	Rows          int            `json:"rows"`
	MovementCount int            `json:"movement_count"`
	Counts        map[string]int `json:"counts"`
	RowErrors     []struct {
		Line   int    `json:"line"`
		Column string `json:"column"`
		Value  string `json:"value"`
		Reason string `json:"reason"`
	} `json:"row_errors"`
	RowErrorCount int `json:"row_error_count"`
	Ignored       []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"ignored"`
	IgnoredCount  int    `json:"ignored_count"`
	MinTime       string `json:"min_time"`
	MaxTime       string `json:"max_time"`
	Plan          string `json:"plan"`
	PeakOpenBytes int    `json:"peak_open_bytes"`
	OpenBytes     int    `json:"open_bytes"`
	Passes        int    `json:"passes"`
	Chunks        []struct {
		ID        string `json:"id"`
		Ordinal   int    `json:"ordinal"`
		Week      string `json:"week"`
		Part      int    `json:"part"`
		Movements int    `json:"movements"`
		Bytes     int    `json:"bytes"`
	} `json:"chunks"`
	Movements []map[string]any `json:"movements"`
}

func decodeOut(t *testing.T, stdout string) (*analysisOut, map[string]any) {
	t.Helper()
	var a analysisOut
	if err := json.Unmarshal([]byte(stdout), &a); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	return &a, raw
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestAnalyzeSamples runs analyze on every sample: valid files exit 0 with
// the movement counts of spec/parsers.md §5 and a consistent plan.
func TestAnalyzeSamples(t *testing.T) {
	tests := []struct {
		path      string
		broker    string
		movements int
	}{
		{"tastytrade/FutureOptions.csv", "tastytrade", 42},
		{"tastytrade/MPWImportTest.csv", "tastytrade", 478},
		{"tastytrade/PfizerImportTest.csv", "tastytrade", 4},
		{"tastytrade/TastytradeOptionsTest.csv", "tastytrade", 16},
		{"tastytrade/TastytradeDeposits.csv", "tastytrade", 20},
		{"tastytrade/LendingRebate.csv", "tastytrade", 2},
		{"tastytrade/tastytrade_acat_transfer_sample.csv", "tastytrade", 3},
		{"tastytrade/tastytrade_mixed_trading_sample.csv", "tastytrade", 11},
		{"tastytrade/tastytrade_options_heavy_sample.csv", "tastytrade", 12},
		{"ibkr/InitialImport.csv", "ibkr", 4},
		{"ibkr/ibkr_trading_day_sample.csv", "ibkr", 4},
		{"ibkr/ibkr_multi_currency_sample.csv", "ibkr", 4},
		{"ibkr/ibkr_non_trading_day_sample.csv", "ibkr", 0},
		{"ibkr/ibkr_edge_cases_sample.csv", "ibkr", 0},
		{"oracle/mpw/input.csv", "tastytrade", 478},
	}
	required := []string{"file", "sha256", "session_id", "broker", "account", "rows", "movement_count", "counts",
		"row_errors", "row_error_count", "ignored", "ignored_count", "min_time", "max_time", "chunks"}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			path := filepath.Join(shared, tt.path)
			stdout, stderr, code := runAnalyzeCmd(t, "--format", "json", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			a, raw := decodeOut(t, stdout)
			for _, k := range required {
				if _, ok := raw[k]; !ok {
					t.Errorf("JSON lacks %q", k)
				}
			}
			if _, ok := raw["movements"]; ok {
				t.Errorf("movements listed without --movements")
			}
			if a.File != path || a.Broker != tt.broker || a.Account != "default" {
				t.Errorf("file/broker/account = %q/%q/%q", a.File, a.Broker, a.Account)
			}
			if a.MovementCount != tt.movements {
				t.Errorf("movement_count = %d, want %d", a.MovementCount, tt.movements)
			}
			sum := fileSHA(t, path)
			if a.SHA256 != sum || a.SessionID != chunker.SessionID("default", sum) {
				t.Errorf("sha256/session = %s/%s, want %s/%s", a.SHA256, a.SessionID, sum, chunker.SessionID("default", sum))
			}
			if a.RowErrorCount != 0 || len(a.RowErrors) != 0 {
				t.Errorf("row errors in a valid sample: %+v", a.RowErrors)
			}
			counted, planned := 0, 0
			for k, n := range a.Counts {
				if k != "strike_adjustment" {
					counted += n
				}
				planned += n
			}
			if counted != a.MovementCount {
				t.Errorf("counts %v add up to %d, movement_count %d", a.Counts, counted, a.MovementCount)
			}
			inChunks := 0
			for i, c := range a.Chunks {
				inChunks += c.Movements
				if c.Ordinal != i+1 || c.ID == "" || c.Week == "" || c.Part < 1 || c.Bytes <= 0 || c.Bytes > chunker.DefaultByteBudget {
					t.Errorf("chunk %+v", c)
				}
			}
			if inChunks != planned {
				t.Errorf("chunks hold %d movements, counts say %d", inChunks, planned)
			}
			// "plan" is the fingerprint of the chunks listed (session.started's).
			fp := events.PlanFingerprint(func(yield func(events.ChunkRef) bool) {
				for _, c := range a.Chunks {
					if !yield(events.ChunkRef{ID: c.ID, Ordinal: c.Ordinal, Movements: c.Movements}) {
						return
					}
				}
			})
			if a.Plan != fp {
				t.Errorf("plan %q, fingerprint of the chunks listed %q", a.Plan, fp)
			}
			if tt.movements > 0 && (len(a.MinTime) != 19 || a.MinTime > a.MaxTime) {
				t.Errorf("min/max time = %q/%q", a.MinTime, a.MaxTime)
			}
		})
	}
}

func TestAnalyzeMovements(t *testing.T) {
	path := filepath.Join(shared, "tastytrade/MPWImportTest.csv")
	// A small budget, so that weeks split into parts.
	stdout, stderr, code := runAnalyzeCmd(t, path, "--movements", "--budget", "8192", "--account", "acct_2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a, _ := decodeOut(t, stdout)
	split := false
	total := 0
	for _, c := range a.Chunks {
		total += c.Movements
		split = split || c.Part > 1
		if c.Bytes > 8192 {
			t.Errorf("chunk %s is %d bytes, over the budget", c.ID, c.Bytes)
		}
	}
	if !split {
		t.Errorf("no week was split at an 8 KiB budget")
	}
	if len(a.Movements) != total || total != 478 {
		t.Fatalf("listed %d movements, chunks hold %d, want 478", len(a.Movements), total)
	}
	ids := make(map[string]bool)
	for _, m := range a.Movements {
		for _, k := range []string{"id", "kind", "time", "date", "ticker", "currency"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("movement %v lacks %q", m, k)
			}
		}
		id := m["id"].(string)
		if ids[id] {
			t.Errorf("movement %s listed twice", id)
		}
		ids[id] = true
		if m["date"].(string) != m["time"].(string)[:10] {
			t.Errorf("movement %s: date %v, time %v", id, m["date"], m["time"])
		}
		if m["account"] != "acct_2" {
			t.Errorf("movement %s: account %v", id, m["account"])
		}
		if m["kind"] != "cash" && m["ticker"] == "" {
			t.Errorf("movement %s of kind %v without a ticker", id, m["kind"])
		}
	}
	// A different account names other movements and another session.
	other, _, _ := runAnalyzeCmd(t, path)
	b, _ := decodeOut(t, other)
	if b.SessionID == a.SessionID {
		t.Errorf("same session ID for two accounts")
	}
}

func TestAnalyzeBadRow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(shared, "tastytrade/PfizerImportTest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Line 3's Value becomes "-64.0x".
	bad := strings.Replace(string(data), ",-64.00,1,", ",-64.0x,1,", 1)
	if bad == string(data) {
		t.Fatal("fixture: value not found")
	}
	path := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runAnalyzeCmd(t, "--format=json", path)
	if code != exitInvalidRows {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitInvalidRows, stderr)
	}
	a, _ := decodeOut(t, stdout)
	if a.RowErrorCount != 1 || len(a.RowErrors) != 1 {
		t.Fatalf("row errors = %d %+v", a.RowErrorCount, a.RowErrors)
	}
	e := a.RowErrors[0]
	if e.Line != 3 || e.Column != "Value" || e.Value != "-64.0x" || e.Reason == "" {
		t.Errorf("row error = %+v, want line 3, column Value, value -64.0x", e)
	}
	if a.MovementCount != 3 {
		t.Errorf("movement_count = %d, want the 3 valid rows", a.MovementCount)
	}
	for _, want := range []string{"line 3", "Value", "-64.0x", "--skip-invalid"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// The table says the same.
	stdout, _, code = runAnalyzeCmd(t, "--format", "table", path)
	if code != exitInvalidRows || !strings.Contains(stdout, "row errors: 1") || !strings.Contains(stdout, `"-64.0x"`) {
		t.Errorf("table (exit %d) lacks the row error:\n%s", code, stdout)
	}
}

func TestAnalyzeTable(t *testing.T) {
	path := filepath.Join(shared, "tastytrade/FutureOptions.csv")
	stdout, stderr, code := runAnalyzeCmd(t, "--format", "table", "--movements", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	jsonOut, _, _ := runAnalyzeCmd(t, path)
	a, _ := decodeOut(t, jsonOut)
	for _, want := range []string{a.SHA256, a.SessionID, "tastytrade", "movements   42", "option", "chunks", "movements (chunk by chunk)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	largest := 0
	for _, c := range a.Chunks {
		if !strings.Contains(stdout, c.ID) {
			t.Errorf("table lacks chunk %s", c.ID)
		}
		largest = max(largest, c.Bytes)
	}
	// A statement in time order holds one chunk at a time.
	if want := fmt.Sprintf(`(?m)^open bytes +%d \(`, largest); a.PeakOpenBytes != largest || !regexp.MustCompile(want).MatchString(stdout) {
		t.Errorf("peak_open_bytes %d, want the largest chunk's %d, and the table %q:\n%s", a.PeakOpenBytes, largest, want, stdout)
	}
	if want := `(?m)^passes +1 \(pass 2's reads of the file at --open-bytes 8388608\)`; a.Passes != 1 || a.OpenBytes != 8<<20 || !regexp.MustCompile(want).MatchString(stdout) {
		t.Errorf("passes %d at open_bytes %d, want 1 at the default 8 MiB, and the table %q:\n%s", a.Passes, a.OpenBytes, want, stdout)
	}
	if n := strings.Count(stdout, ":option:"); n != 42 {
		t.Errorf("table lists %d option movements, want 42", n)
	}
}

func TestAnalyzeUsageAndUnreadable(t *testing.T) {
	notCSV := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notCSV, []byte("hello,world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.csv")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(shared, "tastytrade/PfizerImportTest.csv")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", nil, exitUsage, "exactly one FILE"},
		{"two files", []string{sample, sample}, exitUsage, "exactly one FILE"},
		{"bad format", []string{"--format", "xml", sample}, exitUsage, "--format"},
		{"bad broker", []string{"--broker", "schwab", sample}, exitUsage, "--broker"},
		{"bad account", []string{"--account", "a.b", sample}, exitUsage, "--account"},
		{"tiny budget", []string{"--budget", "100", sample}, exitUsage, "--budget"},
		{"unknown flag", []string{"--nope", sample}, exitUsage, "nope"},
		{"missing file", []string{filepath.Join(t.TempDir(), "missing.csv")}, exitUnreadable, "check the path"},
		{"not a statement", []string{notCSV}, exitUnreadable, "pass --broker"},
		{"empty file", []string{empty}, exitUnreadable, "empty"},
		{"wrong broker", []string{"--broker", "ibkr", sample}, exitUnreadable, sample},
		{"flags after the file", []string{sample, "--format", "table"}, 0, ""},
		{"help", []string{"-h"}, 0, "usage: ingest analyze"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runAnalyzeCmd(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if tt.code == exitUnreadable && stdout != "" {
				t.Errorf("printed an analysis of an unreadable file:\n%s", stdout)
			}
		})
	}
}

func TestAnalyzeInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	err := cmdAnalyze(ctx, []string{filepath.Join(shared, "tastytrade/MPWImportTest.csv")}, &out, &errb)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed an analysis after an interruption:\n%s", out.String())
	}
}

// TestAnalyzeMovementsInWindows: --movements over a statement in sections
// with --open-bytes 1 MiB reads it in windows and prints the same chunks
// and movements as one pass; the flag's floor is checked.
func TestAnalyzeMovementsInWindows(t *testing.T) {
	path := writeSections(t, filepath.Join(t.TempDir(), "sections.csv"))
	one, stderr, code := runAnalyzeCmd(t, "--movements", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "rows in sections") {
		t.Errorf("at the default --open-bytes: %s", stderr)
	}
	windowed, stderr, code := runAnalyzeCmd(t, "--movements", "--open-bytes", "1048576", path)
	if code != 0 || !strings.Contains(stderr, "rows in sections: read ") {
		t.Fatalf("--open-bytes 1 MiB: exit %d, want 0 and the file read in windows: %s", code, stderr)
	}
	a, _ := decodeOut(t, one)
	w, _ := decodeOut(t, windowed)
	if a.PeakOpenBytes <= 2<<20 {
		t.Fatalf("fixture: one pass holds %d bytes; the test needs over 2 MiB", a.PeakOpenBytes)
	}
	// The passes printed are the reads --movements made.
	if a.Passes != 1 || w.Passes < 2 || !strings.Contains(stderr, fmt.Sprintf("read %d times", w.Passes)) {
		t.Errorf("passes %d at the default, %d at 1 MiB; stderr: %s", a.Passes, w.Passes, stderr)
	}
	ids := func(o *analysisOut) []string {
		var out []string
		for _, m := range o.Movements {
			out = append(out, fmt.Sprint(m["id"]))
		}
		slices.Sort(out)
		return out
	}
	if got, want := ids(w), ids(a); len(want) != a.MovementCount || !slices.Equal(got, want) {
		t.Fatalf("windows printed %d movements, one pass %d (of %d), or other ones", len(got), len(want), a.MovementCount)
	}
	if _, stderr, code := runAnalyzeCmd(t, "--movements", "--open-bytes", "10", path); code != exitBadUsage || !strings.Contains(stderr, "--open-bytes 10") {
		t.Errorf("--open-bytes 10: exit %d, %s", code, stderr)
	}
}
