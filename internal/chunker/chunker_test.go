package chunker

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/foliostream/foliostream/internal/proctest"
)

const testAccount = "acct-1"

func fakeFile(rows ...string) string {
	return "header\n" + strings.Join(rows, "\n") + "\n"
}

func analyzeFake(t *testing.T, data string, cfg Config) *Analysis {
	t.Helper()
	if cfg.Account == "" {
		cfg.Account = testAccount
	}
	if cfg.Broker == "" {
		cfg.Broker = fakeBroker
	}
	a, err := analyze(strings.NewReader(data), cfg, pickFake(nil))
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	return a
}

// built is what one Build call emitted.
type built struct {
	chunks []*events.Chunk
	bodies map[string][]byte // by chunk ID
	order  []string          // chunk IDs in emission order
}

func buildFake(data string, a *Analysis, skip func(string) bool, onRecord func(*parsers.Record)) (*built, error) {
	out := &built{bodies: make(map[string][]byte)}
	err := build(strings.NewReader(data), a, Config{}, Window{}, skip, func(c *events.Chunk) error {
		b, err := events.Marshal(c)
		if err != nil {
			return err
		}
		out.chunks = append(out.chunks, c)
		out.bodies[c.ID] = b
		out.order = append(out.order, c.ID)
		return nil
	}, pickFake(onRecord))
	return out, err
}

func mustBuild(t *testing.T, data string, a *Analysis) *built {
	t.Helper()
	out, err := buildFake(data, a, nil, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return out
}

// planString renders a plan as "ID:movements" items for comparisons.
func planString(refs []events.ChunkRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, fmt.Sprintf("%s:%d", r.ID, r.Movements))
	}
	return strings.Join(s, " ")
}

func sha(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

func TestAnalyzeFake(t *testing.T) {
	tests := []struct {
		name        string
		data        string
		rows        int
		movements   int
		counts      map[events.Kind]int
		rowErrs     int
		ignored     int
		min, max    string
		plan        string
		wantErrLine []int
	}{
		{
			name: "empty statement",
			data: "header\n",
			plan: "",
		},
		{
			name:      "one week, one part",
			data:      fakeFile("2025-08-26T10:00:00,cash,1,0", "2025-08-25T09:00:00,option,3,0,PFE"),
			rows:      2,
			movements: 4,
			counts:    map[events.Kind]int{events.KindCash: 1, events.KindOption: 3},
			min:       "2025-08-25T09:00:00", max: "2025-08-26T10:00:00",
			plan: "2025-W35.1:4",
		},
		{
			name: "weeks ascending whatever the file order; Sunday and Monday split",
			data: fakeFile(
				"2025-09-01T00:00:00,cash,1,0",  // Monday of W36
				"2025-08-31T23:59:59,cash,1,0",  // Sunday of W35
				"2024-12-30T12:00:00,stock,1,0", // Monday of 2025-W01
				"2021-01-03T12:00:00,stock,1,0", // Sunday of 2020-W53
			),
			rows: 4, movements: 4,
			counts: map[events.Kind]int{events.KindCash: 2, events.KindStock: 2},
			min:    "2021-01-03T12:00:00", max: "2025-09-01T00:00:00",
			plan: "2020-W53.1:1 2025-W01.1:1 2025-W35.1:1 2025-W36.1:1",
		},
		{
			name: "row errors and ignored rows are counted, not planned",
			data: fakeFile("!err,abc", "2025-08-25T09:00:00,cash,1,0", "!ign,assignment", "not,a,row", "!err,def"),
			rows: 5, movements: 1, rowErrs: 3, ignored: 1,
			counts: map[events.Kind]int{events.KindCash: 1},
			min:    "2025-08-25T09:00:00", max: "2025-08-25T09:00:00",
			plan:        "2025-W35.1:1",
			wantErrLine: []int{2, 5, 6},
		},
		{
			name: "strike adjustments are chunked but do not count as movements",
			data: fakeFile("2025-08-25T09:00:00,option,2,0", "!adj,2025-08-27T12:00:00", "!adj,2025-09-10T12:00:00"),
			rows: 1, movements: 2,
			counts: map[events.Kind]int{events.KindOption: 2, events.KindStrikeAdjustment: 2},
			min:    "2025-08-25T09:00:00", max: "2025-09-10T12:00:00",
			plan: "2025-W35.1:3 2025-W37.1:1",
		},
		{
			name: "blank lines are not rows",
			data: "header\n\n2025-08-25T09:00:00,cash,1,0\n\n\n",
			rows: 1, movements: 1,
			counts: map[events.Kind]int{events.KindCash: 1},
			min:    "2025-08-25T09:00:00", max: "2025-08-25T09:00:00",
			plan: "2025-W35.1:1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyzeFake(t, tt.data, Config{File: "x.csv"})
			if a.File != "x.csv" || a.Broker != fakeBroker || a.Account != testAccount {
				t.Errorf("file/broker/account = %q/%q/%q", a.File, a.Broker, a.Account)
			}
			if a.SHA256 != sha(tt.data) || a.Bytes != int64(len(tt.data)) {
				t.Errorf("sha256/bytes = %s/%d, want %s/%d", a.SHA256, a.Bytes, sha(tt.data), len(tt.data))
			}
			if want := SessionID(testAccount, sha(tt.data)); a.SessionID != want {
				t.Errorf("session = %s, want %s", a.SessionID, want)
			}
			if a.Rows != tt.rows || a.Movements != tt.movements || a.RowErrorCount != tt.rowErrs || a.IgnoredCount != tt.ignored {
				t.Errorf("rows/movements/errors/ignored = %d/%d/%d/%d, want %d/%d/%d/%d",
					a.Rows, a.Movements, a.RowErrorCount, a.IgnoredCount, tt.rows, tt.movements, tt.rowErrs, tt.ignored)
			}
			if tt.counts == nil {
				tt.counts = map[events.Kind]int{}
			}
			if fmt.Sprint(a.Counts) != fmt.Sprint(tt.counts) {
				t.Errorf("counts = %v, want %v", a.Counts, tt.counts)
			}
			if a.MinTime.String() != orEpoch(tt.min) || a.MaxTime.String() != orEpoch(tt.max) {
				t.Errorf("min/max = %s/%s, want %s/%s", a.MinTime, a.MaxTime, tt.min, tt.max)
			}
			if got := planString(a.Plan.Refs()); got != tt.plan {
				t.Errorf("plan = %q, want %q", got, tt.plan)
			}
			var lines []int
			for _, e := range a.RowErrors {
				lines = append(lines, e.Line)
				if !errors.Is(&e, parsers.ErrBadNumber) && !errors.Is(&e, parsers.ErrShortRow) {
					t.Errorf("row error %v wraps no expected sentinel", &e)
				}
			}
			if !slices.Equal(lines, tt.wantErrLine) {
				t.Errorf("row error lines = %v, want %v", lines, tt.wantErrLine)
			}
			for i, c := range a.Plan.Refs() {
				if c.Ordinal != i+1 || c.ID != fmt.Sprintf("%s.%d", c.Week, c.Part) {
					t.Errorf("chunk %d = %+v", i, c)
				}
			}
		})
	}
}

func orEpoch(s string) string {
	if s == "" {
		return events.WallTime(0).String()
	}
	return s
}

// fakeMovementSize is the encoded size of the fake movement of a row with the
// given pad (the fixture below relies on it).
func fakeMovementSize(t *testing.T, line, pad int) int {
	t.Helper()
	rec, err := fakeRow(testAccount, line, strings.Split(fmt.Sprintf("2025-08-25T09:00:00,cash,1,%d", pad), ","))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&rec.Movements[0])
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestPlanSplitsWeekIntoParts(t *testing.T) {
	// Budget 2048 leaves 1024 bytes for movements. Movements of 342..511
	// bytes fit two per part, never three.
	const pad = 250
	if s := fakeMovementSize(t, 10, pad); s < 342 || s > 511 {
		t.Fatalf("fixture: fake movement is %d bytes, want 342..511", s)
	}
	var rows []string
	for i := range 5 {
		rows = append(rows, fmt.Sprintf("2025-08-%02dT10:00:00,cash,1,%d", 29-i, pad)) // Fri..Mon of W35
	}
	rows = append(rows, fmt.Sprintf("2025-09-02T10:00:00,cash,1,%d", pad))
	rows = append(rows, "2025-08-25T11:00:00,cash,1,0") // small: fits the last part of W35
	data := fakeFile(rows...)
	a := analyzeFake(t, data, Config{ByteBudget: MinByteBudget})
	if got, want := planString(a.Plan.Refs()), "2025-W35.1:2 2025-W35.2:2 2025-W35.3:2 2025-W36.1:1"; got != want {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	out := mustBuild(t, data, a)
	checkBuilt(t, a, out)
	// The parts hold the movements in Scan order: part 1 the first two rows.
	if c := chunkByID(t, out, "2025-W35.1"); c.Movements[0].Line != 3 || c.Movements[1].Line != 2 {
		t.Errorf("part 1 lines = %d,%d, want 3,2 (sorted by time)", c.Movements[0].Line, c.Movements[1].Line)
	}
	if c := chunkByID(t, out, "2025-W35.3"); c.Movements[0].Line != 6 || c.Movements[1].Line != 8 {
		t.Errorf("part 3 lines = %d,%d, want 6,8", c.Movements[0].Line, c.Movements[1].Line)
	}
}

func chunkByID(t *testing.T, out *built, id string) *events.Chunk {
	t.Helper()
	for _, c := range out.chunks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("chunk %s not emitted (got %v)", id, out.order)
	return nil
}

// checkBuilt checks what Build emitted against the plan: every chunk once,
// with the planned envelope, count and exact size, under the budget, its
// movements in Compare order.
func checkBuilt(t *testing.T, a *Analysis, out *built) {
	t.Helper()
	if len(out.chunks) != a.Plan.Len() {
		t.Fatalf("emitted %d chunks, plan has %d", len(out.chunks), a.Plan.Len())
	}
	seen := make(map[string]bool)
	for _, c := range out.chunks {
		if seen[c.ID] {
			t.Errorf("chunk %s emitted twice", c.ID)
		}
		seen[c.ID] = true
		i := slices.IndexFunc(a.Plan.Refs(), func(r events.ChunkRef) bool { return r.ID == c.ID })
		if i < 0 {
			t.Errorf("chunk %s is not in the plan", c.ID)
			continue
		}
		ref := a.Plan.Chunk(i)
		if n := a.Plan.Ordinal(c.ID); n != i+1 {
			t.Errorf("Plan.Ordinal(%s) = %d, want %d", c.ID, n, i+1)
		}
		if c.Session != a.SessionID || c.Account != a.Account || c.Ordinal != ref.Ordinal || c.Total != a.Plan.Len() ||
			c.Week != ref.Week || c.Part != ref.Part || len(c.Movements) != ref.Movements {
			t.Errorf("chunk %s envelope/count = %s %s %d/%d %s.%d n=%d, plan %+v", c.ID,
				c.Session, c.Account, c.Ordinal, c.Total, c.Week, c.Part, len(c.Movements), ref)
		}
		if n := len(out.bodies[c.ID]); n != ref.Bytes || n > a.ByteBudget {
			t.Errorf("chunk %s body = %d bytes, plan %d, budget %d", c.ID, n, ref.Bytes, a.ByteBudget)
		}
		if !slices.IsSortedFunc(c.Movements, func(x, y events.Movement) int { return events.Compare(&x, &y) }) {
			t.Errorf("chunk %s movements are not in Compare order", c.ID)
		}
		for _, m := range c.Movements {
			if m.Time.Day().ISOWeek() != c.Week {
				t.Errorf("chunk %s holds movement %s of week %s", c.ID, m.ID, m.Time.Day().ISOWeek())
			}
		}
	}
}

// allMovements returns the movements a fake statement parses to, by ID.
func allMovements(t *testing.T, data string) map[string]events.Movement {
	t.Helper()
	res, err := parsers.Parse(fakeParser{}, strings.NewReader(data), parsers.Options{Account: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]events.Movement)
	for _, m := range res.Movements {
		out[m.ID] = m
	}
	return out
}

// randomStatement is a fake statement of n rows over about two months, with
// a mix of sizes, multi-movement rows, errors and ignored rows, in the given
// order (newest first when sorted).
func randomStatement(seed uint64, n int, sorted bool) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]string, 0, n)
	base, _ := events.ParseWallTime("2025-07-01T00:00:00")
	times := make([]int64, n)
	for i := range times {
		times[i] = int64(base) + rng.Int64N(60*86400)
	}
	if sorted {
		slices.Sort(times)
		slices.Reverse(times)
	}
	kinds := []events.Kind{events.KindCash, events.KindStock, events.KindOption, events.KindDividend}
	for i := range n {
		switch rng.IntN(40) {
		case 0:
			rows = append(rows, "!err,x")
			continue
		case 1:
			rows = append(rows, "!ign,why")
			continue
		}
		k := kinds[rng.IntN(len(kinds))]
		cnt := 1
		if k == events.KindOption {
			cnt = 1 + rng.IntN(4)
		}
		rows = append(rows, fmt.Sprintf("%s,%s,%d,%d,T%d", events.WallTime(times[i]), k, cnt, rng.IntN(300), rng.IntN(5)))
	}
	return fakeFile(rows...)
}

func TestBuildEmitsEveryMovementOnce(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			data := randomStatement(7, 400, sorted)
			a := analyzeFake(t, data, Config{ByteBudget: 4096})
			if a.Plan.Len() < 10 {
				t.Fatalf("fixture: only %d chunks", a.Plan.Len())
			}
			out := mustBuild(t, data, a)
			checkBuilt(t, a, out)
			want := allMovements(t, data)
			got := 0
			for _, c := range out.chunks {
				for i := range c.Movements {
					m := &c.Movements[i]
					w, ok := want[m.ID]
					if !ok {
						t.Errorf("movement %s emitted but not parsed (or emitted twice)", m.ID)
						continue
					}
					if !w.Equal(m) {
						t.Errorf("movement %s differs from the parsed one", m.ID)
					}
					delete(want, m.ID)
					got++
				}
			}
			if len(want) != 0 {
				t.Errorf("%d parsed movements were never emitted", len(want))
			}
			if sum := sumMovements(a.Plan.Refs()); sum != got {
				t.Errorf("plan has %d movements, emitted %d", sum, got)
			}
		})
	}
}

func sumMovements(refs []events.ChunkRef) int {
	n := 0
	for _, r := range refs {
		n += r.Movements
	}
	return n
}

func TestDeterministic(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			data := randomStatement(11, 300, sorted)
			a1 := analyzeFake(t, data, Config{ByteBudget: 4096})
			a2 := analyzeFake(t, data, Config{ByteBudget: 4096})
			if p1, p2 := fmt.Sprint(a1.Plan.Refs()), fmt.Sprint(a2.Plan.Refs()); p1 != p2 {
				t.Fatalf("two analyses of the same bytes differ:\n%s\n%s", p1, p2)
			}
			b1, b2 := mustBuild(t, data, a1), mustBuild(t, data, a2)
			for id, body := range b1.bodies {
				if !bytes.Equal(body, b2.bodies[id]) {
					t.Errorf("chunk %s: two builds differ", id)
				}
			}
			if !slices.Equal(b1.order, b2.order) {
				t.Errorf("emission order differs: %v vs %v", b1.order, b2.order)
			}
		})
	}
}

func TestShuffledRowsSameWeeks(t *testing.T) {
	// The same rows in another order are other bytes (another session) but
	// the same movements per week.
	sorted := randomStatement(5, 200, true)
	lines := strings.Split(strings.TrimSuffix(sorted, "\n"), "\n")
	rows := slices.Clone(lines[1:])
	rand.New(rand.NewPCG(3, 3)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	shuffled := fakeFile(rows...)

	perWeek := func(data string) map[string][]string {
		a := analyzeFake(t, data, Config{})
		out := mustBuild(t, data, a)
		checkBuilt(t, a, out)
		got := make(map[string][]string)
		for _, c := range out.chunks {
			for _, m := range c.Movements {
				// The fake's IDs carry the line; identity here is the content.
				got[c.Week] = append(got[c.Week], fmt.Sprintf("%s %s %s %d", m.Time, m.Kind, m.Ticker, len(m.Notes)))
			}
		}
		for w := range got {
			slices.Sort(got[w])
		}
		return got
	}
	a, b := perWeek(sorted), perWeek(shuffled)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("shuffled rows give other weeks:\n%v\n%v", a, b)
	}
}

func TestBuildDetectsChangedFile(t *testing.T) {
	rows := []string{
		"2025-09-02T10:00:00,cash,1,10",
		"2025-09-01T10:00:00,cash,1,10",
		"2025-08-26T10:00:00,cash,1,10",
		"2025-08-25T10:00:00,cash,1,10",
	}
	data := fakeFile(rows...)
	tests := []struct {
		name    string
		changed string
		// sums keeps the digests Analyze made. Without them (a plan read
		// back from a session record) a change that keeps every count and
		// size is only caught by the hash at the end.
		sums bool
		// emitted is how many chunks may be emitted before the error.
		emitted int
	}{
		{"same sizes, other content", fakeFile(rows[0], rows[1], "2025-08-26T10:00:00,cash,1,10,X", rows[3]), true, 1},
		{"same sizes, other content, plan without digests", fakeFile(rows[0], rows[1], "2025-08-27T10:00:00,cash,1,10", rows[3]), false, 2},
		{"one more row", fakeFile(rows[0], rows[1], rows[2], rows[2], rows[3]), true, 1},
		{"one row less", fakeFile(rows[0], rows[1], rows[3]), true, 1},
		{"a row in a new week", fakeFile(rows[0], rows[1], "2025-08-18T10:00:00,cash,1,10", rows[3]), true, 1},
		{"bigger movement", fakeFile(rows[0], rows[1], rows[2], "2025-08-25T10:00:00,cash,1,11"), true, 1},
		{"trailing bytes the parser skips", data + "\n\n", true, 2},
		{"one more error row", fakeFile(append(slices.Clone(rows), "!err,x")...), true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyzeFake(t, data, Config{})
			if !tt.sums {
				a.sums = nil
			}
			good := mustBuild(t, data, a)
			out, err := buildFake(tt.changed, a, nil, nil)
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("err = %v, want ErrFileChanged", err)
			}
			if len(out.chunks) > tt.emitted {
				t.Errorf("emitted %v before noticing, want at most %d", out.order, tt.emitted)
			}
			for id, body := range out.bodies {
				if tt.sums && !bytes.Equal(body, good.bodies[id]) {
					t.Errorf("emitted chunk %s differs from the plan's", id)
				}
			}
		})
	}
}

func TestBuildSkip(t *testing.T) {
	data := randomStatement(9, 200, true)
	a := analyzeFake(t, data, Config{ByteBudget: 4096})
	all := mustBuild(t, data, a)
	skipped := map[string]bool{a.Plan.Chunk(0).ID: true, a.Plan.Chunk(3).ID: true, a.Plan.Chunk(a.Plan.Len() - 1).ID: true}
	out, err := buildFake(data, a, func(id string) bool { return skipped[id] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.chunks) != a.Plan.Len()-len(skipped) {
		t.Errorf("emitted %d chunks, want %d", len(out.chunks), a.Plan.Len()-len(skipped))
	}
	for id, body := range out.bodies {
		if skipped[id] {
			t.Errorf("skipped chunk %s was emitted", id)
		}
		if !bytes.Equal(body, all.bodies[id]) {
			t.Errorf("chunk %s differs from a full build's", id)
		}
	}
}

func TestBuildMemoryBoundedOnSortedFile(t *testing.T) {
	// On a time-ordered file, at most one part is open at a time: the
	// movements handed to Build but not yet emitted never exceed the largest
	// planned part (strike adjustments aside, which this file has none of).
	data := randomStatement(13, 2000, true)
	a := analyzeFake(t, data, Config{ByteBudget: 8192})
	largest := 0
	for _, c := range a.Plan.Refs() {
		largest = max(largest, c.Movements)
	}
	var fed, emitted, peak int
	out := &built{bodies: map[string][]byte{}}
	err := build(strings.NewReader(data), a, Config{}, Window{}, nil, func(c *events.Chunk) error {
		emitted += len(c.Movements)
		out.chunks = append(out.chunks, c)
		b, _ := events.Marshal(c)
		out.bodies[c.ID] = b
		return nil
	}, pickFake(func(rec *parsers.Record) {
		peak = max(peak, fed-emitted)
		fed += len(rec.Movements)
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkBuilt(t, a, out)
	if peak > largest {
		t.Errorf("peak of %d movements held, largest part is %d", peak, largest)
	}
	if a.Plan.Len() < 20 {
		t.Errorf("fixture: only %d chunks", a.Plan.Len())
	}
}

func TestAnalyzeErrors(t *testing.T) {
	huge := fakeFile(fmt.Sprintf("2025-08-25T10:00:00,cash,1,%d", 5000))
	tests := []struct {
		name string
		data string
		cfg  Config
		pick pickFunc
		want error
	}{
		{"no account", fakeFile(), Config{Broker: fakeBroker}, pickFake(nil), ErrBadConfig},
		{"account with a dot", fakeFile(), Config{Account: "a.b", Broker: fakeBroker}, pickFake(nil), events.ErrInvalidAccount},
		{"budget too small", fakeFile(), Config{Account: "a", Broker: fakeBroker, ByteBudget: MinByteBudget - 1}, pickFake(nil), ErrBadConfig},
		{"movement over the budget", huge, Config{Account: "a", Broker: fakeBroker, ByteBudget: 4096}, pickFake(nil), ErrTooLarge},
		{"unknown broker", fakeFile(), Config{Account: "a", Broker: "schwab"}, parsers.ForBroker, parsers.ErrUnknownBroker},
		{"auto on an unknown format", "foo,bar\n1,2\n", Config{Account: "a"}, parsers.ForBroker, parsers.ErrUnrecognized},
		{"auto on an empty file", "", Config{Account: "a", Broker: "auto"}, parsers.ForBroker, parsers.ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := analyze(strings.NewReader(tt.data), tt.cfg, tt.pick)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if a != nil {
				t.Errorf("analysis returned with an error")
			}
		})
	}
}

func TestAnalyzeDetectsBroker(t *testing.T) {
	tests := []struct{ head, want string }{
		{"Date,Type,Sub Type,Action,Symbol\n", events.BrokerTastytrade},
		{"\xef\xbb\xbfStatement,Header,Field Name,Field Value\n", events.BrokerIBKR},
		{"\n\nStatement,Header,Field Name,Field Value\n", events.BrokerIBKR},
	}
	for _, tt := range tests {
		var picked string
		pick := func(b string) (parsers.Parser, error) { picked = b; return fakeParser{}, nil }
		a, err := analyze(strings.NewReader(tt.head+"2025-08-25T10:00:00,cash,1,0\n"), Config{Account: "a", Broker: "AUTO"}, pick)
		if err != nil {
			t.Fatalf("%q: %v", tt.head, err)
		}
		if picked != tt.want || a.Broker != tt.want {
			t.Errorf("%q: picked %q, broker %q, want %q", tt.head, picked, a.Broker, tt.want)
		}
	}
}

func TestAnalyzeHashesUnreadBytes(t *testing.T) {
	// The parser stops early; the hash still covers the whole file.
	data := fakeFile("2025-08-25T10:00:00,cash,1,0", "!stop", strings.Repeat("tail", 50000))
	a := analyzeFake(t, data, Config{})
	if a.SHA256 != sha(data) || a.Bytes != int64(len(data)) {
		t.Errorf("sha/bytes = %s/%d, want %s/%d", a.SHA256, a.Bytes, sha(data), len(data))
	}
}

func TestMaxReported(t *testing.T) {
	rows := []string{"!ign,a", "!ign,b", "!ign,c"}
	for range 5 {
		rows = append(rows, "!err,x")
	}
	data := fakeFile(rows...)
	tests := []struct {
		max        int
		errs, igns int
	}{{0, 5, 3}, {2, 2, 2}, {-1, 0, 0}}
	for _, tt := range tests {
		a := analyzeFake(t, data, Config{MaxReported: tt.max})
		if len(a.RowErrors) != tt.errs || len(a.Ignored) != tt.igns || a.RowErrorCount != 5 || a.IgnoredCount != 3 {
			t.Errorf("MaxReported %d: kept %d/%d of %d/%d, want %d/%d of 5/3", tt.max,
				len(a.RowErrors), len(a.Ignored), a.RowErrorCount, a.IgnoredCount, tt.errs, tt.igns)
		}
	}
}

func TestBuildRejectsBadPlan(t *testing.T) {
	data := fakeFile("2025-08-25T10:00:00,cash,1,0", "2025-09-25T10:00:00,cash,1,0")
	a := analyzeFake(t, data, Config{})
	refs := a.Plan.Refs()
	if len(refs) != 2 {
		t.Fatalf("fixture: %d chunks", len(refs))
	}
	refs[0], refs[1] = refs[1], refs[0]
	if _, err := NewPlan(refs); !errors.Is(err, ErrBadConfig) {
		t.Errorf("NewPlan(swapped): err = %v, want ErrBadConfig", err)
	}
	refs[0], refs[1] = refs[1], refs[0]
	if p, err := NewPlan(refs); err != nil || !slices.Equal(p.Refs(), refs) {
		t.Errorf("NewPlan(plan) = %v, %v; want the plan back", p.Refs(), err)
	}
	// A budget too small for the plan's chunks is refused by Build.
	a.ByteBudget = MinByteBudget - 1
	if _, err := buildFake(data, a, nil, nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("budget below the minimum: err = %v, want ErrBadConfig", err)
	}
	if _, err := buildFake(data, nil, nil, nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("nil analysis: err = %v, want ErrBadConfig", err)
	}
}

func TestBuildEmitErrorStops(t *testing.T) {
	data := randomStatement(17, 100, true)
	a := analyzeFake(t, data, Config{ByteBudget: 4096})
	stop := errors.New("stop")
	calls := 0
	err := build(strings.NewReader(data), a, Config{}, Window{}, nil, func(*events.Chunk) error {
		calls++
		return stop
	}, pickFake(nil))
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestEnvelopeFitsReserve(t *testing.T) {
	ref := &events.ChunkRef{ID: "2025-W35.999999", Ordinal: 999999, Week: "2025-W35", Part: 999999}
	n, err := envelopeSize(strings.Repeat("f", 16), strings.Repeat("A", events.MaxAccountLen), 999999, ref)
	if err != nil || n > EnvelopeReserve/2 {
		t.Errorf("largest envelope = %d bytes (%v), want well under %d", n, err, EnvelopeReserve)
	}
}

func TestSessionID(t *testing.T) {
	a := SessionID("acct", sha("x"))
	if len(a) != 16 || a != SessionID("acct", sha("x")) {
		t.Errorf("session ID %q not 16 stable hex chars", a)
	}
	if a == SessionID("acct2", sha("x")) || a == SessionID("acct", sha("y")) {
		t.Errorf("session ID does not depend on both account and hash")
	}
	sum := sha256.Sum256([]byte("acct\x1f" + sha("x")))
	if a != hex.EncodeToString(sum[:8]) {
		t.Errorf("session ID %s is not the documented digest", a)
	}
}

// TestSortMovements checks sortMovements against a stable sort, on inputs
// sorted, reversed, shuffled and with ties (repeated IDs).
func TestSortMovements(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	b := &builder{}
	for n := range 60 {
		ms := make([]events.Movement, n)
		for i := range ms {
			ms[i] = events.Movement{Time: events.WallTime(r.IntN(5)), Seq: r.IntN(3), Part: r.IntN(2),
				ID: fmt.Sprint(r.IntN(4)), Line: i}
		}
		for _, order := range []string{"shuffled", "sorted", "reversed"} {
			in := slices.Clone(ms)
			switch order {
			case "sorted":
				slices.SortStableFunc(in, func(a, b events.Movement) int { return events.Compare(&a, &b) })
			case "reversed":
				slices.SortStableFunc(in, func(a, b events.Movement) int { return events.Compare(&b, &a) })
			}
			want := slices.Clone(in)
			slices.SortStableFunc(want, func(a, b events.Movement) int { return events.Compare(&a, &b) })
			b.sortMovements(in)
			if !slices.Equal(in, want) {
				t.Fatalf("%d movements, %s: got %v, want %v", n, order, in, want)
			}
		}
	}
}

// TestHashGoroutineEnds checks that the hashing goroutine of Analyze and
// Build ends on every path: success, a bad file, a failing emit.
func TestHashGoroutineEnds(t *testing.T) {
	before := runtime.NumGoroutine()
	data := randomStatement(7, 300, true)
	for range 10 {
		a := analyzeFake(t, data, Config{ByteBudget: 4096})
		mustBuild(t, data, a)
		if _, err := analyze(strings.NewReader(""), Config{Account: "a", Broker: fakeBroker}, pickFake(nil)); err == nil {
			t.Fatal("an empty file analysed")
		}
		stop := errors.New("stop")
		if err := build(strings.NewReader(data), a, Config{}, Window{}, nil, func(*events.Chunk) error { return stop }, pickFake(nil)); !errors.Is(err, stop) {
			t.Fatalf("build: %v", err)
		}
	}
	proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}

// TestBuildStatePerChunk bounds what Build keeps for every chunk of the
// plan for the whole pass (the part states and the week index): it is what
// grows with the file's size, so it must stay a few dozen bytes per chunk
// of up to DefaultByteBudget.
func TestBuildStatePerChunk(t *testing.T) {
	const weeks, parts = 5000, 2
	var refs []events.ChunkRef
	monday := time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)
	for w := range weeks {
		day := monday.AddDate(0, 0, 7*w)
		name := events.NewDate(day.Year(), day.Month(), day.Day()).ISOWeek()
		for p := 1; p <= parts; p++ {
			refs = append(refs, events.ChunkRef{ID: chunkID(name, p), Ordinal: len(refs) + 1, Week: name, Part: p, Movements: 10})
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	plan, err := NewPlan(refs)
	if err != nil {
		t.Fatal(err)
	}
	a := &Analysis{Plan: plan, sums: make([]uint64, len(refs))}
	b := &builder{a: a}
	if err := b.index(Window{0, len(refs)}, nil); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(b)
	perChunk := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(len(refs))
	t.Logf("%.1f bytes held per chunk of the plan (plan, digests, Build's index)", perChunk)
	if perChunk > 64 {
		t.Errorf("the plan and Build's index hold %.1f bytes per chunk, want at most 64", perChunk)
	}
	if !slices.Equal(plan.Refs(), refs) {
		t.Fatal("the plan does not give back its chunks")
	}
	// A week whose parts are not consecutive is not a plan Analyze makes.
	_, err = NewPlan([]events.ChunkRef{
		{ID: chunkID("2025-W01", 1), Ordinal: 1, Week: "2025-W01", Part: 1, Movements: 1},
		{ID: chunkID("2025-W02", 1), Ordinal: 2, Week: "2025-W02", Part: 1, Movements: 1},
		{ID: chunkID("2025-W01", 2), Ordinal: 3, Week: "2025-W01", Part: 2, Movements: 1},
	})
	if !errors.Is(err, ErrBadConfig) {
		t.Errorf("a week split around another: err = %v, want ErrBadConfig", err)
	}
}

// TestBuildReuseMovements: with ReuseMovements, Build fills the slices it
// emitted again (far fewer backing arrays than chunks on a time-ordered
// file), and every chunk, encoded while emit has it, is what a build
// without reuse emits.
func TestBuildReuseMovements(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		data := randomStatement(21, 3000, sorted)
		a := analyzeFake(t, data, Config{ByteBudget: 8192})
		want := mustBuild(t, data, a)
		bodies := map[string][]byte{}
		arrays := map[*events.Movement]bool{}
		err := build(strings.NewReader(data), a, Config{ReuseMovements: true}, Window{}, nil, func(c *events.Chunk) error {
			b, err := events.Marshal(c)
			if err != nil {
				return err
			}
			bodies[c.ID] = b
			arrays[unsafe.SliceData(c.Movements)] = true
			return nil
		}, pickFake(nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(bodies) != a.Plan.Len() {
			t.Fatalf("sorted=%v: %d chunks emitted, plan has %d", sorted, len(bodies), a.Plan.Len())
		}
		for id, b := range want.bodies {
			if !bytes.Equal(bodies[id], b) {
				t.Fatalf("sorted=%v: chunk %s differs with reuse", sorted, id)
			}
		}
		t.Logf("sorted=%v: %d chunks in %d backing arrays", sorted, a.Plan.Len(), len(arrays))
		if sorted && len(arrays) > a.Plan.Len()/4 {
			t.Errorf("%d chunks in %d backing arrays: the slices were not reused", a.Plan.Len(), len(arrays))
		}
	}
}

// sectionsStatement is sorted (a fake statement in time order) followed by
// a second section: a cash row on the day of each of its rows.
func sectionsStatement(sorted string) string {
	lines := strings.Split(strings.TrimSuffix(sorted, "\n"), "\n")[1:]
	var second []string
	for _, l := range lines {
		if strings.HasPrefix(l, "!") {
			continue
		}
		f := strings.Split(l, ",")
		f[1], f[2], f[3] = string(events.KindCash), "1", "7"
		second = append(second, strings.Join(f, ","))
	}
	return fakeFile(append(lines, second...)...)
}

// TestPeakOpenBytes checks Analysis.PeakOpenBytes against what Build
// really holds: from Build's own output, each chunk is open from its first
// movement to its last in file order, and the most bytes open at once
// must be the analysis's figure. A time-ordered file holds one chunk at a
// time; a shuffled one, or one in two sections (every week again in the
// second), holds the part being filled of every week at once.
func TestPeakOpenBytes(t *testing.T) {
	sorted := randomStatement(21, 1500, true)
	shuffled := randomStatement(21, 1500, false)
	sections := sectionsStatement(sorted)
	for _, tc := range []struct {
		name, data string
		check      func(t *testing.T, a *Analysis, largest int)
	}{
		{"sorted", sorted, func(t *testing.T, a *Analysis, largest int) {
			if a.PeakOpenBytes != largest {
				t.Errorf("PeakOpenBytes %d, want the largest chunk's %d", a.PeakOpenBytes, largest)
			}
		}},
		{"shuffled", shuffled, func(t *testing.T, a *Analysis, largest int) {
			if a.PeakOpenBytes < 3*largest {
				t.Errorf("PeakOpenBytes %d, largest chunk %d: a shuffled file holds a part of each of its weeks", a.PeakOpenBytes, largest)
			}
		}},
		{"sections", sections, func(t *testing.T, a *Analysis, largest int) {
			if a.PeakOpenBytes < 3*largest {
				t.Errorf("PeakOpenBytes %d, largest chunk %d: a file in sections holds a part of each of its weeks", a.PeakOpenBytes, largest)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyzeFake(t, tc.data, Config{ByteBudget: 8192})
			if a.Plan.Len() < 10 {
				t.Fatalf("fixture: only %d chunks", a.Plan.Len())
			}
			var order []string
			out, err := buildFake(tc.data, a, nil, func(rec *parsers.Record) {
				for i := range rec.Movements {
					order = append(order, rec.Movements[i].ID)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			checkBuilt(t, a, out)
			pos := make(map[string]int, len(order))
			for i, id := range order {
				pos[id] = i
			}
			type step struct{ at, bytes int }
			var steps []step
			largest := 0
			for _, c := range out.chunks {
				first, last := len(order), -1
				for _, m := range c.Movements {
					p, ok := pos[m.ID]
					if !ok {
						t.Fatalf("movement %s of chunk %s was never read", m.ID, c.ID)
					}
					first, last = min(first, p), max(last, p)
				}
				n := len(out.bodies[c.ID])
				steps = append(steps, step{first, n}, step{last + 1, -n})
				largest = max(largest, n)
			}
			slices.SortFunc(steps, func(x, y step) int { return cmp.Or(cmp.Compare(x.at, y.at), cmp.Compare(x.bytes, y.bytes)) })
			peak, cur := 0, 0
			for _, s := range steps {
				cur += s.bytes
				peak = max(peak, cur)
			}
			if a.PeakOpenBytes != peak {
				t.Errorf("PeakOpenBytes %d, Build held up to %d", a.PeakOpenBytes, peak)
			}
			tc.check(t, a, largest)
		})
	}
}

// TestWindows: Analysis.Windows covers the plan with consecutive windows
// that start at week boundaries and hold, week by week, no more than the
// bound (a single week may exceed it alone); a plan whose one pass holds
// no more than the bound is one window; and Builds over the windows
// emit every chunk once, identical to a single pass's, whether the parser
// converts only the window's rows (Options.Within) or all of them. A
// window that is not whole weeks of the plan is refused.
func TestWindows(t *testing.T) {
	data := sectionsStatement(randomStatement(22, 2000, true))
	a := analyzeFake(t, data, Config{ByteBudget: 8192})
	whole := mustBuild(t, data, a)
	if got := a.Windows(a.PeakOpenBytes); len(got) != 1 || got[0] != (Window{0, a.Plan.Len()}) {
		t.Fatalf("Windows(PeakOpenBytes) = %v, want one window of all %d chunks", got, a.Plan.Len())
	}
	bound := a.PeakOpenBytes / 3
	ws := a.Windows(bound)
	if len(ws) < 3 {
		t.Fatalf("Windows(%d) of a peak of %d: %d windows, want at least 3", bound, a.PeakOpenBytes, len(ws))
	}
	refs := a.Plan.Refs()
	next := 0
	bodies := map[string][]byte{}
	for _, w := range ws {
		if w.Lo != next || w.Hi <= w.Lo {
			t.Fatalf("windows %v: not consecutive at %d", ws, next)
		}
		next = w.Hi
		if w.Lo > 0 && refs[w.Lo].Week == refs[w.Lo-1].Week {
			t.Errorf("window %v starts inside week %s", w, refs[w.Lo].Week)
		}
		held, weeks := 0, 0
		for i := w.Lo; i < w.Hi; {
			most, j := 0, i
			for ; j < w.Hi && refs[j].Week == refs[i].Week; j++ {
				most = max(most, refs[j].Bytes)
			}
			held, weeks, i = held+most, weeks+1, j
		}
		if held > bound && weeks > 1 {
			t.Errorf("window %v holds %d bytes over %d weeks, bound %d", w, held, weeks, bound)
		}
		// Each window is built twice: by a parser that converts only the
		// window's rows, and by one that converts them all.
		for _, ignore := range []bool{false, true} {
			outside := 0
			out := &built{bodies: make(map[string][]byte)}
			pick := func(string) (parsers.Parser, error) {
				return fakeParser{ignoreWithin: ignore, onRecord: func(rec *parsers.Record) {
					if rec.Outside {
						outside++
					}
				}}, nil
			}
			err := build(strings.NewReader(data), a, Config{}, w, nil, func(c *events.Chunk) error {
				b, err := events.Marshal(c)
				out.bodies[c.ID] = b
				return err
			}, pick)
			if err != nil {
				t.Fatalf("window %v (parser ignores Within: %v): %v", w, ignore, err)
			}
			if (outside == 0) != ignore {
				t.Errorf("window %v (parser ignores Within: %v): %d rows outside", w, ignore, outside)
			}
			for id, b := range out.bodies {
				if !w.Contains(a.Plan.Ordinal(id)) {
					t.Fatalf("window %v emitted chunk %s", w, id)
				}
				if prev, dup := bodies[id]; dup && (!ignore || string(prev) != string(b)) {
					t.Fatalf("chunk %s emitted by two windows, or differently", id)
				}
				bodies[id] = b
			}
		}
	}
	for _, bad := range []Window{{-1, 2}, {0, a.Plan.Len() + 1}, {3, 3}, {ws[1].Lo + 1, ws[1].Hi}} {
		if bad.Lo > 0 && bad.Lo < a.Plan.Len() && refs[bad.Lo].Week != refs[bad.Lo-1].Week {
			continue // a week boundary after all
		}
		err := build(strings.NewReader(data), a, Config{}, bad, nil, func(*events.Chunk) error { return nil }, pickFake(nil))
		if !errors.Is(err, ErrBadConfig) {
			t.Errorf("window %v: %v, want ErrBadConfig", bad, err)
		}
	}
	if next != a.Plan.Len() || len(bodies) != len(whole.bodies) {
		t.Fatalf("windows end at %d of %d chunks; emitted %d of %d", next, a.Plan.Len(), len(bodies), len(whole.bodies))
	}
	for id, b := range whole.bodies {
		if string(bodies[id]) != string(b) {
			t.Errorf("chunk %s differs between one pass and its window", id)
		}
	}
}

// TestWeekStart: a week's start is 00:00 on its Monday, and a window's
// span holds exactly the times whose day falls in its weeks, across
// years with 52 and 53 ISO weeks and weeks that straddle New Year.
func TestWeekStart(t *testing.T) {
	day := time.Date(1999, 12, 20, 0, 0, 0, 0, time.UTC)
	for range 20 * 366 {
		d := events.DateOf(day)
		wk := weekOf(d)
		start := wk.start()
		if st := start.Time(); st.Weekday() != time.Monday || st.Hour() != 0 || weekOf(events.DateOf(st)) != wk {
			t.Fatalf("week %s of %s starts %s", wk, d, start)
		}
		if w := events.WallTimeOf(day.Add(23 * time.Hour)); w < start || w >= start+7*86400 {
			t.Fatalf("%s is not within its week %s starting %s", day, wk, start)
		}
		day = day.AddDate(0, 0, 1)
	}
}
