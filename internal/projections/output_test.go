package projections

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sample is a small two-currency history touching every projection.
func sample(t *testing.T) []events.Movement {
	var b book
	b.cash(t, "2024-04-22", events.CashDeposit, "5000", "0")
	b.optionRow(t, "2024-04-25T15:00:00", "SOFI", STO, events.Put, "7", "2024-05-03", 1, "35", "1", "0.14")
	b.optionRow(t, "2024-04-26T15:00:00", "MPW", STO, events.Put, "4.5", "2024-05-03", 1, "19", "1", "0.14")
	b.optionRow(t, "2024-04-26T15:00:00", "MPW", BTO, events.Put, "4", "2024-05-03", 1, "-4", "1", "0.13")
	b.stock(t, "2024-04-26T16:00:00", "KO", BTO, "10", "60.25", "1", "0.02")
	b.cash(t, "2024-04-27", events.CashFee, "0", "0.02")
	b.optionRow(t, "2024-04-29T15:00:00", "MPW", STC, events.Put, "4", "2024-05-03", 1, "1", "0", "0.14")
	b.optionRow(t, "2024-04-29T15:00:01", "MPW", BTC, events.Put, "4.5", "2024-05-03", 1, "-8", "0", "0.13")
	b.optionRow(t, "2024-04-29T15:00:02", "SOFI", STO, events.Put, "6.5", "2024-05-10", 3, "0.37", "1", "0.40")
	b.dividend(t, "2024-04-30T10:00:00", "KO", "4.85")
	b.tax(t, "2024-04-30T10:00:00", "KO", "0.73")
	b.stock(t, "2024-05-02T16:00:00", "KO", STC, "4", "61.10", "1", "0.03")
	b.add(events.Movement{Kind: events.KindCash, Time: at(t, "2024-05-02"), Currency: "EUR", CashType: events.CashDeposit, Amount: dec("250")})
	return b.ms
}

func TestWriteJSONGolden(t *testing.T) {
	ms := sample(t)
	asOf := day(t, "2024-06-01")
	for _, c := range []struct {
		name string
		r    *Result
		asOf *events.Date
	}{
		{"compute", Compute("demo", ms), nil},
		{"compute_as_of", ComputeAsOf("demo", ms, asOf), &asOf},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := jsonOf(t, c.r, c.asOf)
			var table bytes.Buffer
			if err := WriteTable(&table, c.r, c.asOf); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", c.name+".golden.json"), got)
			golden(t, filepath.Join("testdata", c.name+".golden.txt"), table.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, firstDiff(got, want))
	}
}

// The JSON contract of the projections issue: the keys in the listed order,
// decimals as strings, movement_counter an integer, booleans, dates as
// YYYY-MM-DD, close_date null while open, as_of null when absent.
func TestWriteJSONContract(t *testing.T) {
	brokerKeys := strings.Fields("currency date movement_counter realized_gains realized_percentage unrealized_gains unrealized_gains_percentage invested commissions fees deposited withdrawn dividends_received options_income other_income open_trades net_cash_flow")
	tickerKeys := strings.Fields("ticker currency date total_shares weight cost_basis real_cost dividends dividend_taxes options total_incomes capital_deployed realized performance open_trades commissions fees")
	opKeys := strings.Fields("ticker currency is_open open_date close_date realized commissions fees premium dividends dividend_taxes capital_deployed performance")

	r := Compute("demo", sample(t))
	out := jsonOf(t, r, nil)
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	top := orderedObject(t, dec)
	if want := []string{"account", "as_of", "broker_snapshots", "ticker_snapshots", "operations"}; !reflect.DeepEqual(top.keys, want) {
		t.Fatalf("top-level keys %v, want %v", top.keys, want)
	}
	if top.vals["as_of"] != nil || top.vals["account"] != "demo" {
		t.Errorf("account %v, as_of %v", top.vals["account"], top.vals["as_of"])
	}
	check := func(list string, keys []string, n int) {
		objs := top.vals[list].([]ordered)
		if len(objs) != n {
			t.Errorf("%s: %d objects, want %d", list, len(objs), n)
		}
		for i, o := range objs {
			if !reflect.DeepEqual(o.keys, keys) {
				t.Fatalf("%s[%d] keys %v, want %v", list, i, o.keys, keys)
			}
			for _, k := range keys {
				v := o.vals[k]
				switch k {
				case "currency", "ticker":
					if _, ok := v.(string); !ok {
						t.Errorf("%s[%d].%s = %v, want a string", list, i, k, v)
					}
				case "date", "open_date", "close_date":
					s, ok := v.(string)
					if k == "close_date" && o.vals["is_open"] == true {
						if v != nil {
							t.Errorf("%s[%d].close_date = %v while open, want null", list, i, v)
						}
						continue
					}
					if _, err := events.ParseDate(s); !ok || err != nil {
						t.Errorf("%s[%d].%s = %v, want YYYY-MM-DD", list, i, k, v)
					}
				case "movement_counter":
					if _, ok := v.(json.Number); !ok || strings.ContainsAny(string(v.(json.Number)), ".eE") {
						t.Errorf("%s[%d].%s = %v, want an integer", list, i, k, v)
					}
				case "open_trades", "is_open":
					if _, ok := v.(bool); !ok {
						t.Errorf("%s[%d].%s = %v, want a boolean", list, i, k, v)
					}
				default:
					s, ok := v.(string)
					if !ok || s == "" || strings.ContainsAny(s, "eE") {
						t.Errorf("%s[%d].%s = %v, want a plain decimal string", list, i, k, v)
					}
					if _, err := json.Number(s).Float64(); err != nil {
						t.Errorf("%s[%d].%s = %q is not a number", list, i, k, s)
					}
				}
			}
		}
	}
	check("broker_snapshots", brokerKeys, len(r.Broker))
	check("ticker_snapshots", tickerKeys, len(r.Tickers))
	check("operations", opKeys, len(r.Operations))
	if len(r.Operations) == 0 || len(r.Tickers) == 0 || len(r.Broker) == 0 {
		t.Fatal("sample has empty projections")
	}
	open, closed := 0, 0
	for _, o := range r.Operations {
		if o.IsOpen {
			open++
		} else {
			closed++
		}
	}
	if open == 0 || closed == 0 {
		t.Errorf("sample should have open and closed operations: %d open, %d closed", open, closed)
	}

	// Sorting: broker by (currency, date), tickers by (ticker, currency,
	// date), operations by (ticker, open date), whatever the input order.
	shuffled := &Result{Account: r.Account}
	for i := len(r.Broker) - 1; i >= 0; i-- {
		shuffled.Broker = append(shuffled.Broker, r.Broker[i])
	}
	for i := len(r.Tickers) - 1; i >= 0; i-- {
		shuffled.Tickers = append(shuffled.Tickers, r.Tickers[i])
	}
	for i := len(r.Operations) - 1; i >= 0; i-- {
		shuffled.Operations = append(shuffled.Operations, r.Operations[i])
	}
	if got := jsonOf(t, shuffled, nil); !bytes.Equal(got, out) {
		t.Errorf("WriteJSON depends on row order:\n%s", firstDiff(got, out))
	}
}

// ordered is a JSON object with its keys in document order.
type ordered struct {
	keys []string
	vals map[string]any
}

func orderedObject(t *testing.T, dec *json.Decoder) ordered {
	t.Helper()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("want an object, got %v %v", tok, err)
	}
	o := ordered{vals: make(map[string]any)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		o.keys = append(o.keys, k)
		o.vals[k] = orderedValue(t, dec)
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	return o
}

func orderedValue(t *testing.T, dec *json.Decoder) any {
	t.Helper()
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('['):
		list := []ordered{}
		for dec.More() {
			list = append(list, orderedObject(t, dec))
		}
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		return list
	case json.Delim('{'):
		t.Fatal("nested objects are not part of the contract")
	}
	return tok
}
