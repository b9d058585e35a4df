package clickhouse

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/shopspring/decimal"
)

// column is one column of an INSERT: its name and a typed slice of values the
// driver's column accepts ([]string, []uint32, []decimal.Decimal, …).
type column struct {
	name string
	data any
}

// insert writes one block into table through the driver's batch API, naming
// every column, with retries. Each attempt prepares a new batch; a failed
// batch's connection is closed by the driver, so a retry gets a fresh one.
func (s *Store) insert(ctx context.Context, table string, cols []column) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	query := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ")"
	return s.do(ctx, "insert into "+table, func(ctx context.Context) error {
		b, err := s.conn.PrepareBatch(ctx, query)
		if err != nil {
			return err
		}
		for i, c := range cols {
			if err := b.Column(i).Append(c.data); err != nil {
				b.Abort()
				return fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		return b.Send()
	})
}

// WriteBatch implements [store.Store]: the movements of every chunk in
// blocks of at most MaxInsertRows rows, then the rejects, the chunk records
// and the session records, each table in one INSERT. Every row is keyed, so
// writing the same batch again changes nothing.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Chunks) == 0 && len(b.Sessions) == 0 && len(b.Rejects) == 0 {
		return nil
	}
	if err := s.writeBatch(ctx, b); err != nil {
		return fmt.Errorf("write batch (%d chunks, %d sessions, %d rejects): %w",
			len(b.Chunks), len(b.Sessions), len(b.Rejects), err)
	}
	return nil
}

func (s *Store) writeBatch(ctx context.Context, b *store.Batch) error {
	version := s.nextVersion(b.At)
	total := 0
	for _, c := range b.Chunks {
		total += len(c.Movements)
	}
	rows := newMovementRows(min(total, s.opts.MaxInsertRows))
	for _, c := range b.Chunks {
		for i := range c.Movements {
			if err := rows.add(&c.Movements[i], c, version); err != nil {
				return err
			}
			if rows.len() == s.opts.MaxInsertRows {
				if err := s.insert(ctx, "movements", rows.columns()); err != nil {
					return err
				}
				total -= rows.len()
				rows = newMovementRows(min(total, s.opts.MaxInsertRows))
			}
		}
	}
	if rows.len() > 0 {
		if err := s.insert(ctx, "movements", rows.columns()); err != nil {
			return err
		}
	}
	if len(b.Rejects) > 0 {
		if err := s.insert(ctx, "rejects", rejectColumns(b.Rejects, version)); err != nil {
			return err
		}
	}
	if len(b.Chunks) > 0 {
		if err := s.insert(ctx, "import_chunks", chunkColumns(b.Chunks, b.At, version)); err != nil {
			return err
		}
	}
	if len(b.Sessions) > 0 {
		// Each record gets its own version, so a later record of the same
		// session in the same batch wins.
		versions := make([]uint64, len(b.Sessions))
		for i := range versions {
			versions[i] = s.nextVersion(b.At)
		}
		cols, err := sessionColumns(b.Sessions, versions)
		if err != nil {
			return err
		}
		if err := s.insert(ctx, "import_sessions", cols); err != nil {
			return err
		}
	}
	return nil
}

// movementRows accumulates movements column by column.
type movementRows struct {
	account, id, broker, kind, offset, currency, ticker, cashType, code    []string
	optionType, fromCurrency, notes, exact, session, chunk                 []string
	date                                                                   []time.Time
	tm                                                                     []time.Time
	expiration                                                             []*time.Time
	seq, part, line                                                        []uint32
	quantity, price, amount, commissions, fees, strike, newStrike, premium []decimal.Decimal
	netPremium, multiplier, amountChanged                                  []decimal.Decimal
	version                                                                []uint64
	w                                                                      exactWriter
}

func newMovementRows(n int) *movementRows {
	str := func() []string { return make([]string, 0, n) }
	dec := func() []decimal.Decimal { return make([]decimal.Decimal, 0, n) }
	u32 := func() []uint32 { return make([]uint32, 0, n) }
	return &movementRows{
		account: str(), id: str(), broker: str(), kind: str(), offset: str(), currency: str(), ticker: str(),
		cashType: str(), code: str(), optionType: str(), fromCurrency: str(), notes: str(), exact: str(),
		session: str(), chunk: str(), date: make([]time.Time, 0, n), tm: make([]time.Time, 0, n),
		expiration: make([]*time.Time, 0, n), seq: u32(), part: u32(), line: u32(),
		quantity: dec(), price: dec(), amount: dec(), commissions: dec(), fees: dec(), strike: dec(),
		newStrike: dec(), premium: dec(), netPremium: dec(), multiplier: dec(), amountChanged: dec(),
		version: make([]uint64, 0, n),
	}
}

func (r *movementRows) len() int { return len(r.id) }

func (r *movementRows) add(m *events.Movement, c *events.Chunk, version uint64) error {
	if m.Seq < 0 || m.Part < 0 || m.Line < 0 || m.Seq > math.MaxUint32 || m.Part > math.MaxUint32 || m.Line > math.MaxUint32 {
		return fmt.Errorf("movement %s: seq %d, part %d or line %d out of range", m.ID, m.Seq, m.Part, m.Line)
	}
	t := m.Time.Time()
	if err := checkDateTime(t); err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, err)
	}
	w := &r.w
	w.reset()
	r.account = append(r.account, m.Account)
	r.date = append(r.date, m.Time.Day().Time())
	r.id = append(r.id, m.ID)
	r.broker = append(r.broker, m.Broker)
	r.kind = append(r.kind, string(m.Kind))
	r.tm = append(r.tm, t)
	r.offset = append(r.offset, m.Offset)
	r.seq = append(r.seq, uint32(m.Seq))
	r.part = append(r.part, uint32(m.Part))
	r.line = append(r.line, uint32(m.Line))
	r.currency = append(r.currency, m.Currency)
	r.ticker = append(r.ticker, m.Ticker)
	r.cashType = append(r.cashType, string(m.CashType))
	r.code = append(r.code, string(m.Code))
	r.quantity = append(r.quantity, w.put("quantity", m.Quantity))
	r.price = append(r.price, w.put("price", m.Price))
	r.amount = append(r.amount, w.put("amount", m.Amount))
	r.commissions = append(r.commissions, w.put("commissions", m.Commissions))
	r.fees = append(r.fees, w.put("fees", m.Fees))
	r.optionType = append(r.optionType, string(m.OptionType))
	r.strike = append(r.strike, w.put("strike", m.Strike))
	r.newStrike = append(r.newStrike, w.put("new_strike", m.NewStrike))
	r.expiration = append(r.expiration, nullDate(m.Expiration))
	r.premium = append(r.premium, w.put("premium", m.Premium))
	r.netPremium = append(r.netPremium, w.put("net_premium", m.NetPremium))
	r.multiplier = append(r.multiplier, w.put("multiplier", m.Multiplier))
	r.fromCurrency = append(r.fromCurrency, m.FromCurrency)
	r.amountChanged = append(r.amountChanged, w.put("amount_changed", m.AmountChanged))
	r.notes = append(r.notes, m.Notes)
	r.exact = append(r.exact, w.exact())
	r.session = append(r.session, c.Session)
	r.chunk = append(r.chunk, c.ID)
	r.version = append(r.version, version)
	if w.err != nil {
		return fmt.Errorf("movement %s: %w", m.ID, w.err)
	}
	return nil
}

func (r *movementRows) columns() []column {
	return []column{
		{"account", r.account}, {"date", r.date}, {"id", r.id}, {"broker", r.broker}, {"kind", r.kind},
		{"time", r.tm}, {"utc_offset", r.offset}, {"seq", r.seq}, {"part", r.part}, {"line", r.line},
		{"currency", r.currency}, {"ticker", r.ticker}, {"cash_type", r.cashType}, {"code", r.code},
		{"quantity", r.quantity}, {"price", r.price}, {"amount", r.amount}, {"commissions", r.commissions},
		{"fees", r.fees}, {"option_type", r.optionType}, {"strike", r.strike}, {"new_strike", r.newStrike},
		{"expiration", r.expiration}, {"premium", r.premium}, {"net_premium", r.netPremium},
		{"multiplier", r.multiplier}, {"from_currency", r.fromCurrency}, {"amount_changed", r.amountChanged},
		{"notes", r.notes}, {"exact", r.exact}, {"session", r.session}, {"chunk", r.chunk},
		{"version", r.version},
	}
}

func chunkColumns(chunks []*events.Chunk, at time.Time, version uint64) []column {
	n := len(chunks)
	account, session, chunk, week := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ordinal, total, part, movements := make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
	storedAt, versions := make([]*time.Time, n), make([]uint64, n)
	stored := nullTime(at)
	for i, c := range chunks {
		account[i], session[i], chunk[i], week[i] = c.Account, c.Session, c.ID, c.Week
		ordinal[i], total[i], part[i], movements[i] = uint32(c.Ordinal), uint32(c.Total), uint32(c.Part), uint32(len(c.Movements))
		storedAt[i], versions[i] = stored, version
	}
	return []column{
		{"account", account}, {"session", session}, {"chunk", chunk}, {"ordinal", ordinal}, {"total", total},
		{"week", week}, {"part", part}, {"movements", movements}, {"stored_at", storedAt}, {"version", versions},
	}
}

func rejectColumns(rejects []store.Reject, version uint64) []column {
	n := len(rejects)
	account, session, col, value, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	line, versions := make([]uint32, n), make([]uint64, n)
	for i, r := range rejects {
		account[i], session[i], col[i], value[i], reason[i] = r.Account, r.Session, r.Column, r.Value, r.Reason
		line[i], versions[i] = uint32(max(r.Line, 0)), version
	}
	return []column{
		{"account", account}, {"session", session}, {"line", line}, {"column_name", col}, {"value", value},
		{"reason", reason}, {"version", versions},
	}
}

func sessionColumns(sessions []store.Session, versions []uint64) ([]column, error) {
	n := len(sessions)
	account, id, broker, file, sha, phase, errText := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	totalChunks, movements, rejected := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	started, sealed, completed := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	startedNs, sealedNs, completedNs := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	for i := range sessions {
		v := &sessions[i]
		for _, t := range []time.Time{v.StartedAt, v.SealedAt, v.CompletedAt} {
			if err := checkInstant(t); err != nil {
				return nil, fmt.Errorf("session %s: %w", v.ID, err)
			}
		}
		account[i], id[i], broker[i], file[i], sha[i], phase[i], errText[i] = v.Account, v.ID, v.Broker, v.File, v.SHA256, v.Phase, v.Error
		totalChunks[i], movements[i], rejected[i] = uint32(max(v.TotalChunks, 0)), uint32(max(v.Movements, 0)), uint32(max(v.Rejected, 0))
		started[i], startedNs[i] = nullTime(v.StartedAt), uint32(v.StartedAt.Nanosecond())
		sealed[i], sealedNs[i] = nullTime(v.SealedAt), uint32(v.SealedAt.Nanosecond())
		completed[i], completedNs[i] = nullTime(v.CompletedAt), uint32(v.CompletedAt.Nanosecond())
	}
	return []column{
		{"account", account}, {"id", id}, {"broker", broker}, {"file", file}, {"sha256", sha}, {"phase", phase},
		{"total_chunks", totalChunks}, {"movements", movements}, {"rejected", rejected}, {"error", errText},
		{"started_at", started}, {"started_at_ns", startedNs}, {"sealed_at", sealed}, {"sealed_at_ns", sealedNs},
		{"completed_at", completed}, {"completed_at_ns", completedNs}, {"version", versions},
	}, nil
}

// completeSessions writes a completed record of each listed session that
// exists, keeping a completion time already recorded.
func (s *Store) completeSessions(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	current, err := s.sessions(ctx, "has(?, id)", ids)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		return nil
	}
	versions := make([]uint64, len(current))
	for i := range current {
		current[i].Phase = store.PhaseCompleted
		if current[i].CompletedAt.IsZero() {
			current[i].CompletedAt = at
		}
		versions[i] = s.nextVersion(at)
	}
	cols, err := sessionColumns(current, versions)
	if err != nil {
		return err
	}
	return s.insert(ctx, "import_sessions", cols)
}

// dropVersionsBefore drops the account's projection partitions of versions
// older than keep (0 drops nothing): superseded versions, and versions whose
// writer died before committing them.
func (s *Store) dropVersionsBefore(ctx context.Context, account string, keep uint64) error {
	if keep == 0 {
		return nil
	}
	return s.dropVersions(ctx, account, keep, 0)
}

// dropVersions drops the account's projection partitions of every version
// below below but except (0 for none).
func (s *Store) dropVersions(ctx context.Context, account string, below, except uint64) error {
	for _, table := range projectionTables {
		var old []uint64
		err := s.do(ctx, "list versions of "+table, func(ctx context.Context) error {
			old = old[:0]
			rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM "+table+" WHERE account = ? AND version < ? AND version != ?",
				account, below, except)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var v uint64
				if err := rows.Scan(&v); err != nil {
					return err
				}
				old = append(old, v)
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, v := range old {
			if err := s.dropVersion(ctx, table, account, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropVersion drops one version of the account's rows of a projection
// table: its partition.
func (s *Store) dropVersion(ctx context.Context, table, account string, version uint64) error {
	// The partition is (account, version); the account is a validated
	// subject token ([events.ValidateAccount]) but quote it anyway.
	q := fmt.Sprintf("ALTER TABLE %s DROP PARTITION (%s, %d)", table, quoteString(account), version)
	return s.exec(ctx, fmt.Sprintf("drop %s version %d", table, version), q)
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// nullDate is d as a Nullable(Date) value: nil for the zero date.
func nullDate(d events.Date) *time.Time {
	if d.IsZero() {
		return nil
	}
	t := d.Time()
	return &t
}

// nullTime is t as a Nullable(DateTime) value (whole seconds): nil for the
// zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

// DateTime holds whole seconds from 1970 to 2105.
var (
	minDateTime = time.Unix(0, 0)
	maxDateTime = time.Unix(math.MaxUint32, 0)
)

func checkDateTime(t time.Time) error {
	if t.Before(minDateTime) || t.After(maxDateTime) {
		return fmt.Errorf("time %s outside DateTime's range (1970 to 2106)", t.Format(time.RFC3339))
	}
	return nil
}

// checkInstant accepts the zero time (stored as NULL) and DateTime's range.
func checkInstant(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return checkDateTime(t)
}

// quoteString is s as a ClickHouse string literal.
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
