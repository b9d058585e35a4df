package parsers

import (
	"errors"
	"strings"
	"testing"
)

// TestInvalidTextAndImplausibleDates checks, for both parsers, that text
// which is not UTF-8 and dates outside [MinYear, MaxYear] are row errors
// naming the line, not movements (found by FuzzIBKR: a description byte
// 0xC7 became a ticker that JSON would have rewritten on the wire).
func TestInvalidTextAndImplausibleDates(t *testing.T) {
	const ttHeader = "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n"
	const ttGood = "2024-05-10T10:00:00+0100,Money Movement,Deposit,,,,ACH DEPOSIT,100.00,0,,--,0.00,,,,,,,,100.00,USD\n"
	const ibHeader = "Statement,Header,Field Name,Field Value\nDividends,Header,Currency,Date,Description,Amount\n"
	tests := []struct {
		name   string
		p      Parser
		input  string
		want   error
		column string
	}{
		{"tastytrade valid row", Tastytrade{}, ttHeader + ttGood, nil, ""},
		{"tastytrade description not UTF-8", Tastytrade{}, ttHeader + strings.Replace(ttGood, "ACH DEPOSIT", "ACH \xc7", 1), ErrInvalidUTF8, "Description"},
		{"tastytrade year 0000", Tastytrade{}, ttHeader + strings.Replace(ttGood, "2024-05-10", "0000-05-10", 1), ErrBadDate, "Date"},
		{"tastytrade year 3024", Tastytrade{}, ttHeader + strings.Replace(ttGood, "2024-05-10", "3024-05-10", 1), ErrBadDate, "Date"},
		{"ibkr valid dividend", IBKR{}, ibHeader + "Dividends,Data,USD,2024-05-10,AAPL(US0378331005) Cash Dividend,10\n", nil, ""},
		{"ibkr description not UTF-8", IBKR{}, ibHeader + "Dividends,Data,USD,2024-05-10,\xc7,10\n", ErrInvalidUTF8, "ticker"},
		{"ibkr year 0000", IBKR{}, ibHeader + "Dividends,Data,USD,0000-01-10,AAPL(US0378331005) Cash Dividend,10\n", ErrBadDate, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(tt.p, strings.NewReader(tt.input), Options{Account: "a"})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want == nil {
				if len(res.RowErrors) != 0 || len(res.Movements) != 1 {
					t.Fatalf("got %d movements and row errors %v, want 1 movement", len(res.Movements), res.RowErrors)
				}
				return
			}
			if len(res.Movements) != 0 || len(res.RowErrors) != 1 {
				t.Fatalf("got %d movements and %d row errors, want 0 and 1", len(res.Movements), len(res.RowErrors))
			}
			re := res.RowErrors[0]
			if !errors.Is(re.Err, tt.want) && !errors.Is(&re, tt.want) {
				t.Errorf("row error %v, want %v", &re, tt.want)
			}
			if re.Line < 2 {
				t.Errorf("row error names line %d", re.Line)
			}
			if tt.column != "" && re.Column != tt.column {
				t.Errorf("row error column %q, want %q", re.Column, tt.column)
			}
		})
	}
}
