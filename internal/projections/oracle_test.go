package projections_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/oracle"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/projections"
)

// oracleDir holds the original application's expected values (see its
// README.md): one folder per imported statement.
const oracleDir = "../../../shared/testdata/oracle"

// TestOracle runs every oracle dataset through the Tastytrade parser and the
// projections, as of T = oracle.Today(the last movement day) (the original's
// "today"), and compares the JSON contract with the expected values by the
// original's rules (oracle.Check).
func TestOracle(t *testing.T) {
	datasets, err := oracle.Datasets(oracleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range datasets {
		t.Run(ds.Name, func(t *testing.T) { runOracle(t, ds) })
	}
}

func runOracle(t *testing.T, ds oracle.Dataset) {
	f, err := os.Open(ds.Input())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const account = "oracle"
	parsed, err := parsers.Parse(parsers.Tastytrade{}, f, parsers.Options{Account: account})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, re := range parsed.RowErrors {
		t.Errorf("row error: %v", &re)
	}
	last := events.Date(0)
	for _, m := range parsed.Movements {
		last = max(last, m.Time.Day())
	}
	if last == 0 {
		t.Fatal("no movements")
	}
	T := oracle.Today(last)
	r := projections.ComputeAsOf(account, parsed.Movements, T)
	var buf bytes.Buffer
	if err := projections.WriteJSON(&buf, r, &T); err != nil {
		t.Fatal(err)
	}
	checks, err := oracle.Check(ds, oracle.Actual{Snapshots: buf.Bytes(), Movements: len(parsed.Movements)}, T)
	if err != nil {
		t.Error(err)
	}
	t.Logf("%s: %d field checks", ds.Name, checks)
}
