// Package synth writes deterministic synthetic broker statements: Tastytrade
// transaction histories and IBKR activity statements of any size, for
// benchmarks and for the end-to-end and performance tests of the pipeline.
//
// The output is a pure function of [Config]: the same configuration always
// writes the same bytes (math/rand/v2 PCG streams seeded from Config.Seed; no
// clock, no global state). It is realistic and consistent, so the projections
// can run on it: the account is funded before anything is bought, shares are
// bought before they are sold and never sold short, every option is opened
// before it is closed or expires, dividends and their withholding tax are
// paid only on tickers held at the time, and interest, fees, balance
// adjustments, lending income, currency conversions (IBKR), multi-contract
// rows and identical duplicate fills appear at realistic rates.
//
// # How it stays streaming
//
// The history is a set of independent lanes, each a ticker position traded
// in back-to-back windows of a few weeks (an episode: buy then sell, with
// maybe a dividend in between; or open an option then close it or let it
// expire), plus a money lane (deposits, interest, fees, ...). Everything
// that happens on a trading day is a function of (seed, lane, episode) and
// (seed, day) alone, so any day can be generated on its own, in any order:
// Tastytrade files are written newest day first, IBKR files section by
// section and symbol by symbol, and memory holds one day's rows and one
// cached episode per lane, whatever the number of rows.
package synth

import (
	"errors"
	"fmt"
	"time"

	"github.com/foliostream/foliostream/events"
)

// Config says what to generate.
type Config struct {
	// Seed selects the history; the same Seed (and other fields) gives
	// byte-identical output.
	Seed uint64
	// Rows is the number of transaction rows to write: rows that become
	// movements (IBKR statements carry further header, total and summary
	// rows, counted in Stats.Ignored).
	Rows int
	// Start is the first day of the history (it moves to the next weekday
	// if it falls on a weekend); zero means 2024-01-02.
	Start events.Date
	// Tickers is the number of distinct stock tickers; 0 means 20.
	Tickers int
	// RowsPerDay is the average number of rows per trading day once every
	// lane has started; 0 means 200.
	RowsPerDay int
}

// Defaults.
const (
	DefaultTickers    = 20
	DefaultRowsPerDay = 200
	maxTickers        = 5000
	maxRowsPerDay     = 100000
)

// DefaultStart is the Start used when Config.Start is zero.
var DefaultStart = events.NewDate(2024, time.January, 2)

// ErrConfig: a Config that cannot be used.
var ErrConfig = errors.New("synth: bad config")

func (c Config) withDefaults() (Config, error) {
	if c.Rows < 0 || c.Tickers < 0 || c.RowsPerDay < 0 {
		return c, fmt.Errorf("%w: negative Rows, Tickers or RowsPerDay", ErrConfig)
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if _, err := events.ParseDate(c.Start.String()); err != nil {
		return c, fmt.Errorf("%w: start %d: %w", ErrConfig, c.Start, err)
	}
	if c.Tickers == 0 {
		c.Tickers = DefaultTickers
	}
	if c.RowsPerDay == 0 {
		c.RowsPerDay = DefaultRowsPerDay
	}
	if c.Tickers > maxTickers || c.RowsPerDay > maxRowsPerDay {
		return c, fmt.Errorf("%w: at most %d tickers and %d rows per day", ErrConfig, maxTickers, maxRowsPerDay)
	}
	return c, nil
}

// Stats describes what a generator wrote: what the parsers must read back.
type Stats struct {
	// Rows is the number of transaction rows (Config.Rows).
	Rows int
	// Ignored is the number of data rows the parser reports as ignored
	// (IBKR statement details, total rows, summaries); 0 for Tastytrade.
	Ignored int
	// Movements counts the movements the parser produces, by kind (an
	// option row of N contracts is N movements).
	Movements map[events.Kind]int
	// First and Last are the days of the first and last transaction rows
	// (zero when Rows is 0).
	First, Last events.Date
}

// Total returns the number of movements of every kind.
func (s *Stats) Total() int {
	n := 0
	for _, v := range s.Movements {
		n += v
	}
	return n
}
