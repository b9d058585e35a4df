package clickhouse_test

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/clickhouse"
	"github.com/foliostream/foliostream/internal/store/clickhouse/chtest"
)

// queriesDoc is docs/queries.md, relative to this package.
const queriesDoc = "../../../docs/queries.md"

// docQuery is one query of docs/queries.md: the "## " heading above its
// ```sql block, and the SQL.
type docQuery struct {
	title, sql string
}

// readDocQueries extracts every ```sql block of the doc with its heading.
func readDocQueries(t *testing.T) []docQuery {
	t.Helper()
	f, err := os.Open(queriesDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docQuery
	var title string
	var sql *strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case sql != nil && line == "```":
			out = append(out, docQuery{title, sql.String()})
			sql = nil
		case sql != nil:
			sql.WriteString(line + "\n")
		case line == "```sql":
			if title == "" {
				t.Fatalf("%s: a sql block before any '## ' heading", queriesDoc)
			}
			sql = &strings.Builder{}
		case strings.HasPrefix(line, "## "):
			title = strings.TrimPrefix(line, "## ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if sql != nil {
		t.Fatalf("%s: unterminated sql block under %q", queriesDoc, title)
	}
	return out
}

// queryData is what TestDocQueries writes through the store, and what the
// expected results are computed from in Go.
type queryData struct {
	movements map[string][]events.Movement // by account
	results   map[string]*projections.Result
	sessions  []store.Session
	chunks    []*events.Chunk
	rejects   []store.Reject
}

func (d *queryData) accounts() []string {
	out := make([]string, 0, len(d.movements))
	for a := range d.movements {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// newQueryData builds two accounts' worth of movements over two years: cash,
// stock trades in two currencies, options opened, closed and expired,
// dividends and their taxes, fees and interest.
func newQueryData() *queryData {
	d := &queryData{movements: map[string][]events.Movement{}, results: map[string]*projections.Result{}}
	n := 0
	add := func(account, day string, m events.Movement) {
		n++
		date, err := events.ParseDate(day)
		if err != nil {
			panic(err)
		}
		m.Account, m.Broker = account, events.BrokerTastytrade
		m.Time = events.WallTimeOf(date.Time().Add(time.Duration(9*3600+n) * time.Second))
		m.ID = fmt.Sprintf("%032x:%s:%d", n, m.Kind, m.Part)
		m.Line = n + 1
		if m.Currency == "" {
			m.Currency = "USD"
		}
		d.movements[account] = append(d.movements[account], m)
	}
	cash := func(t events.CashType, amount string) events.Movement {
		return events.Movement{Kind: events.KindCash, CashType: t, Amount: dec(amount)}
	}
	trade := func(ticker string, code events.TradeCode, qty, price, comm, fees string) events.Movement {
		return events.Movement{Kind: events.KindStock, Ticker: ticker, Code: code, Quantity: dec(qty),
			Price: dec(price), Commissions: dec(comm), Fees: dec(fees)}
	}
	option := func(ticker string, typ events.OptionType, code events.TradeCode, strike, exp, premium, comm, fees string, part int) events.Movement {
		e, err := events.ParseDate(exp)
		if err != nil {
			panic(err)
		}
		p, c, f := dec(premium), dec(comm), dec(fees)
		return events.Movement{Kind: events.KindOption, Ticker: ticker, OptionType: typ, Code: code,
			Quantity: dec("1"), Strike: dec(strike), Expiration: e, Premium: p, NetPremium: p.Sub(c).Sub(f),
			Commissions: c, Fees: f, Multiplier: dec("100"), Part: part}
	}
	income := func(kind events.Kind, ticker, amount, currency string) events.Movement {
		return events.Movement{Kind: kind, Ticker: ticker, Amount: dec(amount), Currency: currency}
	}
	eur := func(m events.Movement) events.Movement { m.Currency = "EUR"; return m }

	add("alice", "2024-11-04", cash(events.CashDeposit, "10000"))
	add("alice", "2024-11-05", trade("PFE", events.BuyToOpen, "100", "25.10", "1", "0.12"))
	add("alice", "2024-11-20", option("SOFI", events.Put, events.SellToOpen, "7", "2024-12-20", "23", "1", "0.14", 1))
	add("alice", "2024-11-20", option("SOFI", events.Put, events.SellToOpen, "7", "2024-12-20", "23", "1", "0.14", 2))
	add("alice", "2024-12-10", option("SOFI", events.Put, events.BuyToClose, "7", "2024-12-20", "-5", "0", "0.13", 1))
	add("alice", "2024-12-16", income(events.KindDividend, "PFE", "43.00", ""))
	add("alice", "2024-12-16", income(events.KindDividendTax, "PFE", "6.45", ""))
	add("alice", "2025-01-15", trade("PFE", events.SellToClose, "50", "27.30", "1", "0.15"))
	add("alice", "2025-02-01", eur(cash(events.CashDeposit, "2000")))
	add("alice", "2025-02-03", cash(events.CashFee, "5"))
	add("alice", "2025-02-03", eur(trade("SAP", events.BuyToOpen, "5", "180.44", "3", "0")))
	add("alice", "2025-03-03", cash(events.CashWithdrawal, "500"))
	add("alice", "2025-03-10", income(events.KindDividend, "PFE", "21.50", ""))
	add("alice", "2025-03-10", income(events.KindDividendTax, "PFE", "3.23", ""))
	add("alice", "2025-05-05", income(events.KindDividend, "SAP", "11", "EUR"))
	add("alice", "2025-05-05", income(events.KindDividendTax, "SAP", "2.90", "EUR"))
	add("alice", "2025-07-01", trade("MPW", events.BuyToOpen, "200", "4.33", "1", "0.10"))
	add("alice", "2025-08-12", trade("PFE", events.SellToClose, "50", "24.01", "1", "0.15"))
	add("bob", "2025-01-02", cash(events.CashDeposit, "500"))
	add("bob", "2025-01-03", option("PLTR", events.Call, events.SellToOpen, "30", "2025-01-17", "45", "1", "0.14", 1))
	add("bob", "2025-06-01", cash(events.CashInterestsGained, "1.23"))
	add("bob", "2025-06-02", option("PLTR", events.Call, events.BuyToOpen, "40", "2025-09-19", "-12.5", "1", "0.14", 1))

	// bob's last movement is in a chunk not stored yet.
	d.movements["bob"] = d.movements["bob"][:len(d.movements["bob"])-1]
	for _, a := range d.accounts() {
		d.results[a] = projections.Compute(a, d.movements[a])
	}

	started := time.Date(2025, 8, 20, 8, 0, 0, 0, time.UTC)
	// alice: an import that failed (file modified), then one completed with
	// a rejected row; bob: an import still publishing (its last chunk is not
	// stored yet).
	d.sessions = []store.Session{
		{ID: "s-alice-0", Account: "alice", Broker: events.BrokerTastytrade, File: "alice.csv", SHA256: "a0",
			Phase: store.PhaseFailed, TotalChunks: 3, Movements: 17, Error: "file modified", StartedAt: started},
		{ID: "s-alice-1", Account: "alice", Broker: events.BrokerTastytrade, File: "alice.csv", SHA256: "a1",
			Phase: store.PhaseSealed, Movements: len(d.movements["alice"]), Rejected: 1,
			StartedAt: started.Add(time.Minute), SealedAt: started.Add(2 * time.Minute)},
		{ID: "s-bob-1", Account: "bob", Broker: events.BrokerTastytrade, File: "bob.csv", SHA256: "b1",
			Phase: store.PhasePublishing, Movements: 4, StartedAt: started.Add(3 * time.Minute)},
	}
	weeks := func(session string, ms []events.Movement) []*events.Chunk {
		var out []*events.Chunk
		for _, m := range ms {
			w := m.Time.Day().ISOWeek()
			if len(out) == 0 || out[len(out)-1].Week != w {
				out = append(out, &events.Chunk{Session: session, Account: m.Account, ID: w + ".1", Week: w, Part: 1})
			}
			c := out[len(out)-1]
			c.Movements = append(c.Movements, m)
		}
		for i, c := range out {
			c.Ordinal, c.Total = i+1, len(out)
		}
		return out
	}
	alice := weeks("s-alice-1", d.movements["alice"])
	d.sessions[1].TotalChunks = len(alice)
	bob := weeks("s-bob-1", d.movements["bob"])
	d.sessions[2].TotalChunks = len(bob) + 1
	for _, c := range bob {
		c.Total = len(bob) + 1
	}
	d.chunks = append(alice, bob...)
	d.rejects = []store.Reject{{Session: "s-alice-1", Account: "alice",
		RowReject: events.RowReject{Line: 9, Column: "Value", Value: "12,3.4", Reason: "invalid decimal"}}}
	return d
}

// write stores d as the projector would: chunks in batches of a few (the
// first batch twice, as a redelivery), then projections and completion.
func (d *queryData) write(t *testing.T, s *clickhouse.Store) {
	t.Helper()
	at := d.sessions[2].StartedAt.Add(time.Hour)
	batches := []*store.Batch{{Sessions: d.sessions, Rejects: d.rejects}}
	for c := range slices.Chunk(d.chunks, 4) {
		batches = append(batches, &store.Batch{Chunks: c})
	}
	batches = append(batches, batches[1])
	for _, b := range batches {
		b.At = at
		if err := s.WriteBatch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range d.accounts() {
		var completed []string
		if a == "alice" {
			completed = []string{"s-alice-1"}
		}
		// Twice: the second replaces the first.
		for range 2 {
			if err := store.ReplaceProjections(t.Context(), s, d.results[a], completed, at); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// r10 is d as a Decimal(38, 10) column holds it.
func r10(d decimal.Decimal) decimal.Decimal { return d.Round(10) }

func row(vs ...any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = format(v)
	}
	return out
}

// format renders a value as the comparison of TestDocQueries reads it:
// decimals by value, dates as YYYY-MM-DD, NULL for nil.
func format(v any) string {
	switch v := v.(type) {
	case decimal.Decimal:
		return v.String()
	case events.Date:
		if v.IsZero() {
			return "NULL"
		}
		return v.String()
	case time.Time:
		if v.IsZero() {
			return "NULL"
		}
		if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 {
			return v.Format(time.DateOnly)
		}
		return v.UTC().Format(time.DateTime)
	case bool:
		if v {
			return "1"
		}
		return "0"
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		return format(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}

type monthKey struct {
	account, currency string
	month             events.Date
}

func monthOf(d events.Date) events.Date { return d - d%100 + 1 }

// expected computes, in Go from the data written, what each documented
// query must return.
func (d *queryData) expected() map[string][][]string {
	want := map[string][][]string{}

	var series, realized [][]string
	for _, a := range d.accounts() {
		bs := d.results[a].Broker
		for _, b := range bs {
			series = append(series, row(a, b.Currency, b.Date, r10(b.Deposited).Sub(r10(b.Withdrawn)),
				r10(b.NetCashFlow), r10(b.Invested), r10(b.RealizedGains), r10(b.UnrealizedGains),
				r10(b.NetCashFlow).Add(r10(b.RealizedGains))))
		}
		// Broker rows are sorted by (currency, date): the last row of a
		// month holds its cumulative value.
		for i, b := range bs {
			if i+1 < len(bs) && bs[i+1].Currency == b.Currency && monthOf(bs[i+1].Date) == monthOf(b.Date) {
				continue
			}
			prev := decimal.Zero
			for j := i - 1; j >= 0; j-- {
				if bs[j].Currency == b.Currency && monthOf(bs[j].Date) != monthOf(b.Date) {
					prev = r10(bs[j].RealizedGains)
					break
				}
			}
			realized = append(realized, row(a, b.Currency, monthOf(b.Date), r10(b.RealizedGains).Sub(prev)))
		}
	}
	want["Portfolio value series"] = series
	want["Realized P&L per month"] = realized

	type tickerKey struct{ account, ticker, currency string }
	type optionSums struct {
		n            int
		gross, costs decimal.Decimal
	}
	options := map[tickerKey]*optionSums{}
	type yearKey struct {
		account, currency string
		year              int
	}
	dividends := map[yearKey]*[2]decimal.Decimal{}
	fees := map[monthKey]*[2]decimal.Decimal{}
	for _, a := range d.accounts() {
		for _, m := range d.movements[a] {
			switch m.Kind {
			case events.KindOption:
				k := tickerKey{a, m.Ticker, m.Currency}
				if options[k] == nil {
					options[k] = &optionSums{}
				}
				options[k].n++
				options[k].gross = options[k].gross.Add(m.Premium)
				options[k].costs = options[k].costs.Add(m.NetPremium)
			case events.KindDividend, events.KindDividendTax:
				k := yearKey{a, m.Currency, int(m.Time.Day()) / 10000}
				if dividends[k] == nil {
					dividends[k] = &[2]decimal.Decimal{}
				}
				i := 0
				if m.Kind == events.KindDividendTax {
					i = 1
				}
				dividends[k][i] = dividends[k][i].Add(m.Amount)
			}
			if m.Kind == events.KindStrikeAdjustment {
				continue
			}
			k := monthKey{a, m.Currency, monthOf(m.Time.Day())}
			if fees[k] == nil {
				fees[k] = &[2]decimal.Decimal{}
			}
			fees[k][0] = fees[k][0].Add(m.Commissions)
			fees[k][1] = fees[k][1].Add(m.Fees)
			if m.Kind == events.KindCash && m.CashType == events.CashFee {
				fees[k][1] = fees[k][1].Add(m.Amount)
			}
		}
	}
	for _, k := range sortedKeys(options, func(a, b tickerKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.ticker, b.ticker), cmp.Compare(a.currency, b.currency))
	}) {
		o := options[k]
		want["Options income per ticker"] = append(want["Options income per ticker"], row(k.account, k.ticker, k.currency, o.n, o.gross, o.costs))
	}
	for _, k := range sortedKeys(dividends, func(a, b yearKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.currency, b.currency), cmp.Compare(a.year, b.year))
	}) {
		v := dividends[k]
		want["Dividends net of tax per year"] = append(want["Dividends net of tax per year"], row(k.account, k.currency, k.year, v[0], v[1], v[0].Sub(v[1])))
	}
	for _, k := range sortedKeys(fees, func(a, b monthKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.currency, b.currency), cmp.Compare(a.month, b.month))
	}) {
		v := fees[k]
		want["Fees and commissions per month"] = append(want["Fees and commissions per month"], row(k.account, k.currency, k.month, v[0], v[1], v[0].Add(v[1])))
	}

	asOf := events.NewDate(2025, 6, 30)
	for _, a := range d.accounts() {
		latest := map[tickerKey]projections.TickerSnapshot{}
		for _, s := range d.results[a].Tickers {
			k := tickerKey{a, s.Ticker, s.Currency}
			if s.Date <= asOf && s.Date > latest[k].Date {
				latest[k] = s
			}
		}
		for _, k := range sortedKeys(latest, func(a, b tickerKey) int {
			return cmp.Or(cmp.Compare(a.ticker, b.ticker), cmp.Compare(a.currency, b.currency))
		}) {
			s := latest[k]
			if r10(s.TotalShares).IsZero() && !s.OpenTrades {
				continue
			}
			want["Open positions as of a date"] = append(want["Open positions as of a date"],
				row(a, s.Ticker, s.Currency, s.Date, r10(s.TotalShares), r10(s.CostBasis), r10(s.CapitalDeployed), s.OpenTrades))
		}
	}

	for _, v := range d.sessions {
		var stored, storedMovements, rejects int
		for _, c := range d.chunks {
			if c.Session == v.ID {
				stored++
				storedMovements += len(c.Movements)
			}
		}
		for _, r := range d.rejects {
			if r.Session == v.ID {
				rejects++
			}
		}
		phase, completed := v.Phase, v.CompletedAt
		if v.ID == "s-alice-1" {
			phase, completed = store.PhaseCompleted, d.sessions[2].StartedAt.Add(time.Hour)
		}
		want["Import session audit"] = append(want["Import session audit"], row(v.Account, v.ID, v.Broker, v.File,
			phase, v.StartedAt, completed, v.TotalChunks, stored, v.Movements, storedMovements, v.Rejected, rejects, v.Error))
	}
	return want
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, compare)
	return out
}

// TestDocQueries runs every query of docs/queries.md as written against the
// test server, on data written through the store, and compares its rows
// with the same figures computed in Go.
func TestDocQueries(t *testing.T) {
	queries := readDocQueries(t)
	data := newQueryData()
	want := data.expected()
	var titles []string
	for _, q := range queries {
		titles = append(titles, q.title)
	}
	for title := range want {
		if !slices.Contains(titles, title) {
			t.Errorf("%s has no query titled %q", queriesDoc, title)
		}
	}

	dsn := chtest.NewDatabase(t)
	s := open(t, dsn, clickhouse.Options{})
	data.write(t, s)
	c := conn(t, dsn)
	for _, q := range queries {
		t.Run(q.title, func(t *testing.T) {
			w, ok := want[q.title]
			if !ok {
				t.Fatalf("no expected result for the query %q of %s: add it to queryData.expected", q.title, queriesDoc)
			}
			if len(w) == 0 {
				t.Fatalf("test bug: the data gives no rows for %q", q.title)
			}
			rows, err := c.Query(t.Context(), q.sql)
			if err != nil {
				t.Fatalf("query as written fails: %v\n%s", err, q.sql)
			}
			defer rows.Close()
			var got [][]string
			types := rows.ColumnTypes()
			for rows.Next() {
				dst := make([]any, len(types))
				for i, ct := range types {
					dst[i] = reflect.New(ct.ScanType()).Interface()
				}
				if err := rows.Scan(dst...); err != nil {
					t.Fatal(err)
				}
				r := make([]string, len(dst))
				for i, v := range dst {
					r[i] = format(reflect.ValueOf(v).Elem().Interface())
				}
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s\n%d rows%s", columnNames(rows.Columns()), len(got), rowsText(got))
			if !slices.EqualFunc(got, w, slices.Equal) {
				t.Errorf("rows differ\n got %d: %s\nwant %d: %s\ncolumns: %s", len(got), rowsText(got), len(w), rowsText(w), columnNames(rows.Columns()))
			}
		})
	}
}

func rowsText(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("\n    " + strings.Join(r, " | "))
	}
	return b.String()
}

func columnNames(cs []string) string { return strings.Join(cs, ", ") }
