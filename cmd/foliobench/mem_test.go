package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestMem runs a shell that holds a 24 MB string, twice: each run's
// output goes to its own log with {run} replaced, and the peak and
// anonymous memory reported cover the string.
func TestMem(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := cmdMem(t.Context(), []string{"--runs", "2", "--log", dir, "sh", "-c",
		`x=$(head -c 24000000 /dev/zero | tr '\0' a); sleep 0.05; echo run {run} ${#x}`}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, n := range []string{"1", "2"} {
		b, err := os.ReadFile(filepath.Join(dir, "run-"+n+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "run " + n + " 24000000\n"; string(b) != want {
			t.Errorf("run-%s.log = %q, want %q", n, b, want)
		}
	}
	re := regexp.MustCompile(`(?m)^(run 1|run 2|median): peak RSS ([0-9.]+) MiB, anonymous ([0-9.]+) MiB, user [0-9.]+ s, sys [0-9.]+ s, wall [0-9.]+ s`)
	lines := re.FindAllStringSubmatch(out.String(), -1)
	if len(lines) != 3 {
		t.Fatalf("want two runs and a median, got:\n%s", out.String())
	}
	for _, l := range lines {
		peak, _ := strconv.ParseFloat(l[2], 64)
		anon, _ := strconv.ParseFloat(l[3], 64)
		if anon < 22 || peak < anon {
			t.Errorf("%s: peak %.1f MiB, anonymous %.1f MiB; want anonymous ≥ 22 MiB (the string) and ≤ peak", l[1], peak, anon)
		}
	}
	if err := cmdMem(t.Context(), []string{"--runs", "1", "sh", "-c", "exit 3"}, &out, &errb); err == nil {
		t.Error("a failing command was not reported")
	}
}
