package chunker

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
	"github.com/shopspring/decimal"
)

// fakeParser reads a tiny line format so the chunker can be tested without
// the real parsers. The first line is a header (any text). Each further line
// is one row:
//
//	TIME,KIND,N,PAD[,TICKER]   N movements of KIND at TIME (YYYY-MM-DDTHH:MM:SS)
//	                           whose notes are PAD bytes long
//	!err,VALUE                 a row error
//	!ign,REASON                an ignored row
//	!adj,TIME                  a strike adjustment, emitted after the last row
//	!stop                      the parser stops reading here
//
// Blank lines are skipped. onRecord, when set, runs before each record is
// passed on. It honours Options.Within (a row outside is an Outside
// record), unless ignoreWithin.
type fakeParser struct {
	onRecord     func(rec *parsers.Record)
	ignoreWithin bool
}

const fakeBroker = "fake"

func (fakeParser) Broker() string { return fakeBroker }

func (f fakeParser) Scan(r io.Reader, opts parsers.Options, fn func(*parsers.Record) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	if !sc.Scan() {
		return parsers.ErrEmpty
	}
	line++
	var adjs []events.WallTime
	call := func(rec *parsers.Record) error {
		if f.onRecord != nil {
			f.onRecord(rec)
		}
		return fn(rec)
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		fields := strings.Split(text, ",")
		switch fields[0] {
		case "!stop":
			return nil
		case "!err":
			if err := call(&parsers.Record{Line: line, Err: &parsers.RowError{Line: line, Column: "Value", Value: field(fields, 1), Err: parsers.ErrBadNumber}}); err != nil {
				return err
			}
			continue
		case "!ign":
			if err := call(&parsers.Record{Line: line, Ignored: field(fields, 1)}); err != nil {
				return err
			}
			continue
		case "!adj":
			t, err := events.ParseWallTime(field(fields, 1))
			if err != nil {
				return fmt.Errorf("fake: line %d: %w", line, err)
			}
			adjs = append(adjs, t)
			continue
		}
		rec, err := fakeRow(opts.Account, line, fields)
		if err == nil && opts.Within != nil && !f.ignoreWithin && !opts.Within(rec.Movements[0].Time) {
			rec = &parsers.Record{Line: line, Outside: true}
		}
		if err != nil {
			rec = &parsers.Record{Line: line, Err: &parsers.RowError{Line: line, Value: text, Err: err}}
		}
		if err := call(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	for i, t := range adjs {
		m := events.Movement{
			ID: fmt.Sprintf("adj%029d:%s:0", i, events.KindStrikeAdjustment), Account: opts.Account, Broker: fakeBroker,
			Kind: events.KindStrikeAdjustment, Time: t, Currency: "USD", Ticker: "ADJ",
			Strike: decimal.RequireFromString("36"), NewStrike: decimal.RequireFromString("35.7"),
		}
		if err := call(&parsers.Record{Movements: []events.Movement{m}}); err != nil {
			return err
		}
	}
	return nil
}

func field(fields []string, i int) string {
	if i < len(fields) {
		return fields[i]
	}
	return ""
}

func fakeRow(account string, line int, fields []string) (*parsers.Record, error) {
	if len(fields) < 4 {
		return nil, parsers.ErrShortRow
	}
	t, err := events.ParseWallTime(fields[0])
	if err != nil {
		return nil, parsers.ErrBadDate
	}
	n, err := strconv.Atoi(fields[2])
	if err != nil || n < 1 {
		return nil, parsers.ErrBadNumber
	}
	pad, err := strconv.Atoi(fields[3])
	if err != nil || pad < 0 {
		return nil, parsers.ErrBadNumber
	}
	kind := events.Kind(fields[1])
	rec := &parsers.Record{Line: line}
	for part := range n {
		p := 0
		if n > 1 {
			p = part + 1
		}
		rec.Movements = append(rec.Movements, events.Movement{
			ID:      fmt.Sprintf("%032d:%s:%d", line, kind, p),
			Account: account, Broker: fakeBroker, Kind: kind, Time: t, Part: p, Line: line,
			Currency: "USD", Ticker: field(fields, 4),
			Amount: decimal.New(int64(line), -2),
			Notes:  strings.Repeat("x", pad),
		})
	}
	return rec, nil
}

// pickFake returns the fake parser for any broker name, so that detection
// can be tested too.
func pickFake(onRecord func(*parsers.Record)) pickFunc {
	return func(string) (parsers.Parser, error) { return fakeParser{onRecord: onRecord}, nil }
}
