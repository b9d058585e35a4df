package projections

import (
	"cmp"
	"slices"
)

// Sink receives an account's projection rows as they are computed. Broker
// and ticker rows come in date order within their series, the series
// interleaved; each operation comes once, when it is final (closed, or still
// open at the end), with seq its position in the emission order. Sorting
// operations by (ticker, open date, currency, seq) gives [Result]'s order.
// An error stops the computation and is returned unwrapped.
type Sink interface {
	Broker(b *BrokerSnapshot) error
	Ticker(t *TickerSnapshot) error
	Operation(o *Operation, seq int) error
}

// Emit sends r's rows to sink, operations with seq their index in r, and so
// replays a computed Result into a store.
func (r *Result) Emit(sink Sink) error {
	for i := range r.Broker {
		if err := sink.Broker(&r.Broker[i]); err != nil {
			return err
		}
	}
	for i := range r.Tickers {
		if err := sink.Ticker(&r.Tickers[i]); err != nil {
			return err
		}
	}
	for i := range r.Operations {
		if err := sink.Operation(&r.Operations[i], i); err != nil {
			return err
		}
	}
	return nil
}

// Collector is a [Sink] that keeps every row, for callers that want the
// whole [Result] in memory (the compute command, the console, tests).
type Collector struct {
	r   Result
	seq []int
}

// NewCollector returns an empty collector for account.
func NewCollector(account string) *Collector {
	return &Collector{r: Result{Account: account, Broker: []BrokerSnapshot{}, Tickers: []TickerSnapshot{}, Operations: []Operation{}}}
}

// Broker implements [Sink].
func (c *Collector) Broker(b *BrokerSnapshot) error {
	c.r.Broker = append(c.r.Broker, *b)
	return nil
}

// Ticker implements [Sink].
func (c *Collector) Ticker(t *TickerSnapshot) error {
	c.r.Tickers = append(c.r.Tickers, *t)
	return nil
}

// Operation implements [Sink].
func (c *Collector) Operation(o *Operation, seq int) error {
	c.r.Operations = append(c.r.Operations, *o)
	c.seq = append(c.seq, seq)
	return nil
}

// Result returns the collected rows in [Result]'s documented order. The
// collector must not be used afterwards.
func (c *Collector) Result() *Result {
	r := &c.r
	slices.SortStableFunc(r.Broker, func(a, b BrokerSnapshot) int {
		return cmp.Or(cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Date, b.Date))
	})
	slices.SortStableFunc(r.Tickers, compareTickerRows)
	idx := make([]int, len(r.Operations))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := &r.Operations[i], &r.Operations[j]
		return cmp.Or(cmp.Compare(a.Ticker, b.Ticker), cmp.Compare(a.OpenDate, b.OpenDate),
			cmp.Compare(a.Currency, b.Currency), cmp.Compare(c.seq[i], c.seq[j]))
	})
	ops := make([]Operation, len(idx))
	for i, k := range idx {
		ops[i] = r.Operations[k]
	}
	r.Operations = ops
	c.seq = nil
	return r
}
