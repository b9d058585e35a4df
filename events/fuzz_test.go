package events

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzRoundTrip decodes arbitrary bodies. Whatever Unmarshal accepts must
// re-encode and decode again to a fixed point: decode(encode(x)) == x, and the
// second encoding is byte-identical to the first. Whatever it refuses must be
// refused with one of its three sentinels (a poison message, never a panic).
func FuzzRoundTrip(f *testing.F) {
	for typ := range samples() {
		b, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(typ), b)
	}
	f.Add("chunk", []byte(`{"session":"s","account":"a","movements":[{"amount":"1e3","fees":"-0.000","time":"1970-01-01T00:00:00"}]}`))
	f.Add("chunk", []byte(`{"SESSION":"s","Account":"a","movements":[{"id":"\ud800","notes":"<&>"}],"movements":null}`))
	f.Add("session.started", []byte(`{"session":"s","account":"a","counts":{"":1,"x":-1},"started_at":"2025-01-01T00:00:00+05:30"}`))
	f.Add("session.sealed", []byte(`{"session":"s","account":"a","chunks":1e2}`))
	f.Add("session.failed", []byte(`{"session":"s","account":"a.b"}`))
	f.Add("nope", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e1, err := Unmarshal(typ, SchemaHeader, data)
		if err != nil {
			if !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal error without a sentinel: %v", err)
			}
			return
		}
		b1, err := Marshal(e1)
		if err != nil {
			t.Fatalf("Marshal of a decoded event: %v", err)
		}
		e2, err := Unmarshal(typ, SchemaHeader, b1)
		if err != nil {
			t.Fatalf("decoding our own encoding %s: %v", b1, err)
		}
		if !eventEqual(e1, e2) {
			t.Fatalf("decode(encode(x)) != x:\n%+v\n%+v", e1, e2)
		}
		b2, err := Marshal(e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", b1, b2)
		}
	})
}

// FuzzMovementRoundTrip builds movements from structured values and checks
// that a chunk carrying them decodes to the same values.
func FuzzMovementRoundTrip(f *testing.F) {
	f.Add("3e2f6f5a0b4c7d8e1f2a3b4c5d6e7f80:option:2", "option", int64(1756323206), 0, 2, "MPW", "15.626666666666666666666666667", "-0.02", int32(20250926), "Sold 3 MPW")
	f.Add("", "", int64(0), 0, 0, "", "0", "-0", int32(0), "")
	f.Add("x", "cash", int64(-1), -5, -1, "\x00\xff", "1e-28", "123456789012345678901234567890", int32(101), "\u2028<>&")
	f.Fuzz(func(t *testing.T, id, kind string, tm int64, seq, part int, ticker, amount, fees string, exp int32, notes string) {
		a, err := decimal.NewFromString(amount)
		if err != nil {
			return
		}
		fe, err := decimal.NewFromString(fees)
		if err != nil {
			return
		}
		if a.Exponent() > 1000 || a.Exponent() < -1000 || fe.Exponent() > 1000 || fe.Exponent() < -1000 {
			return // beyond the decoder's exponent limit by design
		}
		d := Date(exp)
		if _, err := ParseDate(d.String()); d != 0 && (err != nil || d.String() == "") {
			return // not a calendar day: not a value a parser can produce
		}
		if pd, _ := ParseDate(d.String()); pd != d {
			return
		}
		w := WallTime(tm)
		if y := w.Time().Year(); y < 1 || y > 9999 {
			return // outside the text form's range
		}
		m := Movement{ID: id, Kind: Kind(kind), Time: w, Seq: seq, Part: part, Ticker: ticker,
			Amount: a, Fees: fe, Premium: a.Neg(), Expiration: d, Notes: notes, Currency: "USD"}
		in := &Chunk{Session: "s", Account: "a", Movements: []Movement{m}}
		b, err := Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Unmarshal(string(TypeChunk), SchemaHeader, b)
		if err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		got := out.(*Chunk).Movements[0]
		// Invalid UTF-8 is replaced by U+FFFD on the wire: compare the
		// strings the way JSON carries them.
		want := m
		want.ID, want.Kind, want.Ticker, want.Notes = jsonString(t, m.ID), Kind(jsonString(t, string(m.Kind))), jsonString(t, m.Ticker), jsonString(t, m.Notes)
		if !got.Equal(&want) {
			t.Fatalf("decode(encode(m)) = %+v, want %+v", got, want)
		}
	})
}

// jsonString is s after a trip through a JSON string.
func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := Marshal(&SessionFailed{Session: "s", Account: "a", Reason: s})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Unmarshal(string(TypeSessionFailed), SchemaHeader, b)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*SessionFailed).Reason
}
