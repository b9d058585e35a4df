package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
)

// The movement scan reads the primary key in order: SQLite neither sorts
// nor buffers the account (a sort would hold the whole history). A scan of
// the strike adjustments reads their partial index, not the account.
func TestScanPlan(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		query string
		want  string
	}{
		{scanQuery(newDocScanner("a", 0).names, nil), "USING PRIMARY KEY (account=?)"},
		{scanQuery(newDocScanner("a", events.FieldTicker|events.FieldStrike).names,
			[]events.Kind{events.KindStock, events.KindOption}), "USING PRIMARY KEY (account=?)"},
		{scanQuery(newDocScanner("a", events.FieldNewStrike).names, []events.Kind{events.KindStrikeAdjustment}),
			"USING INDEX movement_docs_adjustments (account=?)"},
	} {
		rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+tt.query, "a")
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
		if !strings.Contains(got, tt.want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan of %q:\n%s\nwant %s and no temporary B-tree", tt.query, got, tt.want)
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

// The migration to version 5 reads version 4's rows as that version's
// scan did: the identity and order columns and the columns of the fields
// asked for, no others; every field has its column. A scan of version 5
// reads line only when it is asked for (the document holds the others).
func TestScannerColumns(t *testing.T) {
	for _, tt := range []struct {
		fields events.Fields
		want   string
	}{
		{0, "utc, id, kind, line, doc"}, {events.AllFields, "utc, id, kind, line, doc"},
		{events.FieldLine, "utc, id, kind, line, doc"}, {events.AllFields &^ events.FieldLine, "utc, id, kind, doc"},
		{events.FieldTicker | events.FieldStrike, "utc, id, kind, doc"},
	} {
		if sc := newDocScanner("a", tt.fields); sc.names != tt.want || sc.width() != strings.Count(tt.want, ",")+1 {
			t.Errorf("columns of fields %b: %s (%d), want %s", tt.fields, sc.names, sc.width(), tt.want)
		}
	}
	for _, tt := range []struct {
		fields events.Fields
		want   string
	}{
		{0, "utc, id, account, kind, time, seq, part, broker, utc_offset, line, currency, ticker, cash_type, code, " +
			"quantity, price, amount, commissions, fees, option_type, strike, new_strike, expiration, premium, " +
			"net_premium, multiplier, from_currency, amount_changed, notes"},
		{events.AllFields, newMovementScanner(0).names},
		// Close linking's option pass (projections.ComputeTo): 12 of 28.
		{events.FieldTicker | events.FieldCurrency | events.FieldOptionType | events.FieldStrike |
			events.FieldExpiration | events.FieldCode,
			"utc, id, account, kind, time, seq, part, currency, ticker, code, option_type, strike, expiration"},
		{events.FieldNotes, "utc, id, account, kind, time, seq, part, notes"},
	} {
		if got := newMovementScanner(tt.fields).names; got != tt.want {
			t.Errorf("columns of fields %b:\n got %s\nwant %s", tt.fields, got, tt.want)
		}
	}
	seen := events.Fields(0)
	for _, c := range movementColumns {
		if seen&c.field != 0 {
			t.Errorf("field %b read from two columns", c.field)
		}
		seen |= c.field
	}
	if seen != events.AllFields {
		t.Errorf("fields with a column: %b, want every field %b", seen, events.AllFields)
	}
}

// A scan of several kinds tests each row's kind with comparisons, most
// frequent kind first, not with kind IN (list), which SQLite runs as a
// search of a temporary B-tree (OpenEphemeral) per row.
func TestScanKindsCompared(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kinds := []events.Kind{events.KindCash, events.KindConversion, "future_kind", events.KindStock, events.KindOption}
	q := scanQuery(newDocScanner("a", 0).names, kinds)
	if want := ` AND (kind = 'option' OR kind = 'stock' OR kind = 'cash' OR kind = 'conversion' OR kind = 'future_kind') `; !strings.Contains(q, want) {
		t.Errorf("query %s\nwant it to contain %s", q, want)
	}
	if kinds[0] != events.KindCash || kinds[2] != "future_kind" {
		t.Errorf("scanQuery changed its argument: %v", kinds)
	}
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN `+q, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		v := make([]any, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		if op, _ := v[1].(string); op == "OpenEphemeral" {
			t.Errorf("the program of %s opens a temporary table", q)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// A list of kinds longer than maxKindTerms is tested with IN, in the
// list's order; one of maxKindTerms kinds with comparisons.
func TestScanManyKinds(t *testing.T) {
	kinds := make([]events.Kind, maxKindTerms+1)
	for i := range kinds {
		kinds[i] = events.Kind(fmt.Sprintf("k%d", i))
	}
	kinds[3] = events.KindOption
	q := scanQuery(newDocScanner("a", 0).names, kinds)
	if !strings.Contains(q, ` AND kind IN ('k0', 'k1', 'k2', 'option', 'k4', `) {
		t.Errorf("query %s: want kind IN (…)", q)
	}
	if q := scanQuery(newDocScanner("a", 0).names, kinds[:maxKindTerms]); strings.Contains(q, " IN ") {
		t.Errorf("query %s: want comparisons", q)
	}
}
