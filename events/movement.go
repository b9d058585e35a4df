package events

import (
	"cmp"

	"github.com/shopspring/decimal"
)

// Broker names a statement format.
const (
	BrokerTastytrade = "tastytrade"
	BrokerIBKR       = "ibkr"
)

// Kind is what a movement is. The first six are the kinds of spec/parsers.md
// §6.2; [KindStrikeAdjustment] is a derived fact carried on the stream.
type Kind string

const (
	// KindCash is a cash movement of the account (see [CashType]).
	KindCash Kind = "cash"
	// KindStock is a stock trade.
	KindStock Kind = "stock"
	// KindOption is one option contract: a row of N contracts is N movements.
	KindOption Kind = "option"
	// KindDividend is a gross dividend received on a ticker.
	KindDividend Kind = "dividend"
	// KindDividendTax is tax withheld on a dividend (a positive cost).
	KindDividendTax Kind = "dividend_tax"
	// KindConversion is a currency conversion: Amount received in Currency,
	// AmountChanged given in FromCurrency.
	KindConversion Kind = "conversion"
	// KindStrikeAdjustment is a special-dividend strike adjustment
	// (spec/parsers.md §1.7) derived from a pair of Tastytrade "Special
	// Dividend" rows. It is not a movement of money or positions: the
	// projections apply it to the matching option contracts of the account
	// (Strike → NewStrike) and it never counts as a movement.
	KindStrikeAdjustment Kind = "strike_adjustment"
)

// Kinds lists every kind in a fixed order (for reports).
var Kinds = []Kind{KindCash, KindStock, KindOption, KindDividend, KindDividendTax, KindConversion, KindStrikeAdjustment}

// Counts reports whether movements of kind k count as movements (every kind
// but [KindStrikeAdjustment]).
func (k Kind) Counts() bool { return k != KindStrikeAdjustment }

// CashType says what a [KindCash] movement is.
type CashType string

const (
	CashDeposit           CashType = "deposit"
	CashWithdrawal        CashType = "withdrawal"
	CashFee               CashType = "fee"
	CashInterestsGained   CashType = "interests_gained"
	CashInterestsPaid     CashType = "interests_paid"
	CashLending           CashType = "lending"
	CashACATMoneyReceived CashType = "acat_money_received"
	CashACATMoneySent     CashType = "acat_money_sent"
)

// TradeCode is the code of a stock or option trade.
type TradeCode string

const (
	BuyToOpen   TradeCode = "buy_to_open"
	SellToOpen  TradeCode = "sell_to_open"
	BuyToClose  TradeCode = "buy_to_close"
	SellToClose TradeCode = "sell_to_close"
)

// Opening reports whether c opens a position.
func (c TradeCode) Opening() bool { return c == BuyToOpen || c == SellToOpen }

// BuySide reports whether c buys (BuyToOpen, BuyToClose).
func (c TradeCode) BuySide() bool { return c == BuyToOpen || c == BuyToClose }

// OptionType is call or put.
type OptionType string

const (
	Call OptionType = "call"
	Put  OptionType = "put"
)

// Movement is one domain movement parsed from one statement row. A row yields
// zero, one or (for options, one per contract) several movements. Fields that
// do not apply to a kind are zero. All amounts are exact decimals, signs as
// documented per field; costs (Commissions, Fees, dividend tax Amount) are
// positive.
//
// Identity: ID is deterministic (spec/parsers.md §6.2): the same row of the
// same account always yields the same ID, in any file that contains it.
// Ordering: [Compare] orders movements by Time, then Seq, then Part, then ID.
type Movement struct {
	// ID is "<row id>:<kind>:<part>" where the row id is 32 hex characters.
	ID      string `json:"id"`
	Account string `json:"account"`
	Broker  string `json:"broker"`
	Kind    Kind   `json:"kind"`
	// Time is the statement's wall-clock timestamp; Time.Day() is the day the
	// movement belongs to. Offset is the UTC offset as written ("+0100"), or
	// empty when the statement gives none; it is informational only.
	Time   WallTime `json:"time"`
	Offset string   `json:"offset,omitempty"`
	// Seq is the row's position among the rows of its statement that carry the
	// same Time, in file order, from 0. It breaks timestamp ties the way the
	// original's stable sort does, and is the same in every export containing
	// that second.
	Seq int `json:"seq,omitempty"`
	// Part is n of N for the option contracts of one row (1..N), 0 otherwise.
	Part int `json:"part,omitempty"`
	// Line is the 1-based line of the row in the file it was first read from.
	// Diagnostic only: not part of identity.
	Line int `json:"line,omitempty"`

	Currency string `json:"currency"`
	// Ticker is the symbol for stock, option, dividend and tax movements, and
	// the option root for a strike adjustment.
	Ticker   string    `json:"ticker,omitempty"`
	CashType CashType  `json:"cash_type,omitempty"`
	Code     TradeCode `json:"code,omitempty"`

	// Quantity: shares for stock trades (positive), 1 for an option contract.
	Quantity decimal.Decimal `json:"quantity,omitzero"`
	// Price: per-share price for stock trades (positive).
	Price decimal.Decimal `json:"price,omitzero"`
	// Amount: cash, dividend, tax and conversion amounts (positive); for a
	// strike adjustment the value of the position it moved.
	Amount      decimal.Decimal `json:"amount,omitzero"`
	Commissions decimal.Decimal `json:"commissions,omitzero"`
	Fees        decimal.Decimal `json:"fees,omitzero"`

	// Option contract fields (and the contract a strike adjustment applies to).
	OptionType OptionType      `json:"option_type,omitempty"`
	Strike     decimal.Decimal `json:"strike,omitzero"`
	NewStrike  decimal.Decimal `json:"new_strike,omitzero"`
	Expiration Date            `json:"expiration,omitzero"`
	// Premium is the signed per-contract premium (received +, paid −);
	// NetPremium the same after this contract's commissions and fees.
	Premium    decimal.Decimal `json:"premium,omitzero"`
	NetPremium decimal.Decimal `json:"net_premium,omitzero"`
	Multiplier decimal.Decimal `json:"multiplier,omitzero"`

	// Conversion: AmountChanged given in FromCurrency for Amount in Currency.
	FromCurrency  string          `json:"from_currency,omitempty"`
	AmountChanged decimal.Decimal `json:"amount_changed,omitzero"`

	Notes string `json:"notes,omitempty"`
}

// Compare orders movements canonically: by Time, then Seq, then Part, then ID.
// It is the order every projection processes movements in, so the result never
// depends on the order movements arrived in.
func Compare(a, b *Movement) int {
	if c := cmp.Compare(a.Time, b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Seq, b.Seq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Part, b.Part); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Equal reports whether a and b carry the same values (decimals compared by
// value, not by representation).
func (m *Movement) Equal(o *Movement) bool {
	return m.ID == o.ID && m.Account == o.Account && m.Broker == o.Broker && m.Kind == o.Kind &&
		m.Time == o.Time && m.Offset == o.Offset && m.Seq == o.Seq && m.Part == o.Part && m.Line == o.Line &&
		m.Currency == o.Currency && m.Ticker == o.Ticker && m.CashType == o.CashType && m.Code == o.Code &&
		m.Quantity.Equal(o.Quantity) && m.Price.Equal(o.Price) && m.Amount.Equal(o.Amount) &&
		m.Commissions.Equal(o.Commissions) && m.Fees.Equal(o.Fees) &&
		m.OptionType == o.OptionType && m.Strike.Equal(o.Strike) && m.NewStrike.Equal(o.NewStrike) &&
		m.Expiration == o.Expiration && m.Premium.Equal(o.Premium) && m.NetPremium.Equal(o.NetPremium) &&
		m.Multiplier.Equal(o.Multiplier) && m.FromCurrency == o.FromCurrency &&
		m.AmountChanged.Equal(o.AmountChanged) && m.Notes == o.Notes
}
