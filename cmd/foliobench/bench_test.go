package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	tests := []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.99, 10}, {1, 10}, {0, 1}, {0.1, 1}, {0.11, 2}}
	for _, tt := range tests {
		if got := quantile(xs, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if !slices.Equal(xs, []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}) {
		t.Errorf("quantile sorted its input: %v", xs)
	}
}

func TestIntList(t *testing.T) {
	var l intList
	if err := l.Set("10k, 100_000,1M,7"); err != nil {
		t.Fatal(err)
	}
	if want := []int{10000, 100000, 1000000, 7}; !slices.Equal(l, want) {
		t.Errorf("got %v, want %v", l, want)
	}
	for _, bad := range []string{"", "x", "-1", "0", "1G"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// The projector's debug and info lines give the write latencies (each
// chunk counts the latency of the write it was in) and phase 2's times.
func TestReadProjectorLog(t *testing.T) {
	log := `{"time":"x","level":"INFO","msg":"projector consuming"}
{"time":"x","level":"DEBUG","msg":"store batch written","messages":3,"chunks":2,"movements":10,"took_us":40000}
{"time":"x","level":"DEBUG","msg":"store batch written","messages":1,"chunks":1,"movements":5,"took_us":10000}
{"time":"x","level":"DEBUG","msg":"store batch written","messages":1,"chunks":0,"movements":0,"took_us":99000000}
not json
{"time":"x","level":"INFO","msg":"projections replaced","account":"a","took":2500000000,"read_us":1000000,"compute_us":1000000,"replace_us":500000}
`
	path := filepath.Join(t.TempDir(), "projector.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	var r result
	if err := r.readProjectorLog(path); err != nil {
		t.Fatal(err)
	}
	if r.Writes != 3 || r.ChunkWriteP50 != 0.04 || r.ChunkWriteP99 != 0.04 || r.PerChunkP50 != 0.02 {
		t.Errorf("writes %d, p50 %v, p99 %v, per-chunk p50 %v; want 3, 0.04, 0.04, 0.02",
			r.Writes, r.ChunkWriteP50, r.ChunkWriteP99, r.PerChunkP50)
	}
	if r.Phase2Runs != 1 || r.Phase2 != 2.5 || r.Phase2Read != 1 || r.Phase2Compute != 1 || r.Phase2Replace != 0.5 {
		t.Errorf("phase 2 %d runs, %v (%v + %v + %v), want 1, 2.5 (1 + 1 + 0.5)", r.Phase2Runs, r.Phase2, r.Phase2Read, r.Phase2Compute, r.Phase2Replace)
	}
	if err := new(result).readProjectorLog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing log was accepted")
	}
}

// A statement cut into files: every row in exactly one file, whole days per
// file, the files oldest first, each with the header.
func TestSplitStatement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	if _, err := generate(path, events.BrokerTastytrade, 3000, 7); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := strings.Cut(string(orig), "\n")
	paths, err := splitStatement(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Fatalf("%d files, want 5", len(paths))
	}
	var rows []string // newest first, as in the original
	days := map[string]string{}
	for i := len(paths) - 1; i >= 0; i-- {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		h, rest, _ := strings.Cut(string(b), "\n")
		if h != header {
			t.Errorf("%s: header %q", paths[i], h)
		}
		part := strings.SplitAfter(rest, "\n")
		part = part[:len(part)-1] // after the last newline
		if len(part) < 3000/5/2 {
			t.Errorf("%s: %d rows, want about %d", paths[i], len(part), 3000/5)
		}
		for _, l := range part {
			if f, ok := days[l[:10]]; ok && f != paths[i] {
				t.Errorf("day %s in %s and %s", l[:10], f, paths[i])
			}
			days[l[:10]] = paths[i]
		}
		rows = append(rows, part...)
	}
	if got := strings.Join(rows, ""); got != body {
		t.Errorf("the files' rows (%d) are not the statement's", len(rows))
	}
	first := func(p string) string {
		b, _ := os.ReadFile(p)
		_, rest, _ := strings.Cut(string(b), "\n")
		return rest[:10]
	}
	for i := 1; i < len(paths); i++ {
		if first(paths[i-1]) >= first(paths[i]) {
			t.Errorf("%s (newest day %s) is not older than %s (%s)", paths[i-1], first(paths[i-1]), paths[i], first(paths[i]))
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the statement cut into files is still there: %v", err)
	}
}

// TestBrokerStatements: --broker ibkr generates Interactive Brokers
// statements (in sections) and names its scenarios so; a bad broker and
// --files with ibkr are refused before anything is built.
func TestBrokerStatements(t *testing.T) {
	dir := t.TempDir()
	for _, broker := range []string{events.BrokerTastytrade, events.BrokerIBKR} {
		path := filepath.Join(dir, broker+".csv")
		st, err := generate(path, broker, 500, 3)
		if err != nil {
			t.Fatal(err)
		}
		head, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := parsers.Detect(head[:min(len(head), 4096)]); err != nil || got != broker {
			t.Errorf("%s: generated a statement detected as %q (%v)", broker, got, err)
		}
		if st.Rows != 500 {
			t.Errorf("%s: %d rows, want 500", broker, st.Rows)
		}
	}
	if n := (scenario{Movements: 10, Accounts: 1, Files: 1, Broker: events.BrokerIBKR}).name(); n != "10-rows-1-accounts-ibkr" {
		t.Errorf("scenario name %q", n)
	}
	for _, args := range [][]string{{"--broker", "schwab"}, {"--broker", "ibkr", "--files", "2"}} {
		var errb bytes.Buffer
		if err := cmdBench(t.Context(), args, io.Discard, &errb); err == nil || !strings.Contains(err.Error(), args[len(args)-2]) {
			t.Errorf("%q: got %v, want an error naming %s", args, err, args[len(args)-2])
		}
	}
}
