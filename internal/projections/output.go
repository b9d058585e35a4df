package projections

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// round28 rounds d to 28 decimal places when it has more: the only rounding
// the projections do, at emission.
func round28(d decimal.Decimal) decimal.Decimal {
	if d.Exponent() < -divPrecision {
		return d.Round(divPrecision)
	}
	return d
}

func roundBroker(b BrokerSnapshot) BrokerSnapshot {
	for _, p := range []*decimal.Decimal{&b.RealizedGains, &b.RealizedPercentage, &b.UnrealizedGains,
		&b.UnrealizedGainsPercentage, &b.Invested, &b.Commissions, &b.Fees, &b.Deposited, &b.Withdrawn,
		&b.DividendsReceived, &b.OptionsIncome, &b.OtherIncome, &b.NetCashFlow} {
		*p = round28(*p)
	}
	return b
}

func roundTicker(t TickerSnapshot) TickerSnapshot {
	for _, p := range []*decimal.Decimal{&t.TotalShares, &t.Weight, &t.CostBasis, &t.RealCost, &t.Dividends,
		&t.DividendTaxes, &t.Options, &t.TotalIncomes, &t.CapitalDeployed, &t.Realized, &t.Performance,
		&t.Commissions, &t.Fees} {
		*p = round28(*p)
	}
	return t
}

func roundOperation(o Operation) Operation {
	for _, p := range []*decimal.Decimal{&o.Realized, &o.Commissions, &o.Fees, &o.Premium, &o.Dividends,
		&o.DividendTaxes, &o.CapitalDeployed, &o.Performance} {
		*p = round28(*p)
	}
	return o
}

// sorted returns r's rows in the documented order (broker by currency and
// date, tickers by ticker, currency and date, operations by ticker, open date
// and currency), without modifying r.
func sorted(r *Result) (broker []BrokerSnapshot, tickers []TickerSnapshot, ops []Operation) {
	broker = slices.Clone(r.Broker)
	slices.SortStableFunc(broker, func(a, b BrokerSnapshot) int {
		if a.Currency != b.Currency {
			if a.Currency < b.Currency {
				return -1
			}
			return 1
		}
		return int(a.Date) - int(b.Date)
	})
	tickers = slices.Clone(r.Tickers)
	slices.SortStableFunc(tickers, compareTickerRows)
	ops = slices.Clone(r.Operations)
	sortOperations(ops)
	return broker, tickers, ops
}

// WriteJSON writes r in the JSON contract of the projections issue: keys in
// the documented order, decimals as JSON strings (exact, at most 28 decimal
// places), movement_counter an integer, dates YYYY-MM-DD, close_date null
// while open, as_of null when asOf is nil. Rows are sorted as [Result]
// documents. The output is a function of r's values only: equal results give
// byte-identical output.
func WriteJSON(w io.Writer, r *Result, asOf *events.Date) error {
	broker, tickers, ops := sorted(r)
	bw := bufio.NewWriter(w)
	b := make([]byte, 0, 1024)
	b = append(b, `{"account":`...)
	b = appendString(b, r.Account)
	b = append(b, `,"as_of":`...)
	if asOf == nil || asOf.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendString(b, asOf.String())
	}
	b = append(b, ",\n\"broker_snapshots\":["...)
	for i, s := range broker {
		b = appendSep(b, i)
		b = append(b, `{"currency":`...)
		b = appendString(b, s.Currency)
		b = appendDate(b, "date", s.Date)
		b = append(b, `,"movement_counter":`...)
		b = strconv.AppendInt(b, int64(s.MovementCounter), 10)
		b = appendDec(b, "realized_gains", s.RealizedGains)
		b = appendDec(b, "realized_percentage", s.RealizedPercentage)
		b = appendDec(b, "unrealized_gains", s.UnrealizedGains)
		b = appendDec(b, "unrealized_gains_percentage", s.UnrealizedGainsPercentage)
		b = appendDec(b, "invested", s.Invested)
		b = appendDec(b, "commissions", s.Commissions)
		b = appendDec(b, "fees", s.Fees)
		b = appendDec(b, "deposited", s.Deposited)
		b = appendDec(b, "withdrawn", s.Withdrawn)
		b = appendDec(b, "dividends_received", s.DividendsReceived)
		b = appendDec(b, "options_income", s.OptionsIncome)
		b = appendDec(b, "other_income", s.OtherIncome)
		b = appendBool(b, "open_trades", s.OpenTrades)
		b = appendDec(b, "net_cash_flow", s.NetCashFlow)
		b = append(b, '}')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	b = append(b, "],\n\"ticker_snapshots\":["...)
	for i, s := range tickers {
		b = appendSep(b, i)
		b = append(b, `{"ticker":`...)
		b = appendString(b, s.Ticker)
		b = append(b, `,"currency":`...)
		b = appendString(b, s.Currency)
		b = appendDate(b, "date", s.Date)
		b = appendDec(b, "total_shares", s.TotalShares)
		b = appendDec(b, "weight", s.Weight)
		b = appendDec(b, "cost_basis", s.CostBasis)
		b = appendDec(b, "real_cost", s.RealCost)
		b = appendDec(b, "dividends", s.Dividends)
		b = appendDec(b, "dividend_taxes", s.DividendTaxes)
		b = appendDec(b, "options", s.Options)
		b = appendDec(b, "total_incomes", s.TotalIncomes)
		b = appendDec(b, "capital_deployed", s.CapitalDeployed)
		b = appendDec(b, "realized", s.Realized)
		b = appendDec(b, "performance", s.Performance)
		b = appendBool(b, "open_trades", s.OpenTrades)
		b = appendDec(b, "commissions", s.Commissions)
		b = appendDec(b, "fees", s.Fees)
		b = append(b, '}')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	b = append(b, "],\n\"operations\":["...)
	for i, o := range ops {
		b = appendSep(b, i)
		b = append(b, `{"ticker":`...)
		b = appendString(b, o.Ticker)
		b = append(b, `,"currency":`...)
		b = appendString(b, o.Currency)
		b = appendBool(b, "is_open", o.IsOpen)
		b = appendDate(b, "open_date", o.OpenDate)
		b = appendDate(b, "close_date", o.CloseDate)
		b = appendDec(b, "realized", o.Realized)
		b = appendDec(b, "commissions", o.Commissions)
		b = appendDec(b, "fees", o.Fees)
		b = appendDec(b, "premium", o.Premium)
		b = appendDec(b, "dividends", o.Dividends)
		b = appendDec(b, "dividend_taxes", o.DividendTaxes)
		b = appendDec(b, "capital_deployed", o.CapitalDeployed)
		b = appendDec(b, "performance", o.Performance)
		b = append(b, '}')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	b = append(b, "]}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

func appendSep(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return append(b, '\n')
}

func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // a string always marshals
		panic(err)
	}
	return append(b, q...)
}

func appendDate(b []byte, key string, d events.Date) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	if d.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, d.String()...)
	return append(b, '"')
}

func appendDec(b []byte, key string, d decimal.Decimal) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	b = append(b, decString(d)...)
	return append(b, '"')
}

func appendBool(b []byte, key string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// decString prints d exactly (rounded to 28 places if it has more), with no
// exponent and no trailing fractional zeros; zero is "0".
func decString(d decimal.Decimal) string {
	d = round28(d)
	if d.IsZero() {
		return "0"
	}
	return d.String()
}

// WriteTable writes r for a person: one aligned table per projection, money
// with two decimals and percentages with four (the JSON carries the exact
// values).
func WriteTable(w io.Writer, r *Result, asOf *events.Date) error {
	broker, tickers, ops := sorted(r)
	bw := bufio.NewWriter(w)
	asOfText := "-"
	if asOf != nil && !asOf.IsZero() {
		asOfText = asOf.String()
	}
	fmt.Fprintf(bw, "account %s, as of %s\n\n", r.Account, asOfText)

	fmt.Fprintf(bw, "BROKER SNAPSHOTS (%d)\n", len(broker))
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "currency\tdate\tmovements\trealized\trealized %\tunrealized\tunrealized %\tinvested\tcommissions\tfees\tdeposited\twithdrawn\tdividends\toptions\tother\topen\tnet cash flow\t")
	for _, s := range broker {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.Currency, s.Date, s.MovementCounter, money(s.RealizedGains), pct(s.RealizedPercentage),
			money(s.UnrealizedGains), pct(s.UnrealizedGainsPercentage), money(s.Invested), money(s.Commissions),
			money(s.Fees), money(s.Deposited), money(s.Withdrawn), money(s.DividendsReceived),
			money(s.OptionsIncome), money(s.OtherIncome), yesNo(s.OpenTrades), money(s.NetCashFlow))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(bw, "\nTICKER SNAPSHOTS (%d)\n", len(tickers))
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ticker\tcurrency\tdate\tshares\tweight\tcost basis\treal cost\tdividends\tdiv. taxes\toptions\ttotal incomes\tcapital\trealized\tperformance %\topen\tcommissions\tfees\t")
	for _, s := range tickers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.Ticker, s.Currency, s.Date, decString(s.TotalShares), pct(s.Weight), money(s.CostBasis),
			money(s.RealCost), money(s.Dividends), money(s.DividendTaxes), money(s.Options),
			money(s.TotalIncomes), money(s.CapitalDeployed), money(s.Realized), pct(s.Performance),
			yesNo(s.OpenTrades), money(s.Commissions), money(s.Fees))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(bw, "\nOPERATIONS (%d)\n", len(ops))
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ticker\tcurrency\topen\topened\tclosed\trealized\tcommissions\tfees\tpremium\tdividends\tdiv. taxes\tcapital\tperformance %\t")
	for _, o := range ops {
		closed := "-"
		if !o.CloseDate.IsZero() {
			closed = o.CloseDate.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			o.Ticker, o.Currency, yesNo(o.IsOpen), o.OpenDate, closed, money(o.Realized),
			money(o.Commissions), money(o.Fees), money(o.Premium), money(o.Dividends),
			money(o.DividendTaxes), money(o.CapitalDeployed), pct(o.Performance))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

func money(d decimal.Decimal) string { return d.StringFixed(2) }
func pct(d decimal.Decimal) string   { return d.StringFixed(4) }

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
