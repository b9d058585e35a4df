package parsers

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

func TestCanonicalText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"MPW", "MPW"},
		{"  MPW  ", "MPW"},
		{"MPW   251017C00005500", "MPW 251017C00005500"},
		{"FROM 05/16 THRU 06/15 @11    %", "FROM 05/16 THRU 06/15 @11 %"},
		{"a\tb\r\nc", "a b c"},
		{"Case Kept", "Case Kept"},
	}
	for _, tt := range tests {
		if got := CanonicalText(tt.in); got != tt.want {
			t.Errorf("CanonicalText(%q): got %q want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalDecimal(t *testing.T) {
	// The examples of spec/parsers.md §6.2.2, read as Tastytrade numbers.
	tests := []struct{ in, want string }{
		{"1,300.00", "1300"},
		{"5.50", "5.5"},
		{"-0.00", "0"},
		{"0.00", "0"},
		{"--", "0"},
		{"-1,100.00", "-1100"},
		{"10.43", "10.43"},
		{"0.0000001", "0.0000001"},
		{"123456789012345678901234.5", "123456789012345678901234.5"},
		{"+5.", "5"},
	}
	for _, tt := range tests {
		d := decimal.Decimal{}
		if tt.in != "--" {
			var ok bool
			if d, ok = ttParseDecimal(tt.in); !ok {
				t.Fatalf("ttParseDecimal(%q) failed", tt.in)
			}
		}
		if got := CanonicalDecimal(d); got != tt.want {
			t.Errorf("CanonicalDecimal(%q): got %q want %q", tt.in, got, tt.want)
		}
	}
}

func TestFingerprintEncoding(t *testing.T) {
	var f Fingerprint
	f.Raw("ab")
	f.Text("  c   d ")
	f.Decimal(decimal.RequireFromString("5.50"))
	f.Absent()
	want := sha256.Sum256([]byte("2:ab3:c d3:5.50:"))
	if got := f.Sum(); got != want {
		t.Errorf("Sum: got %x want %x", got, want)
	}
	// Length prefixes keep field boundaries: ("ab","c") ≠ ("a","bc").
	var a, b Fingerprint
	a.Raw("ab")
	a.Raw("c")
	b.Raw("a")
	b.Raw("bc")
	if a.Sum() == b.Sum() {
		t.Error(`("ab","c") and ("a","bc") have the same fingerprint`)
	}
	f.Reset()
	f.Raw("ab")
	a.Reset()
	a.Raw("ab")
	if f.Sum() != a.Sum() {
		t.Error("Reset does not start a fresh fingerprint")
	}
}

func TestOccurrences(t *testing.T) {
	var o Occurrences
	fa, fb := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	t1, t2 := events.WallTime(100), events.WallTime(200)
	steps := []struct {
		fp           [32]byte
		scope        string
		t            events.WallTime
		wantK, wantS int
	}{
		{fa, "", t1, 0, 0},
		{fa, "", t1, 1, 1},
		{fb, "", t1, 0, 2},
		{fa, "", t2, 2, 0},
		{fb, "x", t1, 1, 0},
	}
	for i, s := range steps {
		k, seq := o.Next(s.fp, s.scope, s.t)
		if k != s.wantK || seq != s.wantS {
			t.Errorf("step %d: got k %d seq %d want %d %d", i, k, seq, s.wantK, s.wantS)
		}
	}
}

func TestRowIDAndMovementID(t *testing.T) {
	fp := sha256.Sum256([]byte("row"))
	id := RowID("acct", fp, 0)
	// §6.2.5: hex(SHA-256(account 0x1F fingerprint-hex 0x1F k)) cut to 32.
	full := sha256.Sum256([]byte("acct\x1f" + hex.EncodeToString(fp[:]) + "\x1f0"))
	if want := hex.EncodeToString(full[:])[:32]; id != want {
		t.Errorf("RowID: got %s want %s", id, want)
	}
	if RowID("acct", fp, 0) != id {
		t.Error("RowID is not deterministic")
	}
	for _, other := range []string{RowID("acct", fp, 1), RowID("acct2", fp, 0), RowID("acct", sha256.Sum256([]byte("x")), 0)} {
		if other == id {
			t.Errorf("RowID collision: %s", other)
		}
	}
	if got, want := MovementID(id, events.KindOption, 3), id+":option:3"; got != want {
		t.Errorf("MovementID: got %s want %s", got, want)
	}
}

// ttSplitSample returns the header and the data lines of a sample.
func ttSplitSample(t testing.TB, name string) (header string, lines []string) {
	t.Helper()
	text := strings.TrimRight(string(ttReadFile(t, filepath.Join(ttSharedDir, "tastytrade", name))), "\n")
	all := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	return all[0], all[1:]
}

// ttIDs scans input for account and returns its movements keyed by ID,
// failing on any row error or duplicate ID.
func ttIDs(t *testing.T, input, account string) (ids []string, byID map[string]events.Movement) {
	t.Helper()
	res, err := Parse(Tastytrade{}, strings.NewReader(input), Options{Account: account})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RowErrors) > 0 {
		t.Fatalf("row errors: %v", res.RowErrors)
	}
	byID = make(map[string]events.Movement, len(res.Movements))
	for _, m := range res.Movements {
		if _, dup := byID[m.ID]; dup {
			t.Fatalf("duplicate movement ID %s", m.ID)
		}
		byID[m.ID] = m
		ids = append(ids, m.ID)
	}
	return ids, byID
}

var ttDayOfLine = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})T`)

// TestTastytradeIdentity checks the identity properties of spec/parsers.md
// §6.2 on statements built from MPWImportTest.csv.
func TestTastytradeIdentity(t *testing.T) {
	header, lines := ttSplitSample(t, "MPWImportTest.csv")
	whole := header + "\n" + strings.Join(lines, "\n")
	wholeIDs, wholeByID := ttIDs(t, whole, ttTestAcct)

	t.Run("same file twice", func(t *testing.T) {
		again, _ := ttIDs(t, whole, ttTestAcct)
		if strings.Join(again, ",") != strings.Join(wholeIDs, ",") {
			t.Fatal("a second scan of the same file gives other IDs")
		}
	})

	t.Run("identical fills get distinct IDs", func(t *testing.T) {
		seen := map[string]int{}
		dupLines := 0
		for _, l := range lines {
			seen[l]++
			if seen[l] == 2 {
				dupLines++
			}
		}
		if dupLines != 12 {
			t.Fatalf("test premise: %d duplicated lines in MPW, spec §6.1 says 12", dupLines)
		}
		// ttIDs fails on a duplicate ID; check the count too.
		n := 0
		for _, l := range lines {
			recs, err := ttScanAll(t, header+"\n"+l, ttTestAcct)
			if err != nil {
				t.Fatal(err)
			}
			n += len(recs[0].Movements)
		}
		if n != len(wholeIDs) {
			t.Fatalf("movements row by row %d, in the whole file %d", n, len(wholeIDs))
		}
	})

	t.Run("two accounts", func(t *testing.T) {
		_, other := ttIDs(t, whole, "acct-2")
		for id := range other {
			if _, ok := wholeByID[id]; ok {
				t.Fatalf("ID %s appears under both accounts", id)
			}
		}
		if len(other) != len(wholeByID) {
			t.Fatalf("movements: %d and %d", len(other), len(wholeByID))
		}
	})

	t.Run("overlapping statements", func(t *testing.T) {
		// Real exports cover whole days, newest first: cut only between
		// days. Statement A holds the newest rows down to the day at
		// lines[hi]; B holds the rows from the day at lines[lo] back.
		dayBreaks := []int{}
		for i := 1; i < len(lines); i++ {
			if ttDayOfLine.FindString(lines[i]) != ttDayOfLine.FindString(lines[i-1]) {
				dayBreaks = append(dayBreaks, i)
			}
		}
		if len(dayBreaks) < 10 {
			t.Fatalf("test premise: only %d day breaks", len(dayBreaks))
		}
		for _, cut := range [][2]int{{1, 3}, {3, 4}, {4, 8}, {2, 9}} {
			lo, hi := dayBreaks[len(dayBreaks)*cut[0]/10], dayBreaks[len(dayBreaks)*cut[1]/10]
			a := header + "\n" + strings.Join(lines[:hi], "\n")
			b := header + "\r\n" + strings.Join(lines[lo:], "\r\n") + "\r\n"
			_, aByID := ttIDs(t, a, ttTestAcct)
			_, bByID := ttIDs(t, b, ttTestAcct)
			union := map[string]bool{}
			for _, set := range []map[string]events.Movement{aByID, bByID} {
				for id, m := range set {
					union[id] = true
					w, ok := wholeByID[id]
					if !ok {
						t.Fatalf("cut %v: ID %s (line %d) is not an ID of the whole file", cut, id, m.Line)
					}
					m.Line = w.Line // lines shift between files; nothing else may differ
					if !m.Equal(&w) {
						t.Fatalf("cut %v: movement %s differs from the whole file's:\n%+v\n%+v", cut, id, m, w)
					}
				}
			}
			if len(union) != len(wholeByID) {
				t.Fatalf("cut %v: union of the two statements has %d IDs, the whole file %d", cut, len(union), len(wholeByID))
			}
			shared := 0
			for id := range aByID {
				if _, ok := bByID[id]; ok {
					shared++
				}
			}
			if shared == 0 {
				t.Fatalf("cut %v: the statements share no movement", cut)
			}
		}
	})

	t.Run("legacy layout", func(t *testing.T) {
		// Drop the Total column from every line: same IDs.
		var out bytes.Buffer
		r := csv.NewReader(strings.NewReader(whole))
		w := csv.NewWriter(&out)
		for {
			rec, err := r.Read()
			if err != nil {
				break
			}
			if err := w.Write(append(rec[:ttTotal:ttTotal], rec[ttTotal+1:]...)); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		legacy, _ := ttIDs(t, out.String(), ttTestAcct)
		if strings.Join(legacy, ",") != strings.Join(wholeIDs, ",") {
			t.Fatal("the 20-column layout gives other IDs than the 21-column layout")
		}
	})

	t.Run("blank lines and line endings do not matter", func(t *testing.T) {
		shifted := "\n\n" + header + "\r\n\r\n" + strings.Join(lines, "\r\n\r\n") + "\r\n"
		ids, _ := ttIDs(t, shifted, ttTestAcct)
		if strings.Join(ids, ",") != strings.Join(wholeIDs, ",") {
			t.Fatal("blank lines change the IDs")
		}
	})

	t.Run("same instant in another time zone", func(t *testing.T) {
		// 2025-10-01T16:57:15+0100 is 2025-10-01T15:57:15+0000.
		line := lines[1]
		if !strings.HasPrefix(line, "2025-10-01T16:57:15+0100,") {
			t.Fatalf("test premise: line 3 is %q", line)
		}
		moved := "2025-10-01T15:57:15+0000," + strings.SplitN(line, ",", 2)[1]
		a, _ := ttIDs(t, header+"\n"+line, ttTestAcct)
		b, bm := ttIDs(t, header+"\n"+moved, ttTestAcct)
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Fatal("the same instant written with another offset gets other IDs")
		}
		if m := bm[b[0]]; m.Time.String() != "2025-10-01T15:57:15" || m.Offset != "+0000" {
			t.Fatalf("time %s offset %s, want the wall clock as written", m.Time, m.Offset)
		}
	})
}

// TestTastytradeCanonicalForms checks that the scanner's allocation-free
// canonical forms equal CanonicalText and CanonicalDecimal of the parsed
// value, over a grid of number spellings and a set of texts.
func TestTastytradeCanonicalForms(t *testing.T) {
	n := 0
	for _, sign := range []string{"", "-", "+"} {
		for _, ip := range []string{"", "0", "00", "7", "070", "1,300", "12,345,678", "123456789012345678901"} {
			for _, fp := range []string{"", ".", ".0", ".00", ".5", ".50", ".05", ".1234567890123456789012"} {
				s := sign + ip + fp
				d, ok := ttParseDecimal(s)
				if valid := ttValidNumber(s); valid != ok {
					t.Errorf("%q: ttValidNumber %v, ttParseDecimal %v", s, valid, ok)
				}
				if !ok {
					continue
				}
				n++
				if got, want := ttCanonNumber(s), CanonicalDecimal(d); got != want {
					t.Errorf("%q: ttCanonNumber %q, CanonicalDecimal %q", s, got, want)
				}
				if abs, _ := ttParseNumber(s, true); !abs.Equal(d.Abs()) {
					t.Errorf("%q: absolute parse %s want %s", s, abs, d.Abs())
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d valid spellings", n)
	}
	for _, s := range []string{"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\u00a0b", "é b", "Sold 1 PFE 01/16/26 Call 20.00 @ 7.45"} {
		if got, want := ttCanonText(s), CanonicalText(s); got != want {
			t.Errorf("%q: ttCanonText %q, CanonicalText %q", s, got, want)
		}
	}
}

// TestWindowedOccurrencesMatchFull checks that a windowed index gives the same
// (k, seq) as a full index on time-ordered rows (both directions), and that
// it reports a file out of time order.
func TestWindowedOccurrencesMatchFull(t *testing.T) {
	fp := func(i int) [32]byte { var b [32]byte; b[0] = byte(i); return b }
	type row struct {
		print int
		t     events.WallTime
	}
	ordered := []row{{1, 100}, {1, 100}, {2, 100}, {1, 101}, {3, 101}, {3, 101}, {3, 101}, {4, 105}}
	for _, dir := range []string{"ascending", "descending"} {
		rows := append([]row(nil), ordered...)
		if dir == "descending" {
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
		}
		var full Occurrences
		win := NewWindowedOccurrences()
		for i, r := range rows {
			// The fingerprint of a real row includes its time.
			p := fp(r.print*1000 + int(r.t))
			k1, s1 := full.Next(p, "", r.t)
			k2, s2 := win.Next(p, "", r.t)
			if k1 != k2 || s1 != s2 {
				t.Fatalf("%s row %d: windowed (k=%d, seq=%d), full (k=%d, seq=%d)", dir, i, k2, s2, k1, s1)
			}
		}
		if win.Unordered() {
			t.Errorf("%s: time-ordered rows reported unordered", dir)
		}
		if n := len(win.prints); n != 0 {
			t.Errorf("%s: windowed index grew a full map of %d entries", dir, n)
		}
	}

	win := NewWindowedOccurrences()
	for _, tm := range []events.WallTime{100, 101, 102, 101} {
		win.Next(fp(int(tm)), "", tm)
	}
	if !win.Unordered() {
		t.Errorf("rows 100, 101, 102, 101 not reported unordered")
	}
	// Scopes are ordered independently, each in one contiguous run.
	win = NewWindowedOccurrences()
	win.Next(fp(1), "a", 100)
	win.Next(fp(2), "a", 101)
	win.Next(fp(3), "b", 50)
	win.Next(fp(4), "b", 51)
	if win.Unordered() {
		t.Errorf("two time-ordered scopes reported unordered")
	}
	// A scope can come back: it resumes where it was.
	if k, seq := win.Next(fp(2), "a", 101); k != 1 || seq != 1 {
		t.Errorf("scope a resumed at its second 101: got k=%d seq=%d, want 1 1", k, seq)
	}
	win.Next(fp(5), "a", 102)
	if win.Unordered() {
		t.Errorf("scope a resumed in order reported unordered")
	}
	// ... but not back in time.
	win.Next(fp(6), "b", 49)
	if !win.Unordered() {
		t.Errorf("scope b going back from 51 to 49 not reported unordered")
	}
}

// TestTastytradeWindowedIndexSameIDs checks that every sample parses to the
// same movements with a windowed index as with a full one, and that the
// hand-made unsorted sample is reported as unordered.
func TestTastytradeWindowedIndexSameIDs(t *testing.T) {
	files, err := filepath.Glob("../../../shared/testdata/tastytrade/*.csv")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		full, err := Parse(Tastytrade{}, bytes.NewReader(data), Options{Account: "acct"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		idx := NewWindowedOccurrences()
		win, err := Parse(Tastytrade{}, bytes.NewReader(data), Options{Account: "acct", Index: idx})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if idx.Unordered() {
			if !strings.Contains(f, "mixed") {
				t.Errorf("%s: reported unordered", f)
			}
			continue
		}
		if len(full.Movements) != len(win.Movements) {
			t.Fatalf("%s: %d movements windowed, %d full", f, len(win.Movements), len(full.Movements))
		}
		for i := range full.Movements {
			if !full.Movements[i].Equal(&win.Movements[i]) {
				t.Errorf("%s: movement %d differs:\nwindowed %+v\nfull     %+v", f, i, win.Movements[i], full.Movements[i])
			}
		}
	}
}

// TestWindowedOccurrencesScopes: rows of many scopes, each in time order
// but interleaved, with identical rows and several different rows in one
// second of a scope, get from a windowed index what a full one gives; and
// after a row out of order, the index, now full, still knows every
// scope's current second (the rows there keep counting).
func TestWindowedOccurrencesScopes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const scopes = 40
	now := make([]events.WallTime, scopes)
	for i := range now {
		now[i] = events.WallTime(1000 * i)
	}
	key := func(scope int, tm events.WallTime, v int) uint64 {
		return uint64(scope)<<40 | uint64(tm)<<8 | uint64(v)
	}
	var full Occurrences
	win := NewWindowedOccurrences()
	check := func(what string, i int, scope int, tm events.WallTime, v int) {
		t.Helper()
		name := fmt.Sprintf("s%d", scope)
		k1, s1 := full.next(key(scope, tm, v), name, tm)
		k2, s2 := win.next(key(scope, tm, v), name, tm)
		if k1 != k2 || s1 != s2 {
			t.Fatalf("%s row %d (scope %d, time %d, row %d): windowed (k=%d, seq=%d), full (k=%d, seq=%d)", what, i, scope, tm, v, k2, s2, k1, s1)
		}
	}
	for i := range 20000 {
		sc := r.IntN(scopes)
		if r.IntN(3) == 0 {
			now[sc] += events.WallTime(1 + r.IntN(3))
		}
		check("ordered", i, sc, now[sc], r.IntN(3))
	}
	if win.Unordered() {
		t.Fatal("scopes in time order reported unordered")
	}
	if len(win.more) == 0 {
		t.Fatal("no scope was left with more than one row of its second: the test misses that case")
	}
	// Scope 0 goes back in time: the index turns full.
	win.next(key(0, now[0]-5, 0), "s0", now[0]-5)
	full.next(key(0, now[0]-5, 0), "s0", now[0]-5)
	if !win.Unordered() {
		t.Fatal("a scope going back in time not reported unordered")
	}
	for sc := range scopes {
		for v := range 3 {
			check("after the switch to a full index", sc*3+v, sc, now[sc], v)
		}
	}
}

// TestWindowedOccurrencesMemory: a scope left behind costs a few dozen
// bytes, not a copy of its name and slices (an IBKR statement leaves one
// per option contract traded: 163,502 in a synthetic 1M-row statement).
func TestWindowedOccurrencesMemory(t *testing.T) {
	const scopes = 100000
	names := make([]string, scopes)
	for i := range names {
		names[i] = fmt.Sprintf("Trades\x1fU1234567\x1fEquity and Index Options\x1fUSD\x1fSYM%06d 20DEC24 150 C", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	win := NewWindowedOccurrences()
	for i, name := range names {
		win.next(uint64(i), name, events.WallTime(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / scopes
	t.Logf("%.1f bytes per scope left behind", per)
	if per > 100 {
		t.Errorf("%.1f bytes per scope left behind, want at most 100", per)
	}
	runtime.KeepAlive(win)
	runtime.KeepAlive(names)
}
