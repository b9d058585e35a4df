package events

import (
	"encoding/json"
	"testing"
	"time"
)

func TestISOWeek(t *testing.T) {
	tests := []struct{ day, week string }{
		{"2025-08-24", "2025-W34"}, // Sunday
		{"2025-08-25", "2025-W35"}, // Monday
		{"2025-08-31", "2025-W35"}, // Sunday
		{"2024-12-29", "2024-W52"}, // Sunday before
		{"2024-12-30", "2025-W01"}, // Monday of the next ISO year
		{"2024-12-31", "2025-W01"},
		{"2025-01-01", "2025-W01"},
		{"2020-12-31", "2020-W53"},
		{"2021-01-01", "2020-W53"}, // Friday in the previous ISO year
		{"2021-01-03", "2020-W53"}, // Sunday in the previous ISO year
		{"2021-01-04", "2021-W01"},
		{"2026-12-31", "2026-W53"},
		{"2027-01-03", "2026-W53"},
		{"2027-01-04", "2027-W01"},
		{"2008-12-29", "2009-W01"},
		{"2010-01-03", "2009-W53"},
		{"2024-02-29", "2024-W09"}, // leap day
		{"0999-06-15", "0999-W24"}, // zero-padded year
	}
	for _, tt := range tests {
		if got := day(tt.day).ISOWeek(); got != tt.week {
			t.Errorf("%s.ISOWeek() = %s, want %s", tt.day, got, tt.week)
		}
	}
}

func TestWeeksSortAsStrings(t *testing.T) {
	// Chunk plans order weeks by their text; that must be chronological.
	d := day("2019-12-20")
	prev := d.ISOWeek()
	for range 3 * 366 {
		d = d.AddDays(1)
		w := d.ISOWeek()
		if w < prev {
			t.Fatalf("%s: week %s sorts before %s", d, w, prev)
		}
		prev = w
	}
}

func TestDate(t *testing.T) {
	if d := NewDate(2025, time.August, 5); d != 20250805 || d.String() != "2025-08-05" {
		t.Errorf("NewDate = %d %q", d, d.String())
	}
	adds := []struct {
		from string
		n    int
		to   string
	}{
		{"2024-02-28", 1, "2024-02-29"},
		{"2024-02-28", 2, "2024-03-01"},
		{"2023-02-28", 1, "2023-03-01"},
		{"2025-12-31", 1, "2026-01-01"},
		{"2026-01-01", -1, "2025-12-31"},
		{"2025-08-25", 30, "2025-09-24"},
		{"2025-08-25", 0, "2025-08-25"},
	}
	for _, tt := range adds {
		if got := day(tt.from).AddDays(tt.n).String(); got != tt.to {
			t.Errorf("%s + %d = %s, want %s", tt.from, tt.n, got, tt.to)
		}
	}
	if day("2025-08-25") >= day("2025-08-26") || day("2025-12-31") >= day("2026-01-01") {
		t.Errorf("dates do not order like days")
	}
	for _, bad := range []string{"2025-02-30", "2025-13-01", "25-08-25", "2025/08/25", "2025-8-5", " 2025-08-25", ""} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) succeeded", bad)
		}
	}
	var zero Date
	if zero.String() != "" || !zero.IsZero() {
		t.Errorf("zero date = %q", zero.String())
	}
	if got := day("2025-08-25").Time(); !got.Equal(time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Time() = %v", got)
	}
	if got := DateOf(time.Date(2025, 8, 25, 23, 30, 0, 0, time.FixedZone("x", -5*3600))); got.String() != "2025-08-25" {
		t.Errorf("DateOf keeps the location's day: got %s", got)
	}
}

func TestWallTime(t *testing.T) {
	// The wall clock as written, whatever the offset.
	t1, _ := time.Parse("2006-01-02T15:04:05-0700", "2024-05-31T14:42:13+0100")
	t2, _ := time.Parse("2006-01-02T15:04:05-0700", "2024-05-31T14:42:13+0000")
	w := WallTimeOf(t1)
	if w != WallTimeOf(t2) || w.String() != "2024-05-31T14:42:13" {
		t.Errorf("WallTimeOf = %s / %s", w, WallTimeOf(t2))
	}
	if w.Day().String() != "2024-05-31" {
		t.Errorf("Day = %s", w.Day())
	}
	if got := wall("2024-12-29T23:59:59").Day().ISOWeek(); got != "2024-W52" {
		t.Errorf("last second of the week: %s", got)
	}
	if got := wall("2024-12-30T00:00:00").Day().ISOWeek(); got != "2025-W01" {
		t.Errorf("first second of the week: %s", got)
	}
	if wall("2025-08-25T10:00:00")+1 != wall("2025-08-25T10:00:01") {
		t.Errorf("wall times do not count seconds")
	}
	for _, bad := range []string{"2025-08-25 10:00:00", "2025-08-25T10:00", "2025-08-25T25:00:00",
		"2025-08-25T10:00:00Z", "2025-08-25T10:00:00+0100", "2025-08-25"} {
		if _, err := ParseWallTime(bad); err == nil {
			t.Errorf("ParseWallTime(%q) succeeded", bad)
		}
	}
	// Zero means unset and encodes as the empty string (omitted by omitzero).
	var zero WallTime
	if b, _ := zero.MarshalText(); len(b) != 0 || !zero.IsZero() {
		t.Errorf("zero wall time encodes as %q", b)
	}
	var back WallTime = 5
	if err := back.UnmarshalText(nil); err != nil || back != 0 {
		t.Errorf("empty text decodes to %d, %v", back, err)
	}
	// Before 1970 works (negative seconds).
	if w := wall("1969-12-31T23:59:59"); w != -1 || w.String() != "1969-12-31T23:59:59" {
		t.Errorf("1969 = %d %s", w, w)
	}
}

func TestTimeJSON(t *testing.T) {
	type doc struct {
		T WallTime `json:"t,omitzero"`
		D Date     `json:"d,omitzero"`
	}
	b, err := json.Marshal(doc{T: wall("2021-01-03T08:09:10"), D: day("2020-12-31")})
	if err != nil || string(b) != `{"t":"2021-01-03T08:09:10","d":"2020-12-31"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	if b, _ := json.Marshal(doc{}); string(b) != `{}` {
		t.Errorf("zero values encode as %s", b)
	}
	var got doc
	if err := json.Unmarshal([]byte(`{"t":"","d":""}`), &got); err != nil || got != (doc{}) {
		t.Errorf("empty strings decode to %+v, %v", got, err)
	}
	if err := json.Unmarshal([]byte(`{"t":"2021-01-03T08:09:10","d":"2020-12-31"}`), &got); err != nil ||
		got.T != wall("2021-01-03T08:09:10") || got.D != day("2020-12-31") {
		t.Errorf("decode = %+v, %v", got, err)
	}
}

// TestDaysIn agrees with time.Date for every month of four centuries and
// both sides of the Gregorian leap rules (1900 and 2100 are not leap years,
// 2000 is).
func TestDaysIn(t *testing.T) {
	for y := 1800; y <= 2400; y++ {
		for m := 1; m <= 12; m++ {
			if got, want := DaysIn(y, m), time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("DaysIn(%d, %d) = %d, want %d", y, m, got, want)
			}
		}
	}
}
