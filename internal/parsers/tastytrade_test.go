package parsers

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// The -update flag refreshes golden files. Another test file of this package
// may declare the same flag first; it is registered here only if it is not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func ttUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	ttSharedDir  = "../../../shared/testdata"
	ttHeader21   = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency"
	ttHeader20   = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Currency"
	ttTestAcct   = "acct-1"
	ttMovementID = `^[0-9a-f]{32}:[a-z_]+:[0-9]+$`
)

var ttIDPattern = regexp.MustCompile(ttMovementID)

// ttScanAll scans input and returns every record, copied out of the callback.
func ttScanAll(t testing.TB, input string, account string) ([]Record, error) {
	t.Helper()
	var recs []Record
	err := Tastytrade{}.Scan(strings.NewReader(input), Options{Account: account}, func(r *Record) error {
		c := *r
		c.Movements = slices.Clone(r.Movements)
		recs = append(recs, c)
		return nil
	})
	return recs, err
}

func ttReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func ttParseFile(t testing.TB, path string) *Result {
	t.Helper()
	res, err := Parse(Tastytrade{}, bytes.NewReader(ttReadFile(t, path)), Options{Account: ttTestAcct})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return res
}

func ttDec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ttWall(t testing.TB, s string) events.WallTime {
	t.Helper()
	w, err := events.ParseWallTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// ttKey names a movement's kind with its code or cash type.
func ttKey(m *events.Movement) string {
	switch m.Kind {
	case events.KindCash:
		return "cash/" + string(m.CashType)
	case events.KindStock, events.KindOption:
		return string(m.Kind) + "/" + string(m.Code)
	}
	return string(m.Kind)
}

// TestTastytradeSampleCounts checks the movement counts of spec/parsers.md §5
// for every sample and every oracle input, in total and per kind.
func TestTastytradeSampleCounts(t *testing.T) {
	type want struct {
		total  int
		rows   int
		byKind map[string]int
	}
	wants := map[string]want{
		"FutureOptions.csv": {42, 21, map[string]int{
			"option/buy_to_open": 6, "option/sell_to_open": 15, "option/buy_to_close": 9 + 9, "option/sell_to_close": 3}},
		"MPWImportTest.csv": {478, 173, map[string]int{
			"option/sell_to_open": 197, "option/buy_to_close": 184 + 16, "option/buy_to_open": 40, "option/sell_to_close": 34,
			"stock/sell_to_close": 1, "stock/buy_to_open": 1, "dividend": 2, "dividend_tax": 2, "cash/deposit": 1}},
		"PfizerImportTest.csv": {4, 4, map[string]int{
			"option/buy_to_open": 1, "option/sell_to_open": 1, "option/buy_to_close": 1, "option/sell_to_close": 1}},
		"TastytradeOptionsTest.csv": {16, 16, map[string]int{
			"option/sell_to_open": 5, "option/buy_to_close": 3, "option/buy_to_open": 2, "option/sell_to_close": 2,
			"cash/deposit": 3, "cash/fee": 1}},
		"TastytradeDeposits.csv":              {20, 20, map[string]int{"cash/deposit": 19, "cash/withdrawal": 1}},
		"LendingRebate.csv":                   {2, 2, map[string]int{"cash/interests_paid": 1, "cash/lending": 1}},
		"tastytrade_acat_transfer_sample.csv": {3, 3, map[string]int{"cash/deposit": 2, "stock/buy_to_open": 1}},
		"tastytrade_mixed_trading_sample.csv": {11, 11, map[string]int{
			"stock/buy_to_open": 2, "stock/sell_to_close": 1,
			"option/sell_to_open": 2, "option/buy_to_open": 1, "option/buy_to_close": 1, "option/sell_to_close": 1,
			"cash/deposit": 1, "cash/fee": 1, "cash/interests_gained": 1}},
		"tastytrade_options_heavy_sample.csv": {12, 6, map[string]int{
			"option/sell_to_open": 8, "option/buy_to_close": 2, "option/buy_to_open": 2}},
	}
	oracle := map[string]string{
		"deposits": "TastytradeDeposits.csv", "future_options": "FutureOptions.csv", "mpw": "MPWImportTest.csv",
		"options": "TastytradeOptionsTest.csv", "pfizer": "PfizerImportTest.csv",
	}

	samples, err := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples under %s (err %v)", ttSharedDir, err)
	}
	inputs, _ := filepath.Glob(filepath.Join(ttSharedDir, "oracle", "*", "input.csv"))
	if len(inputs) == 0 {
		t.Fatalf("no oracle inputs under %s", ttSharedDir)
	}
	type file struct{ path, sample string }
	var files []file
	for _, p := range samples {
		files = append(files, file{p, filepath.Base(p)})
	}
	for _, p := range inputs {
		ds := filepath.Base(filepath.Dir(p))
		s, ok := oracle[ds]
		if !ok {
			t.Errorf("oracle dataset %s: no expected counts", ds)
			continue
		}
		files = append(files, file{p, s})
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f.path, ttSharedDir+"/"), func(t *testing.T) {
			w, ok := wants[f.sample]
			if !ok {
				t.Fatalf("no expected counts for %s", f.sample)
			}
			res := ttParseFile(t, f.path)
			if len(res.RowErrors) != 0 {
				t.Errorf("row errors: %v", res.RowErrors)
			}
			if len(res.Ignored) != 0 {
				t.Errorf("ignored rows: %v", res.Ignored)
			}
			if res.Rows != w.rows {
				t.Errorf("rows: got %d want %d", res.Rows, w.rows)
			}
			total := 0
			got := map[string]int{}
			for i := range res.Movements {
				m := &res.Movements[i]
				if m.Kind.Counts() {
					total++
				}
				got[ttKey(m)]++
			}
			if total != w.total {
				t.Errorf("movements: got %d want %d", total, w.total)
			}
			for k, n := range w.byKind {
				if got[k] != n {
					t.Errorf("%s: got %d want %d", k, got[k], n)
				}
			}
			for k, n := range got {
				if _, ok := w.byKind[k]; !ok {
					t.Errorf("%s: got %d want none", k, n)
				}
			}
		})
	}
}

// TestTastytradeSampleValues checks values spec/parsers.md §5 gives for the
// samples beyond counts.
func TestTastytradeSampleValues(t *testing.T) {
	t.Run("deposits totals", func(t *testing.T) {
		res := ttParseFile(t, filepath.Join(ttSharedDir, "tastytrade", "TastytradeDeposits.csv"))
		sum := map[events.CashType]decimal.Decimal{}
		for _, m := range res.Movements {
			sum[m.CashType] = sum[m.CashType].Add(m.Amount)
		}
		if got := sum[events.CashDeposit]; !got.Equal(ttDec("19388.40")) {
			t.Errorf("deposits: got %s want 19388.40", got)
		}
		if got := sum[events.CashWithdrawal]; !got.Equal(ttDec("25")) {
			t.Errorf("withdrawals: got %s want 25.00", got)
		}
	})
	t.Run("options test fee", func(t *testing.T) {
		res := ttParseFile(t, filepath.Join(ttSharedDir, "tastytrade", "TastytradeOptionsTest.csv"))
		n := 0
		for _, m := range res.Movements {
			if m.CashType == events.CashFee {
				n++
				if !m.Amount.IsZero() || !m.Fees.Equal(ttDec("0.02")) {
					t.Errorf("fee: amount %s fees %s, want 0 and 0.02", m.Amount, m.Fees)
				}
			}
		}
		if n != 1 {
			t.Errorf("fees: got %d want 1", n)
		}
	})
	t.Run("future options multiplier and tickers", func(t *testing.T) {
		res := ttParseFile(t, filepath.Join(ttSharedDir, "tastytrade", "FutureOptions.csv"))
		for _, m := range res.Movements {
			if !m.Multiplier.Equal(ttDec("100")) {
				t.Errorf("%s: multiplier %s, want 100 (spec decision 1)", m.ID, m.Multiplier)
			}
			if !strings.HasPrefix(m.Ticker, "/MES") {
				t.Errorf("%s: ticker %q, want the underlying future", m.ID, m.Ticker)
			}
		}
	})
	t.Run("expirations are buy to close with premium 0", func(t *testing.T) {
		for _, name := range []string{"FutureOptions.csv", "MPWImportTest.csv"} {
			res := ttParseFile(t, filepath.Join(ttSharedDir, "tastytrade", name))
			n := 0
			for _, m := range res.Movements {
				if strings.Contains(m.Notes, "expiration") {
					n++
					if m.Code != events.BuyToClose || !m.Premium.IsZero() || !m.NetPremium.IsZero() {
						t.Errorf("%s %s: code %s premium %s net %s", name, m.ID, m.Code, m.Premium, m.NetPremium)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s: no expiration movements", name)
			}
		}
	})
}

// ttRecSummary is what a table test expects of one record.
type ttRecSummary struct {
	line    int
	err     error  // the sentinel the row error wraps
	column  string // the row error's column
	ignored string // a substring of the ignore reason
	moves   []events.Movement
}

// ttCheckRecords compares recs with want. Expected movements are compared
// field by field (decimals by value) after filling in what every movement of
// the scan shares (account, broker) and checking the ID's form.
func ttCheckRecords(t *testing.T, recs []Record, want []ttRecSummary) {
	t.Helper()
	if len(recs) != len(want) {
		for _, r := range recs {
			t.Logf("got record line %d err %v ignored %q movements %d", r.Line, r.Err, r.Ignored, len(r.Movements))
		}
		t.Fatalf("records: got %d want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Line != w.line {
			t.Errorf("record %d: line got %d want %d", i, r.Line, w.line)
		}
		set := 0
		if r.Err != nil {
			set++
		}
		if r.Ignored != "" {
			set++
		}
		if len(r.Movements) > 0 {
			set++
		}
		if set != 1 {
			t.Errorf("record %d: %d of movements/error/ignored set, want exactly 1", i, set)
		}
		switch {
		case w.err != nil:
			if r.Err == nil || !errors.Is(r.Err, w.err) {
				t.Errorf("record %d: error got %v want %v", i, r.Err, w.err)
			} else {
				if r.Err.Column != w.column {
					t.Errorf("record %d: error column got %q want %q", i, r.Err.Column, w.column)
				}
				if r.Err.Line != w.line {
					t.Errorf("record %d: error line got %d want %d", i, r.Err.Line, w.line)
				}
			}
		case w.ignored != "":
			if !strings.Contains(r.Ignored, w.ignored) {
				t.Errorf("record %d: ignored got %q want it to contain %q", i, r.Ignored, w.ignored)
			}
		default:
			if len(r.Movements) != len(w.moves) {
				t.Errorf("record %d: movements got %d want %d (err %v, ignored %q)", i, len(r.Movements), len(w.moves), r.Err, r.Ignored)
				continue
			}
			for j := range w.moves {
				got, exp := r.Movements[j], w.moves[j]
				if !ttIDPattern.MatchString(got.ID) {
					t.Errorf("record %d movement %d: ID %q does not match %s", i, j, got.ID, ttMovementID)
				}
				exp.ID = got.ID
				exp.Account = ttTestAcct
				exp.Broker = events.BrokerTastytrade
				if !got.Equal(&exp) {
					gj, _ := json.Marshal(got)
					ej, _ := json.Marshal(exp)
					t.Errorf("record %d movement %d:\n got %s\nwant %s", i, j, gj, ej)
				}
			}
		}
	}
}

// TestTastytradeRows is the table of row kinds and error kinds, one row (or a
// few) per case, under a 21-column header.
func TestTastytradeRows(t *testing.T) {
	const when = "2024-05-31T14:42:13+0100"
	wt := ttWall(t, "2024-05-31T14:42:13")
	d := ttDec
	exp := events.NewDate(2024, 6, 14)
	third := func(s string) decimal.Decimal { return d(s).DivRound(d("3"), 28) }
	cash := func(ct events.CashType, amount, fees, comm, notes string) events.Movement {
		m := events.Movement{Kind: events.KindCash, Time: wt, Offset: "+0100", Line: 2, Currency: "USD",
			CashType: ct, Amount: d(amount), Fees: d(fees), Commissions: d(comm), Notes: notes}
		return m
	}
	option := func(code events.TradeCode, part int, premium, net, comm, fees decimal.Decimal) events.Movement {
		return events.Movement{Kind: events.KindOption, Time: wt, Offset: "+0100", Line: 2, Part: part, Currency: "USD",
			Ticker: "AAPL", Code: code, Quantity: d("1"), OptionType: events.Call, Strike: d("185"), Expiration: exp,
			Premium: premium, NetPremium: net, Commissions: comm, Fees: fees, Multiplier: d("100"), Notes: "opt"}
	}
	tests := []struct {
		name string
		rows []string // data lines after the header
		want []ttRecSummary
	}{
		{
			name: "deposit",
			rows: []string{when + `,Money Movement,Deposit,,,,ACH DEPOSIT,"1,300.00",0,,--,0.00,,,,,,,,"1,300.00",USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{cash(events.CashDeposit, "1300", "0", "0", "ACH DEPOSIT")}}},
		},
		{
			name: "deposit with a symbol is a plain deposit",
			rows: []string{when + `,Money Movement,Deposit,,MPW,Equity,MPW deposit,22.50,0,,--,0.00,,,,,,,,22.50,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{cash(events.CashDeposit, "22.5", "0", "0", "MPW deposit")}}},
		},
		{
			name: "withdrawal",
			rows: []string{when + `,Money Movement,Withdrawal,,,,ACH DISBURSEMENT,-25.00,0,,--,0.00,,,,,,,,-25.00,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{cash(events.CashWithdrawal, "25", "0", "0", "ACH DISBURSEMENT")}}},
		},
		{
			name: "transfer out is still a deposit",
			rows: []string{when + `,Money Movement,Transfer,,,,TRANSFER TO X,-313.46,0,,--,-1.00,,,,,,,,-314.46,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{cash(events.CashDeposit, "313.46", "1", "0", "TRANSFER TO X")}}},
		},
		{
			name: "balance adjustment is a fee of minus the value",
			rows: []string{
				when + `,Money Movement,Balance Adjustment,,,,Regulatory fee adjustment,-0.02,0,,--,0.00,,,,,,,,-0.02,USD`,
				when + `,Money Movement,Balance Adjustment,,,,Refund,0.05,0,,-1.00,0.00,,,,,,,,0.05,USD`,
			},
			want: []ttRecSummary{
				{line: 2, moves: []events.Movement{cash(events.CashFee, "0", "0.02", "0", "Regulatory fee adjustment")}},
				{line: 3, moves: []events.Movement{func() events.Movement {
					m := cash(events.CashFee, "0", "-0.05", "1", "Refund")
					m.Line, m.Seq = 3, 1
					return m
				}()}},
			},
		},
		{
			name: "interest and lending",
			rows: []string{
				when + `,Money Movement,Credit Interest,,,,INTEREST ON CREDIT BALANCE,0.05,0,,--,0.00,,,,,,,,0.05,USD`,
				`2024-05-31T14:42:14+0100,Money Movement,Debit Interest,,,,FROM 05/16 THRU 06/15 @11    %,-0.01,0,,--,0.00,,,,,,,,-0.01,USD`,
				`2024-05-31T14:42:15+0100,Money Movement,Fully Paid Stock Lending Income,,,,FULLYPAID LENDING REBATE,0.30,0,,--,0.00,,,,,,,,0.30,USD`,
			},
			want: []ttRecSummary{
				{line: 2, moves: []events.Movement{cash(events.CashInterestsGained, "0.05", "0", "0", "INTEREST ON CREDIT BALANCE")}},
				{line: 3, moves: []events.Movement{func() events.Movement {
					m := cash(events.CashInterestsPaid, "0.01", "0", "0", "FROM 05/16 THRU 06/15 @11    %")
					m.Line, m.Time = 3, wt+1
					return m
				}()}},
				{line: 4, moves: []events.Movement{func() events.Movement {
					m := cash(events.CashLending, "0.30", "0", "0", "FULLYPAID LENDING REBATE")
					m.Line, m.Time = 4, wt+2
					return m
				}()}},
			},
		},
		{
			name: "dividends and taxes by sign",
			rows: []string{
				when + `,Money Movement,Dividend,,MPW,Equity,MPW DIVIDEND,15.00,0,,--,0.00,,,,,,,,15.00,USD`,
				when + `,Money Movement,Dividend,,MPW,Equity,MPW TAX,-4.50,0,,--,0.00,,,MPW,,,,,-4.50,USD`,
				when + `,Money Movement,Dividend,,,Equity,ZERO,0.00,0,,--,0.00,,,MPW,,,,,0.00,USD`,
				when + `,Money Movement,Dividend,,MPW,Equity,NEGZERO,-0.00,0,,--,0.00,,,,,,,,-0.00,USD`,
				when + `,Money Movement,Dividend,,,,NO SYMBOL,5.00,0,,--,0.00,,,,,,,,5.00,USD`,
			},
			want: func() []ttRecSummary {
				div := func(kind events.Kind, line, seq int, amount, notes string) ttRecSummary {
					return ttRecSummary{line: line, moves: []events.Movement{{Kind: kind, Time: wt, Offset: "+0100", Line: line, Seq: seq,
						Currency: "USD", Ticker: "MPW", Amount: d(amount), Notes: notes}}}
				}
				return []ttRecSummary{
					div(events.KindDividend, 2, 0, "15", "MPW DIVIDEND"),
					div(events.KindDividendTax, 3, 1, "4.5", "MPW TAX"),
					div(events.KindDividendTax, 4, 2, "0", "ZERO"),
					div(events.KindDividendTax, 5, 3, "0", "NEGZERO"),
					{line: 6, ignored: "dividend without a symbol"},
				}
			}(),
		},
		{
			name: "equity option sell to open of 3 contracts",
			rows: []string{when + `,Trade,Sell to Open,SELL_TO_OPEN,AAPL  240614C00185000,Equity Option,opt,30.00,3,10.00,-3.00,-0.37,100,AAPL,AAPL,6/14/24,185,CALL,1,26.63,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{
				option(events.SellToOpen, 1, d("10"), third("26.63"), d("1"), third("0.37")),
				option(events.SellToOpen, 2, d("10"), third("26.63"), d("1"), third("0.37")),
				option(events.SellToOpen, 3, d("10"), third("26.63"), d("1"), third("0.37")),
			}}},
		},
		{
			name: "equity option buy to open of 1 contract",
			rows: []string{when + `,Trade,Buy to Open,BUY_TO_OPEN,AAPL  240614C00185000,Equity Option,opt,-156.00,1,-156.00,-1.00,-0.13,100,AAPL,AAPL,6/14/24,185,CALL,1,-157.13,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{
				option(events.BuyToOpen, 1, d("-156"), d("-157.13"), d("1"), d("0.13")),
			}}},
		},
		{
			name: "expiration of a long option is buy to close",
			rows: []string{when + `,Receive Deliver,Expiration,SELL_TO_CLOSE,AAPL  240614C00185000,Equity Option,opt,0.00,2,0.00,--,0.00,100,AAPL,AAPL,6/14/24,185,CALL,,0.00,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{
				option(events.BuyToClose, 1, d("0"), d("0"), d("0"), d("0")),
				option(events.BuyToClose, 2, d("0"), d("0"), d("0"), d("0")),
			}}},
		},
		{
			name: "future option gets multiplier 100 and the future as ticker",
			rows: []string{`2025-11-11T17:50:40+0000,Trade,Buy to Close,BUY_TO_CLOSE,./ESZ5 E2BX5 251111C6880,Future Option,fut,-55.00,1,-55.00,-1.25,-0.87,1,"./ESZ5 E2BX5 ",/ESZ5,11/11/25,6880,CALL,420000990,-57.12,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{{Kind: events.KindOption, Time: ttWall(t, "2025-11-11T17:50:40"),
				Offset: "+0000", Line: 2, Part: 1, Currency: "USD", Ticker: "/ESZ5", Code: events.BuyToClose, Quantity: d("1"),
				OptionType: events.Call, Strike: d("6880"), Expiration: events.NewDate(2025, 11, 11),
				Premium: d("-55"), NetPremium: d("-57.12"), Commissions: d("1.25"), Fees: d("0.87"), Multiplier: d("100"), Notes: "fut"}}}},
		},
		{
			name: "option fallbacks: no expiry, strike, underlying or call/put",
			rows: []string{when + `,Trade,Sell to Open,SELL_TO_OPEN,X,Equity Option,bare,5.00,1,5.00,0.00,0.00,,,,,,,,5.00,`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{{Kind: events.KindOption, Time: wt, Offset: "+0100", Line: 2,
				Part: 1, Currency: "USD", Ticker: "UNKNOWN", Code: events.SellToOpen, Quantity: d("1"), OptionType: events.Put,
				Expiration: events.NewDate(2024, 6, 30), Premium: d("5"), NetPremium: d("5"), Multiplier: d("100"), Notes: "bare"}}}},
		},
		{
			name: "fractional contracts: floor(Q) records divided by Q",
			rows: []string{when + `,Trade,Sell to Open,SELL_TO_OPEN,AAPL  240614C00185000,Equity Option,opt,25.00,2.5,10.00,-2.50,0.00,100,AAPL,AAPL,6/14/24,185,CALL,1,22.50,USD`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{
				option(events.SellToOpen, 1, d("10"), d("9"), d("1"), d("0")),
				option(events.SellToOpen, 2, d("10"), d("9"), d("1"), d("0")),
			}}},
		},
		{
			name: "option of less than one contract is ignored",
			rows: []string{
				when + `,Trade,Sell to Open,SELL_TO_OPEN,AAPL  240614C00185000,Equity Option,opt,5.00,0.5,10.00,0.00,0.00,100,AAPL,AAPL,6/14/24,185,CALL,1,5.00,USD`,
				when + `,Trade,Sell to Open,SELL_TO_OPEN,AAPL  240614C00185000,Equity Option,opt,0.00,0,10.00,0.00,0.00,100,AAPL,AAPL,6/14/24,185,CALL,1,0.00,USD`,
			},
			want: []ttRecSummary{{line: 2, ignored: "less than one contract"}, {line: 3, ignored: "less than one contract"}},
		},
		{
			name: "stock trades: average price, else value over quantity",
			rows: []string{
				when + `,Trade,Buy to Open,BUY_TO_OPEN,MPW,Equity,Bought 100 MPW,"-1,333.50",100,-13.33,-1.00,-0.08,,,,,,,9,"-1,334.58",USD`,
				when + `,Trade,Sell to Close,SELL_TO_CLOSE,MPW,Equity,Sold 3 MPW,10.00,3,,0.00,-0.01,,,,,,,9,9.99,USD`,
			},
			want: []ttRecSummary{
				{line: 2, moves: []events.Movement{{Kind: events.KindStock, Time: wt, Offset: "+0100", Line: 2, Currency: "USD",
					Ticker: "MPW", Code: events.BuyToOpen, Quantity: d("100"), Price: d("13.33"), Commissions: d("1"), Fees: d("0.08"),
					Notes: "Bought 100 MPW"}}},
				{line: 3, moves: []events.Movement{{Kind: events.KindStock, Time: wt, Offset: "+0100", Line: 3, Seq: 1, Currency: "USD",
					Ticker: "MPW", Code: events.SellToClose, Quantity: d("3"), Price: third("10"), Fees: d("0.01"), Notes: "Sold 3 MPW"}}},
			},
		},
		{
			name: "equity trade of quantity 0 without average price",
			rows: []string{when + `,Trade,Buy to Open,BUY_TO_OPEN,MPW,Equity,x,-10.00,0,,0.00,0.00,,,,,,,9,-10.00,USD`},
			want: []ttRecSummary{{line: 2, err: ErrBadNumber, column: "Quantity"}},
		},
		{
			name: "equity trade without a symbol",
			rows: []string{when + `,Trade,Buy to Open,BUY_TO_OPEN,,Equity,x,-10.00,1,-10.00,0.00,0.00,,,,,,,9,-10.00,USD`},
			want: []ttRecSummary{{line: 2, err: ErrUnsupported, column: "Symbol"}},
		},
		{
			name: "ACAT receive is a buy to open at price 0",
			rows: []string{
				`2024-05-10T22:00:00+0100,Receive Deliver,ACAT,BUY_TO_OPEN,MPW,Equity,Received 1000.0 Long MPW via ACAT,0.00,1000,0.00,--,0.00,,,,,,,,0.00,USD`,
				`2024-05-10T22:00:00+0100,Receive Deliver,ACAT,BUY_TO_OPEN,,Equity,no symbol,0.00,10,0.00,--,0.00,,,,,,,,0.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, moves: []events.Movement{{Kind: events.KindStock, Time: ttWall(t, "2024-05-10T22:00:00"), Offset: "+0100",
					Line: 2, Currency: "USD", Ticker: "MPW", Code: events.BuyToOpen, Quantity: d("1000"),
					Notes: "Received 1000.0 Long MPW via ACAT"}}},
				{line: 3, ignored: "without a symbol"},
			},
		},
		{
			name: "assignment on an option is ignored",
			rows: []string{when + `,Receive Deliver,Assignment,BUY_TO_CLOSE,AAPL  240614C00185000,Equity Option,assigned,0.00,1,0.00,--,0.00,100,AAPL,AAPL,6/14/24,185,CALL,,0.00,USD`},
			want: []ttRecSummary{{line: 2, ignored: "assignment"}},
		},
		{
			name: "unsupported instruments",
			rows: []string{
				when + `,Trade,Buy to Open,BUY_TO_OPEN,/MESZ5,Future,fut,-5.00,1,-5.00,0.00,0.00,5,,,,,,9,-5.00,USD`,
				when + `,Trade,Buy to Open,BUY_TO_OPEN,BTC/USD,Cryptocurrency,btc,-5.00,1,-5.00,0.00,0.00,,,,,,,9,-5.00,USD`,
				when + `,Trade,Buy to Open,BUY_TO_OPEN,X,,none,-5.00,1,-5.00,0.00,0.00,,,,,,,9,-5.00,USD`,
				when + `,Receive Deliver,ACAT,BUY_TO_OPEN,BTC/USD,Cryptocurrency,btc,0.00,1,0.00,--,0.00,,,,,,,,0.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrUnsupported, column: "Instrument Type"},
				{line: 3, err: ErrUnsupported, column: "Instrument Type"},
				{line: 4, err: ErrUnsupported, column: "Instrument Type"},
				{line: 5, err: ErrUnsupported, column: "Instrument Type"},
			},
		},
		{
			name: "too many contracts in one row",
			rows: []string{when + `,Trade,Sell to Open,SELL_TO_OPEN,X,Equity Option,opt,5.00,99999999999,0,0.00,0.00,100,X,X,6/14/24,1,CALL,1,5.00,USD`},
			want: []ttRecSummary{{line: 2, err: ErrUnsupported, column: "Quantity"}},
		},
		{
			name: "short rows",
			rows: []string{
				when + `,Trade,Buy to Close,BUY_TO_CLOSE`,
				when + `,Money Movement,Deposit,,,,ACH DEPOSIT,1.00,0,,--,0.00,,,,,,,,1.00`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrShortRow, column: "Symbol"},
				{line: 3, err: ErrShortRow, column: "Currency"},
			},
		},
		{
			name: "extra trailing fields are ignored",
			rows: []string{when + `,Money Movement,Deposit,,,,ACH DEPOSIT,1.00,0,,--,0.00,,,,,,,,1.00,USD,extra,more`},
			want: []ttRecSummary{{line: 2, moves: []events.Movement{cash(events.CashDeposit, "1", "0", "0", "ACH DEPOSIT")}}},
		},
		{
			name: "bad dates",
			rows: []string{
				`INVALID_DATE,Trade,Buy to Close,BUY_TO_CLOSE,AAPL,Equity,Test,-100,1,-100,0,0,,,,,,,123,-100,USD`,
				`,Money Movement,Deposit,,,,x,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				`2024-13-01T10:00:00+0100,Money Movement,Deposit,,,,x,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				`2024-02-30T10:00:00+0100,Money Movement,Deposit,,,,x,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Trade,Sell to Open,SELL_TO_OPEN,X,Equity Option,opt,5.00,1,5.00,0.00,0.00,100,X,X,13/01/25,1,CALL,1,5.00,USD`,
				when + `,Trade,Sell to Open,SELL_TO_OPEN,X,Equity Option,opt,5.00,1,5.00,0.00,0.00,100,X,X,2/30/25,1,CALL,1,5.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrBadDate, column: "Date"},
				{line: 3, err: ErrBadDate, column: "Date"},
				{line: 4, err: ErrBadDate, column: "Date"},
				{line: 5, err: ErrBadDate, column: "Date"},
				{line: 6, err: ErrBadDate, column: "Expiration Date"},
				{line: 7, err: ErrBadDate, column: "Expiration Date"},
			},
		},
		{
			name: "bad numbers",
			rows: []string{
				when + `,Money Movement,Deposit,,,,x,1e5,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,(5.00),0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,$5.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.2.3,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,5.00-,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,abc,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,0,,---,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,0,,--,NaN,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,0,x,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,0,,--,0.00,-,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,x,1.00,0,,--,0.00,,,,,5 .5,,,1.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrBadNumber, column: "Value"},
				{line: 3, err: ErrBadNumber, column: "Value"},
				{line: 4, err: ErrBadNumber, column: "Value"},
				{line: 5, err: ErrBadNumber, column: "Value"},
				{line: 6, err: ErrBadNumber, column: "Value"},
				{line: 7, err: ErrBadNumber, column: "Quantity"},
				{line: 8, err: ErrBadNumber, column: "Commissions"},
				{line: 9, err: ErrBadNumber, column: "Fees"},
				{line: 10, err: ErrBadNumber, column: "Average Price"},
				{line: 11, err: ErrBadNumber, column: "Multiplier"},
				{line: 12, err: ErrBadNumber, column: "Strike Price"},
			},
		},
		{
			name: "number forms: --, empty, sign, negative zero, bare point",
			rows: []string{
				when + `,Money Movement,Deposit,,,,a,+5.,--,--,--,-0.00,--,,,,--,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,b,.5,,,,,,,,,,,,1.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, moves: []events.Movement{cash(events.CashDeposit, "5", "0", "0", "a")}},
				{line: 3, moves: []events.Movement{func() events.Movement {
					m := cash(events.CashDeposit, "0.5", "0", "0", "b")
					m.Line, m.Seq = 3, 1
					return m
				}()}},
			},
		},
		{
			name: "unknown types",
			rows: []string{
				when + `,Journal,Deposit,,,,x,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Trade,Buy to Cover,BUY_TO_CLOSE,MPW,Equity,x,1.00,1,1.00,0.00,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Mark to Market,,,,x,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,trade,Buy to Open,BUY_TO_OPEN,MPW,Equity,x,1.00,1,1.00,0.00,0.00,,,,,,,,1.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrUnknownType, column: "Type"},
				{line: 3, err: ErrUnknownType, column: "Sub Type"},
				{line: 4, err: ErrUnknownType, column: "Sub Type"},
				{line: 5, err: ErrUnknownType, column: "Type"},
			},
		},
		{
			name: "malformed CSV recovers on the next line",
			rows: []string{
				when + `,Money Movement,Deposit,,,,ab"c,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,"abc"d,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,ok,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
			},
			want: []ttRecSummary{
				{line: 2, err: ErrMalformedCSV},
				{line: 3, err: ErrMalformedCSV},
				{line: 4, moves: []events.Movement{func() events.Movement {
					m := cash(events.CashDeposit, "1", "0", "0", "ok")
					m.Line = 4
					return m
				}()}},
			},
		},
		{
			name: "unterminated quote takes the rest of the file",
			rows: []string{
				when + `,Money Movement,Deposit,,,,"open,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
				when + `,Money Movement,Deposit,,,,ok,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
			},
			want: []ttRecSummary{{line: 2, err: ErrMalformedCSV}},
		},
		{
			name: "binary garbage",
			rows: []string{"\x00\x01\x02\xff\xfe,\x89PNG\r\n\x1a"},
			want: []ttRecSummary{{line: 2, err: ErrShortRow, column: "Sub Type"}, {line: 3, err: ErrShortRow, column: "Type"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := ttHeader21 + "\n" + strings.Join(tt.rows, "\n")
			recs, err := ttScanAll(t, input, ttTestAcct)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			ttCheckRecords(t, recs, tt.want)
		})
	}
}

// TestTastytradeFile covers file-level forms: BOM, line endings, layouts,
// blank lines, headers, empty input.
func TestTastytradeFile(t *testing.T) {
	const row21 = `2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,ACH DEPOSIT,"1,000.00",0,,--,0.00,,,,,,,,"1,000.00",USD`
	const row20 = `2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,ACH DEPOSIT,"1,000.00",0,,--,0.00,,,,,,,,USD`
	dep := func(line int) []ttRecSummary {
		return []ttRecSummary{{line: line, moves: []events.Movement{{Kind: events.KindCash, CashType: events.CashDeposit,
			Time: ttWall(t, "2024-05-31T14:42:13"), Offset: "+0100", Line: line, Currency: "USD", Amount: ttDec("1000"),
			Notes: "ACH DEPOSIT"}}}}
	}
	tests := []struct {
		name    string
		input   string
		want    []ttRecSummary
		wantErr error
	}{
		{name: "LF", input: ttHeader21 + "\n" + row21, want: dep(2)},
		{name: "LF with final newline", input: ttHeader21 + "\n" + row21 + "\n", want: dep(2)},
		{name: "CRLF", input: ttHeader21 + "\r\n" + row21 + "\r\n", want: dep(2)},
		{name: "BOM", input: "\xef\xbb\xbf" + ttHeader21 + "\n" + row21, want: dep(2)},
		{name: "legacy 20 columns", input: ttHeader20 + "\n" + row20, want: dep(2)},
		{name: "legacy row too short for 21", input: ttHeader21 + "\n" + row20, want: []ttRecSummary{{line: 2, err: ErrShortRow, column: "Currency"}}},
		{name: "header case and spaces", input: strings.ToUpper(strings.ReplaceAll(ttHeader21, ",", " , ")) + "\n" + row21, want: dep(2)},
		{name: "blank and whitespace lines keep line numbers", input: "\n\n" + ttHeader21 + "\n\n   \n" + row21 + "\n\n", want: dep(6)},
		{name: "multi-line quoted field", input: ttHeader21 + "\n" + strings.Replace(row21, "ACH DEPOSIT", "\"ACH\nDEPOSIT\"", 1) + "\n" + row21,
			want: func() []ttRecSummary {
				a, b := dep(2), dep(4)
				a[0].moves[0].Notes = "ACH\nDEPOSIT"
				b[0].moves[0].Seq = 1
				return append(a, b...)
			}()},
		{name: "header only", input: ttHeader21},
		{name: "header only with newline", input: ttHeader21 + "\r\n"},
		{name: "empty", input: "", wantErr: ErrEmpty},
		{name: "only blank lines and a BOM", input: "\xef\xbb\xbf\n \n\r\n", wantErr: ErrEmpty},
		{name: "wrong column count", input: "Date,Type,Sub Type\n" + row21, wantErr: ErrBadHeader},
		{name: "wrong column name", input: strings.Replace(ttHeader21, "Fees", "Fee", 1) + "\n" + row21, wantErr: ErrBadHeader},
		{name: "columns out of order", input: strings.Replace(ttHeader21, "Type,Sub Type", "Sub Type,Type", 1) + "\n" + row21, wantErr: ErrBadHeader},
		{name: "IBKR statement", input: "Statement,Header,Field Name,Field Value\nStatement,Data,BrokerName,Interactive Brokers\n", wantErr: ErrBadHeader},
		{name: "malformed header", input: `Date,"Type` + "\n" + row21, wantErr: ErrBadHeader},
		{name: "binary garbage", input: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", wantErr: ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ttScanAll(t, tt.input, ttTestAcct)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Scan error: got %v want %v", err, tt.wantErr)
				}
				if len(recs) != 0 {
					t.Errorf("records: got %d want 0 with a file error", len(recs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			ttCheckRecords(t, recs, tt.want)
		})
	}
}

// TestTastytradeLongLines: a line over MaxLineBytes is a row error and the
// scan carries on with the next line; a record that never ends (an
// unterminated quote) past the record bound stops the scan with one error.
func TestTastytradeLongLines(t *testing.T) {
	const row = `2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,ACH DEPOSIT,1.00,0,,--,0.00,,,,,,,,1.00,USD`
	long := strings.Replace(row, "ACH DEPOSIT", strings.Repeat("x", MaxLineBytes), 1)
	exact := strings.Repeat("y", MaxLineBytes-len(row)+len("ACH DEPOSIT"))
	fits := strings.Replace(row, "ACH DEPOSIT", exact, 1)
	if len(fits) != MaxLineBytes {
		t.Fatalf("test setup: fits is %d bytes", len(fits))
	}
	t.Run("cut line", func(t *testing.T) {
		input := ttHeader21 + "\n" + row + "\n" + long + "\n" + fits + "\r\n" + fits + "z\n" + row
		recs, err := ttScanAll(t, input, ttTestAcct)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			line int
			err  error
		}{{2, nil}, {3, ErrLineTooLong}, {4, nil}, {5, ErrLineTooLong}, {6, nil}}
		if len(recs) != len(want) {
			t.Fatalf("records: got %d want %d", len(recs), len(want))
		}
		for i, w := range want {
			r := recs[i]
			if r.Line != w.line {
				t.Errorf("record %d: line %d want %d", i, r.Line, w.line)
			}
			if w.err == nil && (r.Err != nil || len(r.Movements) != 1) {
				t.Errorf("record %d: err %v, %d movements; want one movement", i, r.Err, len(r.Movements))
			}
			if w.err != nil && (r.Err == nil || !errors.Is(r.Err, w.err)) {
				t.Errorf("record %d: err %v want %v", i, r.Err, w.err)
			}
		}
	})
	t.Run("cut last line without newline", func(t *testing.T) {
		recs, err := ttScanAll(t, ttHeader21+"\n"+long, ttTestAcct)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Line != 2 || recs[0].Err == nil || !errors.Is(recs[0].Err, ErrLineTooLong) {
			t.Fatalf("got %+v, want one ErrLineTooLong record on line 2", recs)
		}
	})
	for name, opening := range map[string]string{
		"runaway quoted record":              `2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,"open`,
		"runaway quoted record in field one": `"2024-05-31T14:42:13+0100,Money Movement`, // no field position
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(ttHeader21 + "\n" + row + "\n" + opening + "\n")
			for b.Len() < ttMaxRecordBytes+MaxLineBytes {
				b.WriteString(row + "\n")
			}
			recs, err := ttScanAll(t, b.String(), ttTestAcct)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Fatalf("records: got %d want 2", len(recs))
			}
			if r := recs[1]; r.Line != 3 || r.Err == nil || !errors.Is(r.Err, ErrLineTooLong) {
				t.Fatalf("record 2: line %d err %v; want line 3, ErrLineTooLong", r.Line, r.Err)
			}
		})
	}
}

// TestTastytradeCallbackError: fn's error ends the scan and is returned as is.
func TestTastytradeCallbackError(t *testing.T) {
	stop := errors.New("stop")
	input := ttReadFile(t, filepath.Join(ttSharedDir, "tastytrade", "PfizerImportTest.csv"))
	calls := 0
	err := Tastytrade{}.Scan(bytes.NewReader(input), Options{Account: ttTestAcct}, func(*Record) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("got err %v after %d calls; want %v after 1", err, calls, stop)
	}
}

// ttSpecialRow builds a Receive Deliver / Special Dividend option row.
func ttSpecialRow(when, action, root, value, qty, exp, strike, cp string) string {
	return fmt.Sprintf("%s,Receive Deliver,Special Dividend,%s,%s,Equity Option,special,%s,%s,0.00,--,0.00,100,%s,%s,%s,%s,%s,,%s,USD",
		when, action, root, value, qty, root, root, exp, strike, cp, value)
}

// TestTastytradeSpecialDividend checks the pairing of §1.7 on the TSLL pairs
// the spec describes and on the shape of the records.
func TestTastytradeSpecialDividend(t *testing.T) {
	rows := []string{
		ttSpecialRow("2024-12-11T12:01:31+0000", "SELL_TO_CLOSE", "TSLL", `"2,280.00"`, "2", "1/16/26", "10.73", "CALL"),
		ttSpecialRow("2024-12-11T12:01:31+0000", "BUY_TO_OPEN", "TSLL", `"-2,280.00"`, "2", "1/16/26", "10.43", "CALL"),
		`2024-12-11T12:01:20+0000,Money Movement,Deposit,,,,ACH DEPOSIT,1.00,0,,--,0.00,,,,,,,,1.00,USD`,
		ttSpecialRow("2024-12-11T12:01:07+0000", "BUY_TO_CLOSE", "TSLL", "-96.00", "1", "12/20/24", "36", "CALL"),
		ttSpecialRow("2024-12-11T12:01:07+0000", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "CALL"),
		ttSpecialRow("2024-12-11T12:01:09+0000", "SELL_TO_OPEN", "TSLL", "96.00", "1", "12/20/24", "35.7", "CALL"),
	}
	recs, err := ttScanAll(t, ttHeader21+"\n"+strings.Join(rows, "\n"), ttTestAcct)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []int{4, 2, 3, 5, 6, 7, 0, 0}
	if len(recs) != len(wantLines) {
		t.Fatalf("records: got %d want %d", len(recs), len(wantLines))
	}
	for i, l := range wantLines {
		if recs[i].Line != l {
			t.Errorf("record %d: line %d want %d", i, recs[i].Line, l)
		}
	}
	for i, reason := range []string{ttReasonSpecialPaired, ttReasonSpecialPaired, ttReasonSpecialPaired, ttReasonSpecialPaired, ttReasonSpecialUnpaired} {
		if got := recs[i+1].Ignored; got != reason {
			t.Errorf("record %d: ignored %q want %q", i+1, got, reason)
		}
	}
	// Groups come in time order: 12:01:07 first.
	type adj struct {
		time, orig, nw, amount, notes string
		exp                           events.Date
		line                          int
	}
	wants := []adj{
		{"2024-12-11T12:01:07", "36", "35.7", "96", "Strike adjusted from 36.00 to 35.70 due to special dividend (Δ -0.30, impact: $96.00)", events.NewDate(2024, 12, 20), 5},
		{"2024-12-11T12:01:31", "10.73", "10.43", "2280", "Strike adjusted from 10.73 to 10.43 due to special dividend (Δ -0.30, impact: $2280.00)", events.NewDate(2026, 1, 16), 3},
	}
	ids := map[string]bool{}
	for i, w := range wants {
		r := recs[6+i]
		if len(r.Movements) != 1 {
			t.Fatalf("adjustment record %d: %d movements", i, len(r.Movements))
		}
		m := r.Movements[0]
		if m.Kind != events.KindStrikeAdjustment || m.Kind.Counts() {
			t.Errorf("adjustment %d: kind %s", i, m.Kind)
		}
		if m.Time != ttWall(t, w.time) || m.Ticker != "TSLL" || m.OptionType != events.Call || m.Expiration != w.exp ||
			!m.Strike.Equal(ttDec(w.orig)) || !m.NewStrike.Equal(ttDec(w.nw)) || !m.Amount.Equal(ttDec(w.amount)) ||
			m.Notes != w.notes || m.Currency != "USD" || m.Line != w.line || !ttIDPattern.MatchString(m.ID) {
			t.Errorf("adjustment %d: got %+v", i, m)
		}
		ids[m.ID] = true
	}
	if len(ids) != 2 {
		t.Errorf("adjustment IDs not distinct: %v", ids)
	}
}

type ttIgnoredJSON struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// TestTastytradeGolden compares each sample's records with its golden file
// (testdata/tastytrade/<sample>.golden.json); -update rewrites them.
func TestTastytradeGolden(t *testing.T) {
	samples, _ := filepath.Glob(filepath.Join(ttSharedDir, "tastytrade", "*.csv"))
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, path := range samples {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			res := ttParseFile(t, path)
			type golden struct {
				Rows      int                `json:"rows"`
				Movements []events.Movement  `json:"movements"`
				RowErrors []events.RowReject `json:"row_errors"`
				Ignored   []ttIgnoredJSON    `json:"ignored"`
			}
			g := golden{Rows: res.Rows, Movements: res.Movements, RowErrors: []events.RowReject{}, Ignored: []ttIgnoredJSON{}}
			for i := range res.RowErrors {
				g.RowErrors = append(g.RowErrors, res.RowErrors[i].Reject())
			}
			for _, ig := range res.Ignored {
				g.Ignored = append(g.Ignored, ttIgnoredJSON{ig.Line, ig.Reason})
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			gp := filepath.Join("testdata", "tastytrade", strings.TrimSuffix(name, ".csv")+".golden.json")
			if ttUpdating() {
				if err := os.MkdirAll(filepath.Dir(gp), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(gp, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/parsers -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the scan; diff it against a run with -update", gp)
			}
		})
	}
}
