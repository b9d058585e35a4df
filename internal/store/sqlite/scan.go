package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"
)

// ScanMovements implements [store.Store]: one query in key order on a read
// connection, read a batch at a time, so memory does not depend on the
// history. The query is one read transaction: the scan sees the movements
// as they were when it started, while the projector goes on writing (WAL),
// and it holds one of the read pool's connections until it returns. It
// decodes the document members of q.Fields only (and the identity and
// order fields; the others are skipped), and reads the kinds of q.Kinds
// only (the kind column).
//
// The table's key is (account, utc, id): rows come in UTC order, and the
// scan puts them in [events.Compare] order (wall time, seq, part, id) in a
// window: a row's wall time is its utc plus its offset, and no offset of
// the account is below the smallest the store has recorded for it
// (movement_offsets), so once a row of instant u has been read, every
// movement whose wall time is before u plus that offset has been read too
// and is final. The window holds the rows of about the width of the
// account's offsets (an hour for the UK's summer and winter time, none for
// a single offset, plus the rows of one second), whatever the history. A
// row whose offset lies outside the recorded ones (the table changed by
// hand) fails the scan rather than coming out of order, and the order of
// what is delivered is checked.
//
// Two goroutines read the rows while fn runs on the caller's goroutine
// (phase 2 computes and writes while the next movements are read): one
// steps SQLite through the rows and hands the driver's values on, the
// other decodes and orders them. Each pair passes two batches of scanBatch
// rows back and forth, so fn's movement is not touched before fn returns.
func (s *Store) ScanMovements(ctx context.Context, account string, q projections.Query, fn func(*events.Movement) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []*events.Movement)
	free := make(chan []*events.Movement, 2)
	for range 2 {
		free <- make([]*events.Movement, 0, scanBatch)
	}
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		readErr = s.readMovements(ctx, account, q, free, full)
	}()
	var fnErr, ctxErr error
batches:
	for batch := range full {
		for _, m := range batch {
			// The driver notices a cancelled context a little later: stop
			// now.
			if ctxErr = ctx.Err(); ctxErr != nil {
				break batches
			}
			if err := fn(m); err != nil {
				fnErr = err
				break batches
			}
		}
		free <- batch
	}
	cancel()
	for range full {
		// The reader stops at the cancellation; let it finish.
	}
	<-done
	switch {
	case fnErr != nil:
		return fnErr
	case ctxErr != nil:
		return fmt.Errorf("sqlite: movements of %s: %w", account, ctxErr)
	case readErr != nil:
		return fmt.Errorf("sqlite: movements of %s: %w", account, readErr)
	}
	return nil
}

// scanBatch is how many movements ScanMovements passes to the caller at a
// time.
const scanBatch = 256

// readMovements reads an account's movements, in events.Compare order,
// into batches from free and sends them on full.
func (s *Store) readMovements(ctx context.Context, account string, q projections.Query, free <-chan []*events.Movement, full chan<- []*events.Movement) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The offsets and the rows are read in the same read transaction, so
	// they agree.
	var lo, hi int64
	err = tx.QueryRowContext(ctx, `SELECT min_offset, max_offset FROM movement_offsets WHERE account = ?`, account).Scan(&lo, &hi)
	if errors.Is(err, sql.ErrNoRows) {
		// No movements: any row fails the offset check below.
		lo, hi, err = 1, 0, nil
	}
	if err != nil {
		return err
	}
	sc := newDocScanner(account, q.Fields)
	rows, err := tx.QueryContext(ctx, scanQuery(sc.names, q.Kinds), account)
	if err != nil {
		return err
	}
	defer rows.Close()

	// Stepping SQLite through the rows is most of a scan's work: one
	// goroutine steps and hands the driver's values over in batches,
	// another decodes and orders them (on the machine's other core).
	g, ctx := errgroup.WithContext(ctx)
	width := sc.width()
	stepped := make(chan []any)
	spent := make(chan []any, 2)
	for range 2 {
		spent <- make([]any, 0, scanBatch*width)
	}
	g.Go(func() error { return stepRows(ctx, rows, width, spent, stepped) })
	g.Go(func() error {
		w := scanWindow{free: free, full: full}
		w.batch = <-free
		for {
			var values []any
			var ok bool
			select {
			case values, ok = <-stepped:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !ok {
				break // every row is read
			}
			for row := range slices.Chunk(values, width) {
				m := w.get()
				if err := sc.decode(row, m); err != nil {
					return err
				}
				if off := int64(m.Time) - sc.utc; off < lo || off > hi {
					return fmt.Errorf("movement %s: wall time %s is %d s from its utc %d, outside the account's offsets "+
						"[%d, %d] in movement_offsets (the table was changed outside the store): %w",
						m.ID, m.Time, off, sc.utc, lo, hi, errOrder)
				}
				// Every row still to come has a utc of at least sc.utc, so
				// a wall time of at least sc.utc + lo.
				if err := w.emit(ctx, events.WallTime(sc.utc+lo)); err != nil {
					return err
				}
				w.insert(m)
			}
			clear(values)
			spent <- values[:0]
		}
		if err := w.emit(ctx, events.WallTime(maxWallTime)); err != nil {
			return err
		}
		if len(w.batch) > 0 {
			select {
			case full <- w.batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// stepRows reads rows of width columns into batches of values from spent
// (scanBatch rows each, the driver's values as they are) and sends them on
// stepped, which it closes once every row is sent, not on an error.
func stepRows(ctx context.Context, rows *sql.Rows, width int, spent <-chan []any, stepped chan<- []any) error {
	dest := make([]any, width)
	var values []any
	select {
	case values = <-spent:
	case <-ctx.Done():
		return ctx.Err()
	}
	for rows.Next() {
		n := len(values)
		values = values[:n+width]
		for i := range dest {
			dest[i] = &values[n+i]
		}
		// Scanning into *any hands over the driver's values without
		// copies.
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if len(values) < cap(values) {
			continue
		}
		select {
		case stepped <- values:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case values = <-spent:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(values) > 0 {
		select {
		case stepped <- values:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(stepped)
	return nil
}

// maxWallTime is after every wall time: the end of a scan makes every
// pending movement final.
const maxWallTime = 1<<63 - 1

// scanWindow puts the rows of a scan in events.Compare order and sends
// them in batches. Its movements are recycled: a movement sent in a batch
// goes back to spare when the batch comes back from the caller.
type scanWindow struct {
	free  <-chan []*events.Movement
	full  chan<- []*events.Movement
	batch []*events.Movement // being filled

	// pending[head:] are the movements read and not yet final, in
	// events.Compare order; rows come nearly in that order (in UTC order,
	// and by ID within a second), so an insertion moves few of them.
	pending []*events.Movement
	head    int
	spare   []*events.Movement
	sent    bool            // whether a movement was sent: prev is set
	prev    events.Movement // the order fields of the last one sent
}

// get returns a movement to scan a row into.
func (w *scanWindow) get() *events.Movement {
	if n := len(w.spare); n > 0 {
		m := w.spare[n-1]
		w.spare = w.spare[:n-1]
		return m
	}
	return new(events.Movement)
}

// insert adds m to the pending movements. A second movement with the same
// ID and order fields (which the IDs rule out: an ID hashes the instant,
// and these two would have one wall time and two instants) is dropped: the
// one of the earlier instant stays, as one movement per ID is delivered.
func (w *scanWindow) insert(m *events.Movement) {
	n := len(w.pending)
	if n == w.head || events.Compare(w.pending[n-1], m) < 0 {
		w.pending = append(w.pending, m)
		return
	}
	i, found := slices.BinarySearchFunc(w.pending[w.head:], m, events.Compare)
	if found {
		w.spare = append(w.spare, m)
		return
	}
	w.pending = slices.Insert(w.pending, w.head+i, m)
}

// emit sends the pending movements whose wall time is before before, in
// order.
func (w *scanWindow) emit(ctx context.Context, before events.WallTime) error {
	for w.head < len(w.pending) && w.pending[w.head].Time < before {
		m := w.pending[w.head]
		w.pending[w.head] = nil
		w.head++
		// The window's order is events.Compare's by construction; check
		// it anyway, it costs nothing next to the row.
		if w.sent && events.Compare(&w.prev, m) >= 0 {
			return fmt.Errorf("%s after %s: %w", m.ID, w.prev.ID, errOrder)
		}
		w.sent = true
		w.prev.Time, w.prev.Seq, w.prev.Part, w.prev.ID = m.Time, m.Seq, m.Part, m.ID
		w.batch = append(w.batch, m)
		if len(w.batch) == cap(w.batch) {
			if err := w.send(ctx); err != nil {
				return err
			}
		}
	}
	switch {
	case w.head == len(w.pending):
		w.pending, w.head = w.pending[:0], 0
	case w.head >= 1024 && w.head > len(w.pending)/2:
		n := copy(w.pending, w.pending[w.head:])
		clear(w.pending[n:])
		w.pending, w.head = w.pending[:n], 0
	}
	return nil
}

// send sends the full batch and takes a free one, whose movements become
// spare.
func (w *scanWindow) send(ctx context.Context) error {
	select {
	case w.full <- w.batch:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case b := <-w.free:
		w.spare = append(w.spare, b...)
		clear(b)
		w.batch = b[:0]
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// scanQuery selects utc and the columns cols (a comma-separated list) of an
// account's movements (the only argument), of kinds kinds when there are
// some, in the primary key's order: SQLite reads the key in order, with no
// sort (TestScanPlan). A scan of the strike adjustments alone reads their
// partial index (SQLite's planner, without statistics, would rather search
// the primary key by account and test every row's kind).
func scanQuery(cols string, kinds []events.Kind) string {
	from := `movement_docs`
	if len(kinds) == 1 && kinds[0] == events.KindStrikeAdjustment {
		from += ` INDEXED BY movement_docs_adjustments`
	}
	q := `SELECT ` + cols + ` FROM ` + from + ` WHERE account = ?`
	switch {
	case len(kinds) == 0:
	case len(kinds) == 1:
		// A literal, which the partial index's WHERE implies.
		q += ` AND kind = ` + literal(string(kinds[0]))
	case len(kinds) > maxKindTerms:
		lits := make([]string, len(kinds))
		for i, k := range kinds {
			lits[i] = literal(string(k))
		}
		q += ` AND kind IN (` + strings.Join(lits, ", ") + `)`
	default:
		// Comparisons, most frequent kind first, not IN: SQLite tests
		// kind IN (list) with a search of a temporary B-tree per row, and
		// a chain of comparisons stops at the first equal one.
		kinds = slices.Clone(kinds)
		slices.SortStableFunc(kinds, func(a, b events.Kind) int { return kindRank(a) - kindRank(b) })
		terms := make([]string, len(kinds))
		for i, k := range kinds {
			terms[i] = `kind = ` + literal(string(k))
		}
		q += ` AND (` + strings.Join(terms, ` OR `) + `)`
	}
	return q + ` ORDER BY utc, id`
}

// maxKindTerms bounds the comparisons of a scan's kind test: a longer list
// (never phase 2's) is an IN, which does not nest an expression per kind
// (SQLite limits an expression's depth to 1,000).
const maxKindTerms = 16

// frequentKinds are the kinds in the order a history usually has most of
// them (option contracts and trades first): scanQuery tests a row's kind
// against them in this order.
var frequentKinds = []events.Kind{events.KindOption, events.KindStock, events.KindCash, events.KindDividend,
	events.KindDividendTax, events.KindConversion, events.KindStrikeAdjustment}

// kindRank is k's position in frequentKinds, after them for another kind.
func kindRank(k events.Kind) int {
	if i := slices.Index(frequentKinds, k); i >= 0 {
		return i
	}
	return len(frequentKinds)
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// errOrder: the table's order is not events.Compare's (never expected).
var errOrder = errors.New("movements out of order")

// docScanner reads movement_docs rows, (utc, id, kind, [line,] doc), into
// movements: the columns, then the document's members of the fields it
// was asked for (events.MovementDecoder skips the others). The account is
// the scan's. Like movementScanner, it shares the values that repeat from
// row to row between the movements it returns (the decoder's strings and
// decimals, the kinds).
type docScanner struct {
	account string
	fields  events.Fields
	line    bool   // whether the query selects line
	names   string // the columns, for the SELECT
	utc     int64  // the utc column of the row last scanned
	kinds   map[string]events.Kind
	dec     events.MovementDecoder
}

func newDocScanner(account string, fields events.Fields) *docScanner {
	sc := &docScanner{account: account, fields: fields, line: fields.Has(events.FieldLine),
		kinds: map[string]events.Kind{}, names: "utc, id, kind, doc"}
	if sc.line {
		sc.names = "utc, id, kind, line, doc"
	}
	return sc
}

// width is the number of columns the scanner's query selects.
func (sc *docScanner) width() int {
	if sc.line {
		return 5
	}
	return 4
}

// decode reads one row of the scanner's columns, as the driver gives them,
// into m, overwriting every field (the fields not asked for are zero), and
// its utc into sc.utc.
func (sc *docScanner) decode(row []any, m *events.Movement) error {
	*m = events.Movement{}
	utc, ok := row[0].(int64)
	if !ok {
		return fmt.Errorf("column utc: %T, want an integer", row[0])
	}
	sc.utc = utc
	id, ok := row[1].(string)
	if !ok {
		return fmt.Errorf("column id: %T, want text", row[1])
	}
	kind, ok := row[2].(string)
	if !ok {
		return fmt.Errorf("movement %s: column kind: %T, want text", id, row[2])
	}
	k, ok := sc.kinds[kind]
	if !ok {
		if len(sc.kinds) >= maxInterned {
			clear(sc.kinds)
		}
		k = events.Kind(kind)
		sc.kinds[kind] = k
	}
	i := 3
	var line int64
	if sc.line {
		if line, ok = row[3].(int64); !ok {
			return fmt.Errorf("movement %s: column line: %T, want an integer", id, row[3])
		}
		i++
	}
	var doc []byte
	switch v := row[i].(type) {
	case string:
		// Read only, while the string is alive: no copy.
		doc = unsafe.Slice(unsafe.StringData(v), len(v))
	case []byte:
		doc = v
	default:
		return fmt.Errorf("movement %s: column doc: %T, want text", id, row[i])
	}
	if err := sc.dec.Decode(doc, m, sc.fields); err != nil {
		return fmt.Errorf("movement %s: column doc: %w", id, err)
	}
	// The columns, over whatever the document says (it has no such
	// members as the store writes it).
	m.ID, m.Account, m.Kind, m.Line = id, sc.account, k, int(line)
	return nil
}

// maxInterned bounds the texts and the decimals a movementScanner shares;
// when a map is full it starts again.
const maxInterned = 1 << 12

// A movementColumn is a column of version 4's movements table a movement's
// field is read from: the migration to version 5 reads them
// (migrateDocs).
type movementColumn struct {
	name string
	// field is the field the column holds, 0 for the identity and order
	// fields every scan reads.
	field events.Fields
	// set decodes the column's value (as the driver gives it) into m.
	set func(sc *movementScanner, v any, m *events.Movement) error
}

// movementColumns are the columns a movement is read from: the identity
// and order columns first, then one column per field of [events.Fields].
var movementColumns = []movementColumn{
	{"id", 0, func(sc *movementScanner, v any, m *events.Movement) (err error) { m.ID, err = str(v); return }},
	{"account", 0, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Account, err = sc.shared(v)
		return
	}},
	{"kind", 0, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := sc.shared(v)
		m.Kind = events.Kind(s)
		return err
	}},
	{"time", 0, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := str(v)
		if err != nil {
			return err
		}
		m.Time, err = parseWallTime(s)
		return err
	}},
	{"seq", 0, func(sc *movementScanner, v any, m *events.Movement) (err error) { m.Seq, err = integer(v); return }},
	{"part", 0, func(sc *movementScanner, v any, m *events.Movement) (err error) { m.Part, err = integer(v); return }},
	{"broker", events.FieldBroker, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Broker, err = sc.shared(v)
		return
	}},
	{"utc_offset", events.FieldOffset, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Offset, err = sc.shared(v)
		return
	}},
	{"line", events.FieldLine, func(sc *movementScanner, v any, m *events.Movement) (err error) { m.Line, err = integer(v); return }},
	{"currency", events.FieldCurrency, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Currency, err = sc.shared(v)
		return
	}},
	{"ticker", events.FieldTicker, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Ticker, err = sc.shared(v)
		return
	}},
	{"cash_type", events.FieldCashType, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := sc.shared(v)
		m.CashType = events.CashType(s)
		return err
	}},
	{"code", events.FieldCode, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := sc.shared(v)
		m.Code = events.TradeCode(s)
		return err
	}},
	{"quantity", events.FieldQuantity, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Quantity, err = sc.decimal(v)
		return
	}},
	{"price", events.FieldPrice, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Price, err = sc.decimal(v)
		return
	}},
	{"amount", events.FieldAmount, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Amount, err = sc.decimal(v)
		return
	}},
	{"commissions", events.FieldCommissions, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Commissions, err = sc.decimal(v)
		return
	}},
	{"fees", events.FieldFees, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Fees, err = sc.decimal(v)
		return
	}},
	{"option_type", events.FieldOptionType, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := sc.shared(v)
		m.OptionType = events.OptionType(s)
		return err
	}},
	{"strike", events.FieldStrike, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Strike, err = sc.decimal(v)
		return
	}},
	{"new_strike", events.FieldNewStrike, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.NewStrike, err = sc.decimal(v)
		return
	}},
	{"expiration", events.FieldExpiration, func(sc *movementScanner, v any, m *events.Movement) error {
		s, err := str(v)
		if err != nil || s == "" {
			return err
		}
		m.Expiration, err = events.ParseDate(s)
		return err
	}},
	{"premium", events.FieldPremium, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Premium, err = sc.decimal(v)
		return
	}},
	{"net_premium", events.FieldNetPremium, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.NetPremium, err = sc.decimal(v)
		return
	}},
	{"multiplier", events.FieldMultiplier, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.Multiplier, err = sc.decimal(v)
		return
	}},
	{"from_currency", events.FieldFromCurrency, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.FromCurrency, err = sc.shared(v)
		return
	}},
	{"amount_changed", events.FieldAmountChanged, func(sc *movementScanner, v any, m *events.Movement) (err error) {
		m.AmountChanged, err = sc.decimal(v)
		return
	}},
	{"notes", events.FieldNotes, func(sc *movementScanner, v any, m *events.Movement) (err error) { m.Notes, err = str(v); return }},
}

// movementScanner reads movement rows of some of movementColumns into a
// movement. The columns that repeat from row to row (account, broker, kind,
// currency, ticker, codes, decimals such as quantity 1 or multiplier 100)
// are shared between the movements it returns instead of parsed and kept
// anew for each, so a caller that keeps movements (the computation keeps
// open positions) keeps less. Decimals are immutable values, so sharing one
// is safe.
type movementScanner struct {
	cols     []movementColumn // the columns read after utc, in the query's order
	names    string           // their names, for the SELECT (utc first)
	utc      int64            // the utc column of the row last scanned
	texts    map[string]string
	decimals map[string]decimal.Decimal
}

// newMovementScanner returns a scanner of the identity and order columns
// and the columns of fields (every column for the zero Fields).
func newMovementScanner(fields events.Fields) *movementScanner {
	sc := &movementScanner{texts: map[string]string{}, decimals: map[string]decimal.Decimal{}}
	var names []string
	for _, c := range movementColumns {
		if c.field == 0 || fields.Has(c.field) {
			sc.cols = append(sc.cols, c)
			names = append(names, c.name)
		}
	}
	sc.names = "utc, " + strings.Join(names, ", ")
	return sc
}

// str returns a column's value as text ("" for NULL).
func str(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%T, want text", v)
	}
}

// shared is str, shared with earlier rows when it repeats.
func (sc *movementScanner) shared(v any) (string, error) {
	s, err := str(v)
	if err != nil || s == "" {
		return s, err
	}
	if w, ok := sc.texts[s]; ok {
		return w, nil
	}
	if len(sc.texts) >= maxInterned {
		clear(sc.texts)
	}
	sc.texts[s] = s
	return s, nil
}

// integer returns a column's value as an int.
func integer(v any) (int, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%T, want an integer", v)
	}
	return int(n), nil
}

// decimal parses a column's value (NULL is zero), sharing repeated values.
func (sc *movementScanner) decimal(v any) (decimal.Decimal, error) {
	switch v := v.(type) {
	case nil:
		return decimal.Decimal{}, nil
	case string:
		if d, ok := sc.decimals[v]; ok {
			return d, nil
		}
		d, err := decimal.NewFromString(v)
		if err != nil {
			return d, err
		}
		if len(sc.decimals) >= maxInterned {
			clear(sc.decimals)
		}
		sc.decimals[v] = d
		return d, nil
	default:
		return decimal.Decimal{}, fmt.Errorf("%T, want a decimal as text", v)
	}
}

// width is the number of columns the scanner's query selects.
func (sc *movementScanner) width() int { return 1 + len(sc.cols) }

// decode reads one row of the scanner's columns, as the driver gives them,
// into m, overwriting every field (the fields of the columns not read are
// zero), and its utc into sc.utc.
func (sc *movementScanner) decode(row []any, m *events.Movement) error {
	*m = events.Movement{}
	var errs []error
	utc, ok := row[0].(int64)
	if !ok {
		errs = append(errs, fmt.Errorf("column utc: %T, want an integer", row[0]))
	}
	sc.utc = utc
	for i := range sc.cols {
		if err := sc.cols[i].set(sc, row[1+i], m); err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", sc.cols[i].name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("movement %s: %w", m.ID, errors.Join(errs...))
	}
	return nil
}
