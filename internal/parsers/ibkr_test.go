package parsers_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/shopspring/decimal"
)

const ibAccount = "test-acct"

// Header rows of the inline statements (the layouts of the samples and of
// IBKR's standard cash sections).
const (
	ibStatement    = "Statement,Header,Field Name,Field Value\n"
	ibTradesHeader = "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,C. Price,Proceeds,Comm/Fee,Basis,Realized P/L,Realized P/L %,MTM P/L,Code\n"
	ibForexHeader  = "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,,Proceeds,Comm in USD,,,,MTM in USD,Code\n"
	ibDWHeader     = "Deposits & Withdrawals,Header,Currency,Settle Date,Description,Amount\n"
	ibDivHeader    = "Dividends,Header,Currency,Date,Description,Amount\n"
	ibWHTHeader    = "Withholding Tax,Header,Currency,Date,Description,Amount,Code\n"
	ibIntHeader    = "Interest,Header,Currency,Date,Description,Amount\n"
	ibFeesHeader   = "Fees,Header,Subtitle,Currency,Date,Description,Amount\n"
	ibFIIHeader    = "Financial Instrument Information,Header,Asset Category,Symbol,Description,Conid,Security ID,Listing Exch,Multiplier,Type,Code\n"
)

// ibD parses a decimal literal of a test table ("" is zero).
func ibD(s string) decimal.Decimal {
	if s == "" {
		return decimal.Decimal{}
	}
	return decimal.RequireFromString(s)
}

// ibT parses a wall-clock time literal of a test table.
func ibT(s string) events.WallTime {
	w, err := events.ParseWallTime(s)
	if err != nil {
		panic(err)
	}
	return w
}

func ibStock(ts, ccy, ticker string, code events.TradeCode, qty, price, comm, notes string) events.Movement {
	return events.Movement{Kind: events.KindStock, Time: ibT(ts), Currency: ccy, Ticker: ticker, Code: code,
		Quantity: ibD(qty), Price: ibD(price), Commissions: ibD(comm), Notes: notes}
}

func ibConv(ts, ccy, amount, from, changed, comm, notes string) events.Movement {
	return events.Movement{Kind: events.KindConversion, Time: ibT(ts), Currency: ccy, Amount: ibD(amount),
		FromCurrency: from, AmountChanged: ibD(changed), Commissions: ibD(comm), Notes: notes}
}

func ibCash(ts, ccy string, typ events.CashType, amount, fees, comm, notes string) events.Movement {
	return events.Movement{Kind: events.KindCash, Time: ibT(ts), Currency: ccy, CashType: typ, Amount: ibD(amount),
		Fees: ibD(fees), Commissions: ibD(comm), Notes: notes}
}

func ibDividend(ts string, kind events.Kind, ccy, ticker, amount, notes string) events.Movement {
	return events.Movement{Kind: kind, Time: ibT(ts), Currency: ccy, Ticker: ticker, Amount: ibD(amount), Notes: notes}
}

// ibOpt is one option contract: part n of a row.
func ibOpt(ts, ccy, ticker string, code events.TradeCode, typ events.OptionType, strike, expiry string,
	premium, net, comm, mult string, part int, notes string) events.Movement {
	exp, err := events.ParseDate(expiry)
	if err != nil {
		panic(err)
	}
	return events.Movement{Kind: events.KindOption, Time: ibT(ts), Currency: ccy, Ticker: ticker, Code: code,
		Quantity: ibD("1"), OptionType: typ, Strike: ibD(strike), Expiration: exp, Premium: ibD(premium),
		NetPremium: ibD(net), Commissions: ibD(comm), Multiplier: ibD(mult), Part: part, Notes: notes}
}

// ibContracts repeats an option contract for parts 1..n.
func ibContracts(n int, m events.Movement) []events.Movement {
	out := make([]events.Movement, n)
	for i := range out {
		out[i] = m
		out[i].Part = i + 1
	}
	return out
}

func ibJoin(ms ...any) []events.Movement {
	var out []events.Movement
	for _, m := range ms {
		switch v := m.(type) {
		case events.Movement:
			out = append(out, v)
		case []events.Movement:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("ibJoin: %T", m))
		}
	}
	return out
}

type ibWantErr struct {
	line   int
	column string
	value  string
	err    error
}

type ibWantIgnored struct {
	line     int
	contains string
}

// ibScanned is everything one Scan handed over, in order.
type ibScanned struct {
	movements []events.Movement
	errs      []parsers.RowError
	ignored   []parsers.Ignored
	lines     []int // line of every record
}

var ibIDPattern = regexp.MustCompile(`^[0-9a-f]{32}:(cash|stock|option|dividend|dividend_tax|conversion):[0-9]+$`)

// ibScanAll scans a statement and checks the per-record invariants: exactly
// one outcome per record, increasing lines, and movements that carry the
// record's line, the account, the broker and a well-formed ID.
func ibScanAll(t testing.TB, input, account string) (*ibScanned, error) {
	t.Helper()
	var out ibScanned
	err := parsers.IBKR{}.Scan(strings.NewReader(input), parsers.Options{Account: account}, func(rec *parsers.Record) error {
		outcomes := 0
		if len(rec.Movements) > 0 {
			outcomes++
		}
		if rec.Err != nil {
			outcomes++
		}
		if rec.Ignored != "" {
			outcomes++
		}
		if outcomes != 1 {
			t.Errorf("line %d: record has %d outcomes, want exactly 1: %+v", rec.Line, outcomes, rec)
		}
		if rec.Line <= 0 {
			t.Errorf("record without a line: %+v", rec)
		}
		if n := len(out.lines); n > 0 && rec.Line <= out.lines[n-1] {
			t.Errorf("record line %d after line %d", rec.Line, out.lines[n-1])
		}
		out.lines = append(out.lines, rec.Line)
		for _, m := range rec.Movements {
			if m.Line != rec.Line || m.Account != account || m.Broker != events.BrokerIBKR {
				t.Errorf("line %d: movement line %d, account %q, broker %q", rec.Line, m.Line, m.Account, m.Broker)
			}
			if !ibIDPattern.MatchString(m.ID) || !strings.HasSuffix(m.ID, fmt.Sprintf(":%s:%d", m.Kind, m.Part)) {
				t.Errorf("line %d: malformed movement ID %q (kind %s, part %d)", rec.Line, m.ID, m.Kind, m.Part)
			}
			out.movements = append(out.movements, m)
		}
		if rec.Err != nil {
			if rec.Err.Line != rec.Line {
				t.Errorf("row error line %d in a record of line %d", rec.Err.Line, rec.Line)
			}
			out.errs = append(out.errs, *rec.Err)
		}
		if rec.Ignored != "" {
			out.ignored = append(out.ignored, parsers.Ignored{Line: rec.Line, Reason: rec.Ignored})
		}
		return nil
	})
	return &out, err
}

// ibStrip clears the fields a test table does not spell out (checked by
// ibScanAll instead).
func ibStrip(m events.Movement) events.Movement {
	m.ID, m.Account, m.Broker, m.Line, m.Seq = "", "", "", 0, 0
	return m
}

func TestIBKRRows(t *testing.T) {
	const at = "2023-03-01T10:00:00"
	tests := []struct {
		name    string
		in      string // after the Statement header (line 1)
		want    []events.Movement
		errs    []ibWantErr
		ignored []ibWantIgnored
	}{
		{
			name: "stock buy, opening code",
			in:   ibTradesHeader + `Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",10,150.25,151,-1502.5,-1,1503.5,0,0,7.5,O;P` + "\n",
			want: ibJoin(ibStock(at, "USD", "AAPL", events.BuyToOpen, "10", "150.25", "1", "O;P")),
		},
		{
			name: "stock sell, closing code",
			in:   ibTradesHeader + `Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",-4,160,160,640,-1.05,-601,39,0,0,C` + "\n",
			want: ibJoin(ibStock(at, "USD", "AAPL", events.SellToClose, "4", "160", "1.05", "C")),
		},
		{
			name: "short sale and cover by code",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,TSLA,"2023-03-01, 10:00:00",-5,200,200,1000,-1,0,0,0,0,O` + "\n" +
				`Trades,Data,Order,Stocks,USD,TSLA,"2023-03-02, 10:00:00",5,190,190,-950,-1,0,50,0,0,C;P` + "\n",
			want: ibJoin(
				ibStock(at, "USD", "TSLA", events.SellToOpen, "5", "200", "1", "O"),
				ibStock("2023-03-02T10:00:00", "USD", "TSLA", events.BuyToClose, "5", "190", "1", "C;P")),
		},
		{
			name: "no code or both codes: buy opens, sell closes",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",-1,100,,100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",-2,100,,200,0,,,,,C;O` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",2,100,,-200,0,,,,,O;C` + "\n",
			want: ibJoin(
				ibStock(at, "USD", "AAPL", events.BuyToOpen, "1", "100", "", ""),
				ibStock(at, "USD", "AAPL", events.SellToClose, "1", "100", "", ""),
				ibStock(at, "USD", "AAPL", events.SellToClose, "2", "100", "", "C;O"),
				ibStock(at, "USD", "AAPL", events.BuyToOpen, "2", "100", "", "O;C")),
		},
		{
			name: "price from proceeds when T. Price is missing or zero",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,ABC,"2023-03-01, 10:00:00",3,,,-100,-1,,,,,O` + "\n" +
				`Trades,Data,Order,Stocks,USD,ABC,"2023-03-01, 10:00:00",4,0,,-100,-1,,,,,O` + "\n" +
				`Trades,Data,Order,Stocks,USD,ABC,"2023-03-01, 10:00:00",4,,,,0,,,,,O` + "\n",
			want: ibJoin(
				ibStock(at, "USD", "ABC", events.BuyToOpen, "3", "33.3333333333333333333333333333", "1", "O"),
				ibStock(at, "USD", "ABC", events.BuyToOpen, "4", "25", "1", "O"),
				ibStock(at, "USD", "ABC", events.BuyToOpen, "4", "0", "", "O")),
		},
		{
			name: "thousands separators, dashes, trailing spaces",
			in:   ibTradesHeader + `Trades,Data,Order,Stocks ,USD, LLOY ,"2023-03-01, 10:00:00","1,000",1.5,,"-1,500.00",--,,,,,O ` + "\n",
			want: ibJoin(ibStock(at, "USD", "LLOY", events.BuyToOpen, "1000", "1.5", "", "O")),
		},
		{
			name: "other date forms",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,AAPL,2023-03-01 10:00:00,1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,2023-03-01,1,100,,-100,0,,,,,` + "\n",
			want: ibJoin(
				ibStock(at, "USD", "AAPL", events.BuyToOpen, "1", "100", "", ""),
				ibStock("2023-03-01T00:00:00", "USD", "AAPL", events.BuyToOpen, "1", "100", "", "")),
		},
		{
			name: "commission in another currency is its own fee",
			in:   ibForexHeader + `Trades,Data,Order,Stocks,GBP,LLOY,"2023-03-01, 10:00:00",1000,0.485,,-485,-2.5,,,,,O` + "\n",
			want: ibJoin(
				ibStock(at, "GBP", "LLOY", events.BuyToOpen, "1000", "0.485", "", "O"),
				ibCash(at, "USD", events.CashFee, "", "", "2.5", "Commission: LLOY")),
		},
		{
			name: "forex: selling the base currency",
			in:   ibForexHeader + `Trades,Data,Order,Forex,USD,GBP.USD,"2023-02-28, 05:39:25",-345,1.2089,,417.0705,-1.993341262,,,,2.277,` + "\n",
			want: ibJoin(ibConv("2023-02-28T05:39:25", "USD", "417.0705", "GBP", "345", "1.993341262", "Forex: GBP.USD")),
		},
		{
			name: "forex: buying the base currency, commission in the quote currency",
			in:   ibForexHeader + `Trades,Data,Order,Forex,USD,EUR.USD,"2023-03-01, 10:00:00",500,1.0576,,-528.8,-2,,,,,` + "\n",
			want: ibJoin(
				ibConv(at, "EUR", "500", "USD", "528.8", "", "Forex: EUR.USD"),
				ibCash(at, "USD", events.CashFee, "", "", "2", "Commission: EUR.USD")),
		},
		{
			name: "forex under a Comm/Fee header, amount from T. Price",
			in: ibTradesHeader +
				`Trades,Data,Order,Forex,USD,GBP.USD,"2023-03-01, 10:00:00",-345,1.2089,,417.0705,-1.99,,,,,` + "\n" +
				`Trades,Data,Order,Forex,,GBP.USD,"2023-03-01, 10:00:00",-100,1.2,,,,,,,,` + "\n",
			want: ibJoin(
				ibConv(at, "USD", "417.0705", "GBP", "345", "1.99", "Forex: GBP.USD"),
				ibConv(at, "USD", "120", "GBP", "100", "", "Forex: GBP.USD")),
		},
		{
			name: "several sub-tables in one section",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,IP,"2023-02-28, 09:30:00",5.4725,36.546043856,36.39,-199.998225,-1,200.998225,0,0,-0.8539,FPA;FPA;O;P` + "\n" +
				`Trades,SubTotal,,Stocks,USD,IP,,5.4725,,,-199.998225,-1,200.998225,0,0.00,-0.8539,` + "\n" +
				`Trades,Total,,Stocks,USD,,,,,,-409.996438,-2,411.996438,0,,2.2934, ` + "\n" +
				ibForexHeader +
				`Trades,Data,Order,Forex,USD,GBP.USD,"2023-02-28, 05:39:25",-345,1.2089,,417.0705,-1.993341262,,,,2.277,` + "\n" +
				ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,NWN,"2023-02-28, 09:30:01",4.4093,47.626202118,48.34,-209.998213,-1,210.998213,0,0,3.1473,FPA;FPA;O;P` + "\n",
			want: ibJoin(
				ibStock("2023-02-28T09:30:00", "USD", "IP", events.BuyToOpen, "5.4725", "36.546043856", "1", "FPA;FPA;O;P"),
				ibConv("2023-02-28T05:39:25", "USD", "417.0705", "GBP", "345", "1.993341262", "Forex: GBP.USD"),
				ibStock("2023-02-28T09:30:01", "USD", "NWN", events.BuyToOpen, "4.4093", "47.626202118", "1", "FPA;FPA;O;P")),
		},
		{
			name: "option sold to open, one record per contract",
			in:   ibTradesHeader + `Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",-2,2.5,,500,-2.1,,,,,O` + "\n",
			want: ibContracts(2, ibOpt(at, "USD", "AAPL", events.SellToOpen, events.Call, "150", "2023-03-17", "250", "248.95", "1.05", "100", 0, "O")),
		},
		{
			name: "option expiry closes at premium 0",
			in:   ibTradesHeader + `Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-17, 16:20:00",2,0,,0,0,,,,,C;Ep` + "\n",
			want: ibContracts(2, ibOpt("2023-03-17T16:20:00", "USD", "AAPL", events.BuyToClose, events.Call, "150", "2023-03-17", "0", "0", "0", "100", 0, "C;Ep")),
		},
		{
			name: "long option bought and sold",
			in: ibTradesHeader +
				`Trades,Data,Order,Equity and Index Options,USD,BRK B 21APR23 300.5 P,"2023-03-01, 10:00:00",1,1.2,,-120,-0.65,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,BRK B 21APR23 300.5 P,"2023-03-02, 10:00:00",-1,1.5,,150,-0.65,,,,,C` + "\n",
			want: ibJoin(
				ibOpt(at, "USD", "BRK B", events.BuyToOpen, events.Put, "300.5", "2023-04-21", "-120", "-120.65", "0.65", "100", 1, "O"),
				ibOpt("2023-03-02T10:00:00", "USD", "BRK B", events.SellToClose, events.Put, "300.5", "2023-04-21", "150", "149.35", "0.65", "100", 1, "C")),
		},
		{
			name: "option multiplier from an earlier instrument row; premium from T. Price",
			in: ibFIIHeader +
				`Financial Instrument Information,Data,Equity and Index Options,XSP 17MAR23 400 P,XSP 17MAR23 400 P,1,,CBOE,10,P,` + "\n" +
				ibTradesHeader +
				`Trades,Data,Order,Equity and Index Options,USD,XSP 17MAR23 400 P,"2023-03-01, 10:00:00",1,5,,-50,-1,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,XSP 17MAR23 400 P,"2023-03-01, 10:00:00",-1,5,,,-1,,,,,C` + "\n",
			want: ibJoin(
				ibOpt(at, "USD", "XSP", events.BuyToOpen, events.Put, "400", "2023-03-17", "-50", "-51", "1", "10", 1, "O"),
				ibOpt(at, "USD", "XSP", events.SellToClose, events.Put, "400", "2023-03-17", "50", "49", "1", "10", 1, "C")),
			ignored: []ibWantIgnored{{3, "Financial Instrument Information: summary section"}},
		},
		{
			name: "fractional contracts",
			in: ibTradesHeader +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",0.5,1,,-50,0,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",2.5,1,,-250,0,,,,,O` + "\n",
			want:    ibContracts(2, ibOpt(at, "USD", "AAPL", events.BuyToOpen, events.Call, "150", "2023-03-17", "-100", "-100", "0", "100", 0, "O")),
			ignored: []ibWantIgnored{{3, "less than one contract"}},
		},
		{
			name: "option errors",
			in: ibTradesHeader +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 150 C,"2023-03-01, 10:00:00",1,1,,-100,0,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 31FEB23 150 C,"2023-03-01, 10:00:00",1,1,,-100,0,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 X,"2023-03-01, 10:00:00",1,1,,-100,0,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",20000,1,,-100,0,,,,,O` + "\n" +
				`Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",1,,,,0,,,,,O` + "\n",
			errs: []ibWantErr{
				{3, "Symbol", "AAPL 150 C", parsers.ErrUnsupported},
				{4, "Symbol", "AAPL 31FEB23 150 C", parsers.ErrUnsupported},
				{5, "Symbol", "AAPL 17MAR23 150 X", parsers.ErrUnsupported},
				{6, "Quantity", "20000", parsers.ErrUnsupported},
				{7, "Proceeds", "", parsers.ErrShortRow},
			},
		},
		{
			name: "discriminators and asset categories",
			in: ibTradesHeader +
				`Trades,Data,ClosedLot,Stocks,USD,AAPL,2023-01-05,-1,100,,,,,,,,` + "\n" +
				`Trades,Data,Execution,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Summary,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Futures,USD,ESH3,"2023-03-01, 10:00:00",1,4000,,0,-2,,,,,O` + "\n" +
				`Trades,Data,Trade,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,0,,,,,` + "\n",
			want: ibJoin(ibStock(at, "USD", "AAPL", events.BuyToOpen, "1", "100", "", "")),
			errs: []ibWantErr{
				{5, "DataDiscriminator", "Summary", parsers.ErrUnknownType},
				{6, "Asset Category", "Futures", parsers.ErrUnsupported},
			},
			ignored: []ibWantIgnored{{3, "ClosedLot"}, {4, "Execution"}},
		},
		{
			name: "no DataDiscriminator column",
			in: "Trades,Header,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,Proceeds,Comm/Fee,Code\n" +
				`Trades,Data,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,-100,-1,O` + "\n",
			want: ibJoin(ibStock(at, "USD", "AAPL", events.BuyToOpen, "1", "100", "1", "O")),
		},
		{
			name: "deposits and withdrawals by sign",
			in: ibDWHeader +
				"Deposits & Withdrawals,Data,GBP,2023-02-28,Electronic Fund Transfer,348.8\n" +
				"Deposits & Withdrawals,Data,USD,2023-03-02,Disbursement Initiated by John Doe,-100\n" +
				"Deposits & Withdrawals,Data,Total,,,248.8\n" +
				"Deposits & Withdrawals,Data,Total in USD,,,319.36\n",
			want: ibJoin(
				ibCash("2023-02-28T00:00:00", "GBP", events.CashDeposit, "348.8", "", "", "Electronic Fund Transfer"),
				ibCash("2023-03-02T00:00:00", "USD", events.CashWithdrawal, "100", "", "", "Disbursement Initiated by John Doe")),
			ignored: []ibWantIgnored{{5, "total row"}, {6, "total row"}},
		},
		{
			name: "dividends, reversals, payments in lieu",
			in: ibDivHeader +
				"Dividends,Data,USD,2023-03-10,AAPL(US0378331005) Cash Dividend USD 0.23 per Share (Ordinary Dividend),2.3\n" +
				"Dividends,Data,USD,2023-03-11,AAPL(US0378331005) Cash Dividend USD 0.23 per Share (Ordinary Dividend),-2.3\n" +
				"Dividends,Data,EUR,2023-03-12,SAP Cash Dividend EUR 2.05,20.5\n" +
				"Dividends,Data,Total,,,20.5\n" +
				"Payment In Lieu Of Dividends,Header,Currency,Date,Description,Amount\n" +
				"Payment In Lieu Of Dividends,Data,USD,2023-03-10,MSFT(US5949181045) Payment in Lieu of Dividend (Ordinary Dividend),6.8\n",
			want: ibJoin(
				ibDividend("2023-03-10T00:00:00", events.KindDividend, "USD", "AAPL", "2.3", "AAPL(US0378331005) Cash Dividend USD 0.23 per Share (Ordinary Dividend)"),
				ibDividend("2023-03-11T00:00:00", events.KindDividend, "USD", "AAPL", "-2.3", "AAPL(US0378331005) Cash Dividend USD 0.23 per Share (Ordinary Dividend)"),
				ibDividend("2023-03-12T00:00:00", events.KindDividend, "EUR", "SAP", "20.5", "SAP Cash Dividend EUR 2.05"),
				ibDividend("2023-03-10T00:00:00", events.KindDividend, "USD", "MSFT", "6.8", "MSFT(US5949181045) Payment in Lieu of Dividend (Ordinary Dividend)")),
			ignored: []ibWantIgnored{{6, "total row"}},
		},
		{
			name: "withholding tax and refunds",
			in: ibWHTHeader +
				"Withholding Tax,Data,USD,2023-03-10,AAPL(US0378331005) Cash Dividend USD 0.23 per Share - US Tax,-0.35,\n" +
				"Withholding Tax,Data,USD,2023-03-20,AAPL(US0378331005) Cash Dividend USD 0.23 per Share - US Tax,0.35,Re\n",
			want: ibJoin(
				ibDividend("2023-03-10T00:00:00", events.KindDividendTax, "USD", "AAPL", "0.35", "AAPL(US0378331005) Cash Dividend USD 0.23 per Share - US Tax"),
				ibDividend("2023-03-20T00:00:00", events.KindDividendTax, "USD", "AAPL", "-0.35", "AAPL(US0378331005) Cash Dividend USD 0.23 per Share - US Tax")),
		},
		{
			name: "interest by sign",
			in: ibIntHeader +
				"Interest,Data,USD,2023-03-03,USD Credit Interest for Feb-2023,1.23\n" +
				"Interest,Data,EUR,2023-03-03,EUR Debit Interest for Feb-2023,-4.56\n" +
				"Interest,Data,Total Interest in USD,,,-3.7\n",
			want: ibJoin(
				ibCash("2023-03-03T00:00:00", "USD", events.CashInterestsGained, "1.23", "", "", "USD Credit Interest for Feb-2023"),
				ibCash("2023-03-03T00:00:00", "EUR", events.CashInterestsPaid, "4.56", "", "", "EUR Debit Interest for Feb-2023")),
			ignored: []ibWantIgnored{{5, "total row"}},
		},
		{
			name: "fees and fee refunds",
			in: ibFeesHeader +
				"Fees,Data,Other Fees,USD,2023-03-03,Market data fee,-10\n" +
				"Fees,Data,Other Fees,USD,2023-03-04,Market data fee refund,2\n" +
				"Fees,Data,Total,,,,-8\n",
			want: ibJoin(
				ibCash("2023-03-03T00:00:00", "USD", events.CashFee, "", "10", "", "Market data fee"),
				ibCash("2023-03-04T00:00:00", "USD", events.CashFee, "", "-2", "", "Market data fee refund")),
			ignored: []ibWantIgnored{{5, "total row"}},
		},
		{
			name: "sections that are not imported",
			in: "Account Information,Header,Field Name,Field Value\n" +
				"Account Information,Data,Base Currency,USD\n" +
				`"Location of Customer Assets, Positions and Money",Header,Asset Category,Country` + "\n" +
				`"Location of Customer Assets, Positions and Money",Data,Stocks,Holland Clearing House "HCH"` + "\n" +
				"Mystery,Header,A,B\n" +
				"Mystery,Data,1,2\n" +
				"Corporate Actions,Header,Asset Category,Currency,Report Date,Date/Time,Description,Quantity,Proceeds,Value,Realized P/L,Code\n" +
				"Corporate Actions,Data,Stocks,USD,2023-03-01,2023-03-01,AAPL split 4 for 1,30,0,0,0,\n" +
				"Open Positions,Header,DataDiscriminator,Asset Category,Currency,Symbol,Quantity,Mult\n" +
				"Open Positions,Data,Summary,Stocks,USD,AAPL,10,1\n" +
				"Codes,Data,O,Opening Trade\n" +
				"Legal Notes,Header,\n" +
				`Legal Notes,Data,,"This statement is for informational purposes only..."` + "\n" +
				"Notes,Notes,anything\n",
			ignored: []ibWantIgnored{
				{3, "Account Information: skipped for privacy"},
				{5, "Location of Customer Assets, Positions and Money: skipped for privacy"},
				{7, "Mystery: unknown section"},
				{9, "Corporate Actions: not imported"},
				{11, "Open Positions: summary section"},
				{12, "Codes: summary section"},
				{14, "Legal Notes: skipped for privacy"},
			},
		},
		{
			name: "bad dates",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,AAPL,2023-03-01T10:00:00,1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-02-30, 10:00:00",1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 24:00:00",1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,,1,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"March 1, 2023",1,100,,-100,0,,,,,` + "\n" +
				ibDWHeader +
				"Deposits & Withdrawals,Data,USD,01/03/2023,Deposit,1\n",
			errs: []ibWantErr{
				{3, "Date/Time", "2023-03-01T10:00:00", parsers.ErrBadDate},
				{4, "Date/Time", "2023-02-30, 10:00:00", parsers.ErrBadDate},
				{5, "Date/Time", "2023-03-01, 24:00:00", parsers.ErrBadDate},
				{6, "Date/Time", "", parsers.ErrBadDate},
				{7, "Date/Time", "March 1, 2023", parsers.ErrBadDate},
				{9, "Settle Date", "01/03/2023", parsers.ErrBadDate},
			},
		},
		{
			name: "bad numbers",
			in: ibTradesHeader +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1e5,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,(100),,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,12%,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,$100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",0,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",-,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1.2.3,100,,-100,0,,,,,` + "\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,",",,-100,0,,,,,` + "\n" +
				ibDWHeader +
				"Deposits & Withdrawals,Data,USD,2023-03-01,Deposit,one\n",
			errs: []ibWantErr{
				{3, "Quantity", "1e5", parsers.ErrBadNumber},
				{4, "T. Price", "(100)", parsers.ErrBadNumber},
				{5, "Comm/Fee", "12%", parsers.ErrBadNumber},
				{6, "Proceeds", "$100", parsers.ErrBadNumber},
				{7, "Quantity", "", parsers.ErrBadNumber},
				{8, "Quantity", "0", parsers.ErrBadNumber},
				{9, "Quantity", "-", parsers.ErrBadNumber},
				{10, "Quantity", "1.2.3", parsers.ErrBadNumber},
				{11, "T. Price", ",", parsers.ErrBadNumber}, // regression: a lone separator panicked
				{13, "Amount", "one", parsers.ErrBadNumber},
			},
		},
		{
			name: "layout errors",
			in: `Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",1,100,,-100,0,,,,,` + "\n" +
				"Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Proceeds\n" +
				`Trades,Data,Order,Stocks,USD,AAPL,"2023-03-01, 10:00:00",-100` + "\n" +
				ibTradesHeader +
				"Trades,Data,Order,Stocks,USD,AAPL\n" +
				"Trades,Data,Order,,USD,AAPL\n" +
				"Trades,Foo,1,2\n" +
				"garbage\n" +
				ibDWHeader +
				"Deposits & Withdrawals,Data,,2023-03-01,Deposit,1\n" +
				ibDivHeader +
				"Dividends,Data,USD,2023-03-10,(US0378331005) Cash Dividend,1\n" +
				ibForexHeader +
				`Trades,Data,Order,Forex,USD,GBPUSD,"2023-03-01, 10:00:00",-345,1.2089,,417.0705,-1.99,,,,,` + "\n",
			errs: []ibWantErr{
				{2, "", "Trades", parsers.ErrUnknownType},
				{4, "Quantity", "", parsers.ErrShortRow},
				{6, "Date/Time", "", parsers.ErrShortRow},
				{7, "Asset Category", "", parsers.ErrShortRow},
				{8, "", "Foo", parsers.ErrUnknownType},
				{9, "", "garbage", parsers.ErrShortRow},
				{11, "Currency", "", parsers.ErrShortRow},
				{13, "Description", "(US0378331005) Cash Dividend", parsers.ErrUnsupported},
				{15, "Symbol", "GBPUSD", parsers.ErrUnsupported},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ibScanAll(t, ibStatement+tt.in, ibAccount)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if len(got.movements) != len(tt.want) {
				t.Errorf("got %d movements, want %d", len(got.movements), len(tt.want))
			}
			for i := range min(len(got.movements), len(tt.want)) {
				if g := ibStrip(got.movements[i]); !g.Equal(&tt.want[i]) {
					t.Errorf("movement %d:\ngot  %+v\nwant %+v", i, g, tt.want[i])
				}
			}
			if len(got.errs) != len(tt.errs) {
				t.Errorf("got %d row errors, want %d: %v", len(got.errs), len(tt.errs), got.errs)
			}
			for i := range min(len(got.errs), len(tt.errs)) {
				g, w := got.errs[i], tt.errs[i]
				if g.Line != w.line || g.Column != w.column || g.Value != w.value || !errors.Is(&g, w.err) {
					t.Errorf("row error %d: got %v\nwant line %d, column %q, value %q, %v", i, &g, w.line, w.column, w.value, w.err)
				}
			}
			// Every data row not listed as ignored is one of the others.
			if len(got.ignored) != len(tt.ignored) {
				t.Errorf("got %d ignored rows, want %d: %v", len(got.ignored), len(tt.ignored), got.ignored)
			}
			for i := range min(len(got.ignored), len(tt.ignored)) {
				g, w := got.ignored[i], tt.ignored[i]
				if g.Line != w.line || !strings.Contains(g.Reason, w.contains) {
					t.Errorf("ignored %d: got line %d %q, want line %d containing %q", i, g.Line, g.Reason, w.line, w.contains)
				}
			}
		})
	}
}
