package events

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func wall(s string) WallTime {
	w, err := ParseWallTime(s)
	if err != nil {
		panic(err)
	}
	return w
}

func day(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// sampleMovements has one movement of every kind with every field its kind
// uses set, including a non-terminating per-contract division.
func sampleMovements() []Movement {
	return []Movement{
		{
			ID: "0b9c3c2d7e1f4a5b8c9d0e1f2a3b4c5d:cash:0", Account: "main", Broker: BrokerTastytrade, Kind: KindCash,
			Time: wall("2025-08-25T09:15:00"), Offset: "+0100", Line: 21, Currency: "USD",
			CashType: CashDeposit, Amount: dec("1300.00"), Notes: "ACH DEPOSIT",
		},
		{
			ID: "1c0d4d3e8f2a5b6c9d0e1f2a3b4c5d6e:cash:0", Account: "main", Broker: BrokerTastytrade, Kind: KindCash,
			Time: wall("2025-08-25T09:15:00"), Offset: "+0100", Seq: 1, Line: 20, Currency: "USD",
			CashType: CashFee, Fees: dec("-0.02"), Notes: "Regulatory fee adjustment",
		},
		{
			ID: "2d1e5e4f9a3b6c7d0e1f2a3b4c5d6e7f:stock:0", Account: "main", Broker: BrokerTastytrade, Kind: KindStock,
			Time: wall("2025-08-26T14:42:13"), Offset: "+0100", Line: 19, Currency: "USD", Ticker: "MPW",
			Code: BuyToOpen, Quantity: dec("100"), Price: dec("13.33"), Commissions: dec("1.00"), Fees: dec("0.08"),
			Notes: "Bought 100 MPW @ 13.33",
		},
		{
			ID: "3e2f6f5a0b4c7d8e1f2a3b4c5d6e7f80:option:2", Account: "main", Broker: BrokerTastytrade, Kind: KindOption,
			Time: wall("2025-08-27T19:33:26"), Offset: "+0100", Part: 2, Line: 18, Currency: "USD", Ticker: "MPW",
			Code: SellToOpen, Quantity: dec("1"), Commissions: dec("0.3333333333333333333333333333"), Fees: dec("0.04"),
			OptionType: Call, Strike: dec("5.50"), Expiration: day("2025-09-26"), Premium: dec("16"),
			NetPremium: dec("15.626666666666666666666666667"), Multiplier: dec("100"),
			Notes: "Sold 3 MPW 09/26/25 Call 5.50 @ 0.16",
		},
		{
			ID: "4f3a7a6b1c5d8e9f2a3b4c5d6e7f8091:dividend:0", Account: "main", Broker: BrokerTastytrade, Kind: KindDividend,
			Time: wall("2025-08-28T00:00:00"), Line: 17, Currency: "USD", Ticker: "TSLL", Amount: dec("0.43"),
		},
		{
			ID: "5a4b8b7c2d6e9f0a3b4c5d6e7f8091a2:dividend_tax:0", Account: "main", Broker: BrokerTastytrade, Kind: KindDividendTax,
			Time: wall("2025-08-28T00:00:00"), Seq: 1, Line: 16, Currency: "USD", Ticker: "TSLL", Amount: dec("0.06"),
		},
		{
			ID: "6b5c9c8d3e7f0a1b4c5d6e7f8091a2b3:conversion:0", Account: "main", Broker: BrokerIBKR, Kind: KindConversion,
			Time: wall("2023-02-28T11:00:00"), Line: 12, Currency: "EUR", FromCurrency: "USD",
			Amount: dec("1000"), AmountChanged: dec("1085.3"), Commissions: dec("2"),
		},
		{
			ID: "7c6d0d9e4f8a1b2c5d6e7f8091a2b3c4:strike_adjustment:0", Account: "main", Broker: BrokerTastytrade,
			Kind: KindStrikeAdjustment, Time: wall("2024-12-11T12:01:07"), Currency: "USD", Ticker: "TSLL",
			OptionType: Call, Strike: dec("36"), NewStrike: dec("35.70"), Expiration: day("2024-12-20"), Amount: dec("96.00"),
			Notes: "Strike adjusted from 36.00 to 35.70 due to special dividend (Δ -0.30, impact: $96.00)",
		},
	}
}

var (
	sampleSession = "9f86d081884c7d65"
	sampleTime    = time.Date(2025, 9, 1, 8, 30, 0, 125000000, time.UTC)
)

// samplePlan is the plan of the sample session.started.
var samplePlan = []ChunkRef{
	{ID: "2025-W18.1", Ordinal: 1, Week: "2025-W18", Part: 1, Movements: 12, Bytes: 6841},
	{ID: "2025-W35.1", Ordinal: 2, Week: "2025-W35", Part: 1, Movements: 466, Bytes: 262001},
}

// samples has one event of every type, every field set.
func samples() map[Type]Event {
	return map[Type]Event{
		TypeChunk: &Chunk{
			Session: sampleSession, Account: "main", ID: "2025-W35.1", Ordinal: 3, Total: 7,
			Week: "2025-W35", Part: 1, Movements: sampleMovements(),
		},
		TypeSessionStarted: &SessionStarted{
			Session: sampleSession, Account: "main", Broker: BrokerTastytrade, File: "MPWImportTest.csv",
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Bytes: 35290, Rows: 172,
			MinTime: wall("2025-04-28T15:01:02"), MaxTime: wall("2025-10-17T20:00:00"), Movements: 478,
			Counts:    map[Kind]int{KindOption: 471, KindStock: 2, KindDividend: 2, KindDividendTax: 2, KindCash: 1},
			Ignored:   1,
			Chunks:    len(samplePlan),
			Plan:      PlanFingerprint(slices.Values(samplePlan)),
			Rejects:   []RowReject{{Line: 14, Column: "Value", Value: "12,3x", Reason: "bad number"}},
			StartedAt: sampleTime,
		},
		TypeSessionSealed: &SessionSealed{
			Session: sampleSession, Account: "main", Chunks: 2, Movements: 478, SealedAt: sampleTime.Add(time.Second),
		},
		TypeSessionFailed: &SessionFailed{
			Session: sampleSession, Account: "main", Reason: "file modified", FailedAt: sampleTime.Add(2 * time.Second),
		},
		TypeSessionCancelled: &SessionCancelled{
			Session: sampleSession, Account: "main", Reason: "interrupted", CancelledAt: sampleTime.Add(3 * time.Second),
		},
	}
}

func goldenPath(typ Type) string { return filepath.Join("testdata", string(typ)+".golden.json") }

func TestGolden(t *testing.T) {
	for typ, e := range samples() {
		t.Run(string(typ), func(t *testing.T) {
			if e.EventType() != typ {
				t.Fatalf("EventType = %q", e.EventType())
			}
			got, err := Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			path := goldenPath(typ)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./events -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal differs from %s:\ngot  %s\nwant %s", path, got, want)
			}
			// The golden bytes decode to the sample.
			back, err := Unmarshal(string(typ), SchemaHeader, want)
			if err != nil {
				t.Fatalf("Unmarshal(golden): %v", err)
			}
			if !eventEqual(back, e) {
				t.Errorf("golden decodes to %+v, want %+v", back, e)
			}
		})
	}
}

// eventEqual compares events by value (decimals by value, times by instant).
func eventEqual(a, b Event) bool {
	if a.EventType() != b.EventType() {
		return false
	}
	switch x := a.(type) {
	case *Chunk:
		y := b.(*Chunk)
		if x.Session != y.Session || x.Account != y.Account || x.ID != y.ID || x.Ordinal != y.Ordinal ||
			x.Total != y.Total || x.Week != y.Week || x.Part != y.Part || len(x.Movements) != len(y.Movements) {
			return false
		}
		for i := range x.Movements {
			if !x.Movements[i].Equal(&y.Movements[i]) {
				return false
			}
		}
		return true
	case *SessionStarted:
		y := *b.(*SessionStarted)
		xx := *x
		if !xx.StartedAt.Equal(y.StartedAt) {
			return false
		}
		xx.StartedAt, y.StartedAt = time.Time{}, time.Time{}
		if len(xx.Counts) == 0 && len(y.Counts) == 0 {
			xx.Counts, y.Counts = nil, nil
		}
		if len(xx.Rejects) == 0 && len(y.Rejects) == 0 {
			xx.Rejects, y.Rejects = nil, nil
		}
		return reflect.DeepEqual(xx, y)
	case *SessionSealed:
		y := *b.(*SessionSealed)
		return x.SealedAt.Equal(y.SealedAt) && x.Session == y.Session && x.Account == y.Account &&
			x.Chunks == y.Chunks && x.Movements == y.Movements
	case *SessionFailed:
		y := *b.(*SessionFailed)
		return x.FailedAt.Equal(y.FailedAt) && x.Session == y.Session && x.Account == y.Account && x.Reason == y.Reason
	case *SessionCancelled:
		y := *b.(*SessionCancelled)
		return x.CancelledAt.Equal(y.CancelledAt) && x.Session == y.Session && x.Account == y.Account && x.Reason == y.Reason
	}
	return false
}

func TestRoundTrip(t *testing.T) {
	cases := samples()
	// Minimal events: only the required fields.
	minimal := []Event{
		&Chunk{Session: "s", Account: "a", Movements: []Movement{{ID: "m"}}},
		&SessionStarted{Session: "s", Account: "a"},
		&SessionSealed{Session: "s", Account: "a"},
		&SessionFailed{Session: "s", Account: "a"},
		&SessionCancelled{Session: "s", Account: "a"},
	}
	all := minimal
	for _, e := range cases {
		all = append(all, e)
	}
	for _, e := range all {
		b, err := Marshal(e)
		if err != nil {
			t.Fatalf("%s: %v", e.EventType(), err)
		}
		back, err := Unmarshal(string(e.EventType()), SchemaHeader, b)
		if err != nil {
			t.Fatalf("%s: Unmarshal(%s): %v", e.EventType(), b, err)
		}
		if !eventEqual(back, e) {
			t.Errorf("%s: decode(encode(x)) = %+v, want %+v", e.EventType(), back, e)
		}
		again, _ := Marshal(back)
		if !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoding differs:\n%s\n%s", e.EventType(), again, b)
		}
	}
}

func TestAmountsTravelAsExactStrings(t *testing.T) {
	m := Movement{ID: "m", Amount: dec("0.1"), Premium: dec("-12345678901234567890.123456789012345678"),
		NetPremium: dec("1e-30"), Fees: dec("-0.00")}
	b, err := Marshal(&Chunk{Session: "s", Account: "a", Movements: []Movement{m}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"amount":"0.1"`, `"premium":"-12345678901234567890.123456789012345678"`,
		`"net_premium":"0.000000000000000000000000000001"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("encoding %s lacks %s", b, want)
		}
	}
	// Negative zero is zero: omitted like any zero amount.
	if bytes.Contains(b, []byte(`"fees"`)) {
		t.Errorf("zero fees encoded: %s", b)
	}
	back, err := Unmarshal(string(TypeChunk), SchemaHeader, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.(*Chunk).Movements[0]; !got.Equal(&m) {
		t.Errorf("decoded %+v, want %+v", got, m)
	}
}

// TestSchema1 reads the bodies schema 1 wrote, which the stream keeps
// forever: session.started listed the whole plan and reads as its count and
// fingerprint; every other type is the same in both versions.
func TestSchema1(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "schema1", "session.started.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Unmarshal(string(TypeSessionStarted), "1", old)
	if err != nil {
		t.Fatalf("Unmarshal(schema 1 golden): %v", err)
	}
	want := samples()[TypeSessionStarted]
	if !eventEqual(e, want) {
		t.Errorf("schema 1 golden reads as %+v, want %+v", e, want)
	}
	// The fingerprint is of the plan the event listed: another plan gives another.
	other := slices.Clone(samplePlan)
	other[1].Movements++
	if fp := PlanFingerprint(slices.Values(other)); fp == e.(*SessionStarted).Plan || len(fp) != 16 {
		t.Errorf("fingerprint of another plan %q, of the sample %q", fp, e.(*SessionStarted).Plan)
	}
	// A schema-1 body under the schema-2 header is refused, not misread.
	if _, err := Unmarshal(string(TypeSessionStarted), SchemaHeader, old); !errors.Is(err, ErrMalformed) {
		t.Errorf("schema-1 session.started read as schema 2: err = %v, want ErrMalformed", err)
	}
	// So is a schema-2 body under the schema-1 header.
	cur, err := os.ReadFile(goldenPath(TypeSessionStarted))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(string(TypeSessionStarted), "1", cur); !errors.Is(err, ErrMalformed) {
		t.Errorf("schema-2 session.started read as schema 1: err = %v, want ErrMalformed", err)
	}
	// The other types' current goldens read the same under either header.
	for typ, e := range samples() {
		if typ == TypeSessionStarted {
			continue
		}
		body, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(string(typ), "1", body)
		if err != nil || !eventEqual(back, e) {
			t.Errorf("%s under schema 1: %+v, %v", typ, back, err)
		}
	}
}

func TestUnmarshalErrors(t *testing.T) {
	chunk := `{"session":"s","account":"a","id":"2025-W35.1","movements":[]}`
	tests := []struct {
		name         string
		typ, schema  string
		body         string
		want         error
		wantContains string
	}{
		{"unknown type", "chunks", "1", chunk, ErrUnknownType, `"chunks"`},
		{"empty type", "", "1", chunk, ErrUnknownType, ""},
		{"movement is not a message type", "movement", "1", chunk, ErrUnknownType, ""},
		{"schema 3", "chunk", "3", chunk, ErrUnsupportedSchema, `"3"`},
		{"schema 0", "chunk", "0", chunk, ErrUnsupportedSchema, `"0"`},
		{"schema 02", "chunk", "02", chunk, ErrUnsupportedSchema, `"02"`},
		{"no schema header", "chunk", "", chunk, ErrUnsupportedSchema, ""},
		{"schema with spaces", "chunk", " 1", chunk, ErrUnsupportedSchema, ""},
		{"not JSON", "chunk", "1", "{", ErrMalformed, "chunk"},
		{"empty body", "session.sealed", "1", "", ErrMalformed, ""},
		{"JSON array", "chunk", "1", "[]", ErrMalformed, ""},
		{"JSON null", "chunk", "1", "null", ErrMalformed, ""},
		{"trailing bytes", "chunk", "1", chunk + "x", ErrMalformed, ""},
		{"no account", "session.failed", "1", `{"session":"s"}`, ErrMalformed, "without account"},
		{"no session", "session.failed", "1", `{"account":"a"}`, ErrMalformed, "without account or session"},
		{"account with a wildcard", "session.sealed", "1", `{"session":"s","account":"a.>"}`, ErrMalformed, "invalid account"},
		{"wrong field type", "chunk", "1", `{"session":"s","account":"a","ordinal":"3"}`, ErrMalformed, ""},
		{"bad amount", "chunk", "1", `{"session":"s","account":"a","movements":[{"amount":"1,5"}]}`, ErrMalformed, ""},
		{"bad wall time", "chunk", "1", `{"session":"s","account":"a","movements":[{"time":"2025-08-25 10:00:00"}]}`, ErrMalformed, ""},
		{"wall time with offset", "chunk", "1", `{"session":"s","account":"a","movements":[{"time":"2025-08-25T10:00:00+01:00"}]}`, ErrMalformed, ""},
		{"bad date", "chunk", "1", `{"session":"s","account":"a","movements":[{"expiration":"2025-02-30"}]}`, ErrMalformed, ""},
		{"huge exponent", "chunk", "1", `{"session":"s","account":"a","movements":[{"amount":"1e100000"}]}`, ErrMalformed, ""},
		{"bad started_at", "session.started", "1", `{"session":"s","account":"a","started_at":"yesterday"}`, ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Unmarshal(tt.typ, tt.schema, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrUnknownType, ErrUnsupportedSchema, ErrMalformed} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("err = %v also matches %v", err, other)
				}
			}
			if !strings.Contains(err.Error(), tt.wantContains) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantContains)
			}
			if e != nil {
				t.Errorf("event returned with an error: %+v", e)
			}
		})
	}
}

func TestUnmarshalIgnoresUnknownFields(t *testing.T) {
	// A newer producer may add fields within a schema version (additive
	// change); this build keeps reading the ones it knows.
	e, err := Unmarshal(string(TypeSessionSealed), SchemaHeader,
		[]byte(`{"session":"s","account":"a","chunks":2,"future_field":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := e.(*SessionSealed); s.Chunks != 2 {
		t.Errorf("decoded %+v", s)
	}
}

func TestSubjects(t *testing.T) {
	for typ, e := range samples() {
		want := "folio.session.main"
		if typ == TypeChunk {
			want = "folio.chunk.main"
		}
		if got := Subject(e); got != want {
			t.Errorf("Subject(%s) = %q, want %q", typ, got, want)
		}
		if e.EventAccount() != "main" || e.EventSession() != sampleSession {
			t.Errorf("%s: account/session = %q/%q", typ, e.EventAccount(), e.EventSession())
		}
	}
	if got := MsgID(sampleSession, "2025-W35.1"); got != sampleSession+"/2025-W35.1" {
		t.Errorf("MsgID = %q", got)
	}
	if !strings.HasPrefix(ChunkSubject("x"), strings.TrimSuffix(SubjectAll, ">")) ||
		!strings.HasPrefix(SessionSubject("x"), strings.TrimSuffix(SubjectAll, ">")) {
		t.Errorf("subjects are outside %s", SubjectAll)
	}
	if strings.HasPrefix(SubjectDeadLetter, strings.TrimSuffix(SubjectAll, ">")) {
		t.Errorf("dead letters %s would be replayed (inside %s)", SubjectDeadLetter, SubjectAll)
	}
}

func TestValidateAccount(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"main", true},
		{"a", true},
		{"U1234567", true},
		{"joint-account_2", true},
		{"---", true},
		{strings.Repeat("x", MaxAccountLen), true},
		{"", false},
		{strings.Repeat("x", MaxAccountLen+1), false},
		{"a.b", false},
		{".", false},
		{"*", false},
		{"acct*", false},
		{">", false},
		{"a>", false},
		{"my account", false},
		{" main", false},
		{"main ", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\x00", false},
		{"\x7f", false},
		{"cuentaÑ", false},
		{"账户", false},
		{"a\u00a0b", false},
		{"\xff", false},
		{"a/b", false},
		{"a$b", false},
	}
	for _, tt := range tests {
		err := ValidateAccount(tt.name)
		if tt.ok && err != nil {
			t.Errorf("ValidateAccount(%q) = %v, want nil", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidAccount) {
			t.Errorf("ValidateAccount(%q) = %v, want ErrInvalidAccount", tt.name, err)
		}
	}
}

// TestAppendMarshal: AppendMarshal writes Marshal's bytes after b's, and a
// chunk encoded into a buffer of its exact size stays in that buffer.
func TestAppendMarshal(t *testing.T) {
	for typ, e := range samples() {
		want, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendMarshal([]byte("prefix"), e)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("%s: AppendMarshal = %s, %v; want prefix%s", typ, got, err, want)
		}
		if typ != TypeChunk {
			continue
		}
		buf := make([]byte, 0, len(want))
		got, err = AppendMarshal(buf, e)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("chunk into an exact buffer: %v", err)
		}
		if &got[0] != &buf[:1][0] {
			t.Error("a chunk encoded into a buffer of its size left the buffer")
		}
	}
}
