package chunker

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/synth"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const sharedTestdata = "../../../shared/testdata"

// samples are every statement of the shared test data.
func samples(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"tastytrade/*.csv", "ibkr/*.csv", "oracle/*/input.csv"} {
		m, err := filepath.Glob(filepath.Join(sharedTestdata, pattern))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 19 {
		t.Fatalf("found %d samples under %s, want 19", len(paths), sharedTestdata)
	}
	return paths
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func analyzeBytes(t testing.TB, data []byte, cfg Config) *Analysis {
	t.Helper()
	if cfg.Account == "" {
		cfg.Account = testAccount
	}
	a, err := Analyze(bytes.NewReader(data), cfg)
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	return a
}

func buildBytes(t testing.TB, data []byte, a *Analysis) *built {
	t.Helper()
	out := &built{bodies: make(map[string][]byte)}
	err := Build(bytes.NewReader(data), a, Config{}, nil, func(c *events.Chunk) error {
		b, err := events.Marshal(c)
		if err != nil {
			return err
		}
		out.chunks = append(out.chunks, c)
		out.bodies[c.ID] = b
		out.order = append(out.order, c.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}

// planGolden is what the golden plan files pin: the file identity, the
// counts and the chunk plan (sizes left out: they follow every field the
// parsers write and are checked against the real encoding instead).
type planGolden struct {
	SHA256    string              `json:"sha256"`
	Session   string              `json:"session"`
	Broker    string              `json:"broker"`
	Rows      int                 `json:"rows"`
	Movements int                 `json:"movements"`
	Counts    map[events.Kind]int `json:"counts"`
	Errors    int                 `json:"row_errors"`
	Ignored   int                 `json:"ignored"`
	MinTime   events.WallTime     `json:"min_time"`
	MaxTime   events.WallTime     `json:"max_time"`
	Chunks    []string            `json:"chunks"` // "ID movements"
}

func TestSamples(t *testing.T) {
	for _, path := range samples(t) {
		name := strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(path, sharedTestdata+"/"), "/", "_"), ".csv")
		t.Run(name, func(t *testing.T) {
			data := readFile(t, path)
			// A small budget so the larger samples split weeks into parts.
			a := analyzeBytes(t, data, Config{ByteBudget: 8192, File: filepath.Base(path)})

			g := planGolden{SHA256: a.SHA256, Session: a.SessionID, Broker: a.Broker, Rows: a.Rows, Movements: a.Movements,
				Counts: a.Counts, Errors: a.RowErrorCount, Ignored: a.IgnoredCount, MinTime: a.MinTime, MaxTime: a.MaxTime}
			for _, c := range a.Plan.Refs() {
				g.Chunks = append(g.Chunks, fmt.Sprintf("%s %d", c.ID, c.Movements))
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "plans", name+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/chunker -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plan differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}

			// Pass 2 emits exactly the parsed movements, as planned.
			out := buildBytes(t, data, a)
			checkBuilt(t, a, out)
			res, err := parsers.Parse(mustParser(t, a.Broker), bytes.NewReader(data), parsers.Options{Account: testAccount})
			if err != nil {
				t.Fatal(err)
			}
			want2 := make(map[string]*events.Movement)
			for i := range res.Movements {
				want2[res.Movements[i].ID] = &res.Movements[i]
			}
			n := 0
			for _, c := range out.chunks {
				for i := range c.Movements {
					m := &c.Movements[i]
					if w := want2[m.ID]; w == nil || !w.Equal(m) {
						t.Errorf("emitted movement %s is not the parsed one", m.ID)
					}
					n++
				}
			}
			if n != len(res.Movements) || len(want2) != n {
				t.Errorf("emitted %d movements, parsed %d (%d distinct IDs)", n, len(res.Movements), len(want2))
			}
			if a.Rows != res.Rows || a.RowErrorCount != len(res.RowErrors) || a.IgnoredCount != len(res.Ignored) {
				t.Errorf("rows/errors/ignored = %d/%d/%d, Parse says %d/%d/%d", a.Rows, a.RowErrorCount, a.IgnoredCount,
					res.Rows, len(res.RowErrors), len(res.Ignored))
			}

			// The same bytes again: the same plan and byte-identical bodies.
			a2 := analyzeBytes(t, data, Config{ByteBudget: 8192, File: filepath.Base(path)})
			if fmt.Sprint(a2.Plan.Refs()) != fmt.Sprint(a.Plan.Refs()) {
				t.Errorf("second analysis differs")
			}
			out2 := buildBytes(t, data, a2)
			for id, body := range out.bodies {
				if !bytes.Equal(body, out2.bodies[id]) {
					t.Errorf("chunk %s differs between two builds", id)
				}
			}
		})
	}
}

func mustParser(t testing.TB, broker string) parsers.Parser {
	t.Helper()
	p, err := parsers.ForBroker(broker)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSampleSpecCounts(t *testing.T) {
	// spec/parsers.md §5.
	want := map[string]int{
		"tastytrade/FutureOptions.csv":                   42,
		"tastytrade/MPWImportTest.csv":                   478,
		"tastytrade/PfizerImportTest.csv":                4,
		"tastytrade/TastytradeOptionsTest.csv":           16,
		"tastytrade/TastytradeDeposits.csv":              20,
		"tastytrade/LendingRebate.csv":                   2,
		"tastytrade/tastytrade_acat_transfer_sample.csv": 3,
		"tastytrade/tastytrade_mixed_trading_sample.csv": 11,
		"tastytrade/tastytrade_options_heavy_sample.csv": 12,
		"ibkr/InitialImport.csv":                         4,
		"ibkr/ibkr_trading_day_sample.csv":               4,
		"ibkr/ibkr_multi_currency_sample.csv":            4,
		"ibkr/ibkr_non_trading_day_sample.csv":           0,
		"ibkr/ibkr_edge_cases_sample.csv":                0,
	}
	for rel, n := range want {
		a := analyzeBytes(t, readFile(t, filepath.Join(sharedTestdata, rel)), Config{})
		if a.Movements != n || a.RowErrorCount != 0 {
			t.Errorf("%s: %d movements, %d row errors; want %d, 0", rel, a.Movements, a.RowErrorCount, n)
		}
	}
}

// shuffleRows returns data with its data rows (every line after the first)
// in a seeded random order.
func shuffleRows(data []byte, seed uint64) []byte {
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	rows := slices.Clone(lines[1:])
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return []byte(lines[0] + "\n" + strings.Join(rows, "\n") + "\n")
}

func TestShuffledSample(t *testing.T) {
	// A real export with its rows shuffled: the same bytes always give the
	// same plan and bodies, and every week holds the same movement IDs as the
	// export in its original order (IDs do not depend on row order).
	data := readFile(t, filepath.Join(sharedTestdata, "tastytrade/MPWImportTest.csv"))
	shuffled := shuffleRows(data, 42)
	if bytes.Equal(shuffled, data) {
		t.Fatal("fixture: shuffle changed nothing")
	}
	weeks := func(data []byte) (map[string][]string, *built) {
		a := analyzeBytes(t, data, Config{ByteBudget: 8192})
		out := buildBytes(t, data, a)
		checkBuilt(t, a, out)
		w := make(map[string][]string)
		for _, c := range out.chunks {
			for _, m := range c.Movements {
				w[c.Week] = append(w[c.Week], m.ID)
			}
		}
		for k := range w {
			slices.Sort(w[k])
		}
		return w, out
	}
	orig, _ := weeks(data)
	sh1, b1 := weeks(shuffled)
	_, b2 := weeks(shuffled)
	if fmt.Sprint(orig) != fmt.Sprint(sh1) {
		t.Errorf("shuffled rows put other movement IDs in some week")
	}
	if !slices.Equal(b1.order, b2.order) {
		t.Errorf("emission order differs between two builds of the same bytes")
	}
	for id, body := range b1.bodies {
		if !bytes.Equal(body, b2.bodies[id]) {
			t.Errorf("chunk %s differs between two builds of the same bytes", id)
		}
	}
}

// TestBuildDetectsIdentityOnlyChange changes, between the passes, a field
// of one row that no movement carries but its ID (Order #, Symbol) or
// nothing (Total): Build must stop with ErrFileChanged before emitting the
// chunk of that row, and every chunk it emitted must be the one a build of
// the analysed bytes emits.
func TestBuildDetectsIdentityOnlyChange(t *testing.T) {
	data := readFile(t, filepath.Join(sharedTestdata, "tastytrade", "MPWImportTest.csv"))
	lines := strings.Split(string(data), "\n")
	a := analyzeBytes(t, data, Config{ByteBudget: MinByteBudget})
	if a.Plan.Len() < 4 {
		t.Fatalf("%d chunks: use a sample with more", a.Plan.Len())
	}
	good := buildBytes(t, data, a)
	for _, col := range []int{4, 18, 19} { // Symbol, Order #, Total
		for _, line := range []int{2, len(lines) / 2, len(lines) - 2} {
			fields := strings.Split(lines[line-1], ",")
			if len(fields) != 21 {
				t.Fatalf("line %d has %d fields", line, len(fields))
			}
			changed := slices.Clone(lines)
			fields[col] += "9"
			changed[line-1] = strings.Join(fields, ",")
			out := &built{bodies: make(map[string][]byte)}
			err := Build(strings.NewReader(strings.Join(changed, "\n")), a, Config{}, nil, func(c *events.Chunk) error {
				b, err := events.Marshal(c)
				if err != nil {
					return err
				}
				for _, m := range c.Movements {
					if m.Line == line {
						t.Errorf("column %d, line %d: chunk %s with the changed row was emitted", col, line, c.ID)
					}
				}
				out.bodies[c.ID] = b
				return nil
			})
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("column %d, line %d: err = %v, want ErrFileChanged", col, line, err)
			}
			for id, body := range out.bodies {
				if !bytes.Equal(body, good.bodies[id]) {
					t.Errorf("column %d, line %d: emitted chunk %s differs from the plan's", col, line, id)
				}
			}
		}
	}
}

// TestSizeOnlyPlanEqualsValues checks pass 1's shortcut, the stand-ins of
// parsers.Options.SizeOnly, against measuring the movements' real values:
// the same plan (chunk sizes included), counts and row errors, over every
// sample and synthetic statements, with a budget small enough to cut weeks
// into many parts; and pass 2's bodies, marshalled, are the planned sizes.
func TestSizeOnlyPlanEqualsValues(t *testing.T) {
	inputs := map[string][]byte{}
	for _, path := range samples(t) {
		inputs[path] = readFile(t, path)
	}
	for seed := range uint64(3) {
		var b bytes.Buffer
		if _, err := synth.Tastytrade(&b, synth.Config{Seed: seed + 1, Rows: 4000}); err != nil {
			t.Fatal(err)
		}
		inputs[fmt.Sprintf("synthetic seed %d", seed+1)] = b.Bytes()
	}
	for name, data := range inputs {
		for _, budget := range []int{MinByteBudget + 512, 8192, DefaultByteBudget} {
			sized := analyzeBytes(t, data, Config{ByteBudget: budget})
			valued := analyzeBytes(t, data, Config{ByteBudget: budget, measureValues: true})
			if fmt.Sprint(sized.Plan.Refs()) != fmt.Sprint(valued.Plan.Refs()) || fmt.Sprint(sized.Counts) != fmt.Sprint(valued.Counts) ||
				fmt.Sprint(sized.RowErrors) != fmt.Sprint(valued.RowErrors) || sized.Movements != valued.Movements ||
				fmt.Sprint(sized.Ignored) != fmt.Sprint(valued.Ignored) || sized.MinTime != valued.MinTime || sized.MaxTime != valued.MaxTime {
				t.Fatalf("%s, budget %d: plans differ:\nsize only: %+v\nvalues:    %+v", name, budget, sized, valued)
			}
			checkBuilt(t, sized, buildBytes(t, data, sized))
		}
	}
}

// TestBuildWindowIBKR: an IBKR statement (in sections) built window by
// window, the parser converting only each window's rows, gives every
// chunk once, byte-identical to one pass.
func TestBuildWindowIBKR(t *testing.T) {
	var buf bytes.Buffer
	if _, err := synth.IBKR(&buf, synth.Config{Seed: 5, Rows: 20000}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	a := analyzeBytes(t, data, Config{ByteBudget: 64 << 10})
	whole := buildBytes(t, data, a)
	ws := a.Windows(a.PeakOpenBytes / 4)
	if len(ws) < 4 {
		t.Fatalf("%d windows of a peak of %d bytes, want at least 4", len(ws), a.PeakOpenBytes)
	}
	got := map[string][]byte{}
	for _, w := range ws {
		err := BuildWindow(bytes.NewReader(data), a, Config{}, w, nil, func(c *events.Chunk) error {
			if _, dup := got[c.ID]; dup {
				return fmt.Errorf("chunk %s emitted twice", c.ID)
			}
			b, err := events.Marshal(c)
			got[c.ID] = b
			return err
		})
		if err != nil {
			t.Fatalf("window %v: %v", w, err)
		}
	}
	if len(got) != len(whole.bodies) {
		t.Fatalf("windows emitted %d chunks, one pass %d", len(got), len(whole.bodies))
	}
	for id, b := range whole.bodies {
		if !bytes.Equal(got[id], b) {
			t.Errorf("chunk %s differs between one pass and its window", id)
		}
	}
}

// TestHoldEncodedSameChunks: pass 2 holding open parts' movements encoded
// (a statement in sections) emits the same chunk bodies as holding them as
// structs, for every sample, synthetic statements of both brokers and a
// statement in two sections; and a statement in sections is held encoded
// by default.
func TestHoldEncodedSameChunks(t *testing.T) {
	inputs := map[string][]byte{}
	for _, path := range samples(t) {
		inputs[path] = readFile(t, path)
	}
	var ib, tt bytes.Buffer
	if _, err := synth.IBKR(&ib, synth.Config{Seed: 6, Rows: 20000}); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Tastytrade(&tt, synth.Config{Seed: 6, Rows: 5000}); err != nil {
		t.Fatal(err)
	}
	inputs["synthetic ibkr"], inputs["synthetic tastytrade"] = ib.Bytes(), tt.Bytes()
	inputs["tastytrade in two sections"] = twoSections(tt.Bytes())
	for name, data := range inputs {
		a := analyzeBytes(t, data, Config{ByteBudget: 64 << 10})
		bodies := func(hold holdMode) map[string][]byte {
			out := map[string][]byte{}
			err := build(bytes.NewReader(data), a, Config{hold: hold}, Window{}, nil, func(c *events.Chunk) error {
				b, err := events.Marshal(c)
				out[c.ID] = b
				return err
			}, parsers.ForBroker)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return out
		}
		structs, encoded := bodies(holdStructs), bodies(holdEncoded)
		if len(structs) != a.Plan.Len() || len(encoded) != len(structs) {
			t.Fatalf("%s: %d chunks held as structs, %d encoded, plan %d", name, len(structs), len(encoded), a.Plan.Len())
		}
		for id, b := range structs {
			if !bytes.Equal(encoded[id], b) {
				t.Fatalf("%s: chunk %s differs when its movements are held encoded", name, id)
			}
		}
	}
	for name, want := range map[string]bool{"synthetic ibkr": true, "tastytrade in two sections": true, "synthetic tastytrade": false} {
		a := analyzeBytes(t, inputs[name], Config{})
		if got := (Config{}).holdsEncoded(a, a.ByteBudget); got != want {
			t.Errorf("%s (one pass holds %d bytes, budget %d): held encoded %v, want %v", name, a.PeakOpenBytes, a.ByteBudget, got, want)
		}
	}
}

// twoSections returns a Tastytrade statement's rows in two sections over
// the same weeks: its header, its even rows, then its odd rows.
func twoSections(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	var out strings.Builder
	out.WriteString(lines[0])
	for _, parity := range []int{0, 1} {
		for i, l := range lines[1:] {
			if i%2 == parity && l != "" {
				out.WriteString(l)
			}
		}
	}
	return []byte(out.String())
}
