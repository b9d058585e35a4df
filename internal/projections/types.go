// Package projections computes an account's daily broker financial snapshots,
// daily ticker snapshots and trading operations from its movements, by the
// rules of spec/snapshots.md (the original application's phase 2). It is pure
// and deterministic: the same set of movements, in any order, gives the same
// result; time enters only as an explicit as-of date.
package projections

import (
	"github.com/foliostream/foliostream/events"
	"github.com/shopspring/decimal"
)

// BrokerSnapshot is one (currency, day) row of an account's broker financial
// snapshots. Money fields are cumulative unless the spec says otherwise.
type BrokerSnapshot struct {
	Currency                  string          `json:"currency"`
	Date                      events.Date     `json:"date"`
	MovementCounter           int             `json:"movement_counter"`
	RealizedGains             decimal.Decimal `json:"realized_gains"`
	RealizedPercentage        decimal.Decimal `json:"realized_percentage"`
	UnrealizedGains           decimal.Decimal `json:"unrealized_gains"`
	UnrealizedGainsPercentage decimal.Decimal `json:"unrealized_gains_percentage"`
	Invested                  decimal.Decimal `json:"invested"`
	Commissions               decimal.Decimal `json:"commissions"`
	Fees                      decimal.Decimal `json:"fees"`
	Deposited                 decimal.Decimal `json:"deposited"`
	Withdrawn                 decimal.Decimal `json:"withdrawn"`
	DividendsReceived         decimal.Decimal `json:"dividends_received"`
	OptionsIncome             decimal.Decimal `json:"options_income"`
	OtherIncome               decimal.Decimal `json:"other_income"`
	OpenTrades                bool            `json:"open_trades"`
	NetCashFlow               decimal.Decimal `json:"net_cash_flow"`
}

// TickerSnapshot is one (ticker, currency, day) row of the ticker snapshots.
type TickerSnapshot struct {
	Ticker          string          `json:"ticker"`
	Currency        string          `json:"currency"`
	Date            events.Date     `json:"date"`
	TotalShares     decimal.Decimal `json:"total_shares"`
	Weight          decimal.Decimal `json:"weight"`
	CostBasis       decimal.Decimal `json:"cost_basis"`
	RealCost        decimal.Decimal `json:"real_cost"`
	Dividends       decimal.Decimal `json:"dividends"`
	DividendTaxes   decimal.Decimal `json:"dividend_taxes"`
	Options         decimal.Decimal `json:"options"`
	TotalIncomes    decimal.Decimal `json:"total_incomes"`
	CapitalDeployed decimal.Decimal `json:"capital_deployed"`
	Realized        decimal.Decimal `json:"realized"`
	Performance     decimal.Decimal `json:"performance"`
	OpenTrades      bool            `json:"open_trades"`
	Commissions     decimal.Decimal `json:"commissions"`
	Fees            decimal.Decimal `json:"fees"`
}

// Operation is a trading period on one ticker (spec/snapshots.md §2.7).
type Operation struct {
	Ticker          string          `json:"ticker"`
	Currency        string          `json:"currency"`
	IsOpen          bool            `json:"is_open"`
	OpenDate        events.Date     `json:"open_date"`
	CloseDate       events.Date     `json:"close_date"` // zero (JSON null) while open
	Realized        decimal.Decimal `json:"realized"`
	Commissions     decimal.Decimal `json:"commissions"`
	Fees            decimal.Decimal `json:"fees"`
	Premium         decimal.Decimal `json:"premium"`
	Dividends       decimal.Decimal `json:"dividends"`
	DividendTaxes   decimal.Decimal `json:"dividend_taxes"`
	CapitalDeployed decimal.Decimal `json:"capital_deployed"`
	Performance     decimal.Decimal `json:"performance"`
}

// Result is an account's projections. Broker rows are sorted by (currency,
// date), ticker rows by (ticker, currency, date), operations by (ticker,
// open date, currency).
type Result struct {
	Account    string           `json:"account"`
	Broker     []BrokerSnapshot `json:"broker_snapshots"`
	Tickers    []TickerSnapshot `json:"ticker_snapshots"`
	Operations []Operation      `json:"operations"`
}
