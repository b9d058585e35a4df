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

// FuzzChunkDecode is the proof that the hand-written chunk decoder is
// encoding/json for chunks: on any input both refuse, or both accept with
// identical results (reflect.DeepEqual, decimal representations included).
// What they accept re-encodes to the same bytes with both encoders and
// decodes back to the same values.
func FuzzChunkDecode(f *testing.F) {
	for typ := range samples() {
		b, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !requireSameDecoding(t, data) {
			return
		}
		c, err := decodeChunk(data)
		if err != nil {
			t.Fatal(err)
		}
		requireSameEncoding(t, c)
		b, err := marshalChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeChunk(b)
		if err != nil {
			t.Fatalf("decoding our own encoding %s: %v", b, err)
		}
		if !eventEqual(back, c) {
			t.Fatalf("decode(encode(x)) != x:\n%s\n%s", dumpChunk(back), dumpChunk(c))
		}
	})
}

// FuzzChunkEncode is the proof that the hand-written chunk encoder writes
// what encoding/json writes, for movements built from arbitrary values
// (decimals of any coefficient and any exponent up to ±1000, any wall time,
// date, int and string), and that both decoders read it back alike.
func FuzzChunkEncode(f *testing.F) {
	f.Add("3e2f6f5a0b4c7d8e1f2a3b4c5d6e7f80:option:2", "option", int64(1756323206), int32(20250926), 2, int64(1562666), int32(-5), "15.626666666666666666666666667", "Sold 3 MPW <&>")
	f.Add("", "", int64(0), int32(0), 0, int64(0), int32(0), "0", "")
	f.Add("\xff\u2028", "\x00\"\\", int64(-62167219201), int32(-1), -1, int64(-9223372036854775808), int32(19), "-1e-40", "\U0001F600\xed\xa0\x80")
	f.Add("x", "cash", int64(253402300800), int32(100000101), 1<<62, int64(100), int32(-1000), "123456789012345678901234567890e5", "\t")
	f.Fuzz(func(t *testing.T, id, kind string, tm int64, exp int32, seq int, coef int64, scale int32, long, notes string) {
		if scale < -1000 || scale > 1000 {
			return // String's cost grows with the exponent
		}
		big, err := decimal.NewFromString(long)
		if err != nil || len(long) > 100 || big.Exponent() < -1000 || big.Exponent() > 1000 {
			big = decimal.Decimal{}
		}
		d := decimal.New(coef, scale)
		m := Movement{ID: id, Account: kind, Broker: notes, Kind: Kind(kind), Time: WallTime(tm), Offset: id,
			Seq: seq, Part: -seq, Line: int(exp), Currency: notes, Ticker: kind, CashType: CashType(id),
			Code: TradeCode(notes), Quantity: d, Price: big, Amount: d.Neg(), Commissions: big.Neg(), Fees: d,
			OptionType: OptionType(kind), Strike: big, NewStrike: d, Expiration: Date(exp), Premium: d,
			NetPremium: big, Multiplier: d, FromCurrency: id, AmountChanged: big, Notes: notes}
		c := &Chunk{Session: id, Account: kind, ID: notes, Ordinal: seq, Total: int(exp), Week: kind, Part: int(scale),
			Movements: []Movement{m, {}, m}}
		requireSameEncoding(t, c)
		b, err := marshalChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		requireSameDecoding(t, b)
	})
}

// FuzzMovementDecode is the proof that the per-movement decoder is
// encoding/json for one movement: on any input both refuse, or both accept
// with identical results, a decoding of some fields is the full one
// trimmed to them, and a decoder reused on a second input (its caches
// warm) decodes it alike. What they accept encodes with AppendMovementJSON
// as with encoding/json.
func FuzzMovementDecode(f *testing.F) {
	for i, c := range movementCases(f) {
		f.Add([]byte(c), uint32(i)*0x9e3779b9, []byte(`{"amount":"1.5","time":"2025-08-25T10:00:00","ticker":"T"}`))
	}
	f.Fuzz(func(t *testing.T, data []byte, fields uint32, other []byte) {
		var dec MovementDecoder
		requireSameMovementDecoding(t, &dec, other, 0)
		if !requireSameMovementDecoding(t, &dec, data, Fields(fields)&AllFields) {
			return
		}
		var m Movement
		if err := dec.Decode(data, &m, 0); err != nil {
			t.Fatal(err)
		}
		requireSameMovementEncoding(t, &m)
	})
}
