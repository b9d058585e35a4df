package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// The hand-written chunk codec must be indistinguishable from encoding/json:
// the same bytes out of Marshal, the same values (or an error in the same
// cases) out of Unmarshal. These tests compare the two directly.

// requireSameEncoding fails unless marshalChunk writes what json.Marshal
// writes for c.
func requireSameEncoding(t *testing.T, c *Chunk) {
	t.Helper()
	want, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	got, err := marshalChunk(c)
	if err != nil {
		t.Fatalf("marshalChunk: %v", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("marshalChunk differs from json.Marshal at byte %d:\ngot  …%s\nwant …%s", i, clip(got, i), clip(want, i))
	}
}

func clip(b []byte, i int) []byte {
	lo, hi := max(0, i-40), min(len(b), i+60)
	return b[lo:hi]
}

// jsonDecodeChunk is the reference: encoding/json into a new Chunk.
func jsonDecodeChunk(data []byte) (*Chunk, error) {
	c := &Chunk{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

// requireSameDecoding fails unless decodeChunk and encoding/json both refuse
// data, or both accept it with identical results (reflect.DeepEqual: the
// same strings, ints, slices (nil or not) and decimal representations).
func requireSameDecoding(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	want, wantErr := jsonDecodeChunk(data)
	got, gotErr := decodeChunk(data)
	switch {
	case wantErr != nil && gotErr != nil:
		return false
	case wantErr != nil:
		t.Fatalf("decodeChunk accepts what encoding/json refuses (%v):\n%q\ngot %+v", wantErr, data, got)
	case gotErr != nil:
		t.Fatalf("decodeChunk refuses what encoding/json accepts: %v\n%q", gotErr, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeChunk(%q):\ngot  %s\nwant %s", data, dumpChunk(got), dumpChunk(want))
	}
	return true
}

// dumpChunk prints a chunk with its decimals' representations.
func dumpChunk(c *Chunk) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%q %q %q %d %d %q %d nil=%v [", c.Session, c.Account, c.ID, c.Ordinal, c.Total, c.Week, c.Part, c.Movements == nil)
	for _, m := range c.Movements {
		v := reflect.ValueOf(m)
		b.WriteString("{")
		for i := range v.NumField() {
			f := v.Field(i)
			if d, ok := f.Interface().(decimal.Decimal); ok {
				fmt.Fprintf(&b, "%s:%se%d ", v.Type().Field(i).Name, d.Coefficient(), d.Exponent())
				continue
			}
			fmt.Fprintf(&b, "%s:%q ", v.Type().Field(i).Name, fmt.Sprint(f.Interface()))
		}
		b.WriteString("} ")
	}
	b.WriteString("]}")
	return b.String()
}

func TestMarshalChunkGoldenMovements(t *testing.T) {
	requireSameEncoding(t, samples()[TypeChunk].(*Chunk))
	requireSameEncoding(t, &Chunk{})
	requireSameEncoding(t, &Chunk{Movements: []Movement{}})
	requireSameEncoding(t, &Chunk{Movements: []Movement{{}}})
	// A nil *Chunk encodes as null, as before.
	if b, err := Marshal((*Chunk)(nil)); err != nil || string(b) != "null" {
		t.Errorf("Marshal(nil chunk) = %s, %v", b, err)
	}
}

func TestMarshalChunkEdgeValues(t *testing.T) {
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890123456789012345678901234567890", 10)
	decimals := []decimal.Decimal{
		decimal.New(1, 0), decimal.New(-1, 0), decimal.New(0, 5), decimal.New(0, -5),
		decimal.New(130000, -2), decimal.New(-2, -2), decimal.New(5, -1), decimal.New(-5, -20),
		decimal.New(123, 5), decimal.New(-7, 18), decimal.New(7, 19), decimal.New(1, -18), decimal.New(1, -19),
		decimal.New(math.MaxInt64, 0), decimal.New(math.MinInt64, 0), decimal.New(math.MinInt64, -3),
		decimal.New(999999999999999999, -18), decimal.New(-100000000000000000, -17),
		decimal.New(1000000000000000000, -18), decimal.New(123, -300), decimal.New(-4, 300),
		decimal.NewFromBigInt(huge, -28), decimal.NewFromBigInt(huge, 3), decimal.NewFromBigInt(huge, 0),
		dec("0.3333333333333333333333333333"), dec("15.626666666666666666666666667"), dec("-0.00"),
		dec("1e-30"), dec("12.3400"), dec("-0.000100"),
	}
	strs := []string{
		"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnewline\ncr\rbs\bff\f",
		"\x00\x01\x1f\x7f", "caf\u00e9 \u6237 \U0001F600", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80",
		"Strike adjusted (Δ -0.30, impact: $96.00)",
	}
	walls := []WallTime{0, 1, -1, minWallText, maxWallText, minWallText - 1, maxWallText + 1,
		wall("2025-08-25T09:15:00"), math.MaxInt32 * 4, -math.MaxInt32 * 40}
	dates := []Date{0, 1, -1, NewDate(2025, 9, 26), NewDate(0, 1, 1), NewDate(9999, 12, 31), NewDate(10000, 1, 1),
		20251399, 20250230, 99, math.MaxInt32, math.MinInt32}
	ints := []int{0, 1, -1, math.MaxInt, math.MinInt}
	var ms []Movement
	for i := 0; i < 4*len(decimals); i++ {
		d := decimals[i%len(decimals)]
		s := strs[i%len(strs)]
		ms = append(ms, Movement{
			ID: s, Account: strs[(i+1)%len(strs)], Broker: s, Kind: Kind(s), Time: walls[i%len(walls)],
			Offset: s, Seq: ints[i%len(ints)], Part: ints[(i+1)%len(ints)], Line: ints[(i+2)%len(ints)],
			Currency: s, Ticker: s, CashType: CashType(s), Code: TradeCode(s),
			Quantity: d, Price: decimals[(i+1)%len(decimals)], Amount: decimals[(i+2)%len(decimals)],
			Commissions: d.Neg(), Fees: decimals[(i+3)%len(decimals)], OptionType: OptionType(s),
			Strike: d, NewStrike: d.Neg(), Expiration: dates[i%len(dates)], Premium: d, NetPremium: d,
			Multiplier: d, FromCurrency: s, AmountChanged: d, Notes: s,
		})
	}
	for i, s := range strs {
		requireSameEncoding(t, &Chunk{Session: s, Account: strs[(i+1)%len(strs)], ID: s, Week: s,
			Ordinal: ints[i%len(ints)], Total: ints[(i+1)%len(ints)], Part: ints[(i+2)%len(ints)]})
	}
	requireSameEncoding(t, &Chunk{Session: "s", Account: "a", Movements: ms})
}

// TestMarshalChunkRandom compares the encoders on many random movements.
func TestMarshalChunkRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ms := make([]Movement, 50)
		for i := range ms {
			ms[i] = randomMovement(r)
		}
		requireSameEncoding(t, &Chunk{Session: randomString(r), Account: randomString(r), ID: randomString(r),
			Ordinal: r.IntN(100), Total: r.IntN(100) - 5, Week: randomString(r), Part: r.IntN(3), Movements: ms})
	}
}

var randomAlphabet = []string{"a", "Z", "0", " ", "-", ".", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x1f", "\x7f",
	"é", "户", "\U0001F600", "\u2028", "\u2029", "\xff", "\xe2\x80", "Δ", "\ufffd"}

func randomString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(randomAlphabet[r.IntN(len(randomAlphabet))])
	}
	return b.String()
}

// randomDecimal draws zeros, short and long coefficients, and exponents
// inside and outside the encoder's fast range.
func randomDecimal(r *rand.Rand) decimal.Decimal {
	exp := int32(r.IntN(60) - 40)
	switch r.IntN(8) {
	case 0:
		return decimal.Decimal{}
	case 1:
		return decimal.New(0, exp)
	case 2: // up to 128 bits
		c := new(big.Int).SetUint64(r.Uint64() >> uint(r.IntN(64)))
		c.Lsh(c, 64).Or(c, new(big.Int).SetUint64(r.Uint64()))
		if r.IntN(2) == 0 {
			c.Neg(c)
		}
		return decimal.NewFromBigInt(c, exp)
	case 3: // trailing zeros
		return decimal.New((r.Int64N(1000)-500)*1000000, exp)
	}
	return decimal.New((r.Int64()-math.MaxInt64/2)>>uint(r.IntN(63)), exp)
}

func randomMovement(r *rand.Rand) Movement {
	ints := func() int {
		if r.IntN(3) == 0 {
			return 0
		}
		return int(r.Int64()>>uint(r.IntN(64))) - int(r.Int64()>>uint(r.IntN(64)))
	}
	m := Movement{
		ID: randomString(r), Account: randomString(r), Broker: randomString(r), Kind: Kind(randomString(r)),
		Time: WallTime(r.Int64N(2*int64(maxWallText)) - int64(maxWallText)), Offset: randomString(r),
		Seq: ints(), Part: ints(), Line: ints(), Currency: randomString(r), Ticker: randomString(r),
		CashType: CashType(randomString(r)), Code: TradeCode(randomString(r)),
		Quantity: randomDecimal(r), Price: randomDecimal(r), Amount: randomDecimal(r),
		Commissions: randomDecimal(r), Fees: randomDecimal(r), OptionType: OptionType(randomString(r)),
		Strike: randomDecimal(r), NewStrike: randomDecimal(r), Expiration: Date(r.Int32N(120000000) - 10000000),
		Premium: randomDecimal(r), NetPremium: randomDecimal(r), Multiplier: randomDecimal(r),
		FromCurrency: randomString(r), AmountChanged: randomDecimal(r), Notes: randomString(r),
	}
	switch r.IntN(4) {
	case 0:
		m.Time = 0
	case 1, 2: // a time that decodes
		m.Time = WallTime(r.Int64N(int64(maxWallText-minWallText)) + int64(minWallText))
	}
	switch r.IntN(4) {
	case 0:
		m.Expiration = 0
	case 1, 2: // a calendar day
		m.Expiration = m.Time.Day()
	}
	return m
}

// TestMarshalChunkDecimalSettings: with the decimal package set to print
// differently, chunks are still encoded as encoding/json encodes them.
func TestMarshalChunkDecimalSettings(t *testing.T) {
	c := samples()[TypeChunk].(*Chunk)
	c.Movements[0].Amount = decimal.New(12, 3)
	for _, set := range []func(bool){
		func(v bool) { decimal.MarshalJSONWithoutQuotes = v },
		func(v bool) { decimal.TrimTrailingZeros = !v },
		func(v bool) { decimal.UseScientificNotation = v },
	} {
		set(true)
		requireSameEncoding(t, c)
		set(false)
	}
}

// TestMarshalChunkGolden: the encoder writes the golden bytes (TestGolden
// checks Marshal; this pins marshalChunk itself).
func TestMarshalChunkGolden(t *testing.T) {
	want, err := os.ReadFile(goldenPath(TypeChunk))
	if err != nil {
		t.Fatal(err)
	}
	got, err := marshalChunk(samples()[TypeChunk].(*Chunk))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("marshalChunk differs from %s:\ngot  %s\nwant %s", goldenPath(TypeChunk), got, want)
	}
}

// decodeCases are bodies on which the decoder must do what encoding/json
// does: accept with the same result, or refuse. They also seed
// FuzzChunkDecode.
var decodeCases = []string{
	// Shapes.
	`{}`, ` {"session":"s","account":"a"} `, "\t\r\n{}\n", `null`, ` null `, `[]`, `"x"`, `1`, `true`, ``, ` `,
	`{`, `}`, `{}}`, `{} {}`, `{}x`, `nul`, `nullx`, `{"session":"s",}`, `{,}`, `{"session"}`, `{"session":}`,
	`{"session" "s"}`, `{"session":"s" "account":"a"}`, `{'session':'s'}`, `{session:"s"}`, "\ufeff{}",
	// Movements: null, empty, null elements, wrong types.
	`{"movements":null}`, `{"movements":[]}`, `{"movements":[ ]}`, `{"movements":[null]}`, `{"movements":[{}]}`,
	`{"movements":[{},null,{"id":"x"}]}`, `{"movements":{}}`, `{"movements":"x"}`, `{"movements":[1]}`,
	`{"movements":[[]]}`, `{"movements":[{}],}`, `{"movements":[{},]}`, `{"movements":[{}}`, `{"movements":[`,
	// Repeated keys: the last wins; a repeated array decodes into the elements already there.
	`{"session":"a","session":"b","SESSION":"c"}`, `{"ordinal":1,"ordinal":null}`,
	`{"movements":[{"id":"a","line":1},{"id":"b"}],"movements":[{"part":2}]}`,
	`{"movements":[{"id":"a"},{"id":"b"},{"id":"c"}],"movements":[{"id":"x"}],"movements":[{"part":1},null,{"line":2},null]}`,
	`{"movements":[{"id":"a"},{"id":"b"}],"movements":[],"movements":[null,null]}`,
	`{"movements":[{"id":"a"}],"movements":null,"movements":[null]}`,
	`{"movements":[{"amount":"1","amount":null,"time":"2025-01-01T00:00:00","time":null,"time":""}]}`,
	// Keys: case folding (including the Kelvin sign and the long s), escapes, unknown keys of every shape.
	`{"Session":"s","ACCOUNT":"a","Id":"i","oRdInAl":2,"TOTAL":3,"Week":"w","PART":1,"Movements":[{"ID":"m","Kind":"option","cash_TYPE":"fee","NET_premium":"1"}]}`,
	`{"\u017fession":"s","account":"a","movements":[{"\u212aind":"x","\u017ftrike":"1"}]}`,
	`{"\u0073ession":"s","acc\u006funt":"a","movements":[{"n\u006ftes":"n"}]}`,
	`{"session ":"s","sessio":"s","sessionn":"s","":"x","cash-type":"x","movements":[{"cashtype":"x","Notes\u0000":"n"}]}`,
	`{"future":{"a":[1,2,{"b":null}],"c":"d"},"f2":[],"f3":-0.5e-3,"f4":true,"f5":false,"f6":null,"movements":[{"x":{}}]}`,
	`{"future":[1,]}`, `{"future":{"a"}}`, `{"future":01}`, `{"future":-}`, `{"future":1.}`, `{"future":.5}`,
	`{"future":1e}`, `{"future":1e+}`, `{"future":+1}`, `{"future":tru}`, `{"future":"\x"}`, `{"future":"\u12"}`,
	`{"future":"` + "\x01" + `"}`, `{"future":"a` + "\t" + `b"}`, `{"fut` + "\n" + `ure":1}`,
	// Strings: escapes, surrogates, invalid UTF-8.
	`{"session":"a\"b\\c\/d\be\ff\ng\rh\ti","account":"\u0041\u00e9\u6237\ud83d\ude00"}`,
	`{"session":"\ud800","account":"\udc00\ud800","id":"\ud800\u0041","week":"\ud83d\ud83d\ude00"}`,
	`{"session":"\ud83d\\ude00","account":"\uDBFF\uDFFF","id":"\ud800x","week":"\ud800\"}`,
	"{\"session\":\"bad \xff\xfe \xc3 \xed\xa0\x80\",\"account\":\"caf\xc3\xa9\",\"movements\":[{\"notes\":\"\xe2\x80\xa8\"}]}",
	`{"session":"\u2028\u2029<>&"}`, `{"session":"\'"}`, `{"session":"\U0041"}`,
	// Types: what a field accepts.
	`{"session":1}`, `{"session":true}`, `{"session":{}}`, `{"session":[]}`, `{"session":null}`,
	`{"ordinal":"3"}`, `{"ordinal":1.0}`, `{"ordinal":1e2}`, `{"ordinal":-0}`, `{"ordinal":-12}`,
	`{"ordinal":9223372036854775807}`, `{"ordinal":9223372036854775808}`, `{"ordinal":-9223372036854775808}`,
	`{"ordinal":-9223372036854775809}`, `{"ordinal":123456789012345678}`, `{"ordinal":-12345678901234567}`,
	`{"ordinal":true}`, `{"ordinal":[]}`, `{"ordinal":{}}`, `{"ordinal":00}`,
	`{"movements":[{"seq":1,"part":-2,"line":99999999999999999999}]}`,
	// Decimals: strings are not unescaped; numbers are taken as written.
	`{"movements":[{"amount":"1.5","price":1.5,"fees":-0.02,"strike":5E2,"premium":"1e3","net_premium":"-0"}]}`,
	`{"movements":[{"amount":"\u0031"}]}`, `{"movements":[{"amount":""}]}`, `{"movements":[{"amount":" 1"}]}`,
	`{"movements":[{"amount":"1 "}]}`, `{"movements":[{"amount":"+1"}]}`, `{"movements":[{"amount":".5"}]}`,
	`{"movements":[{"amount":"-.5"}]}`, `{"movements":[{"amount":"5."}]}`, `{"movements":[{"amount":"."}]}`,
	`{"movements":[{"amount":"-"}]}`, `{"movements":[{"amount":"1.2.3"}]}`, `{"movements":[{"amount":"1,5"}]}`,
	`{"movements":[{"amount":"−5"}]}`, `{"movements":[{"amount":"1e−5"}]}`, `{"movements":[{"amount":"0x10"}]}`,
	`{"movements":[{"amount":"1_000"}]}`, `{"movements":[{"amount":"1e100000"}]}`, `{"movements":[{"amount":"1e-10000"}]}`,
	`{"movements":[{"amount":"1e-10001"}]}`, `{"movements":[{"amount":"NaN"}]}`, `{"movements":[{"amount":"null"}]}`,
	`{"movements":[{"amount":true}]}`, `{"movements":[{"amount":{}}]}`, `{"movements":[{"amount":[1]}]}`,
	`{"movements":[{"amount":"123456789012345678"}]}`, `{"movements":[{"amount":"-123456789012345678"}]}`,
	`{"movements":[{"amount":"1234567890123456789"}]}`, `{"movements":[{"amount":"-12345678901234567.8"}]}`,
	`{"movements":[{"amount":"-000000000000000000"}]}`, `{"movements":[{"amount":"0000000000000000000.0"}]}`,
	`{"movements":[{"amount":"12345678901234567890123456789.0123456789"}]}`, `{"movements":[{"amount":-0.000}]}`,
	`{"movements":[{"amount":"0.3333333333333333333333333333","fees":"0.3333333333333333333333333333"}]}`,
	`{"movements":[{"amount":"1","price":"1","fees":"1"},{"amount":"1","price":"2"},{"amount":"1.0"}]}`,
	// Times and dates: their UnmarshalText.
	`{"movements":[{"time":"2025-08-25T09:15:00","expiration":"2025-09-26"}]}`,
	`{"movements":[{"time":"","expiration":""}]}`, `{"movements":[{"time":null,"expiration":null}]}`,
	`{"movements":[{"time":"2025-08-25 09:15:00"}]}`, `{"movements":[{"time":"2025-08-25T9:15:00"}]}`,
	`{"movements":[{"time":"2025-08-25T24:00:00"}]}`, `{"movements":[{"time":"2025-08-25T23:60:00"}]}`,
	`{"movements":[{"time":"2025-08-25T23:59:60"}]}`, `{"movements":[{"time":"2025-08-25T10:00:00.123456789123"}]}`,
	`{"movements":[{"time":"2025-08-25T10:00:00,5"}]}`, `{"movements":[{"time":"2025-08-25T10:00:00+01:00"}]}`,
	`{"movements":[{"time":"2024-02-29T00:00:00"}]}`, `{"movements":[{"time":"2023-02-29T00:00:00"}]}`,
	`{"movements":[{"time":"0000-01-01T00:00:00"}]}`, `{"movements":[{"time":"9999-12-31T23:59:59"}]}`,
	`{"movements":[{"time":"1900-02-29T00:00:00"}]}`, `{"movements":[{"time":"2000-02-29T00:00:00"}]}`,
	`{"movements":[{"time":"2025-13-01T00:00:00"}]}`, `{"movements":[{"time":"2025-00-01T00:00:00"}]}`,
	`{"movements":[{"time":"2025-08-25T10:00:0"}]}`, `{"movements":[{"time":"2025-08-25T10:00:00Z"}]}`,
	`{"movements":[{"time":"2025-08-25T10:00"}]}`, `{"movements":[{"time":"-025-08-25T10:00:00"}]}`,
	`{"movements":[{"time":"2025-08-25\u005410:00:00"}]}`, `{"movements":[{"time":1}]}`, `{"movements":[{"time":{}}]}`,
	`{"movements":[{"time":"2025-08-25T10:00:00"},{"time":"2025-08-25T10:00:00"},{"time":"2025-08-25T10:00:01"}]}`,
	`{"movements":[{"expiration":"2025-02-30"}]}`, `{"movements":[{"expiration":"2024-02-29"}]}`,
	`{"movements":[{"expiration":"2025-9-26"}]}`, `{"movements":[{"expiration":"2025-09-26T00:00:00"}]}`,
	`{"movements":[{"expiration":"0000-01-01"}]}`, `{"movements":[{"expiration":"20250926"}]}`,
	`{"movements":[{"expiration":"2025-09-26 "}]}`, `{"movements":[{"expiration":20250926}]}`,
	`{"movements":[{"expiration":"2025-09-26.5"}]}`, `{"movements":[{"expiration":"+025-09-26"}]}`,
	// The wire samples.
	`{"session":"s","account":"a","movements":[{"amount":"1e3","fees":"-0.000","time":"1970-01-01T00:00:00"}]}`,
	`{"SESSION":"s","Account":"a","movements":[{"id":"\ud800","notes":"<&>"}],"movements":null}`,
}

func TestDecodeChunkMatchesJSON(t *testing.T) {
	for _, tc := range decodeCases {
		requireSameDecoding(t, []byte(tc))
	}
	for typ := range samples() {
		b, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			t.Fatal(err)
		}
		requireSameDecoding(t, b) // other event types decode as chunks too (unknown keys)
	}
}

// TestDecodeChunkDepth: nesting is limited to encoding/json's 10,000 levels,
// counted from the top-level object.
func TestDecodeChunkDepth(t *testing.T) {
	for _, n := range []int{maxNestingDepth - 3, maxNestingDepth - 2, maxNestingDepth - 1} {
		// The chunk object, its movements array and a movement are 3 levels.
		inner := strings.Repeat("[", n-2) + strings.Repeat("]", n-2)
		requireSameDecoding(t, []byte(`{"movements":[{"x":`+inner+`}]}`))
		inner = strings.Repeat(`{"a":`, n-2) + "1" + strings.Repeat("}", n-2)
		requireSameDecoding(t, []byte(`{"x":`+inner+`}`))
	}
	ok := []byte(`{"x":` + strings.Repeat("[", maxNestingDepth-1) + strings.Repeat("]", maxNestingDepth-1) + `}`)
	if _, err := decodeChunk(ok); err != nil {
		t.Errorf("depth %d refused: %v", maxNestingDepth, err)
	}
	deep := []byte(`{"x":` + strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth) + `}`)
	if _, err := decodeChunk(deep); err == nil {
		t.Errorf("depth %d accepted", maxNestingDepth+1)
	}
}

// TestDecodeChunkRandom decodes random chunks (encoded by encoding/json)
// with both decoders.
func TestDecodeChunkRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for range 200 {
		ms := make([]Movement, 1+r.IntN(3))
		for i := range ms {
			ms[i] = randomMovement(r)
		}
		b, err := json.Marshal(&Chunk{Session: randomString(r), Account: randomString(r), Movements: ms})
		if err != nil {
			t.Fatal(err)
		}
		if requireSameDecoding(t, b) {
			accepted++
		}
	}
	if accepted < 20 {
		t.Errorf("only %d of 200 random chunks decode: the test is too weak", accepted)
	}
}

// TestDecodeChunkKeySpellings re-spells every key of the golden chunk: in
// upper case, with its first letter escaped, with 'k' and 's' as the Kelvin
// sign and the long s (which fold to them), and one letter off.
func TestDecodeChunkKeySpellings(t *testing.T) {
	golden, err := os.ReadFile(goldenPath(TypeChunk))
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`"([a-z_]+)":`)
	spellings := map[string]func(string) string{
		"upper":   strings.ToUpper,
		"title":   func(k string) string { return strings.ToUpper(k[:1]) + k[1:] },
		"escaped": func(k string) string { return fmt.Sprintf(`\u%04x`, k[0]) + k[1:] },
		"fold": func(k string) string {
			return strings.NewReplacer("k", "\u212a", "s", "\u017f", "K", "\u212a", "S", "\u017f").Replace(k)
		},
		"off by one": func(k string) string { return k[:len(k)-1] + "x" },
		"longer":     func(k string) string { return k + "s" },
	}
	for name, spell := range spellings {
		t.Run(name, func(t *testing.T) {
			body := key.ReplaceAllStringFunc(string(golden), func(m string) string {
				return `"` + spell(m[1:len(m)-2]) + `":`
			})
			if body == string(golden) {
				t.Fatal("no key re-spelled")
			}
			requireSameDecoding(t, []byte(body))
			// One key at a time, the others as they are.
			for _, loc := range key.FindAllStringSubmatchIndex(string(golden), -1) {
				k := string(golden[loc[2]:loc[3]])
				one := string(golden[:loc[2]]) + spell(k) + string(golden[loc[3]:])
				requireSameDecoding(t, []byte(one))
			}
		})
	}
}
