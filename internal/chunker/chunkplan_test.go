package chunker

import (
	"slices"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
)

func TestISOWeek(t *testing.T) {
	for _, day := range []time.Time{
		time.Date(2024, 12, 30, 0, 0, 0, 0, time.UTC), // 2025-W01
		time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC),   // 2020-W53
		time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC),
		time.Date(999, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		d := events.NewDate(day.Year(), day.Month(), day.Day())
		w := weekOf(d)
		if w.String() != d.ISOWeek() {
			t.Errorf("%s: week %s, events says %s", d, w, d.ISOWeek())
		}
		if back, ok := parseWeek(d.ISOWeek()); !ok || back != w {
			t.Errorf("parseWeek(%s) = %d, %v; want %d", d.ISOWeek(), back, ok, w)
		}
	}
	for _, bad := range []string{"", "2025-W1", "2025-W00", "2025-W54", "2025W35", "+025-W35", "2025-W+5", "2025-W-5", "2025-X35", "2025-W355"} {
		if w, ok := parseWeek(bad); ok {
			t.Errorf("parseWeek(%q) = %d, want refusal", bad, w)
		}
	}
}

func TestPlanOrdinal(t *testing.T) {
	var refs []events.ChunkRef
	add := func(week string, parts int) {
		for p := 1; p <= parts; p++ {
			refs = append(refs, events.ChunkRef{ID: chunkID(week, p), Ordinal: len(refs) + 1, Week: week, Part: p, Movements: p, Bytes: 100 * p})
		}
	}
	add("2020-W53", 1)
	add("2021-W01", 12) // parts 10 to 12 sort before 2 as text
	add("2021-W07", 2)
	plan, err := NewPlan(refs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Refs(), refs) || plan.Len() != len(refs) {
		t.Fatalf("Refs = %v, want %v", plan.Refs(), refs)
	}
	for i, ref := range refs {
		if n := plan.Ordinal(ref.ID); n != i+1 {
			t.Errorf("Ordinal(%s) = %d, want %d", ref.ID, n, i+1)
		}
		if plan.Movements(i) != ref.Movements {
			t.Errorf("Movements(%d) = %d, want %d", i, plan.Movements(i), ref.Movements)
		}
	}
	for _, id := range []string{"", "2021-W01", "2021-W01.0", "2021-W01.13", "2021-W01.01", "2021-W01.+1", "2021-W02.1", "2020-W52.1", "2021-W07.3", "x.1"} {
		if n := plan.Ordinal(id); n != 0 {
			t.Errorf("Ordinal(%q) = %d, want 0", id, n)
		}
	}
	if fp := events.PlanFingerprint(slices.Values(refs)); plan.Fingerprint() != fp {
		t.Errorf("Fingerprint = %s, events.PlanFingerprint = %s", plan.Fingerprint(), fp)
	}
	var zero Plan
	if zero.Len() != 0 || zero.Ordinal("2021-W01.1") != 0 || len(zero.Refs()) != 0 {
		t.Error("the zero Plan is not empty")
	}
	bad := slices.Clone(refs)
	bad[3].Bytes = -1
	if _, err := NewPlan(bad); err == nil {
		t.Error("NewPlan accepted a negative size")
	}
}
