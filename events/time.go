package events

import (
	"fmt"
	"strconv"
	"time"
)

// WallTime is a naive wall-clock timestamp with one-second resolution: the date
// and time digits exactly as a statement writes them, with any UTC offset
// dropped (spec/parsers.md §1.3). It counts seconds since 1970-01-01T00:00:00
// read as if the wall clock were UTC. The zero value means "not set".
type WallTime int64

// WallTimeLayout is the text form of a [WallTime].
const WallTimeLayout = "2006-01-02T15:04:05"

// WallTimeOf returns the wall-clock reading of t, ignoring t's location.
func WallTimeOf(t time.Time) WallTime {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return WallTime(time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix())
}

// Time returns w as a time.Time in UTC (the zone the wall clock is read in).
func (w WallTime) Time() time.Time { return time.Unix(int64(w), 0).UTC() }

// Day returns the calendar day of w: the day a movement belongs to.
func (w WallTime) Day() Date { return DateOf(w.Time()) }

// IsZero reports whether w is unset.
func (w WallTime) IsZero() bool { return w == 0 }

// String formats w as YYYY-MM-DDTHH:MM:SS.
func (w WallTime) String() string { return w.Time().Format(WallTimeLayout) }

// ParseWallTime parses YYYY-MM-DDTHH:MM:SS.
func ParseWallTime(s string) (WallTime, error) {
	t, err := time.Parse(WallTimeLayout, s)
	if err != nil {
		return 0, fmt.Errorf("events: wall time %q: %w", s, err)
	}
	return WallTimeOf(t), nil
}

// MarshalText implements encoding.TextMarshaler.
func (w WallTime) MarshalText() ([]byte, error) {
	if w.IsZero() {
		return []byte{}, nil
	}
	return []byte(w.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (w *WallTime) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*w = 0
		return nil
	}
	v, err := ParseWallTime(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Date is a calendar day written as the integer YYYYMMDD (20250825). It orders
// and compares like the day it names. The zero value means "no date".
type Date int32

// DateLayout is the text form of a [Date].
const DateLayout = "2006-01-02"

// NewDate returns the Date for year y, month m, day d.
func NewDate(y int, m time.Month, d int) Date { return Date(y*10000 + int(m)*100 + d) }

// DateOf returns the calendar day of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return 0, fmt.Errorf("events: date %q: %w", s, err)
	}
	return DateOf(t), nil
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time {
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, time.UTC)
}

// AddDays returns d moved by n calendar days.
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == 0 }

// ISOWeek returns the ISO 8601 week of d as "YYYY-Www" (weeks run Monday to
// Sunday; the year is the ISO week-numbering year).
func (d Date) ISOWeek() string {
	y, w := d.Time().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	b := make([]byte, 0, 10)
	b = appendPadded(b, int(d)/10000, 4)
	b = append(b, '-')
	b = appendPadded(b, int(d)/100%100, 2)
	b = append(b, '-')
	b = appendPadded(b, int(d)%100, 2)
	return string(b)
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// DaysIn is the number of days of month m (1–12) of year y, proleptic
// Gregorian: what the decoders and parsers check a day of the month
// against without going through time.Time.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
