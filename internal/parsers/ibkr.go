package parsers

import (
	"errors"
	"io"

	"github.com/foliostream/foliostream/events"
)

// IBKR parses Interactive Brokers activity statements (spec/parsers.md §2.5).
type IBKR struct{}

// Broker implements Parser.
func (IBKR) Broker() string { return events.BrokerIBKR }

// Scan implements Parser.
func (IBKR) Scan(r io.Reader, opts Options, fn func(*Record) error) error {
	return errors.New("parsers: ibkr: not implemented yet")
}
