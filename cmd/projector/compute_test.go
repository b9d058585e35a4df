package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const computeTestPfizer = "../../../shared/testdata/oracle/pfizer/input.csv"

func runComputeCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = cmdCompute(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestComputeJSON(t *testing.T) {
	out, errOut, err := runComputeCmd(t, "--account", "demo", computeTestPfizer)
	if err != nil {
		t.Fatalf("compute: %v\n%s", err, errOut)
	}
	var v struct {
		Account string            `json:"account"`
		AsOf    *string           `json:"as_of"`
		Broker  []json.RawMessage `json:"broker_snapshots"`
		Tickers []json.RawMessage `json:"ticker_snapshots"`
		Ops     []struct {
			Ticker   string `json:"ticker"`
			Realized string `json:"realized"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if v.Account != "demo" || v.AsOf != nil || len(v.Broker) != 3 || len(v.Tickers) != 3 || len(v.Ops) != 1 {
		t.Errorf("account %q, as_of %v, %d broker, %d ticker rows, %d operations; want demo, null, 3, 3, 1",
			v.Account, v.AsOf, len(v.Broker), len(v.Tickers), len(v.Ops))
	}
	if len(v.Ops) == 1 && (v.Ops[0].Ticker != "PFE" || v.Ops[0].Realized != "175.52") {
		t.Errorf("operation %+v, want PFE realized 175.52", v.Ops[0])
	}

	// --as-of adds the carried-forward rows; the same file twice is one
	// history (movements are united by ID).
	asOf, errOut, err := runComputeCmd(t, "--account", "demo", "--as-of", "2025-11-02", computeTestPfizer, computeTestPfizer)
	if err != nil {
		t.Fatalf("compute --as-of: %v\n%s", err, errOut)
	}
	if !strings.HasPrefix(asOf, `{"account":"demo","as_of":"2025-11-02",`) {
		t.Errorf("as-of output starts %.60q", asOf)
	}
	if n := strings.Count(asOf, `"date":"2025-11-02"`); n != 2 {
		t.Errorf("%d rows dated 2025-11-02, want 2 (broker and PFE)", n)
	}
}

func TestComputeTable(t *testing.T) {
	out, errOut, err := runComputeCmd(t, "--account", "demo", "--format", "table", "--broker", "tastytrade", computeTestPfizer)
	if err != nil {
		t.Fatalf("compute: %v\n%s", err, errOut)
	}
	for _, want := range []string{"BROKER SNAPSHOTS (3)", "TICKER SNAPSHOTS (3)", "OPERATIONS (1)", "175.52", "8.7760"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestComputeRowErrorsFail(t *testing.T) {
	data, err := os.ReadFile(computeTestPfizer)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lines[2] = strings.Replace(lines[2], "-64.00", "-6x4.00", 1)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runComputeCmd(t, "--account", "demo", bad)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code == 0 || !errors.Is(err, errRowErrors) {
		t.Fatalf("err = %v, want a non-zero exit for row errors", err)
	}
	if out != "" {
		t.Errorf("printed projections despite row errors:\n%s", out)
	}
	if !strings.Contains(errOut, "line 3") || !strings.Contains(errOut, "-6x4.00") {
		t.Errorf("stderr does not name the line and value:\n%s", errOut)
	}
}

func TestComputeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{computeTestPfizer},                                               // no account
		{"--account", "a.b", computeTestPfizer},                           // not a subject token
		{"--account", "demo"},                                             // no files
		{"--account", "demo", "--format", "xml", computeTestPfizer},       // bad format
		{"--account", "demo", "--as-of", "2025-13-01", computeTestPfizer}, // bad date
		{"--account", "demo", "--broker", "schwab", computeTestPfizer},    // bad broker
	} {
		_, _, err := runComputeCmd(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err = %v, want a usage error (exit 2)", args, err)
		}
	}
	if _, _, err := runComputeCmd(t, "--account", "demo", "does-not-exist.csv"); err == nil {
		t.Errorf("missing file: no error")
	}
}
