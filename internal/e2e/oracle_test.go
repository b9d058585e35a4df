package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/oracle"
)

// TestOracleEndToEnd runs every oracle dataset through the whole pipeline
// (import → stream → projector process → SQLite store) and compares what
// `projector snapshots` prints with the original application's expected
// values by the original's rules (oracle.Check), as of T =
// oracle.Today(the last movement day), the day of the "today" entries.
// It also checks that `snapshots` prints byte for byte what `projector
// compute` prints for the same statement: one JSON contract.
func TestOracleEndToEnd(t *testing.T) {
	datasets := oracleDatasets(t)
	pl := newPipeline(t)
	dataDir := t.TempDir()
	p := startProjector(t, pl.env.URL, dataDir, nil)
	// One account per dataset, all through one projector and one stream.
	var ids []string
	for _, ds := range datasets {
		res := pl.importFile(t, ds.Input(), "oracle-"+ds.Name)
		ids = append(ids, res.Session.ID)
	}
	pl.waitCompleted(t, ids...)
	p.Stop(t)

	for _, ds := range datasets {
		t.Run(ds.Name, func(t *testing.T) {
			account := "oracle-" + ds.Name
			input := ds.Input()
			plain := mustCLI(t, "snapshots", "--data", dataDir, "--account", account)
			if want := mustCLI(t, "compute", "--account", account, input); plain != want {
				t.Errorf("snapshots and compute differ without --as-of:\nsnapshots %s\ncompute   %s", plain, want)
			}
			T := oracle.Today(lastDate(t, plain))
			out := mustCLI(t, "snapshots", "--data", dataDir, "--account", account, "--as-of", T.String())
			if want := mustCLI(t, "compute", "--account", account, "--as-of", T.String(), input); out != want {
				t.Errorf("snapshots and compute differ as of %s:\nsnapshots %s\ncompute   %s", T, out, want)
			}
			// A day inside the history is recomputed from the stored
			// movements, exactly as compute does.
			mid := firstDate(t, plain)
			midOut := mustCLI(t, "snapshots", "--data", dataDir, "--account", account, "--as-of", mid.String())
			if want := mustCLI(t, "compute", "--account", account, "--as-of", mid.String(), input); midOut != want {
				t.Errorf("snapshots and compute differ as of %s:\nsnapshots %s\ncompute   %s", mid, midOut, want)
			}
			checkOracle(t, ds, dataDir, out, T)
		})
	}
}

// oracleDatasets lists the oracle datasets.
func oracleDatasets(t *testing.T) []oracle.Dataset {
	t.Helper()
	datasets, err := oracle.Datasets(oracleDir)
	if err != nil {
		t.Fatal(err)
	}
	return datasets
}

// brokerDates returns the dates of the broker snapshots in the snapshots
// JSON out.
func brokerDates(t *testing.T, out string) []events.Date {
	t.Helper()
	var v struct {
		Broker []struct {
			Date string `json:"date"`
		} `json:"broker_snapshots"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("snapshots output is not JSON: %v\n%s", err, out)
	}
	if len(v.Broker) == 0 {
		t.Fatalf("no broker snapshots:\n%s", out)
	}
	var dates []events.Date
	for _, b := range v.Broker {
		d, err := events.ParseDate(b.Date)
		if err != nil {
			t.Fatal(err)
		}
		dates = append(dates, d)
	}
	return dates
}

func lastDate(t *testing.T, out string) events.Date {
	t.Helper()
	return slices.Max(brokerDates(t, out))
}

func firstDate(t *testing.T, out string) events.Date {
	t.Helper()
	return slices.Min(brokerDates(t, out))
}

// checkOracle compares the snapshots printed as of T with the dataset's
// expected values (oracle.Check); the deposits summary also counts the
// account's movements in the SQLite store of dataDir.
func checkOracle(t *testing.T, ds oracle.Dataset, dataDir, out string, T events.Date) {
	t.Helper()
	account := "oracle-" + ds.Name
	movements := 0
	for _, row := range dump(t, filepath.Join(dataDir, "folio.db"))["movements"] {
		if strings.Contains(row, "|account="+account+"|") {
			movements++
		}
	}
	checks, err := oracle.Check(ds, oracle.Actual{Snapshots: []byte(out), Movements: movements}, T)
	if err != nil {
		t.Error(err)
	}
	t.Logf("%d field checks", checks)
}
