// Package oracle is the contract checker for the original application's
// expected values: the datasets under ../shared/testdata/oracle (see its
// README.md), each an imported statement with the broker snapshots, ticker
// snapshots and operations the original computed, and meta.json saying how
// the original compared them.
//
// Check compares the snapshots JSON contract (what projections.WriteJSON,
// `projector compute` and `projector snapshots` print) with one dataset by
// the original's rules: entries are paired by date (operations by opening
// day), the "today" entry is the as-of row, money within 0.01 and
// percentages within 0.0001 (strictly less, as meta.json says), counters,
// booleans and dates exact; "filtered" datasets check the listed entries,
// "all" datasets also the exact counts; the deposits dataset is checked by
// its exact summary.
//
// The package is used only by tests (internal/projections, internal/e2e);
// it is not test code itself so that every user shares one checker.
package oracle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
)

// ErrMismatch is wrapped by the error Check returns when the actual values
// differ from the expected ones (as opposed to unreadable or malformed data).
var ErrMismatch = errors.New("oracle: mismatch")

// MinDatasets is how many datasets the original suite has; Datasets fails
// with fewer, so that a missing copy of the test data cannot pass quietly.
const MinDatasets = 5

// TodayOffset is how many days after the last movement day the checks run:
// the original's "today" entries are dated with the day the import ran,
// any day after the statement's last one.
const TodayOffset = 30

// Today returns the as-of day to check a dataset whose last movement day
// is last: the day that replaces the expected lists' "today".
func Today(last events.Date) events.Date { return last.AddDays(TodayOffset) }

// Dataset is one oracle folder.
type Dataset struct {
	Name string // the folder's name, e.g. "pfizer"
	Dir  string // the folder's path
}

// Input returns the path of the dataset's statement (a Tastytrade CSV).
func (d Dataset) Input() string { return filepath.Join(d.Dir, "input.csv") }

// Datasets lists the datasets in dir (../shared/testdata/oracle), sorted by
// name. It fails when dir holds fewer than MinDatasets.
func Datasets(dir string) ([]Dataset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("oracle datasets: %w", err)
	}
	var out []Dataset
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, Dataset{Name: e.Name(), Dir: filepath.Join(dir, e.Name())})
		}
	}
	if len(out) < MinDatasets {
		return nil, fmt.Errorf("oracle datasets: %d in %s, want at least %d", len(out), dir, MinDatasets)
	}
	return out, nil
}

// Actual is what Check compares with a dataset's expected values.
type Actual struct {
	// Snapshots is the snapshots JSON contract as of the checked day:
	// {"broker_snapshots": [...], "ticker_snapshots": [...], "operations": [...]}.
	Snapshots []byte
	// Movements is the number of movements of the account after the
	// import; only the deposits summary checks it.
	Movements int
}

// MismatchError lists every difference Check found in one dataset. It
// wraps ErrMismatch.
type MismatchError struct {
	Dataset string
	Diffs   []string
}

// maxListed bounds how many differences Error spells out.
const maxListed = 40

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oracle %s: %d differences", e.Dataset, len(e.Diffs))
	for i, d := range e.Diffs {
		if i == maxListed {
			fmt.Fprintf(&b, "\n\t… and %d more", len(e.Diffs)-maxListed)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(d)
	}
	return b.String()
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// meta is the part of meta.json the checks use.
type meta struct {
	Matching *struct {
		Mode string `json:"mode"`
	} `json:"matching"`
	ExactCounts map[string]int `json:"exact_count_assertions"`
	Comparison  *struct {
		Broker     map[string]string `json:"broker_snapshot_fields"`
		Ticker     map[string]string `json:"ticker_snapshot_fields"`
		Operations map[string]string `json:"operation_fields"`
	} `json:"comparison"`
	AdditionalChecks []struct {
		What      string            `json:"what"`
		Expect    map[string]any    `json:"expect"`
		Tolerance map[string]string `json:"tolerance"`
	} `json:"additional_checks"`
}

// entry is one JSON record: field name → value.
type entry map[string]any

// checker collects the differences and counts the checks of one dataset.
type checker struct {
	diffs  []string
	checks int
}

func (c *checker) errorf(format string, args ...any) {
	c.diffs = append(c.diffs, fmt.Sprintf(format, args...))
}

// Check compares got, computed as of asOf (normally Today(last movement
// day)), with the expected values of ds and returns how many field checks
// (and count checks) it made. A difference gives a *MismatchError; data
// that cannot be read or rules the checker does not know give another
// error.
func Check(ds Dataset, got Actual, asOf events.Date) (checks int, err error) {
	lists, err := decodeSnapshots(got.Snapshots)
	if err != nil {
		return 0, fmt.Errorf("oracle %s: %w", ds.Name, err)
	}
	c := &checker{}
	if ds.Name == "deposits" {
		err = c.deposits(ds, lists["broker_snapshots"], got.Movements)
	} else {
		err = c.lists(ds, lists, asOf)
	}
	if err != nil {
		return c.checks, fmt.Errorf("oracle %s: %w", ds.Name, err)
	}
	if len(c.diffs) > 0 {
		return c.checks, &MismatchError{Dataset: ds.Name, Diffs: c.diffs}
	}
	if c.checks == 0 {
		return 0, fmt.Errorf("oracle %s: nothing was checked", ds.Name)
	}
	return c.checks, nil
}

func decodeSnapshots(b []byte) (map[string][]entry, error) {
	var v map[string]any
	if err := unmarshalExact(b, &v); err != nil {
		return nil, fmt.Errorf("snapshots JSON: %w", err)
	}
	res := map[string][]entry{}
	for _, key := range []string{"broker_snapshots", "ticker_snapshots", "operations"} {
		list, ok := v[key].([]any)
		if !ok && v[key] != nil {
			return nil, fmt.Errorf("snapshots JSON: %s is not a list", key)
		}
		for _, x := range list {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("snapshots JSON: %s holds a non-object", key)
			}
			res[key] = append(res[key], entry(m))
		}
	}
	return res, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := unmarshalExact(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// unmarshalExact decodes JSON keeping numbers as their literal text
// (json.Number), never as float64: counters are compared exactly.
func unmarshalExact(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// sameNumber reports whether g is a JSON number equal to the number w.
func sameNumber(w json.Number, g any) bool {
	gn, ok := g.(json.Number)
	if !ok {
		return false
	}
	wd, err1 := decimal.NewFromString(w.String())
	gd, err2 := decimal.NewFromString(gn.String())
	return err1 == nil && err2 == nil && wd.Equal(gd)
}

// lists checks the expected broker snapshots, ticker snapshots and
// operations of ds, the exact counts and the additional checks.
func (c *checker) lists(ds Dataset, got map[string][]entry, asOf events.Date) error {
	var m meta
	if err := readJSON(filepath.Join(ds.Dir, "meta.json"), &m); err != nil {
		return err
	}
	if m.Comparison == nil || m.Matching == nil {
		return errors.New("meta.json has no comparison or matching rules")
	}
	var expBroker, expTickers, expOps []entry
	for _, f := range []struct {
		name string
		v    *[]entry
	}{
		{"broker_snapshots.json", &expBroker}, {"ticker_snapshots.json", &expTickers}, {"expected_operations.json", &expOps},
	} {
		if err := readJSON(filepath.Join(ds.Dir, f.name), f.v); err != nil {
			return err
		}
	}
	broker, tickers, ops := got["broker_snapshots"], got["ticker_snapshots"], got["operations"]
	day := func(v any) string {
		if s, _ := v.(string); s != "today" {
			return s
		}
		return asOf.String()
	}
	for i, e := range expBroker {
		d := day(e["date"])
		label := fmt.Sprintf("broker[%d] %s", i, d)
		a := find(broker, func(a entry) bool { return a["currency"] == e["currency"] && a["date"] == d })
		if a == nil {
			c.errorf("%s: no actual broker snapshot", label)
			continue
		}
		if err := c.fields(label, m.Comparison.Broker, e, a); err != nil {
			return err
		}
	}
	for i, e := range expTickers {
		d := day(e["date"])
		label := fmt.Sprintf("ticker %v[%d] %s", e["ticker"], i, d)
		a := find(tickers, func(a entry) bool {
			return a["ticker"] == e["ticker"] && a["currency"] == e["currency"] && a["date"] == d
		})
		if a == nil {
			c.errorf("%s: no actual ticker snapshot", label)
			continue
		}
		if err := c.fields(label, m.Comparison.Ticker, e, a); err != nil {
			return err
		}
	}
	for i, e := range expOps {
		open, _ := e["open_date"].(string)
		open, _, _ = strings.Cut(open, "T")
		label := fmt.Sprintf("operation %v[%d] opened %s", e["ticker"], i, open)
		a := find(ops, func(a entry) bool {
			return a["ticker"] == e["ticker"] && a["currency"] == e["currency"] && a["open_date"] == open
		})
		if a == nil {
			c.errorf("%s: no actual operation", label)
			continue
		}
		if err := c.fields(label, m.Comparison.Operations, e, a); err != nil {
			return err
		}
	}

	switch m.Matching.Mode {
	case "filtered":
	case "all":
		for _, key := range slices.Sorted(maps.Keys(m.ExactCounts)) {
			n, err := c.count(key, broker, tickers, ops)
			if err != nil {
				return err
			}
			if want := m.ExactCounts[key]; n != want {
				c.errorf("exact count %s = %d, want %d", key, n, want)
			}
			c.checks++
		}
	default:
		return fmt.Errorf("unknown matching mode %q", m.Matching.Mode)
	}

	// Checks on the latest broker snapshot (the one the original keeps as
	// current).
	for _, ac := range m.AdditionalChecks {
		if !strings.Contains(ac.What, "latest broker snapshot") {
			return fmt.Errorf("unknown additional check %q", ac.What)
		}
		if len(broker) == 0 {
			c.errorf("%s: no broker snapshots", ac.What)
			continue
		}
		rules := make(map[string]string)
		for k := range ac.Expect {
			rules[k] = ac.Tolerance[k]
		}
		if err := c.fields("latest broker snapshot", rules, entry(ac.Expect), broker[len(broker)-1]); err != nil {
			return err
		}
	}
	return nil
}

func find(list []entry, match func(entry) bool) entry {
	for _, a := range list {
		if match(a) {
			return a
		}
	}
	return nil
}

// fields compares every field named in rules ("exact" or a tolerance,
// strictly less, optionally followed by a note) and counts each compared
// field. The pairing fields date and open_date are not counted.
func (c *checker) fields(label string, rules map[string]string, want, got entry) error {
	keys := make([]string, 0, len(rules))
	for k := range rules {
		if k != "date" && k != "open_date" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		rule := rules[k]
		w, ok := want[k]
		if !ok {
			return fmt.Errorf("%s: expected entry has no field %q", label, k)
		}
		g, ok := got[k]
		if !ok {
			c.errorf("%s: actual entry has no field %q", label, k)
			continue
		}
		c.checks++
		tol, _, _ := strings.Cut(rule, " ")
		switch wv := w.(type) {
		case bool:
			if tol != "exact" {
				return fmt.Errorf("%s: %s has rule %q for a non-decimal value", label, k, rule)
			}
			if gb, ok := g.(bool); !ok || gb != wv {
				c.errorf("%s: %s = %v, want %v", label, k, g, wv)
			}
		case json.Number:
			if tol != "exact" {
				return fmt.Errorf("%s: %s has rule %q for a non-decimal value", label, k, rule)
			}
			if !sameNumber(wv, g) {
				c.errorf("%s: %s = %v, want %v", label, k, g, wv)
			}
		case string:
			wd, err := decimal.NewFromString(wv)
			if err != nil {
				return fmt.Errorf("%s: %s: expected %q is not a decimal", label, k, wv)
			}
			gs, _ := g.(string)
			gd, err := decimal.NewFromString(gs)
			if err != nil {
				c.errorf("%s: %s = %v, want the decimal %s", label, k, g, wd)
				continue
			}
			if tol == "exact" {
				if !wd.Equal(gd) {
					c.errorf("%s: %s = %s, want exactly %s", label, k, gd, wd)
				}
				continue
			}
			td, err := decimal.NewFromString(tol)
			if err != nil {
				return fmt.Errorf("%s: %s: bad tolerance rule %q", label, k, rule)
			}
			if gd.Sub(wd).Abs().Cmp(td) >= 0 {
				c.errorf("%s: %s = %s, want %s (|Δ| < %s)", label, k, gd, wd, td)
			}
		default:
			return fmt.Errorf("%s: %s: unexpected expected value %v", label, k, w)
		}
	}
	return nil
}

// count evaluates one exact_count_assertions key.
func (c *checker) count(key string, broker, tickers, ops []entry) (int, error) {
	kind, ticker, _ := strings.Cut(key, ".")
	of := func(list []entry) int {
		n := 0
		for _, e := range list {
			if e["ticker"] == ticker {
				n++
			}
		}
		return n
	}
	switch kind {
	case "broker_snapshots":
		return len(broker), nil
	case "ticker_snapshots":
		return of(tickers), nil
	case "operations":
		return of(ops), nil
	case "ticker_count_including_default_SPY":
		// The original database also holds its default ticker SPY; ours
		// holds only the statement's tickers, so the count is ours + 1.
		set := make(map[any]bool)
		for _, e := range tickers {
			set[e["ticker"]] = true
		}
		if set["SPY"] {
			c.errorf("%s: SPY has snapshots, but the statement never trades it", key)
		}
		return len(set) + 1, nil
	}
	return 0, fmt.Errorf("unknown exact count assertion %q", key)
}

// deposits checks deposits/expected_summary.json with exact equality: the
// number of movements, the latest snapshot's totals, and the number of
// broker snapshots (the dated ones and the as-of row).
func (c *checker) deposits(ds Dataset, broker []entry, movements int) error {
	var sum struct {
		Checks []struct {
			What   string `json:"what"`
			Expect any    `json:"expect"`
		} `json:"checks"`
	}
	if err := readJSON(filepath.Join(ds.Dir, "expected_summary.json"), &sum); err != nil {
		return err
	}
	if len(sum.Checks) == 0 {
		return errors.New("expected_summary.json has no checks")
	}
	var latest entry
	if len(broker) > 0 {
		latest = broker[len(broker)-1]
	}
	for _, sc := range sum.Checks {
		var got any
		switch {
		case strings.HasPrefix(sc.What, "number of movements"):
			got = json.Number(strconv.Itoa(movements))
		case strings.HasPrefix(sc.What, "latest broker snapshot: "):
			field := strings.TrimPrefix(sc.What, "latest broker snapshot: ")
			if latest == nil {
				c.errorf("%s: no broker snapshots", sc.What)
				continue
			}
			var ok bool
			if got, ok = latest[field]; !ok {
				c.errorf("%s: the latest broker snapshot has no field %q", sc.What, field)
				continue
			}
		case strings.HasPrefix(sc.What, "number of broker-account snapshots"):
			got = json.Number(strconv.Itoa(len(broker)))
		case strings.HasPrefix(sc.What, "current snapshots"):
			c.checks++
			if latest == nil {
				c.errorf("%s: no current snapshot", sc.What)
			}
			continue
		default:
			return fmt.Errorf("unknown summary check %q", sc.What)
		}
		c.checks++
		switch w := sc.Expect.(type) {
		case json.Number:
			if !sameNumber(w, got) {
				c.errorf("%s = %v, want %v", sc.What, got, w)
			}
		case string:
			wd, err := decimal.NewFromString(w)
			if err != nil {
				return fmt.Errorf("%s: expected %q is not a decimal", sc.What, w)
			}
			gs, _ := got.(string)
			if gd, err := decimal.NewFromString(gs); err != nil || !gd.Equal(wd) {
				c.errorf("%s = %v, want exactly %s", sc.What, got, wd)
			}
		default:
			return fmt.Errorf("%s: unexpected expected value %v", sc.What, sc.Expect)
		}
	}
	return nil
}
