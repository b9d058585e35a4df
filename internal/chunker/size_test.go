package chunker

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/shopspring/decimal"
)

// TestMovementFieldsKnown fails when events.Movement gains, loses, renames or
// reorders a field: the sizer must then learn it.
func TestMovementFieldsKnown(t *testing.T) {
	var tags []string
	typ := reflect.TypeFor[events.Movement]()
	for i := range typ.NumField() {
		tags = append(tags, typ.Field(i).Tag.Get("json"))
	}
	if !slices.Equal(tags, movementFields) {
		t.Fatalf("events.Movement's JSON fields changed; update sizer.measure and movementFields:\nstruct: %q\nsizer:  %q", tags, movementFields)
	}
}

func checkSize(t *testing.T, sz *sizer, m *events.Movement) {
	t.Helper()
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := sz.measure(m, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("size %d, encoding/json %d: %s", got, len(want), want)
	}
}

func TestSizeExactOnSamples(t *testing.T) {
	sz := newSizer(maphash.MakeSeed())
	n := 0
	for _, path := range samples(t) {
		a := analyzeBytes(t, readFile(t, path), Config{})
		res, err := parsers.Parse(mustParser(t, a.Broker), bytes.NewReader(readFile(t, path)), parsers.Options{Account: testAccount})
		if err != nil {
			t.Fatal(err)
		}
		for i := range res.Movements {
			checkSize(t, sz, &res.Movements[i])
			n++
		}
	}
	if n < 1000 {
		t.Errorf("checked only %d movements", n)
	}
}

func TestSizeExactEdgeCases(t *testing.T) {
	strs := []string{"", "a", `quote " and \ backslash`, "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f", "<html> & co",
		"Δ -0.30, impact: $96.00", "日本語", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80", "emoji 🎉"}
	decs := []string{"1", "-1", "0.5", "-0.5", "100", "100.00", "1.10", "0.001", "-0.0012300", "12345678901234567",
		"123456789012345678", "1234567890123456789", "-9223372036854775808", "0.3333333333333333333333333333",
		"15.626666666666666666666666667", "1.0000000000000000000000000000", "-0.1400000000000000000000000000",
		"12345678901234567890123456789012345678", "123456789012345678901234567890123456789", "1e3", "-2.5e5", "1e-30", "0.000000000000000000001", "99999999999999999999.5"}
	times := []events.WallTime{0, 1, -1, minWall, maxWall, minWall - 1, maxWall + 1, math.MaxInt32 * 100}
	dates := []events.Date{0, 101, 20250825, 99991231, 100000101, -20250825, 5}
	ints := []int{0, 1, -1, 9, 10, 12345, -98765, math.MaxInt64, math.MinInt64}
	sz := newSizer(maphash.MakeSeed())
	for i := range max(len(strs), len(decs), len(times), len(dates), len(ints)) {
		s := strs[i%len(strs)]
		d := decimal.RequireFromString(decs[i%len(decs)])
		m := events.Movement{
			ID: s, Account: s, Broker: s, Kind: events.Kind(s), Time: times[i%len(times)], Offset: s,
			Seq: ints[i%len(ints)], Part: ints[(i+1)%len(ints)], Line: ints[(i+2)%len(ints)], Currency: s, Ticker: s,
			CashType: events.CashType(s), Code: events.TradeCode(s), Quantity: d, Price: d.Neg(), Amount: d,
			Commissions: d, Fees: d, OptionType: events.OptionType(s), Strike: d, NewStrike: d,
			Expiration: dates[i%len(dates)], Premium: d, NetPremium: d, Multiplier: d, FromCurrency: s,
			AmountChanged: d, Notes: s,
		}
		checkSize(t, sz, &m)
		checkSize(t, sz, &events.Movement{Notes: s, Amount: d})
	}
	checkSize(t, sz, &events.Movement{})
}

func FuzzSize(f *testing.F) {
	f.Add("x", "1.5", int64(0), 0, int32(20250825))
	f.Add("\xff<\u2028", "-0.000100", int64(-1), -7, int32(-1))
	f.Fuzz(func(t *testing.T, s, dec string, w int64, n int, day int32) {
		d, err := decimal.NewFromString(dec)
		if err != nil || d.Exponent() > 1000 || d.Exponent() < -1000 {
			return
		}
		sz := newSizer(maphash.MakeSeed())
		m := events.Movement{ID: s, Notes: s, Time: events.WallTime(w), Seq: n, Amount: d, Fees: d.Neg(),
			Expiration: events.Date(day)}
		checkSize(t, sz, &m)
		// Keyed, and with the ID left out: measured at the standard form.
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := sz.measure(&m, 1, nil); m.ID != "" && got != len(want) {
			t.Errorf("keyed size %d, encoding/json %d: %s", got, len(want), want)
		}
		m.ID = ""
		std := m
		std.ID = strings.Repeat("f", 32) + ":" + string(m.Kind) + ":" + strconv.Itoa(m.Part)
		if want, err = json.Marshal(&std); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := sz.measure(&m, 1, nil); got != len(want) {
			t.Errorf("size without ID %d, encoding/json with a standard ID %d: %s", got, len(want), want)
		}
	})
}

func TestDecimalLen(t *testing.T) {
	for c := int64(-1200); c <= 1200; c += 7 {
		for exp := int32(-8); exp <= 3; exp++ {
			if c == 0 {
				continue
			}
			u, neg := uint64(c), c < 0
			if neg {
				u = -u
			}
			if got, want := decimalLen(neg, 0, u, exp), len(decimal.New(c, exp).String()); got != want {
				t.Errorf("decimalLen(%d, %d) = %d, want %d (%s)", c, exp, got, want, decimal.New(c, exp))
			}
		}
	}
}

func TestDigest(t *testing.T) {
	seed := maphash.MakeSeed()
	sz := newSizer(seed)
	base := events.Movement{
		ID: "i", Account: "a", Broker: "b", Kind: "k", Time: 1, Offset: "o", Seq: 1, Part: 1, Line: 1, Currency: "c",
		Ticker: "t", CashType: "ct", Code: "cd", Quantity: decimal.New(1, 0), Price: decimal.New(2, 0),
		Amount: decimal.New(3, 0), Commissions: decimal.New(4, 0), Fees: decimal.New(5, 0), OptionType: "ot",
		Strike: decimal.New(6, 0), NewStrike: decimal.New(7, 0), Expiration: 20250101, Premium: decimal.New(8, 0),
		NetPremium: decimal.RequireFromString("0.3333333333333333333333333333"), Multiplier: decimal.New(10, 0),
		FromCurrency: "f", AmountChanged: decimal.New(11, 0), Notes: "n",
	}
	_, d0, _ := sz.measure(&base, 0, nil)
	copied := base
	if _, d, _ := newSizer(seed).measure(&copied, 0, nil); d != d0 {
		t.Errorf("equal movements, different digests")
	}
	// Any change of any field changes the digest.
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch x := f.Interface().(type) {
		case decimal.Decimal:
			f.Set(reflect.ValueOf(x.Add(decimal.New(1, -40))))
		default:
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Int, reflect.Int32, reflect.Int64:
				f.SetInt(f.Int() + 1)
			default:
				t.Fatalf("field %s: extend this test", v.Type().Field(i).Name)
			}
		}
		if _, d, _ := sz.measure(&changed, 0, nil); d == d0 {
			t.Errorf("digest ignores field %s", v.Type().Field(i).Name)
		}
	}
	// Moving text between adjacent fields changes it too.
	a, b := base, base
	a.ID, a.Account = "ab", ""
	b.ID, b.Account = "a", "b"
	if _, da, _ := sz.measure(&a, 0, nil); func() bool { _, db, _ := sz.measure(&b, 0, nil); return da == db }() {
		t.Errorf("digest does not separate fields")
	}
}

func TestUintLen(t *testing.T) {
	for _, u := range []uint64{0, 1, 9, 10, 11, 99, 100, 999999999999999999, 1000000000000000000, 9999999999999999999,
		10000000000000000000, math.MaxUint64, 1 << 63, (1 << 63) - 1} {
		if got, want := uintLen(u), len(strconv.FormatUint(u, 10)); got != want {
			t.Errorf("uintLen(%d) = %d, want %d", u, got, want)
		}
	}
	for p := uint64(1); p < math.MaxUint64/10; p *= 10 {
		for _, u := range []uint64{p - 1, p, p + 1} {
			if got, want := uintLen(u), len(strconv.FormatUint(u, 10)); got != want {
				t.Errorf("uintLen(%d) = %d, want %d", u, got, want)
			}
		}
	}
}

// sampleRecords scans every sample with IDs and keeps its records.
func sampleRecords(t *testing.T) []parsers.Record {
	t.Helper()
	var recs []parsers.Record
	for _, path := range samples(t) {
		data := readFile(t, path)
		a := analyzeBytes(t, data, Config{})
		err := mustParser(t, a.Broker).Scan(bytes.NewReader(data), parsers.Options{Account: testAccount}, func(r *parsers.Record) error {
			c := *r
			c.Movements = slices.Clone(r.Movements)
			recs = append(recs, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// TestMeasureWithRowKey checks the measure of a movement of a keyed
// record: its size is exact with or without its ID (left out, it is
// measured at its standard size), and its digest is the row key with the
// movement's place, whatever the ID.
func TestMeasureWithRowKey(t *testing.T) {
	seed := maphash.MakeSeed()
	sz, bare := newSizer(seed), newSizer(seed)
	n := 0
	for _, rec := range sampleRecords(t) {
		for i := range rec.Movements {
			m := rec.Movements[i]
			want, err := json.Marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			size, d1, _ := sz.measure(&m, 12345, nil)
			if size != len(want) {
				t.Fatalf("keyed size %d, encoding/json %d: %s", size, len(want), want)
			}
			noID := m
			noID.ID = ""
			size2, d2, _ := bare.measure(&noID, 12345, nil)
			if size2 != len(want) || d2 != d1 {
				t.Fatalf("without its ID: size %d digest %x, with it %d %x (%s)", size2, d2, size, d1, m.ID)
			}
			for _, change := range []func(*events.Movement) uint64{
				func(*events.Movement) uint64 { return 12346 },
				func(c *events.Movement) uint64 { c.Line++; return 12345 },
				func(c *events.Movement) uint64 { c.Seq++; return 12345 },
				func(c *events.Movement) uint64 { c.Part++; return 12345 },
				func(c *events.Movement) uint64 { c.Time++; return 12345 },
			} {
				c := m
				key := change(&c)
				if _, d, _ := sz.measure(&c, key, nil); d == d1 {
					t.Fatalf("digest ignores a change of key or place: %+v", c)
				}
			}
			n++
		}
	}
	if n < 1000 {
		t.Errorf("checked only %d movements", n)
	}
}

// TestMeasureFromPrevious checks that measuring a record's movements with
// the previous one given (the shortcut for option contracts) gives what a
// measure from scratch gives, keyed or not.
func TestMeasureFromPrevious(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, key := range []uint64{0, 777} {
		sz := newSizer(seed)
		shortcuts := 0
		for _, rec := range sampleRecords(t) {
			var prev *events.Movement
			for i := range rec.Movements {
				m := &rec.Movements[i]
				size, digest, _ := sz.measure(m, key, prev)
				want, wantDigest, _ := newSizer(seed).measure(m, key, nil)
				if size != want || digest != wantDigest {
					t.Fatalf("key %d: measure from previous %d %x, from scratch %d %x: %+v", key, size, digest, want, wantDigest, m)
				}
				if prev != nil && sameButIDAndPart(m, prev) {
					shortcuts++
				}
				prev = m
			}
		}
		if shortcuts < 100 {
			t.Errorf("key %d: the shortcut served only %d movements", key, shortcuts)
		}
	}
}

// TestSameButIDAndPart fails when a field is not compared.
func TestSameButIDAndPart(t *testing.T) {
	base := events.Movement{ID: "a", Part: 1, Notes: "n", Amount: decimal.New(1, 0)}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		c := base
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch x := f.Interface().(type) {
		case decimal.Decimal:
			f.Set(reflect.ValueOf(x.Add(decimal.New(1, 0))))
		default:
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Int, reflect.Int32, reflect.Int64:
				f.SetInt(f.Int() + 1)
			default:
				t.Fatalf("field %s: extend this test", name)
			}
		}
		if got, want := sameButIDAndPart(&c, &base), name == "ID" || name == "Part"; got != want {
			t.Errorf("field %s changed: sameButIDAndPart = %v", name, got)
		}
	}
}

// TestSizeExpectedAccountBroker measures keyed movements (as pass 1 does)
// with a sizer told the statement's account and broker (expect): the same
// sizes as encoding/json gives them with a standard ID, whether a
// movement's account and broker are the expected ones or not.
func TestSizeExpectedAccountBroker(t *testing.T) {
	strs := []string{"acct-1", "tastytrade", "", "a<b>&\"c\"", "a long account name of more than sixteen bytes", "日本語 \xff"}
	for _, account := range strs {
		for _, broker := range strs {
			sz := newSizer(maphash.MakeSeed())
			sz.expect(account, broker)
			for _, a := range strs {
				for _, b := range strs {
					for _, pair := range [][2]string{{a, b}, {account, broker}, {strings.Clone(account), strings.Clone(broker)}} {
						m := events.Movement{Account: pair[0], Broker: pair[1], Kind: events.KindStock, Currency: "USD", Line: 2, Notes: "n"}
						std := m
						std.ID = strings.Repeat("f", 32) + ":" + string(m.Kind) + ":0"
						want, err := json.Marshal(&std)
						if err != nil {
							t.Fatal(err)
						}
						if got, _, _ := sz.measure(&m, 1, nil); got != len(want) {
							t.Fatalf("expecting %q, %q: size %d, encoding/json %d: %s", account, broker, got, len(want), want)
						}
					}
				}
			}
		}
	}
}
