package clickhouse

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// scale is the number of fractional digits of the Decimal(38, 10) columns.
const scale = 10

var (
	// limit bounds the magnitude of a Decimal(38, 10) value (exclusive).
	limit    = decimal.New(1, 38-scale)
	negLimit = limit.Neg()
)

// exactWriter builds one row's decimal column values and its exact column.
// The zero value is ready; reset it between rows.
type exactWriter struct {
	b   strings.Builder
	err error
}

func (w *exactWriter) reset() {
	w.b.Reset()
	w.err = nil
}

// put returns the column value of d, field's value in the row: d itself when
// it has at most scale fractional digits, otherwise d rounded half away from
// zero, and then d's exact digits are recorded for the exact column.
func (w *exactWriter) put(field string, d decimal.Decimal) decimal.Decimal {
	col := d
	if d.Exponent() < -scale {
		col = d.Round(scale)
		if !col.Equal(d) {
			if w.b.Len() == 0 {
				w.b.WriteByte('{')
			} else {
				w.b.WriteByte(',')
			}
			// Field names are fixed identifiers and decimal strings hold
			// only digits, '-' and '.': no JSON escaping is needed.
			w.b.WriteByte('"')
			w.b.WriteString(field)
			w.b.WriteString(`":"`)
			w.b.WriteString(d.String())
			w.b.WriteByte('"')
		}
	}
	if w.err == nil && (col.Cmp(limit) >= 0 || col.Cmp(negLimit) <= 0) {
		w.err = fmt.Errorf("%w: %s = %s (the columns hold less than 10^%d)", ErrOutOfRange, field, d, 38-scale)
	}
	return col
}

// exact returns the row's exact column: "" when every value fit its column.
func (w *exactWriter) exact() string {
	if w.b.Len() == 0 {
		return ""
	}
	return w.b.String() + "}"
}

// exactReader restores exact values from a row's exact column.
type exactReader map[string]string

func parseExact(s string) (exactReader, error) {
	if s == "" {
		return nil, nil
	}
	var r exactReader
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("exact column %q: %w", s, err)
	}
	return r, nil
}

// get returns field's exact value if the row recorded one, col otherwise.
func (r exactReader) get(field string, col decimal.Decimal) (decimal.Decimal, error) {
	s, ok := r[field]
	if !ok {
		return col, nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return col, fmt.Errorf("exact %s %q: %w", field, s, err)
	}
	return d, nil
}
