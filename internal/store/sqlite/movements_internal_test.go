package sqlite

import (
	"slices"
	"testing"

	"github.com/foliostream/foliostream/events"
)

// keyOrder puts a batch's chunks in the order of their first key (account,
// utc, id), the rows of each chunk as they are, whatever order the chunks
// come in (a statement newest week first), and records each account's
// offsets.
func TestKeyOrder(t *testing.T) {
	mv := func(account string, at int64, id, offset string) events.Movement {
		return events.Movement{Account: account, Time: events.WallTime(at), ID: id, Offset: offset}
	}
	chunks := []*events.Chunk{
		{Session: "s1", Movements: []events.Movement{mv("a", 3000, "a3", ""), mv("a", 3000, "a4", "")}},
		{Session: "s1", Movements: []events.Movement{mv("b", 1500, "b1", "")}},
		{Session: "s2", Movements: []events.Movement{mv("a", 2000+3600, "a2", "+0100"), mv("a", 2500, "a2b", "-0100")}},
		{Session: "s1"}, // no movements
		{Session: "s1", Movements: []events.Movement{mv("a", 1000, "a1", "")}},
	}
	var offs accountOffsets
	got := keyOrder(chunks, &offs)
	var ids, sessions []string
	var utcs []int64
	for _, r := range got {
		ids, sessions, utcs = append(ids, r.m.ID), append(sessions, r.session), append(utcs, r.utc)
	}
	if want := []string{"a1", "a2", "a2b", "a3", "a4", "b1"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
	if want := []string{"s1", "s2", "s2", "s1", "s1", "s1"}; !slices.Equal(sessions, want) {
		t.Errorf("sessions %v, want %v", sessions, want)
	}
	if want := []int64{1000, 2000, 2500 + 3600, 3000, 3000, 1500}; !slices.Equal(utcs, want) {
		t.Errorf("utc %v, want %v", utcs, want)
	}
	for _, r := range got {
		if r.utc != utcOf(r.m) {
			t.Errorf("%s: utc %d, utcOf %d", r.m.ID, r.utc, utcOf(r.m))
		}
	}
	want := accountOffsets{{"a", -3600, 3600}, {"b", 0, 0}}
	if !slices.Equal(offs, want) {
		t.Errorf("offsets %v, want %v", offs, want)
	}
	if got := keyOrder(nil, &offs); len(got) != 0 {
		t.Errorf("no chunks: %d rows", len(got))
	}
}
