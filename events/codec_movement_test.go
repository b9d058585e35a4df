package events

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"testing"
	"unsafe"

	"github.com/shopspring/decimal"
)

// The per-movement codec must be the chunk codec, and so encoding/json, for
// one movement: these tests compare AppendMovementJSON with json.Marshal
// and MovementDecoder.Decode with json.Unmarshal, like codec_chunk_test.go does
// for chunks.

// omits are the Omit sets the tests try: none, each member alone, and the
// store's (every one).
var omits = []Omit{0, OmitID, OmitAccount, OmitKind, OmitLine, OmitID | OmitAccount, OmitID | OmitAccount | OmitKind | OmitLine}

// requireSameMovementEncoding fails unless AppendMovementJSON writes what
// json.Marshal writes for m, and, with members omitted, what json.Marshal
// writes without them (and what decodes back to m once they are set).
func requireSameMovementEncoding(t *testing.T, m *Movement) {
	t.Helper()
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	prefix := []byte("prefix")
	for _, omit := range omits {
		got := AppendMovementJSON(bytes.Clone(prefix), m, omit)
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("omit %b: the prefix is lost: %q", omit, got)
		}
		got = got[len(prefix):]
		if omit == 0 && !bytes.Equal(got, want) {
			t.Fatalf("AppendMovementJSON differs from json.Marshal:\ngot  %s\nwant %s", got, want)
		}
		// encoding/json with the omitted members cut out (appendMovementReflect).
		if ref := appendMovementReflect(nil, m, omit); !bytes.Equal(got, ref) {
			t.Fatalf("omit %b: AppendMovementJSON differs from encoding/json:\ngot  %s\nwant %s", omit, got, ref)
		}
		for _, key := range []struct {
			o   Omit
			key string
		}{{OmitID, `"id":`}, {OmitAccount, `"account":`}, {OmitKind, `"kind":`}, {OmitLine, `"line":`}} {
			if omit&key.o != 0 && bytes.Contains(got, []byte(key.key)) {
				t.Fatalf("omit %b: %s still written: %s", omit, key.key, got)
			}
		}
	}
}

func TestAppendMovementJSONGolden(t *testing.T) {
	for _, m := range samples()[TypeChunk].(*Chunk).Movements {
		requireSameMovementEncoding(t, &m)
	}
	requireSameMovementEncoding(t, &Movement{})
}

func TestAppendMovementJSONRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		m := randomMovement(r)
		requireSameMovementEncoding(t, &m)
	}
}

// With the decimal package set to print differently, a movement is still
// encoded as encoding/json encodes it.
func TestAppendMovementJSONDecimalSettings(t *testing.T) {
	m := samples()[TypeChunk].(*Chunk).Movements[3]
	m.Amount = decimal.New(12, 3)
	for _, set := range []func(bool){
		func(v bool) { decimal.MarshalJSONWithoutQuotes = v },
		func(v bool) { decimal.TrimTrailingZeros = !v },
	} {
		set(true)
		requireSameMovementEncoding(t, &m)
		set(false)
	}
}

// requireSameMovementDecoding fails unless MovementDecoder.Decode and
// encoding/json both refuse data, or both accept it with identical
// results, and unless a decoding of some fields only is the full one
// trimmed to them. dec is reused between calls.
func requireSameMovementDecoding(t *testing.T, dec *MovementDecoder, data []byte, f Fields) (accepted bool) {
	t.Helper()
	var want Movement
	wantErr := json.Unmarshal(data, &want)
	// The caller's buffer is reused after Decode: overwrite it.
	buf := bytes.Clone(data)
	var got Movement
	gotErr := dec.Decode(buf, &got, 0)
	for i := range buf {
		buf[i] = 'x'
	}
	switch {
	case wantErr != nil && gotErr != nil:
		return false
	case wantErr != nil:
		t.Fatalf("MovementDecoder.Decode accepts what encoding/json refuses (%v):\n%q\ngot %+v", wantErr, data, got)
	case gotErr != nil:
		t.Fatalf("MovementDecoder.Decode refuses what encoding/json accepts: %v\n%q", gotErr, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MovementDecoder.Decode(%q):\ngot  %s\nwant %s", data, dumpChunk(&Chunk{Movements: []Movement{got}}),
			dumpChunk(&Chunk{Movements: []Movement{want}}))
	}
	var some Movement
	if err := dec.Decode(data, &some, f); err != nil {
		t.Fatalf("MovementDecoder.Decode(%q, %b): %v", data, f, err)
	}
	f.Trim(&want)
	if !reflect.DeepEqual(some, want) {
		t.Fatalf("MovementDecoder.Decode(%q, %b):\ngot  %s\nwant %s", data, f, dumpChunk(&Chunk{Movements: []Movement{some}}),
			dumpChunk(&Chunk{Movements: []Movement{want}}))
	}
	return true
}

// movementCases are the movement objects of decodeCases (the chunk
// decoder's edge cases), and a few of their own.
func movementCases(t testing.TB) []string {
	var out []string
	obj := regexp.MustCompile(`^\{"movements":\[(.*)\]\}$`)
	for _, c := range decodeCases {
		if m := obj.FindStringSubmatch(c); m != nil {
			out = append(out, m[1])
		}
	}
	golden, err := os.ReadFile(goldenPath(TypeChunk))
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Movements []json.RawMessage }
	if err := json.Unmarshal(golden, &c); err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Movements {
		out = append(out, string(m))
	}
	return append(out, ``, ` `, `null`, ` null `, `{}`, `[]`, `"x"`, `1`, `{"id":"a"} x`, `{"id":"a"`, `{"id":"a",}`,
		`{"ID":"a","iD":"b"}`, `{"amount":"1","amount":null}`, `{"x":{"y":[1,2,{"z":null}]},"id":"a"}`,
		`{"quantity":"abc","id":"a"}`, `{"line":1.5}`, `{"seq":"1"}`, `{"notes":"\u00e9\ud83d\ude00"}`,
		`{"time":"2025-08-25T10:00:00","time":"2025-08-25T10:00:01"}`)
}

func TestMovementDecoderMatchesJSON(t *testing.T) {
	var dec MovementDecoder
	accepted := 0
	cases := movementCases(t)
	for i, c := range cases {
		f := []Fields{0, FieldAmount, FieldNotes | FieldLine, FieldQuantity | FieldTicker | FieldExpiration}[i%4]
		if requireSameMovementDecoding(t, &dec, []byte(c), f) {
			accepted++
		}
	}
	if accepted < 40 { // many cases are refused by both

		t.Errorf("only %d of %d cases decode: the test is too weak", accepted, len(cases))
	}
}

// Random movements, encoded by encoding/json and by AppendMovementJSON
// without some members, decode as encoding/json decodes them, through one
// decoder that shares values between them.
func TestMovementDecoderRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var dec MovementDecoder
	accepted := 0
	for range 2000 {
		m := randomMovement(r)
		b, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		f := Fields(r.Uint32()) & AllFields
		if requireSameMovementDecoding(t, &dec, b, f) {
			accepted++
		}
		// The store's document: the omitted members set beforehand.
		doc := AppendMovementJSON(nil, &m, OmitID|OmitAccount|OmitKind|OmitLine)
		var want, got Movement
		if json.Unmarshal(b, &want) != nil {
			continue
		}
		got = Movement{ID: m.ID, Account: m.Account, Kind: m.Kind, Line: m.Line}
		// The columns' values are the movement's own (not JSON's
		// replacement of invalid UTF-8).
		want.ID, want.Account, want.Kind, want.Line = m.ID, m.Account, m.Kind, m.Line
		if err := dec.Decode(doc, &got, 0); err != nil {
			t.Fatalf("document %s: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("document %s:\ngot  %s\nwant %s", doc, dumpChunk(&Chunk{Movements: []Movement{got}}),
				dumpChunk(&Chunk{Movements: []Movement{want}}))
		}
	}
	if accepted < 200 {
		t.Errorf("only %d of 2000 random movements decode: the test is too weak", accepted)
	}
}

// A decoder that decodes many movements shares equal values between them.
func TestMovementDecoderShares(t *testing.T) {
	var dec MovementDecoder
	var a, b Movement
	for _, m := range []*Movement{&a, &b} {
		data := []byte(`{"account":"main","ticker":"MPW","notes":"n","quantity":"100"}`)
		if err := dec.Decode(data, m, 0); err != nil {
			t.Fatal(err)
		}
	}
	if unsafeData(a.Ticker) != unsafeData(b.Ticker) || unsafeData(a.Account) != unsafeData(b.Account) {
		t.Errorf("tickers or accounts not shared")
	}
	if !a.Quantity.Equal(decimal.NewFromInt(100)) || !b.Quantity.Equal(a.Quantity) {
		t.Errorf("quantities %s, %s; want 100", a.Quantity, b.Quantity)
	}
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// The caller may reuse its buffer: a decoder does not keep the input's
// bytes to compare the next movement's values with.
func TestMovementDecoderReusedBuffer(t *testing.T) {
	var dec MovementDecoder
	buf := []byte(`{"amount":"1.5","fees":"1.5","time":"2025-08-25T10:00:00"}`)
	var a, b Movement
	if err := dec.Decode(buf, &a, 0); err != nil {
		t.Fatal(err)
	}
	copy(buf, `{"amount":"2.5","fees":"2.5","time":"2025-08-25T10:00:01"}`)
	if err := dec.Decode(buf, &b, 0); err != nil {
		t.Fatal(err)
	}
	if a.Amount.String() != "1.5" || b.Amount.String() != "2.5" || b.Fees.String() != "2.5" ||
		b.Time.String() != "2025-08-25T10:00:01" || a.Time.String() != "2025-08-25T10:00:00" {
		t.Errorf("decoded %s %s %s, then %s %s %s", a.Amount, a.Fees, a.Time, b.Amount, b.Fees, b.Time)
	}
}
