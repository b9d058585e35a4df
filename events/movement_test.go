package events

import (
	"reflect"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
)

func TestCompare(t *testing.T) {
	ms := []Movement{
		{ID: "e", Time: wall("2025-08-26T10:00:00")},
		{ID: "d", Time: wall("2025-08-25T10:00:00"), Seq: 1, Part: 2},
		{ID: "c", Time: wall("2025-08-25T10:00:00"), Seq: 1, Part: 1},
		{ID: "b2", Time: wall("2025-08-25T10:00:00"), Seq: 0},
		{ID: "b1", Time: wall("2025-08-25T10:00:00"), Seq: 0},
		{ID: "a", Time: wall("2024-12-31T23:59:59"), Seq: 9},
	}
	slices.SortFunc(ms, func(a, b Movement) int { return Compare(&a, &b) })
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if want := []string{"a", "b1", "b2", "c", "d", "e"}; !slices.Equal(ids, want) {
		t.Errorf("order = %v, want %v", ids, want)
	}
	if Compare(&ms[0], &ms[0]) != 0 {
		t.Errorf("Compare(x, x) != 0")
	}
}

func TestMovementEqual(t *testing.T) {
	for _, m := range sampleMovements() {
		c := m
		if !m.Equal(&c) {
			t.Errorf("%s: not equal to its copy", m.ID)
		}
	}
	a := Movement{Amount: decimal.RequireFromString("1.50")}
	b := Movement{Amount: decimal.RequireFromString("1.5")}
	if !a.Equal(&b) {
		t.Errorf("1.50 != 1.5")
	}
	// Every field takes part: change each one in turn.
	base := sampleMovements()[3]
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(f.String() + "x")
		case int:
			f.SetInt(f.Int() + 1)
		case Kind, CashType, TradeCode, OptionType:
			f.SetString(f.String() + "x")
		case WallTime, Date:
			f.SetInt(f.Int() + 1)
		case decimal.Decimal:
			f.Set(reflect.ValueOf(f.Interface().(decimal.Decimal).Add(decimal.New(1, -3))))
		default:
			t.Fatalf("field %s of type %s: extend this test", v.Type().Field(i).Name, f.Type())
		}
		if base.Equal(&changed) {
			t.Errorf("Equal ignores field %s", v.Type().Field(i).Name)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		if want := k != KindStrikeAdjustment; k.Counts() != want {
			t.Errorf("%s.Counts() = %v", k, k.Counts())
		}
	}
	if len(Kinds) != 7 {
		t.Errorf("Kinds has %d entries", len(Kinds))
	}
	codes := map[TradeCode][2]bool{BuyToOpen: {true, true}, SellToOpen: {true, false}, BuyToClose: {false, true}, SellToClose: {false, false}}
	for c, want := range codes {
		if c.Opening() != want[0] || c.BuySide() != want[1] {
			t.Errorf("%s: opening/buy = %v/%v, want %v", c, c.Opening(), c.BuySide(), want)
		}
	}
}
