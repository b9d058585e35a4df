package projections

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

const oracleInputs = "../../../shared/testdata/oracle"

func parseFile(t *testing.T, data []byte) []events.Movement {
	t.Helper()
	res, err := parsers.Parse(parsers.Tastytrade{}, bytes.NewReader(data), parsers.Options{Account: "prop"})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(res.RowErrors) > 0 {
		t.Fatalf("parse: %d row errors, first %v", len(res.RowErrors), &res.RowErrors[0])
	}
	return res.Movements
}

// histories returns the movement sets the properties are checked on: the
// oracle statements and a synthetic multi-year history.
func histories(t *testing.T) map[string][]events.Movement {
	t.Helper()
	hs := map[string][]events.Movement{"synthetic": synthHistory(3000, 7)}
	for _, name := range []string{"mpw", "options", "future_options", "pfizer", "deposits"} {
		data, err := os.ReadFile(filepath.Join(oracleInputs, name, "input.csv"))
		if err != nil {
			t.Fatal(err)
		}
		hs[name] = parseFile(t, data)
	}
	return hs
}

func lastDay(ms []events.Movement) events.Date {
	var d events.Date
	for _, m := range ms {
		d = max(d, m.Time.Day())
	}
	return d
}

// Permuting the movements and adding duplicates (by ID) leaves the output
// byte-identical, with and without an as-of day.
func TestPermutationAndDuplicationDoNotChangeOutput(t *testing.T) {
	for name, ms := range histories(t) {
		t.Run(name, func(t *testing.T) {
			asOf := lastDay(ms).AddDays(30)
			want := jsonOf(t, Compute("prop", ms), nil)
			wantAsOf := jsonOf(t, ComputeAsOf("prop", ms, asOf), &asOf)
			for seed := range uint64(5) {
				rng := rand.New(rand.NewPCG(seed, 99))
				shuffled := append([]events.Movement(nil), ms...)
				for range len(ms) / 3 { // duplicates, some with another Line
					d := ms[rng.IntN(len(ms))]
					d.Line += 1000
					shuffled = append(shuffled, d)
				}
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if got := jsonOf(t, Compute("prop", shuffled), nil); !bytes.Equal(got, want) {
					t.Fatalf("seed %d: output changed under permutation/duplication:\n%s", seed, firstDiff(got, want))
				}
				if got := jsonOf(t, ComputeAsOf("prop", shuffled, asOf), &asOf); !bytes.Equal(got, wantAsOf) {
					t.Fatalf("seed %d: as-of output changed under permutation/duplication:\n%s", seed, firstDiff(got, wantAsOf))
				}
			}
		})
	}
}

// Splitting one statement into two overlapping exports (cut at day
// boundaries, as a broker's date ranges are), parsing them separately and
// taking the union gives the same output as the whole file.
func TestOverlappingStatementsAreOneHistory(t *testing.T) {
	for _, name := range []string{"mpw", "options", "future_options", "deposits"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(oracleInputs, name, "input.csv"))
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(data), "\r\n", "\n")
			lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
			header, rows := lines[0], lines[1:]
			// Rows are newest first; cut points where the day changes, at
			// about 1/3 and 2/3 of the rows.
			cut := func(frac float64) int {
				i := int(float64(len(rows)) * frac)
				for i < len(rows) && i > 0 && rows[i][:10] == rows[i-1][:10] {
					i++
				}
				return i
			}
			a, b := cut(1.0/3), cut(2.0/3)
			if a == 0 || b >= len(rows) || a >= b {
				t.Fatalf("cannot split %d rows at day boundaries (%d, %d)", len(rows), a, b)
			}
			newer := header + "\n" + strings.Join(rows[:b], "\n") + "\n"
			older := header + "\n" + strings.Join(rows[a:], "\n") + "\n"
			whole := parseFile(t, data)
			union := append(parseFile(t, []byte(older)), parseFile(t, []byte(newer))...)
			if len(union) <= len(whole) {
				t.Fatalf("the two statements do not overlap: %d + overlap vs %d movements", len(union), len(whole))
			}
			asOf := lastDay(whole).AddDays(30)
			if got, want := jsonOf(t, Compute("prop", union), nil), jsonOf(t, Compute("prop", whole), nil); !bytes.Equal(got, want) {
				t.Fatalf("overlapping statements differ from the whole:\n%s", firstDiff(got, want))
			}
			if got, want := jsonOf(t, ComputeAsOf("prop", union, asOf), &asOf), jsonOf(t, ComputeAsOf("prop", whole, asOf), &asOf); !bytes.Equal(got, want) {
				t.Fatalf("as of %s, overlapping statements differ from the whole:\n%s", asOf, firstDiff(got, want))
			}
		})
	}
}

// Compute(all).AsOf(d) agrees with ComputeAsOf(d) on every day of a history:
// ticker rows and operations exactly, broker rows in every field but
// OpenTrades (whose options test looks ahead at final close links, §3.3).
func TestAsOfMatchesComputeAsOfEveryDay(t *testing.T) {
	hs := histories(t)
	hs["synthetic"] = synthHistory(1200, 3)
	for _, name := range []string{"mpw", "options", "synthetic"} {
		ms := hs[name]
		t.Run(name, func(t *testing.T) {
			full := Compute("prop", ms)
			// Every activity day, the days around it, and one day past the
			// end.
			set := map[events.Date]bool{lastDay(ms).AddDays(20): true}
			for _, m := range ms {
				d := m.Time.Day()
				set[d.AddDays(-1)], set[d], set[d.AddDays(1)] = true, true, true
			}
			days := 0
			for d := range set {
				days++
				got, want := full.AsOf(d), ComputeAsOf("prop", ms, d)
				for i := range got.Broker {
					got.Broker[i].OpenTrades = false
				}
				for i := range want.Broker {
					want.Broker[i].OpenTrades = false
				}
				if g, w := jsonOf(t, got, &d), jsonOf(t, want, &d); !bytes.Equal(g, w) {
					t.Fatalf("as of %s:\n%s", d, firstDiff(g, w))
				}
			}
			if days < 10 {
				t.Fatalf("only %d days checked", days)
			}
		})
	}
}

// firstDiff shows the first differing line of two outputs.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + "\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(identical)"
}
