package parsers

import (
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
)

// TestValidDateCalendar checks ttValidDate's day-of-month rule
// (events.DaysIn) against the time package's calendar over every month of
// the years around MinYear and MaxYear and the century leap-year rules.
func TestValidDateCalendar(t *testing.T) {
	for _, y := range []int{1, 1899, 1900, 1901, 1904, 1999, 2000, 2023, 2024, 2025, 2100, 2400, 2999, 3000} {
		for m := -1; m <= 14; m++ {
			for d := -1; d <= 33; d++ {
				got, ok := ttValidDate(y, m, d)
				wantOK := m >= 1 && m <= 12 && d >= 1 && plausibleYear(y) &&
					time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() == d
				if ok != wantOK || ok && got != events.NewDate(y, time.Month(m), d) {
					t.Fatalf("ttValidDate(%d, %d, %d) = %v, %v; want ok %v", y, m, d, got, ok, wantOK)
				}
			}
		}
	}
}
