package events

import "github.com/shopspring/decimal"

// Fields is a set of a [Movement]'s fields, for a reader of an account's
// history that needs only some of them: phase 2's close linking reads six
// of the 28, and a store that is asked for fewer columns reads and decodes
// less. The identity and order fields (ID, Account, Kind, Time, Seq, Part)
// are always delivered and are not in the set. The zero Fields means every
// field.
type Fields uint32

// The fields a [Fields] set can hold, one bit each.
const (
	FieldBroker Fields = 1 << iota
	FieldOffset
	FieldLine
	FieldCurrency
	FieldTicker
	FieldCashType
	FieldCode
	FieldQuantity
	FieldPrice
	FieldAmount
	FieldCommissions
	FieldFees
	FieldOptionType
	FieldStrike
	FieldNewStrike
	FieldExpiration
	FieldPremium
	FieldNetPremium
	FieldMultiplier
	FieldFromCurrency
	FieldAmountChanged
	FieldNotes

	// AllFields is every field; the zero Fields means the same.
	AllFields = FieldNotes<<1 - 1
)

// Has reports whether f holds every field of g (always, for the zero
// Fields, which means every field).
func (f Fields) Has(g Fields) bool { return f == 0 || f&g == g }

// Trim sets m's fields that f does not hold to their zero values, leaving
// the identity and order fields: what a scan of f delivers.
func (f Fields) Trim(m *Movement) {
	if f == 0 || f&AllFields == AllFields {
		return
	}
	str := func(g Fields, s *string) {
		if !f.Has(g) {
			*s = ""
		}
	}
	num := func(g Fields, d *decimal.Decimal) {
		if !f.Has(g) {
			*d = decimal.Decimal{}
		}
	}
	str(FieldBroker, &m.Broker)
	str(FieldOffset, &m.Offset)
	if !f.Has(FieldLine) {
		m.Line = 0
	}
	str(FieldCurrency, &m.Currency)
	str(FieldTicker, &m.Ticker)
	if !f.Has(FieldCashType) {
		m.CashType = ""
	}
	if !f.Has(FieldCode) {
		m.Code = ""
	}
	num(FieldQuantity, &m.Quantity)
	num(FieldPrice, &m.Price)
	num(FieldAmount, &m.Amount)
	num(FieldCommissions, &m.Commissions)
	num(FieldFees, &m.Fees)
	if !f.Has(FieldOptionType) {
		m.OptionType = ""
	}
	num(FieldStrike, &m.Strike)
	num(FieldNewStrike, &m.NewStrike)
	if !f.Has(FieldExpiration) {
		m.Expiration = 0
	}
	num(FieldPremium, &m.Premium)
	num(FieldNetPremium, &m.NetPremium)
	num(FieldMultiplier, &m.Multiplier)
	str(FieldFromCurrency, &m.FromCurrency)
	num(FieldAmountChanged, &m.AmountChanged)
	str(FieldNotes, &m.Notes)
}
