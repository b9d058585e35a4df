package sqlite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeMovements(t *testing.T, s *Store, session string, ms []events.Movement) {
	t.Helper()
	for i := 0; i < len(ms); i += 500 {
		c := &events.Chunk{Session: session, Account: ms[i].Account, ID: fmt.Sprintf("2025-W35.%d", i/500+1),
			Ordinal: i/500 + 1, Total: (len(ms) + 499) / 500, Week: "2025-W35", Part: i/500 + 1,
			Movements: ms[i:min(i+500, len(ms))]}
		if err := s.WriteBatch(t.Context(), &store.Batch{Chunks: []*events.Chunk{c}}); err != nil {
			t.Fatal(err)
		}
	}
}

func scanIDs(t *testing.T, s *Store, account string, q projections.Query) []string {
	t.Helper()
	var ids []string
	err := s.ScanMovements(t.Context(), account, q, func(m *events.Movement) error {
		ids = append(ids, m.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// randomHistory returns n movements of account within a few days, many
// in the same second (a multi-leg trade: several seqs and parts), with
// random IDs and offsets drawn from offsets, shuffled.
func randomHistory(rnd *rand.Rand, account string, n int, offsets []string) []events.Movement {
	kinds := []events.Kind{events.KindCash, events.KindStock, events.KindOption, events.KindOption,
		events.KindStrikeAdjustment}
	base := events.WallTimeOf(time.Date(2025, 3, 28, 0, 0, 0, 0, time.UTC))
	ms := make([]events.Movement, n)
	for i := range ms {
		ms[i] = events.Movement{
			ID: fmt.Sprintf("%016x%016x:%d", rnd.Uint64(), rnd.Uint64(), i), Account: account,
			Broker: events.BrokerTastytrade, Kind: kinds[rnd.IntN(len(kinds))],
			Time: base + events.WallTime(rnd.IntN(4*86400)/7*7), Offset: offsets[rnd.IntN(len(offsets))],
			Seq: rnd.IntN(4), Part: rnd.IntN(3), Line: i + 2, Currency: "USD", Ticker: "T",
		}
	}
	return ms
}

// The scan delivers a history stored in UTC order in events.Compare order,
// whatever the offsets (the UK's two, the widest real ones, and text
// utcOf reads as 99 hours), with and without a kinds filter and fields.
func TestScanOrdersByWallTime(t *testing.T) {
	for _, tt := range []struct {
		name    string
		n       int
		offsets []string
	}{
		{"one offset", 3000, []string{"+0000"}},
		{"none", 3000, []string{""}},
		{"UK summer and winter", 3000, []string{"+0100", "+0000"}},
		{"widest real", 6000, []string{"-1200", "+1400", "+0545", "-04:00", "", "Z"}},
		{"unreal", 3000, []string{"+9999", "-9959", "+0100"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(uint64(tt.n), uint64(len(tt.offsets))))
			s := openTemp(t)
			ms := randomHistory(rnd, "acct", tt.n, tt.offsets)
			writeMovements(t, s, "s1", ms)
			want := slices.Clone(ms)
			slices.SortFunc(want, func(a, b events.Movement) int { return events.Compare(&a, &b) })
			for _, q := range []projections.Query{
				{},
				{Kinds: []events.Kind{events.KindOption}, Fields: events.FieldStrike | events.FieldTicker},
				{Kinds: []events.Kind{events.KindStrikeAdjustment}, Fields: events.FieldNewStrike},
			} {
				var wantIDs []string
				for _, m := range want {
					if len(q.Kinds) == 0 || slices.Contains(q.Kinds, m.Kind) {
						wantIDs = append(wantIDs, m.ID)
					}
				}
				if got := scanIDs(t, s, "acct", q); !slices.Equal(got, wantIDs) {
					t.Errorf("kinds %v: %d movements, want %d, or out of order", q.Kinds, len(got), len(wantIDs))
				}
			}
		})
	}
}

// A row whose offset lies outside the account's recorded offsets (the
// table changed by hand) fails the scan instead of coming out of order.
func TestScanOffsetOutsideRecorded(t *testing.T) {
	s := openTemp(t)
	ms := randomHistory(rand.New(rand.NewPCG(1, 2)), "acct", 50, []string{"+0100", "+0000"})
	writeMovements(t, s, "s1", ms)
	if _, err := s.w.Exec(`UPDATE movement_docs SET utc = utc - 7200 WHERE id = ?`, ms[10].ID); err != nil {
		t.Fatal(err)
	}
	err := s.ScanMovements(t.Context(), "acct", projections.Query{}, func(*events.Movement) error { return nil })
	if !errors.Is(err, errOrder) {
		t.Errorf("scan with a row 2 h outside the recorded offsets: %v, want %v", err, errOrder)
	}
	// Rows inserted by hand, with no offsets recorded for their account.
	if _, err := s.w.Exec(`INSERT INTO movement_docs SELECT 'other', utc, id, kind, session, line, doc
		FROM movement_docs WHERE account = 'acct'`); err != nil {
		t.Fatal(err)
	}
	err = s.ScanMovements(t.Context(), "other", projections.Query{}, func(*events.Movement) error { return nil })
	if !errors.Is(err, errOrder) {
		t.Errorf("scan of an account with no recorded offsets: %v, want %v", err, errOrder)
	}
}

// The offsets recorded only widen, per account, as batches come.
func TestOffsetsRecorded(t *testing.T) {
	s := openTemp(t)
	ms := randomHistory(rand.New(rand.NewPCG(3, 4)), "a", 20, []string{"+0100"})
	other := randomHistory(rand.New(rand.NewPCG(5, 6)), "b", 20, []string{"-0400"})
	writeMovements(t, s, "s1", ms)
	writeMovements(t, s, "s2", other)
	ms2 := randomHistory(rand.New(rand.NewPCG(7, 8)), "a", 20, []string{"+0000", "+05:45"})
	writeMovements(t, s, "s3", ms2)
	writeMovements(t, s, "s4", ms) // again: the same offsets, nothing changes
	rows, err := s.r.Query(`SELECT account, min_offset, max_offset FROM movement_offsets ORDER BY account`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var a string
		var lo, hi int64
		if err := rows.Scan(&a, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %d", a, lo, hi))
	}
	if want := []string{"a 0 20700", "b -14400 -14400"}; !slices.Equal(got, want) {
		t.Errorf("movement_offsets = %q, want %q", got, want)
	}
}

// One ID at one wall time with two offsets (which the IDs rule out: an ID
// hashes its instant) is two rows of the table, and the scan delivers one
// of them, the earlier instant's, as it delivers one movement per ID.
func TestScanOneMovementPerID(t *testing.T) {
	s := openTemp(t)
	m := randomHistory(rand.New(rand.NewPCG(9, 9)), "acct", 1, []string{"+0100"})[0]
	n := m
	n.Offset, n.Line = "+0000", 99
	writeMovements(t, s, "s1", []events.Movement{m})
	writeMovements(t, s, "s2", []events.Movement{n})
	var got []events.Movement
	err := s.ScanMovements(t.Context(), "acct", projections.Query{}, func(m *events.Movement) error {
		got = append(got, *m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Offset != "+0100" {
		t.Errorf("scan = %+v, want the one movement at +0100", got)
	}
}

// A kind is a literal in the scan's SQL: quotes are escaped.
func TestScanKindLiteral(t *testing.T) {
	s := openTemp(t)
	writeMovements(t, s, "s1", randomHistory(rand.New(rand.NewPCG(1, 1)), "acct", 5, []string{""}))
	for _, kinds := range [][]events.Kind{{"it's"}, {"it's", "x' OR 1=1 --"}} {
		if got := scanIDs(t, s, "acct", projections.Query{Kinds: kinds}); len(got) != 0 {
			t.Errorf("scan of kinds %q = %d movements, want none", kinds, len(got))
		}
	}
}
