package projections

import (
	"testing"

	"github.com/foliostream/foliostream/events"
)

// Each test below is named after a rule of spec/snapshots.md; where the spec
// has a worked example (§2.7.6, §5) the numbers are the example's.

const (
	BTO = events.BuyToOpen
	STO = events.SellToOpen
	BTC = events.BuyToClose
	STC = events.SellToClose
)

// §5.4 and §7.1.1: a long option that expires arrives as a BuyToClose with
// premium 0, pairs with its BuyToOpen and realizes 0; the premium paid is
// never realized.
func TestExpiredLongOptionRealizesZero(t *testing.T) {
	var b book
	b.optionRow(t, "2025-08-24T18:00:00", "/MESU5", BTO, events.Call, "6510", "2025-08-25", 1, "-15.75", "0.75", "0.52")
	b.optionRow(t, "2025-08-25T22:00:00", "/MESU5", BTC, events.Call, "6510", "2025-08-25", 1, "0", "0", "0")
	r := Compute("acct", b.ms)

	d1 := brokerRow(t, r, "2025-08-24")
	requireDec(t, "08-24 options income", d1.OptionsIncome, "-15.75")
	requireDec(t, "08-24 net cash flow", d1.NetCashFlow, "-17.02")
	requireBool(t, "08-24 broker open", d1.OpenTrades, true)
	requireDec(t, "08-24 capital deployed", tickerRow(t, r, "/MESU5", "2025-08-24").CapitalDeployed, "651000")

	d2 := brokerRow(t, r, "2025-08-25")
	requireDec(t, "08-25 broker realized", d2.RealizedGains, "0")
	requireBool(t, "08-25 broker open", d2.OpenTrades, false)
	tk := tickerRow(t, r, "/MESU5", "2025-08-25")
	requireDec(t, "08-25 ticker realized", tk.Realized, "0")
	requireBool(t, "08-25 ticker open", tk.OpenTrades, false)
	requireInt(t, "operations", len(r.Operations), 1)
	op := r.Operations[0]
	requireBool(t, "operation open", op.IsOpen, false)
	requireDec(t, "operation realized", op.Realized, "0")
	requireDec(t, "operation premium", op.Premium, "-15.75")
	requireDec(t, "operation performance", op.Performance, "0")
	if op.CloseDate != day(t, "2025-08-25") {
		t.Errorf("close date %s, want 2025-08-25", op.CloseDate)
	}
}

// §2.3: a short option that expires (SellToOpen, then the BuyToClose of the
// expiration row at 0) realizes its whole NetPremium.
func TestExpiredShortOptionRealizesNetPremium(t *testing.T) {
	var b book
	b.optionRow(t, "2024-05-01", "MPW", STO, events.Put, "4", "2024-05-17", 1, "20", "1", "0.14")
	b.optionRow(t, "2024-05-02", "MPW", STO, events.Put, "4", "2024-05-24", 1, "10", "1", "0.14")
	b.optionRow(t, "2024-05-18", "MPW", BTC, events.Put, "4", "2024-05-17", 1, "0", "0", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "realized", tickerRow(t, r, "MPW", "2024-05-18").Realized, "18.86")
	requireDec(t, "broker realized", brokerRow(t, r, "2024-05-18").RealizedGains, "18.86")
}

// §1.3 and §1.7: every option contract whose expiration, strike and type
// match the first adjustment gets the new strike, before linking and any
// calculation, whatever its underlying and its date; the adjustment is not a
// movement and makes no snapshot day.
func TestSpecialDividendStrikeRewrite(t *testing.T) {
	var b book
	// TSLL: STO 36 C 12/20/24 on 12-11; the special dividend on 12-12 moves
	// 36 → 35.70; on 12-13 the position is bought back as the 35.7 C.
	b.optionRow(t, "2024-12-11T20:20:20", "TSLL", STO, events.Call, "36", "2024-12-20", 1, "96", "1", "0.14")
	b.adjust(t, "2024-12-12T12:01:07", "TSLL", events.Call, "2024-12-20", "36", "35.7")
	b.adjust(t, "2024-12-12T12:01:08", "TSLL", events.Call, "2024-12-20", "36", "30") // not the first: ignored
	b.optionRow(t, "2024-12-13", "TSLL", BTC, events.Call, "35.70", "2024-12-20", 1, "-40", "0", "0.14")
	// Another underlying with the same expiration, strike and type is
	// rewritten too (the original does not compare the ticker).
	b.optionRow(t, "2024-12-11T20:30:00", "OTHER", STO, events.Call, "36.00", "2024-12-20", 1, "50", "1", "0.14")
	b.optionRow(t, "2024-12-13", "OTHER", BTC, events.Call, "35.7", "2024-12-20", 1, "-10", "0", "0.14")
	// A different type does not match.
	b.optionRow(t, "2024-12-11T20:40:00", "PUTS", STO, events.Put, "36", "2024-12-20", 1, "30", "1", "0.14")
	b.optionRow(t, "2024-12-13", "PUTS", BTC, events.Put, "35.7", "2024-12-20", 1, "-10", "0", "0.14")
	before := append([]events.Movement(nil), b.ms...)
	r := Compute("acct", b.ms)
	for i := range before {
		if !before[i].Equal(&b.ms[i]) {
			t.Fatalf("Compute modified movement %d: %+v", i, b.ms[i])
		}
	}

	tk := tickerRow(t, r, "TSLL", "2024-12-13")
	requireDec(t, "TSLL realized", tk.Realized, "54.72") // 94.86 − 40.14
	requireBool(t, "TSLL open", tk.OpenTrades, false)
	requireDec(t, "TSLL capital (short call)", tk.CapitalDeployed, "0")
	other := tickerRow(t, r, "OTHER", "2024-12-13")
	requireDec(t, "OTHER realized", other.Realized, "38.72") // 48.86 − 10.14
	requireBool(t, "OTHER open", other.OpenTrades, false)
	puts := tickerRow(t, r, "PUTS", "2024-12-13")
	requireDec(t, "PUTS realized (strike not rewritten, closer ignored)", puts.Realized, "0")
	requireBool(t, "PUTS open", puts.OpenTrades, true)
	requireDec(t, "PUTS capital at the original strike", puts.CapitalDeployed, "3600")

	for _, s := range r.Broker {
		if s.Date == day(t, "2024-12-12") {
			t.Errorf("broker snapshot on 2024-12-12, a day with only strike adjustments")
		}
	}
	requireInt(t, "movement counter", brokerRow(t, r, "2024-12-13").MovementCounter, 6)
}

// §2.2 and §7.1.4 (TSLL 2024-11-07/08, §5.2): sales take their proceeds out
// of the cost pool, and realized uses the previous snapshot's per-share basis.
func TestProceedsBasedCostBasis(t *testing.T) {
	var b book
	b.optionRow(t, "2024-11-06", "TSLL", STO, events.Call, "20", "2024-12-20", 1, "50", "1", "0.14")
	b.stock(t, "2024-11-07T15:00:00", "TSLL", BTO, "500", "16.54", "0", "0.40")
	b.stock(t, "2024-11-07T15:00:01", "TSLL", BTO, "600", "16.55", "0", "0.48")
	b.stock(t, "2024-11-08", "TSLL", STC, "1100", "16.80", "0", "1.58")
	// The proceeds rule in isolation: two lots at 10 and 20, half sold at
	// 30, leaves a pool of 15 × 200 − 30 × 100 = 0 for the other 100 shares.
	b.stock(t, "2024-11-06", "ABC", BTO, "100", "10", "0", "0")
	b.stock(t, "2024-11-07", "ABC", BTO, "100", "20", "0", "0")
	b.stock(t, "2024-11-08", "ABC", STC, "100", "30", "1", "0.5")
	r := Compute("acct", b.ms)

	d7 := tickerRow(t, r, "TSLL", "2024-11-07")
	requireNear(t, "11-07 cost basis", d7.CostBasis, "16.545454545454545454545454545", "1e-26")
	requireDec(t, "11-07 shares", d7.TotalShares, "1100")
	requireDec(t, "11-07 capital", d7.CapitalDeployed, "18200")
	d8 := tickerRow(t, r, "TSLL", "2024-11-08")
	requireNear(t, "11-08 realized", d8.Realized, "278.42", "1e-20")
	requireDec(t, "11-08 cost basis", d8.CostBasis, "0")
	requireDec(t, "11-08 real cost", d8.RealCost, "0")
	requireBool(t, "11-08 open", d8.OpenTrades, true) // the short call is still open

	abc := tickerRow(t, r, "ABC", "2024-11-08")
	requireDec(t, "ABC shares", abc.TotalShares, "100")
	// pool = 15 × 200 − 30 × 100 = 0 (the textbook basis would be 15)
	requireDec(t, "ABC basis after the sale", abc.CostBasis, "0")
	requireDec(t, "ABC realized", abc.Realized, "1498.5") // (30 − 15) × 100 − 1.5
}

// §7.1.5 (MPW 2024-10-10, §5.1): an ACAT receipt is a purchase at price 0:
// zero basis, zero capital, nothing invested; the whole sale is realized.
func TestACATAtZeroBasis(t *testing.T) {
	var b book
	b.optionRow(t, "2024-05-09", "MPW", STO, events.Put, "5", "2024-08-16", 1, "92", "1", "0.14")
	b.stock(t, "2024-05-10T22:00:00", "MPW", BTO, "1000", "0", "0", "0") // ACAT
	b.stock(t, "2024-10-10", "MPW", STC, "1000", "4.95", "1.00", "0.11")
	b.optionRow(t, "2024-10-11", "MPW", BTC, events.Put, "5", "2024-08-16", 1, "-1", "0", "0")
	r := Compute("acct", b.ms)

	d := tickerRow(t, r, "MPW", "2024-05-10")
	requireDec(t, "shares", d.TotalShares, "1000")
	requireDec(t, "cost basis", d.CostBasis, "0")
	requireDec(t, "capital (put only)", d.CapitalDeployed, "500")
	requireDec(t, "real cost", d.RealCost, "-0.09086") // −90.86 / 1000
	bd := brokerRow(t, r, "2024-05-10")
	requireDec(t, "invested", bd.Invested, "0")
	requireDec(t, "unrealized", bd.UnrealizedGains, "0")
	requireBool(t, "broker open (day net +1000)", bd.OpenTrades, true)

	s := tickerRow(t, r, "MPW", "2024-10-10")
	requireDec(t, "realized on the sale", s.Realized, "4948.89")
	requireDec(t, "shares after", s.TotalShares, "0")
	requireBool(t, "ticker open (put still queued)", s.OpenTrades, true)
	requireDec(t, "broker realized", brokerRow(t, r, "2024-10-10").RealizedGains, "4948.89")
}

// §2.4 and §7.1.6: capital deployed is cumulative and never released: long
// options and short puts count strike × 100, short calls 0, stock opens
// |price × qty|, closings 0; Performance = Realized / CapitalDeployed.
func TestCapitalDeployedNeverReleased(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-25", "SOFI", STO, events.Put, "7", "2024-05-03", 1, "35", "1", "0.14")
	b.optionRow(t, "2024-04-26", "SOFI", STO, events.Call, "9", "2024-05-03", 1, "5", "1", "0.14")
	b.optionRow(t, "2024-04-26", "SOFI", BTO, events.Call, "8", "2024-05-03", 2, "-20", "2", "0.28")
	b.stock(t, "2024-04-26", "SOFI", BTO, "10", "7.5", "0", "0")
	b.optionRow(t, "2024-04-29", "SOFI", BTC, events.Put, "7", "2024-05-03", 1, "-17", "0", "0.13")
	b.optionRow(t, "2024-04-29", "SOFI", STO, events.Put, "7", "2024-05-03", 1, "17", "1", "0.14")
	b.stock(t, "2024-04-30", "SOFI", STC, "10", "8", "0", "0")
	r := Compute("acct", b.ms)

	requireDec(t, "04-25", tickerRow(t, r, "SOFI", "2024-04-25").CapitalDeployed, "700")
	requireDec(t, "04-26", tickerRow(t, r, "SOFI", "2024-04-26").CapitalDeployed, "2375") // 700 + 0 + 2×800 + 75
	d29 := tickerRow(t, r, "SOFI", "2024-04-29")
	requireDec(t, "04-29", d29.CapitalDeployed, "3075")
	requireDec(t, "04-29 realized (§5.3 SOFI)", d29.Realized, "16.73")
	requireDec(t, "04-29 performance", d29.Performance, "0.5440650406504065040650406504")
	d30 := tickerRow(t, r, "SOFI", "2024-04-30")
	requireDec(t, "04-30 capital after a sale", d30.CapitalDeployed, "3075")
}

// §3.2 and §7.1.8 (MPW 2024-07-09): the broker's DividendsReceived is net of
// tax, the ticker keeps gross dividends and taxes apart.
func TestBrokerDividendsNetTickerGross(t *testing.T) {
	var b book
	b.stock(t, "2024-05-10", "MPW", BTO, "1000", "0", "0", "0")
	b.dividend(t, "2024-07-09T10:00:00", "MPW", "150")
	b.tax(t, "2024-07-09T10:00:00", "MPW", "22.50")
	r := Compute("acct", b.ms)
	tk := tickerRow(t, r, "MPW", "2024-07-09")
	requireDec(t, "ticker dividends", tk.Dividends, "150")
	requireDec(t, "ticker dividend taxes", tk.DividendTaxes, "22.5")
	requireDec(t, "ticker total incomes", tk.TotalIncomes, "127.5")
	bk := brokerRow(t, r, "2024-07-09")
	requireDec(t, "broker dividends", bk.DividendsReceived, "127.5")
	requireInt(t, "broker movements", bk.MovementCounter, 3)
	requireDec(t, "net cash flow", bk.NetCashFlow, "127.5")
}

// §3.2 and §7.1.9: Invested adds each day's net purchases (cost with fees
// and commissions, FIFO lots over the day's trades) and never decreases.
func TestInvestedNeverDecreases(t *testing.T) {
	var b book
	b.stock(t, "2024-11-07T10:00:00", "TSLL", BTO, "500", "16.54", "0", "0.40")
	b.stock(t, "2024-11-07T10:00:01", "TSLL", BTO, "600", "16.55", "0", "0.48")
	b.stock(t, "2024-11-08", "TSLL", STC, "1100", "16.80", "0", "1.58")
	// A day that buys 100 and sells 40: 60 shares remain of a lot costing
	// 1000 + 1, so Invested grows by 60 × 10.01.
	b.stock(t, "2024-11-11T10:00:00", "XYZ", BTO, "100", "10", "1", "0")
	b.stock(t, "2024-11-11T11:00:00", "XYZ", STC, "40", "11", "0", "0")
	b.stock(t, "2024-11-12", "XYZ", STC, "60", "12", "0", "0")
	r := Compute("acct", b.ms)
	requireNear(t, "11-07 invested", brokerRow(t, r, "2024-11-07").Invested, "18200.88", "1e-20")
	requireNear(t, "11-08 invested (sale)", brokerRow(t, r, "2024-11-08").Invested, "18200.88", "1e-20")
	requireNear(t, "11-11 invested", brokerRow(t, r, "2024-11-11").Invested, "18801.48", "1e-20")
	requireNear(t, "11-12 invested (sale)", brokerRow(t, r, "2024-11-12").Invested, "18801.48", "1e-20")
}

// §3.2 and §7.1.10: with no prices, UnrealizedGains is minus the cost of the
// day's net purchases on trade days and 0 on every other computed day.
func TestUnrealizedIsMinusDayNetPurchases(t *testing.T) {
	var b book
	b.stock(t, "2024-11-07T10:00:00", "TSLL", BTO, "500", "16.54", "0", "0.40")
	b.stock(t, "2024-11-07T10:00:01", "TSLL", BTO, "600", "16.55", "0", "0.48")
	b.stock(t, "2024-11-08", "TSLL", STC, "1100", "16.80", "0", "1.58")
	b.cash(t, "2024-11-09", events.CashDeposit, "1000", "0")
	r := Compute("acct", b.ms)
	requireNear(t, "11-07", brokerRow(t, r, "2024-11-07").UnrealizedGains, "-18200.88", "1e-20")
	requireDec(t, "11-08 (sale)", brokerRow(t, r, "2024-11-08").UnrealizedGains, "0")
	d9 := brokerRow(t, r, "2024-11-09")
	requireDec(t, "11-09 (no trades)", d9.UnrealizedGains, "0")
	requireDec(t, "11-09 net cash flow ignores share trades", d9.NetCashFlow, "997.54")
	requireDec(t, "11-09 unrealized %", d9.UnrealizedGainsPercentage, "0")
}

// §3.2 and §7.1.11: the broker's OpenTrades looks at the day's stock trades
// only (a sell-only day is "open", shares held from earlier days are not),
// plus the options test.
func TestBrokerOpenTradesDayOnlyForStocks(t *testing.T) {
	var b book
	b.stock(t, "2024-05-10", "MPW", BTO, "1000", "0", "0", "0")
	b.optionRow(t, "2024-05-10", "MPW", STO, events.Put, "5", "2024-08-16", 1, "92", "1", "0.14")
	b.optionRow(t, "2024-05-13", "MPW", BTC, events.Put, "5", "2024-08-16", 1, "-70", "0", "0.13")
	b.stock(t, "2024-05-14", "MPW", STC, "1000", "5", "0", "0")
	r := Compute("acct", b.ms)
	requireBool(t, "05-10 (bought today)", brokerRow(t, r, "2024-05-10").OpenTrades, true)
	requireBool(t, "05-13 (shares held, options closed)", brokerRow(t, r, "2024-05-13").OpenTrades, false)
	requireBool(t, "05-13 ticker (shares held)", tickerRow(t, r, "MPW", "2024-05-13").OpenTrades, true)
	requireBool(t, "05-14 (sold everything today)", brokerRow(t, r, "2024-05-14").OpenTrades, true)
	requireBool(t, "05-14 ticker", tickerRow(t, r, "MPW", "2024-05-14").OpenTrades, false)
}

// §3.2 and §7.1.14: MovementCounter counts option contracts, not rows; a
// strike adjustment counts nothing.
func TestMovementCounterCountsContracts(t *testing.T) {
	var b book
	b.optionRow(t, "2024-05-06T10:00:00", "MPW", STO, events.Put, "4", "2024-05-24", 3, "81", "3", "0.40")
	b.optionRow(t, "2024-05-06T10:00:00", "MPW", BTO, events.Put, "3", "2024-05-24", 3, "-30", "3", "0.38")
	b.cash(t, "2024-05-06", events.CashDeposit, "100", "0")
	b.adjust(t, "2024-05-06", "MPW", events.Call, "2024-05-24", "9", "8")
	r := Compute("acct", b.ms)
	bk := brokerRow(t, r, "2024-05-06")
	requireInt(t, "movement counter", bk.MovementCounter, 7)
	// §5.1 MPW 2024-05-06 deltas: options +51, commissions 6, fees 0.78.
	requireDec(t, "options income", bk.OptionsIncome, "51")
	requireDec(t, "commissions", bk.Commissions, "6")
	requireDec(t, "fees", bk.Fees, "0.78")
	requireDec(t, "ticker capital", tickerRow(t, r, "MPW", "2024-05-06").CapitalDeployed, "2100")
}

// §2.1, §3.1 and §7.1.15: snapshots exist on activity days only; AsOf adds
// one carried-forward row per series whose last row is before the as-of day.
func TestCarriedForwardAsOfRows(t *testing.T) {
	var b book
	b.optionRow(t, "2025-08-25", "PFE", BTO, events.Call, "20", "2026-01-16", 1, "-554", "1", "0.12")
	b.stock(t, "2025-08-26", "KO", BTO, "10", "60", "0", "0")
	b.cash(t, "2025-08-27", events.CashDeposit, "5000", "0")
	b.add(events.Movement{Kind: events.KindCash, Time: at(t, "2025-08-27"), Currency: "EUR", CashType: events.CashDeposit, Amount: dec("100")})
	r := Compute("acct", b.ms)

	if got := tickerDates(r, "PFE"); len(got) != 1 {
		t.Errorf("Compute: PFE rows %v, want only its activity day", got)
	}
	requireInt(t, "Compute: broker rows", len(r.Broker), 4) // USD 3 days + EUR 1

	asOf := day(t, "2025-09-30")
	a := r.AsOf(asOf)
	requireInt(t, "AsOf: broker rows", len(a.Broker), 6)
	usd := brokerRowCur(t, a, "USD", "2025-09-30")
	last := brokerRowCur(t, a, "USD", "2025-08-27")
	last.Date = usd.Date
	if usd != last {
		t.Errorf("carried-forward broker row %+v differs from the last row %+v", usd, last)
	}
	brokerRowCur(t, a, "EUR", "2025-09-30")
	pfe := tickerRow(t, a, "PFE", "2025-09-30")
	requireDec(t, "carried PFE options", pfe.Options, "-554")
	tickerRow(t, a, "KO", "2025-09-30")
	requireInt(t, "AsOf: ticker rows", len(a.Tickers), 4)

	// As of the last ticker day, only the tickers without activity that day
	// are carried (the original's "last element of D" rule).
	k := r.AsOf(day(t, "2025-08-26"))
	tickerRow(t, k, "PFE", "2025-08-26")
	requireInt(t, "AsOf(08-26): ticker rows", len(k.Tickers), 3)
	requireInt(t, "AsOf(08-26): broker rows", len(k.Broker), 2)
	if got := jsonOf(t, k, nil); string(got) != string(jsonOf(t, ComputeAsOf("acct", b.ms, day(t, "2025-08-26")), nil)) {
		t.Errorf("Compute().AsOf(08-26) differs from ComputeAsOf(08-26):\n%s", got)
	}
	// AsOf before any activity is empty.
	if e := r.AsOf(day(t, "2025-01-01")); len(e.Broker)+len(e.Tickers)+len(e.Operations) != 0 {
		t.Errorf("AsOf before history: %+v", e)
	}
}

// §2.7.3: the end-of-run carried-forward row UPDATEs every open operation,
// which computes Performance for one whose last action was its CREATE.
func TestCarriedForwardUpdatesOpenOperations(t *testing.T) {
	var b book
	b.optionRow(t, "2025-08-01", "PFE", BTO, events.Call, "20", "2026-01-16", 1, "-554", "1", "0.12")
	b.optionRow(t, "2025-08-02", "PFE", STC, events.Call, "20", "2026-01-16", 1, "600", "1", "0.12")
	// PFE flat; on 08-05 a round trip realizes +8.76 and a new put stays
	// open: a reopening CREATE with a non-zero realized delta.
	b.optionRow(t, "2025-08-05T10:00:00", "PFE", STO, events.Put, "20", "2026-01-16", 1, "10", "1", "0.12")
	b.optionRow(t, "2025-08-05T11:00:00", "PFE", BTC, events.Put, "20", "2026-01-16", 1, "-0", "0", "0.12")
	b.optionRow(t, "2025-08-05T12:00:00", "PFE", STO, events.Put, "19", "2026-01-16", 1, "5", "1", "0.12")
	r := Compute("acct", b.ms)
	requireInt(t, "operations", len(r.Operations), 2)
	op := r.Operations[1]
	requireDec(t, "reopening CREATE realized", op.Realized, "8.76")
	requireDec(t, "CREATE performance", op.Performance, "0")
	requireDec(t, "broker realized", brokerRow(t, r, "2025-08-05").RealizedGains, "52.52") // 43.76 + 8.76

	same := r.AsOf(day(t, "2025-08-05")) // no carried row: nothing changes
	requireDec(t, "AsOf(last day) performance", same.Operations[1].Performance, "0")
	later := r.AsOf(day(t, "2025-09-01"))
	requireDec(t, "AsOf(later) performance", later.Operations[1].Performance, "0.2246153846153846153846153846") // 8.76 / 3900 × 100
	requireDec(t, "closed operation untouched", later.Operations[0].Performance, "2.188")
}

// §3.4: every currency has its own broker series and cumulative sums; a
// ticker traded in two currencies has two series; nothing is converted.
func TestMultiCurrencySeparateSeries(t *testing.T) {
	var b book
	b.cash(t, "2024-01-02", events.CashDeposit, "1000", "0")
	b.add(events.Movement{Kind: events.KindCash, Time: at(t, "2024-01-03"), Currency: "EUR", CashType: events.CashDeposit, Amount: dec("500")})
	b.stock(t, "2024-01-04", "SHEL", BTO, "10", "30", "1", "0")
	b.add(events.Movement{Kind: events.KindStock, Time: at(t, "2024-01-05"), Currency: "EUR", Ticker: "SHEL", Code: BTO,
		Quantity: dec("5"), Price: dec("28"), Commissions: dec("2")})
	r := Compute("acct", b.ms)

	requireDec(t, "USD deposited", brokerRowCur(t, r, "USD", "2024-01-05").Deposited, "1000")
	requireDec(t, "EUR deposited", brokerRowCur(t, r, "EUR", "2024-01-05").Deposited, "500")
	requireDec(t, "EUR invested", brokerRowCur(t, r, "EUR", "2024-01-05").Invested, "142")
	requireDec(t, "USD invested", brokerRowCur(t, r, "USD", "2024-01-05").Invested, "301")
	requireInt(t, "EUR movements", brokerRowCur(t, r, "EUR", "2024-01-05").MovementCounter, 2)
	// USD carried forward on EUR-only days (an exact copy, §3.1).
	c := brokerRowCur(t, r, "USD", "2024-01-03")
	requireDec(t, "USD carried deposited", c.Deposited, "1000")
	usd := tickerRowCur(t, r, "SHEL", "USD", "2024-01-05") // carried: the ticker traded in EUR that day
	requireDec(t, "SHEL USD shares", usd.TotalShares, "10")
	eur := tickerRowCur(t, r, "SHEL", "EUR", "2024-01-05")
	requireDec(t, "SHEL EUR shares", eur.TotalShares, "5")
	requireDec(t, "SHEL EUR cost basis", eur.CostBasis, "28")
	if hasTickerRow(r, "SHEL", day(t, "2024-01-03")) {
		t.Errorf("SHEL has a row on a day without SHEL activity")
	}
	for _, s := range r.Broker {
		if s.Currency == "EUR" && s.Date < day(t, "2024-01-03") {
			t.Errorf("EUR row before its first movement: %v", s.Date)
		}
	}
}

// §2.3 and §7.2.1: the first snapshot of a ticker realizes nothing, so a
// same-day round trip on the ticker's first day is lost.
func TestFirstSnapshotRealizesNothing(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-22T10:00:00", "AMD", STO, events.Put, "100", "2024-05-17", 1, "300", "1", "0.14")
	b.optionRow(t, "2024-04-22T11:00:00", "AMD", BTC, events.Put, "100", "2024-05-17", 1, "-100", "0", "0.14")
	b.stock(t, "2024-04-22T12:00:00", "AMD", BTO, "1", "150", "0", "0")
	b.stock(t, "2024-04-22T13:00:00", "AMD", STC, "1", "160", "0", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "first-day realized", tickerRow(t, r, "AMD", "2024-04-22").Realized, "0")
	requireDec(t, "broker realized", brokerRow(t, r, "2024-04-22").RealizedGains, "0")
}

// §2.3 and §7.2.3: FIFO pairs ignore codes; a BuyToOpen popped by a
// BuyToClose (or a SellToOpen by a SellToClose) gains 0; a closer with an
// empty queue is ignored.
func TestFIFOPairsIgnoreCodes(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-01", "X", STO, events.Put, "10", "2024-06-21", 1, "50", "1", "0")
	b.optionRow(t, "2024-04-02", "X", BTO, events.Put, "10", "2024-06-21", 1, "-40", "1", "0")
	b.optionRow(t, "2024-04-03", "X", STO, events.Put, "10", "2024-06-21", 1, "30", "1", "0")
	// The STC pops the oldest opener, the STO: a pair worth 0.
	b.optionRow(t, "2024-04-04", "X", STC, events.Put, "10", "2024-06-21", 1, "45", "1", "0")
	// The BTC pops the BTO: 0 again.
	b.optionRow(t, "2024-04-05", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	// The next BTC pops the second STO: 29 − 21 = 8.
	b.optionRow(t, "2024-04-08", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	// Nothing left: ignored.
	b.optionRow(t, "2024-04-09", "X", BTC, events.Put, "10", "2024-06-21", 1, "-5", "0", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "04-04", tickerRow(t, r, "X", "2024-04-04").Realized, "0")
	requireDec(t, "04-05", tickerRow(t, r, "X", "2024-04-05").Realized, "0")
	requireDec(t, "04-08", tickerRow(t, r, "X", "2024-04-08").Realized, "8")
	requireDec(t, "04-09", tickerRow(t, r, "X", "2024-04-09").Realized, "8")
}

// §1.6 and §2.5: close linking prefers the opposite side (BuyToClose →
// SellToOpen) and the ticker is open while an opener is unlinked.
func TestCloseLinkingPrefersOppositeSide(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-01", "X", BTO, events.Put, "10", "2024-06-21", 1, "-40", "1", "0")
	b.optionRow(t, "2024-04-02", "X", STO, events.Put, "10", "2024-06-21", 1, "50", "1", "0")
	// Links to the STO (preferred), although the BTO is older; FIFO realized
	// pops the BTO (BTO + BTC = 0).
	b.optionRow(t, "2024-04-03", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	b.optionRow(t, "2024-04-04", "X", STC, events.Put, "10", "2024-06-21", 1, "30", "1", "0")
	r := Compute("acct", b.ms)
	requireBool(t, "04-03 open (the BTO is unlinked)", tickerRow(t, r, "X", "2024-04-03").OpenTrades, true)
	requireDec(t, "04-03 realized", tickerRow(t, r, "X", "2024-04-03").Realized, "0")
	d4 := tickerRow(t, r, "X", "2024-04-04")
	requireBool(t, "04-04 closed", d4.OpenTrades, false)
	requireDec(t, "04-04 realized (STO popped by STC)", d4.Realized, "0")
}

// §2.6 and §7.2.2: realized gains made on a day when the ticker is closed
// before and after reach the ticker but no operation and not the broker.
func TestFlatRoundTripNotInBrokerRealized(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-01", "X", STO, events.Put, "10", "2024-06-21", 1, "50", "1", "0")
	b.optionRow(t, "2024-04-02", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	b.optionRow(t, "2024-04-03T10:00:00", "X", STO, events.Put, "10", "2024-06-21", 1, "50", "1", "0")
	b.optionRow(t, "2024-04-03T11:00:00", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "ticker realized", tickerRow(t, r, "X", "2024-04-03").Realized, "56")
	requireDec(t, "broker realized", brokerRow(t, r, "2024-04-03").RealizedGains, "28")
	requireInt(t, "operations", len(r.Operations), 1)
	requireDec(t, "operation realized", r.Operations[0].Realized, "28")
}

// §2.1 and §7.2.8: a ticker with only dividend taxes gets no snapshot; the
// tax still counts at broker level.
func TestDividendTaxAloneMakesNoTickerSnapshot(t *testing.T) {
	var b book
	b.tax(t, "2024-07-09", "T", "3")
	b.dividend(t, "2024-07-10", "MPW", "10")
	b.tax(t, "2024-07-11", "MPW", "1.5")
	r := Compute("acct", b.ms)
	if got := tickerDates(r, "T"); len(got) != 0 {
		t.Errorf("T rows %v, want none", got)
	}
	requireDec(t, "MPW taxes", tickerRow(t, r, "MPW", "2024-07-11").DividendTaxes, "1.5")
	bk := brokerRow(t, r, "2024-07-11")
	requireDec(t, "broker dividends", bk.DividendsReceived, "5.5")
	requireInt(t, "broker movements", bk.MovementCounter, 3)
	requireBool(t, "MPW open (no position)", tickerRow(t, r, "MPW", "2024-07-10").OpenTrades, false)
	requireInt(t, "operations", len(r.Operations), 0)
}

// §3.3: opening contracts never matched keep the account open after they
// expire (Options sample: SOFI), through the valuation-day rule.
func TestStaleOpenOptionsKeepBrokerOpen(t *testing.T) {
	var b book
	b.optionRow(t, "2024-04-25", "SOFI", STO, events.Put, "7", "2024-05-03", 1, "35", "1", "0.14")
	b.cash(t, "2024-06-03", events.CashDeposit, "10", "0")
	r := Compute("acct", b.ms)
	requireBool(t, "after expiry", brokerRow(t, r, "2024-06-03").OpenTrades, true)

	// The valuation day is the latest expiration of the still-open groups
	// (05-03), not the day of the last contract (05-20): the stale put
	// still counts on 06-01.
	var c book
	c.optionRow(t, "2024-04-25", "SOFI", STO, events.Put, "7", "2024-05-03", 1, "35", "1", "0.14")
	c.optionRow(t, "2024-05-20T10:00:00", "X", STO, events.Put, "10", "2024-06-21", 1, "50", "1", "0")
	c.optionRow(t, "2024-05-20T11:00:00", "X", BTC, events.Put, "10", "2024-06-21", 1, "-20", "1", "0")
	c.cash(t, "2024-06-01", events.CashDeposit, "10", "0")
	requireBool(t, "valuation day from the stale group", brokerRow(t, Compute("acct", c.ms), "2024-06-01").OpenTrades, true)
	// Without the stale group's final-open status (it is closed on 06-02,
	// after the day), the valuation day is the last contract's, 05-20, and
	// the 05-03 put no longer counts on 06-01.
	c.optionRow(t, "2024-06-02", "SOFI", BTC, events.Put, "7", "2024-05-03", 1, "0", "0", "0")
	requireBool(t, "valuation day from the last contract", brokerRow(t, Compute("acct", c.ms), "2024-06-01").OpenTrades, false)

	// Once a closer matches it, a later day is closed.
	b.optionRow(t, "2024-06-04", "SOFI", BTC, events.Put, "7", "2024-05-03", 1, "0", "0", "0")
	b.cash(t, "2024-06-05", events.CashDeposit, "10", "0")
	r = Compute("acct", b.ms)
	requireBool(t, "closed", brokerRow(t, r, "2024-06-05").OpenTrades, false)
}

// §1.4 and §3.2: a Balance Adjustment is a fee of −Value with amount 0;
// interest and lending are other income; withdrawals reduce net cash flow;
// the realized percentage is 0 while net cash flow is not positive.
func TestBrokerCashMovements(t *testing.T) {
	var b book
	b.cash(t, "2024-04-22", events.CashDeposit, "10", "0")
	b.cash(t, "2024-04-27", events.CashFee, "0", "0.02")
	b.cash(t, "2024-04-28", events.CashInterestsGained, "1.5", "0")
	b.cash(t, "2024-04-28", events.CashLending, "0.5", "0")
	b.cash(t, "2024-04-28", events.CashInterestsPaid, "0.25", "0")
	b.cash(t, "2024-04-29", events.CashWithdrawal, "25", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "fees", brokerRow(t, r, "2024-04-27").Fees, "0.02")
	requireDec(t, "net cash flow", brokerRow(t, r, "2024-04-27").NetCashFlow, "9.98")
	requireDec(t, "other income", brokerRow(t, r, "2024-04-28").OtherIncome, "1.75")
	d := brokerRow(t, r, "2024-04-29")
	requireDec(t, "withdrawn", d.Withdrawn, "25")
	requireDec(t, "net cash flow", d.NetCashFlow, "-13.27")
	requireDec(t, "realized % with negative cash flow", d.RealizedPercentage, "0")
}

// §2.7.6, Pfizer: one operation from 08-25 to 10-03 with FIFO gains +189.76
// and −14.24 and Performance 8.776 %.
func TestOperationPfizerExample(t *testing.T) {
	var b book
	b.optionRow(t, "2025-08-25T19:26:41", "PFE", BTO, events.Call, "20", "2026-01-16", 1, "-554", "1", "0.12")
	b.optionRow(t, "2025-10-01T16:16:44", "PFE", STO, events.Call, "27", "2025-10-10", 1, "51", "1", "0.12")
	b.optionRow(t, "2025-10-03T20:55:09", "PFE", STC, events.Call, "20", "2026-01-16", 1, "745", "0", "0.12")
	b.optionRow(t, "2025-10-03T20:55:09", "PFE", BTC, events.Call, "27", "2025-10-10", 1, "-64", "0", "0.12")
	r := Compute("acct", b.ms)
	requireInt(t, "operations", len(r.Operations), 1)
	op := r.Operations[0]
	requireBool(t, "is open", op.IsOpen, false)
	if op.OpenDate != day(t, "2025-08-25") || op.CloseDate != day(t, "2025-10-03") {
		t.Errorf("dates %s – %s", op.OpenDate, op.CloseDate)
	}
	requireDec(t, "realized", op.Realized, "175.52")
	requireDec(t, "commissions", op.Commissions, "2")
	requireDec(t, "fees", op.Fees, "0.48")
	requireDec(t, "premium", op.Premium, "178")
	requireDec(t, "capital", op.CapitalDeployed, "2000")
	requireDec(t, "performance", op.Performance, "8.776")
	bk := brokerRow(t, r, "2025-10-03")
	requireDec(t, "broker realized", bk.RealizedGains, "175.52")
	requireInt(t, "broker movements", bk.MovementCounter, 4)
	requireDec(t, "broker realized %", bk.RealizedPercentage, "100")
	requireBool(t, "broker open", bk.OpenTrades, false)
}

// §7.2.7 deviation: a conversion deposits the amount received in its
// currency once and withdraws the amount given from the source currency.
func TestConversionMovesBetweenCurrencies(t *testing.T) {
	var b book
	b.add(events.Movement{Kind: events.KindCash, Time: at(t, "2023-02-27"), Currency: "GBP", CashType: events.CashDeposit, Amount: dec("348.8")})
	b.add(events.Movement{Kind: events.KindConversion, Time: at(t, "2023-02-28"), Currency: "USD", FromCurrency: "GBP",
		Amount: dec("417.0705"), AmountChanged: dec("345"), Commissions: dec("1.993341262")})
	r := Compute("acct", b.ms)
	usd := brokerRowCur(t, r, "USD", "2023-02-28")
	requireDec(t, "USD deposited", usd.Deposited, "417.0705")
	requireDec(t, "USD commissions", usd.Commissions, "1.993341262")
	requireInt(t, "USD movements", usd.MovementCounter, 1)
	gbp := brokerRowCur(t, r, "GBP", "2023-02-28")
	requireDec(t, "GBP withdrawn", gbp.Withdrawn, "345")
	requireDec(t, "GBP net cash flow", gbp.NetCashFlow, "3.8")
	requireInt(t, "GBP movements", gbp.MovementCounter, 1)
}

// §0: decimals are exact; a value with more than 28 decimal places is
// rounded to 28 at emission only.
func TestExactDecimalsRoundedAtEmission(t *testing.T) {
	var b book
	b.optionRow(t, "2024-05-01", "MPW", STO, events.Put, "4", "2024-05-17", 3, "0.37", "0", "0")
	b.stock(t, "2024-05-02", "IP", BTO, "5.4725", "36.3", "0", "0")
	b.stock(t, "2024-05-03", "IP", BTO, "3", "1", "0", "0")
	b.stock(t, "2024-05-06", "IP", STC, "0.1234567", "40", "0", "0")
	r := Compute("acct", b.ms)
	requireDec(t, "options (3 × 0.37/3)", tickerRow(t, r, "MPW", "2024-05-01").Options, "0.3699999999999999999999999999")
	for _, s := range r.Tickers {
		for _, v := range []string{s.CostBasis.String(), s.Realized.String(), s.RealCost.String()} {
			if dec(v).Exponent() < -28 {
				t.Errorf("%s %s: %s has more than 28 places", s.Ticker, s.Date, v)
			}
		}
	}
	ip := tickerRow(t, r, "IP", "2024-05-06")
	if ip.Realized.IsZero() || ip.Realized.Exponent() != -28 {
		t.Errorf("IP realized %s: want a non-zero value rounded to 28 places", ip.Realized)
	}
}

// Movements of kinds the projections do not know are ignored: they count
// nothing and make no snapshot day.
func TestUnknownKindsAreIgnored(t *testing.T) {
	var b book
	b.cash(t, "2024-01-02", events.CashDeposit, "10", "0")
	b.add(events.Movement{Kind: events.Kind("future_kind"), Time: at(t, "2024-01-03"), Ticker: "X", Amount: dec("5")})
	r := Compute("acct", b.ms)
	requireInt(t, "broker rows", len(r.Broker), 1)
	requireInt(t, "ticker rows", len(r.Tickers), 0)
}
