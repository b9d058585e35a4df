package events

import (
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

// fieldNames maps every Fields bit to the Movement field it stands for.
var fieldNames = map[Fields]string{
	FieldBroker: "Broker", FieldOffset: "Offset", FieldLine: "Line", FieldCurrency: "Currency",
	FieldTicker: "Ticker", FieldCashType: "CashType", FieldCode: "Code", FieldQuantity: "Quantity",
	FieldPrice: "Price", FieldAmount: "Amount", FieldCommissions: "Commissions", FieldFees: "Fees",
	FieldOptionType: "OptionType", FieldStrike: "Strike", FieldNewStrike: "NewStrike",
	FieldExpiration: "Expiration", FieldPremium: "Premium", FieldNetPremium: "NetPremium",
	FieldMultiplier: "Multiplier", FieldFromCurrency: "FromCurrency", FieldAmountChanged: "AmountChanged",
	FieldNotes: "Notes",
}

// identityFields are delivered whatever the set.
var identityFields = []string{"ID", "Account", "Kind", "Time", "Seq", "Part"}

// fullMovement has every field set to a non-zero value.
func fullMovement(t *testing.T) Movement {
	t.Helper()
	var m Movement
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Struct:
			f.Set(reflect.ValueOf(decimal.New(int64(i+1), -2)))
		default:
			t.Fatalf("field %s: kind %s not covered", v.Type().Field(i).Name, f.Kind())
		}
	}
	return m
}

func TestFieldsCoverMovement(t *testing.T) {
	typ := reflect.TypeFor[Movement]()
	if got, want := len(fieldNames)+len(identityFields), typ.NumField(); got != want {
		t.Fatalf("Fields bits + identity fields = %d, Movement has %d fields: a new field needs a Fields bit", got, want)
	}
	var all Fields
	for bit, name := range fieldNames {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("%s: no Movement field", name)
		}
		all |= bit
	}
	if all != AllFields {
		t.Errorf("AllFields = %b, the bits are %b", AllFields, all)
	}
}

func TestFieldsTrim(t *testing.T) {
	full := fullMovement(t)
	check := func(t *testing.T, f Fields, m Movement) {
		t.Helper()
		got, want := reflect.ValueOf(m), reflect.ValueOf(full)
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			kept := true
			for bit, n := range fieldNames {
				if n == name {
					kept = f.Has(bit)
				}
			}
			g, w := got.Field(i).Interface(), want.Field(i).Interface()
			switch {
			case kept && !reflect.DeepEqual(g, w):
				t.Errorf("Fields %b: %s = %v, want %v kept", f, name, g, w)
			case !kept && !got.Field(i).IsZero():
				t.Errorf("Fields %b: %s = %v, want zero", f, name, g)
			}
		}
	}
	for bit, name := range fieldNames {
		t.Run(name, func(t *testing.T) {
			m := full
			bit.Trim(&m)
			check(t, bit, m)
		})
	}
	for _, f := range []Fields{0, AllFields, FieldTicker | FieldStrike | FieldExpiration, AllFields &^ FieldNotes} {
		m := full
		f.Trim(&m)
		check(t, f, m)
	}
	if !Fields(0).Has(FieldNotes) || FieldTicker.Has(FieldTicker|FieldCode) || !(FieldTicker | FieldCode).Has(FieldCode) {
		t.Error("Has disagrees with its documentation")
	}
}
