package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
)

// movementInsertColumns are the columns of movement_docs a movement is
// written to, in the order of movementArgs: the dedup key, what the upsert
// and the kind-filtered scans need, and the document.
const movementInsertColumns = `account, utc, id, kind, session, line, doc`

// docOmit are the members of a movement's JSON object its document leaves
// out: the columns hold them.
const docOmit = events.OmitID | events.OmitAccount | events.OmitKind | events.OmitLine

// movementUpsert keeps, per (account, utc, id), that is per movement ID,
// the row of the smallest (session, line), whatever order they arrive in.
var movementUpsert = `ON CONFLICT (account, utc, id) DO UPDATE SET ` +
	updateAll(movementInsertColumns, "id", "account", "utc") + `
	WHERE (excluded.session, excluded.line) < (movement_docs.session, movement_docs.line)`

// widenOffsets records an account's offsets (time - utc, in seconds) in
// movement_offsets, which the scan's window relies on: it only widens.
const widenOffsets = `INSERT INTO movement_offsets (account, min_offset, max_offset) VALUES (?, ?, ?)
	ON CONFLICT (account) DO UPDATE SET min_offset = min(min_offset, excluded.min_offset),
		max_offset = max(max_offset, excluded.max_offset)
	WHERE excluded.min_offset < min_offset OR excluded.max_offset > max_offset`

// updateAll returns "c = excluded.c, ..." for every column but skip.
func updateAll(columns string, skip ...string) string {
	var sets []string
	for c := range strings.SplitSeq(columns, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains(skip, c) {
			sets = append(sets, c+" = excluded."+c)
		}
	}
	return strings.Join(sets, ", ")
}

const insertChunk = `INSERT INTO import_chunks (session, chunk_id, account, ordinal, total, week, part, movements, stored_at)
	VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (session, chunk_id) DO NOTHING`

const sessionColumns = `id, account, broker, file, sha256, phase, total_chunks, movements, rejected, error,
	started_at, sealed_at, completed_at`

var upsertSession = `INSERT INTO import_sessions (` + sessionColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (id) DO UPDATE SET ` + updateAll(sessionColumns, "id")

const insertReject = `INSERT INTO rejects (session, account, line, column_name, value, reason)
	VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`

// WriteBatch implements [store.Store]: one transaction, committed (and
// fsynced) before it returns nil. Movements go in multi-row INSERTs of
// movementRowsPerInsert rows.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Chunks) == 0 && len(b.Sessions) == 0 && len(b.Rejects) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins := newBulkInsert(ctx, tx, "movement_docs", movementInsertColumns, movementUpsert).withRows(movementRowsPerInsert)
		defer ins.close()
		f := newFormatter()
		var offs accountOffsets
		for _, r := range keyOrder(b.Chunks, &offs) {
			if err := ins.add(r.m.ID, f.movementArgs(r.m, r.utc, r.session)...); err != nil {
				return fmt.Errorf("movement %w", err)
			}
		}
		if err := ins.flush(); err != nil {
			return fmt.Errorf("movement %w", err)
		}
		for _, o := range offs {
			if _, err := tx.ExecContext(ctx, widenOffsets, o.account, o.lo, o.hi); err != nil {
				return fmt.Errorf("offsets of %s: %w", o.account, err)
			}
		}
		for _, c := range b.Chunks {
			_, err := tx.ExecContext(ctx, insertChunk, c.Session, c.ID, c.Account, c.Ordinal, c.Total,
				c.Week, c.Part, len(c.Movements), instant(b.At))
			if err != nil {
				return fmt.Errorf("chunk %s: %w", events.MsgID(c.Session, c.ID), err)
			}
		}
		for i := range b.Sessions {
			v := &b.Sessions[i]
			_, err := tx.ExecContext(ctx, upsertSession, v.ID, v.Account, v.Broker, v.File, v.SHA256, v.Phase,
				v.TotalChunks, v.Movements, v.Rejected, nullString(v.Error),
				instant(v.StartedAt), instant(v.SealedAt), instant(v.CompletedAt))
			if err != nil {
				return fmt.Errorf("session %s: %w", v.ID, err)
			}
		}
		for _, r := range b.Rejects {
			_, err := tx.ExecContext(ctx, insertReject, r.Session, r.Account, r.Line, r.Column, r.Value, r.Reason)
			if err != nil {
				return fmt.Errorf("reject %s line %d: %w", r.Session, r.Line, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write batch (%d chunks, %d sessions) to %s: %w", len(b.Chunks), len(b.Sessions), s.path, err)
	}
	return nil
}

// movementArgs returns the values of movementInsertColumns for m, whose
// UTC instant is utc ([utcOf]). The slice is reused by the next call.
func (f *formatter) movementArgs(m *events.Movement, utc int64, session string) []any {
	a := f.args[:0]
	a = append(a, f.boxed(boxAccount, m.Account), utc, m.ID, f.boxed(boxKind, string(m.Kind)),
		f.boxed(boxSession, session), m.Line, f.document(m))
	f.args = a
	return a
}

// keyedMovement is a movement of a batch with its key's instant and the
// session of its chunk.
type keyedMovement struct {
	m       *events.Movement
	utc     int64
	session string
}

// keyOrder returns the movements of chunks with their chunks in the order
// of their first movement's key (account, utc, id), each chunk's movements
// in their own order (a chunk is in events.Compare order, which is nearly
// the key's), and records their offsets in offs. Chunks arrive in the
// statement's order, often newest week first, so that each chunk's rows
// would land in front of the previous chunk's: in this order a batch's
// rows go into the B-tree as one run of neighbouring inserts, with 5-6 %
// less CPU per movement and fuller pages (BENCHMARKS.md; sorting every
// row costs more than it saves). The order of rows does not change what
// is stored: the upsert keeps the smallest (session, line) whatever the
// order.
func keyOrder(chunks []*events.Chunk, offs *accountOffsets) []keyedMovement {
	keyed := func(c *events.Chunk, i int) keyedMovement {
		m := &c.Movements[i]
		return keyedMovement{m: m, utc: utcOf(m), session: c.Session}
	}
	n := 0
	order := make([]*events.Chunk, 0, len(chunks))
	for _, c := range chunks {
		if len(c.Movements) > 0 {
			order = append(order, c)
			n += len(c.Movements)
		}
	}
	slices.SortStableFunc(order, func(a, b *events.Chunk) int {
		ka, kb := keyed(a, 0), keyed(b, 0)
		return compareKeys(&ka, &kb)
	})
	rows := make([]keyedMovement, 0, n)
	for _, c := range order {
		for i := range c.Movements {
			r := keyed(c, i)
			offs.add(r.m.Account, int64(r.m.Time)-r.utc)
			rows = append(rows, r)
		}
	}
	return rows
}

// compareKeys compares two movements by movement_docs' key (account, utc,
// id), as SQLite orders it (BINARY text: bytes).
func compareKeys(a, b *keyedMovement) int {
	if a.m.Account != b.m.Account {
		return strings.Compare(a.m.Account, b.m.Account)
	}
	if a.utc != b.utc {
		return cmp.Compare(a.utc, b.utc)
	}
	return strings.Compare(a.m.ID, b.m.ID)
}

// accountOffsets are the smallest and largest offsets of the movements of
// each account of a batch (usually one).
type accountOffsets []accountOffset

type accountOffset struct {
	account string
	lo, hi  int64
}

func (a *accountOffsets) add(account string, off int64) {
	for i := range *a {
		if o := &(*a)[i]; o.account == account {
			o.lo, o.hi = min(o.lo, off), max(o.hi, off)
			return
		}
	}
	*a = append(*a, accountOffset{account, off, off})
}

// utcOf returns m's UTC instant in Unix seconds: its wall-clock time minus
// its offset when the offset reads as "+HHMM", "-HHMM", "+HH:MM" or
// "-HH:MM"; any other offset ("", "Z", text the parsers never write) counts
// as zero. utcSQL is the same computation in SQL.
func utcOf(m *events.Movement) int64 {
	return int64(m.Time) - offsetSeconds(m.Offset)
}

func offsetSeconds(o string) int64 {
	var hh, mm string
	switch {
	case len(o) == 5:
		hh, mm = o[1:3], o[3:5]
	case len(o) == 6 && o[3] == ':':
		hh, mm = o[1:3], o[4:6]
	default:
		return 0
	}
	if (o[0] != '+' && o[0] != '-') || !digits(hh) || !digits(mm) {
		return 0
	}
	sec := int64(hh[0]-'0')*36000 + int64(hh[1]-'0')*3600 + int64(mm[0]-'0')*600 + int64(mm[1]-'0')*60
	if o[0] == '-' {
		return -sec
	}
	return sec
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseWallTime is events.ParseWallTime without time.Parse for the text
// the store writes, YYYY-MM-DDTHH:MM:SS with a valid date and clock;
// anything else goes to events.ParseWallTime (and its error).
func parseWallTime(s string) (events.WallTime, error) {
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return events.ParseWallTime(s)
	}
	var v [6]int
	for i, f := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		for j := f[0]; j < f[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return events.ParseWallTime(s)
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	y, mo, d, h, mi, sec := v[0], time.Month(v[1]), v[2], v[3], v[4], v[5]
	if mo < 1 || mo > 12 || d < 1 || d > events.DaysIn(y, int(mo)) || h > 23 || mi > 59 || sec > 59 {
		return events.ParseWallTime(s)
	}
	return events.WallTime(time.Date(y, mo, d, h, mi, sec, 0, time.UTC).Unix()), nil
}

// Accounts implements [store.Store]. It seeks from one account to the next
// in the primary key (a loose index scan): a few seeks per account instead
// of a read of every movement.
func (s *Store) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `WITH RECURSIVE a(account) AS (
			SELECT min(account) FROM movement_docs
			UNION ALL
			SELECT (SELECT min(account) FROM movement_docs WHERE account > a.account) FROM a WHERE a.account IS NOT NULL)
		SELECT account FROM a WHERE account IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlite: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	return out, nil
}
