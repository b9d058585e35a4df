package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
)

// The movement scan reads the primary key in order: SQLite neither sorts
// nor buffers the account (a sort would hold the whole history).
func TestScanPlanUsesKeyOrder(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		query string
		args  []any
	}{
		{scanQuery(0), []any{"a"}},
		{scanQuery(2), []any{"a", "stock", "option"}},
	} {
		rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+tt.query, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "USING PRIMARY KEY (account=?)") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan of %q:\n%s\nwant a search of the primary key by account and no temporary B-tree", tt.query, got)
		}
	}
}

// parseWallTime agrees with events.ParseWallTime on every input: the same
// value, or an error for both.
func TestParseWallTime(t *testing.T) {
	inputs := []string{"2025-08-25T10:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59", "2024-02-29T12:00:00",
		"2025-02-29T12:00:00", "2025-04-31T00:00:00", "2025-13-01T00:00:00", "2025-00-10T00:00:00",
		"2025-01-00T00:00:00", "2025-01-01T24:00:00", "2025-01-01T23:60:00", "2025-01-01T23:59:60",
		"2025-01-01 10:00:00", "2025-1-01T10:00:00", "+025-01-01T10:00:00", "2025-01-01T10:00:0x", "",
		"2025-01-01T10:00:00Z", "1900-02-29T00:00:00", "2000-02-29T00:00:00", "0000-01-01T00:00:00"}
	for y := 1998; y <= 2001; y++ {
		for m := 1; m <= 12; m++ {
			for d := 27; d <= 32; d++ {
				inputs = append(inputs, fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, d%25, 59, d))
			}
		}
	}
	for _, in := range inputs {
		got, gotErr := parseWallTime(in)
		want, wantErr := events.ParseWallTime(in)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseWallTime(%q) = %d, %v; events.ParseWallTime: %d, %v", in, got, gotErr, want, wantErr)
		}
	}
}

func FuzzParseWallTime(f *testing.F) {
	f.Add("2025-08-25T10:00:00")
	f.Add("2024-02-29T23:59:59")
	f.Fuzz(func(t *testing.T, in string) {
		got, gotErr := parseWallTime(in)
		want, wantErr := events.ParseWallTime(in)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseWallTime(%q) = %d, %v; events.ParseWallTime: %d, %v", in, got, gotErr, want, wantErr)
		}
	})
}
