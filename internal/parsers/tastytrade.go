package parsers

import (
	"errors"
	"io"

	"github.com/foliostream/foliostream/events"
)

// Tastytrade parses Tastytrade transaction-history CSVs (spec/parsers.md §1).
type Tastytrade struct{}

// Broker implements Parser.
func (Tastytrade) Broker() string { return events.BrokerTastytrade }

// Scan implements Parser.
func (Tastytrade) Scan(r io.Reader, opts Options, fn func(*Record) error) error {
	return errors.New("parsers: tastytrade: not implemented yet")
}
