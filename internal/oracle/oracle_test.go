package oracle_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/oracle"
)

const oracleDir = "../../../shared/testdata/oracle"

// asOf is the day the synthetic actual values are computed as of.
var asOf = events.Date(20251103)

func dataset(t *testing.T, name string) oracle.Dataset {
	t.Helper()
	all, err := oracle.Datasets(oracleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range all {
		if ds.Name == name {
			return ds
		}
	}
	t.Fatalf("no oracle dataset %q", name)
	return oracle.Dataset{}
}

// perfect builds the actual snapshots JSON the dataset expects: its own
// expected entries, "today" replaced by asOf and operations paired by day.
func perfect(t *testing.T, ds oracle.Dataset) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for key, file := range map[string]string{"broker_snapshots": "broker_snapshots.json",
		"ticker_snapshots": "ticker_snapshots.json", "operations": "expected_operations.json"} {
		b, err := os.ReadFile(filepath.Join(ds.Dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var list []map[string]any
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e["date"] == "today" {
				e["date"] = asOf.String()
			}
			if s, ok := e["open_date"].(string); ok {
				e["open_date"], _, _ = strings.Cut(s, "T")
			}
		}
		out[key] = list
	}
	return out
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func add(t *testing.T, e map[string]any, field, delta string) {
	t.Helper()
	d, err := decimal.NewFromString(e[field].(string))
	if err != nil {
		t.Fatal(err)
	}
	e[field] = d.Add(decimal.RequireFromString(delta)).String()
}

func TestDatasets(t *testing.T) {
	all, err := oracle.Datasets(oracleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range all {
		if _, err := os.Stat(ds.Input()); err != nil {
			t.Errorf("%s: %v", ds.Name, err)
		}
	}
	if _, err := oracle.Datasets(t.TempDir()); err == nil {
		t.Error("Datasets of an empty folder: no error")
	}
}

// TestCheckLists checks the pfizer dataset (mode "all", exact counts)
// against its own expected values, then against one deliberate change at
// a time: each must fail with ErrMismatch, except a change within the
// tolerance.
func TestCheckLists(t *testing.T) {
	ds := dataset(t, "pfizer")
	base, err := oracle.Check(ds, oracle.Actual{Snapshots: encode(t, perfect(t, ds))}, asOf)
	if err != nil {
		t.Fatalf("the expected values themselves: %v", err)
	}
	if base < 100 {
		t.Fatalf("%d checks, want the pfizer dataset's 125 field checks and 4 counts", base)
	}
	tests := []struct {
		name   string
		change func(t *testing.T, a map[string][]map[string]any)
		ok     bool
	}{
		{"money within the tolerance", func(t *testing.T, a map[string][]map[string]any) {
			add(t, a["broker_snapshots"][1], "fees", "0.0099")
		}, true},
		{"money at the tolerance", func(t *testing.T, a map[string][]map[string]any) {
			add(t, a["broker_snapshots"][1], "fees", "0.01")
		}, false},
		{"percentage off", func(t *testing.T, a map[string][]map[string]any) {
			add(t, a["ticker_snapshots"][3], "performance", "-0.0001")
		}, false},
		{"operation off", func(t *testing.T, a map[string][]map[string]any) {
			add(t, a["operations"][0], "realized", "1")
		}, false},
		{"counter off", func(t *testing.T, a map[string][]map[string]any) {
			a["broker_snapshots"][0]["movement_counter"] = 2.0
		}, false},
		{"boolean flipped", func(t *testing.T, a map[string][]map[string]any) {
			e := a["ticker_snapshots"][0]
			e["open_trades"] = !e["open_trades"].(bool)
		}, false},
		{"field missing", func(t *testing.T, a map[string][]map[string]any) {
			delete(a["broker_snapshots"][0], "invested")
		}, false},
		{"not a decimal", func(t *testing.T, a map[string][]map[string]any) {
			a["broker_snapshots"][0]["invested"] = "zero"
		}, false},
		{"today entry missing", func(t *testing.T, a map[string][]map[string]any) {
			l := a["broker_snapshots"]
			a["broker_snapshots"] = l[:len(l)-1]
		}, false},
		{"operation missing", func(t *testing.T, a map[string][]map[string]any) {
			a["operations"] = nil
		}, false},
		{"extra snapshot", func(t *testing.T, a map[string][]map[string]any) {
			extra := maps.Clone(a["ticker_snapshots"][0])
			extra["date"] = "2025-08-26"
			a["ticker_snapshots"] = append(a["ticker_snapshots"], extra)
		}, false},
		{"the default ticker traded", func(t *testing.T, a map[string][]map[string]any) {
			extra := maps.Clone(a["ticker_snapshots"][0])
			extra["ticker"] = "SPY"
			a["ticker_snapshots"] = append(a["ticker_snapshots"], extra)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := perfect(t, ds)
			tt.change(t, a)
			n, err := oracle.Check(ds, oracle.Actual{Snapshots: encode(t, a)}, asOf)
			switch {
			case tt.ok && err != nil:
				t.Errorf("Check: %v, want no error", err)
			case !tt.ok && !errors.Is(err, oracle.ErrMismatch):
				t.Errorf("Check: %v, want a mismatch", err)
			}
			var me *oracle.MismatchError
			if errors.As(err, &me) && len(me.Diffs) == 0 {
				t.Errorf("mismatch without differences: %v", err)
			}
			if tt.ok && n != base {
				t.Errorf("%d checks, want %d", n, base)
			}
		})
	}
}

// TestCheckAsOf: the "today" entries are paired with the as-of day only.
func TestCheckAsOf(t *testing.T) {
	ds := dataset(t, "pfizer")
	_, err := oracle.Check(ds, oracle.Actual{Snapshots: encode(t, perfect(t, ds))}, asOf.AddDays(1))
	if !errors.Is(err, oracle.ErrMismatch) {
		t.Errorf("checked as of another day: %v, want a mismatch", err)
	}
}

// TestCheckDeposits checks the deposits summary: exact totals and counts.
func TestCheckDeposits(t *testing.T) {
	ds := dataset(t, "deposits")
	snapshots := func(n int, deposited string) []byte {
		var list []map[string]any
		for i := range n {
			list = append(list, map[string]any{"date": events.Date(20240422).AddDays(i).String(), "currency": "USD",
				"movement_counter": json.Number(strconv.Itoa(min(i+1, 20))), "deposited": deposited, "withdrawn": "25.00"})
		}
		return encode(t, map[string]any{"broker_snapshots": list, "ticker_snapshots": []any{}, "operations": []any{}})
	}
	tests := []struct {
		name      string
		snapshots []byte
		movements int
		ok        bool
	}{
		{"as expected", snapshots(21, "19388.4"), 20, true},
		{"a movement short", snapshots(21, "19388.40"), 19, false},
		{"no as-of row", snapshots(20, "19388.40"), 20, false},
		{"deposited off by a cent", snapshots(21, "19388.41"), 20, false},
		{"no snapshots", snapshots(0, "0"), 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := oracle.Check(ds, oracle.Actual{Snapshots: tt.snapshots, Movements: tt.movements}, asOf)
			if tt.ok {
				if err != nil || n != 6 {
					t.Errorf("Check: %d checks, %v; want 6 checks, no error", n, err)
				}
			} else if !errors.Is(err, oracle.ErrMismatch) {
				t.Errorf("Check: %v, want a mismatch", err)
			}
		})
	}
}

// TestCheckBadInput: output that is not the snapshots contract is an
// error, but not a mismatch.
func TestCheckBadInput(t *testing.T) {
	ds := dataset(t, "pfizer")
	for _, in := range []string{"", "not json", `{"broker_snapshots": 3}`} {
		_, err := oracle.Check(ds, oracle.Actual{Snapshots: []byte(in)}, asOf)
		if err == nil || errors.Is(err, oracle.ErrMismatch) {
			t.Errorf("Check(%q): %v, want an error that is no mismatch", in, err)
		}
	}
}
