package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/internal/parsers"
)

func TestRun(t *testing.T) {
	for _, broker := range []string{"tastytrade", "ibkr"} {
		t.Run(broker, func(t *testing.T) {
			var out, summary bytes.Buffer
			if err := run([]string{"--broker", broker, "--rows", "50", "--seed", "2", "--start", "2025-03-03"}, &out, &summary); err != nil {
				t.Fatal(err)
			}
			var s struct {
				Broker    string `json:"broker"`
				Rows      int    `json:"rows"`
				Movements int    `json:"movements"`
				First     string `json:"first"`
			}
			if err := json.Unmarshal(summary.Bytes(), &s); err != nil {
				t.Fatalf("summary %q: %v", summary.String(), err)
			}
			if s.Broker != broker || s.Rows != 50 || s.First != "2025-03-03" {
				t.Errorf("summary = %+v", s)
			}
			p, err := parsers.ForBroker(broker)
			if err != nil {
				t.Fatal(err)
			}
			res, err := parsers.Parse(p, &out, parsers.Options{Account: "cli"})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.RowErrors) != 0 || len(res.Movements) != s.Movements {
				t.Errorf("parsed %d movements, %d row errors; the summary says %d movements", len(res.Movements), len(res.RowErrors), s.Movements)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--broker", "schwab"},
		{"--start", "2025-02-30"},
		{"--rows", "-1"},
		{"--rows", "x"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		err := run(args, &out, &errOut)
		if err == nil {
			t.Errorf("%q: no error", strings.Join(args, " "))
		}
	}
}
