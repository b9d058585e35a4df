package sqlite

import (
	"context"
	"database/sql"
)

// migrations are the schema versions, in order: migrations[i] brings the
// database from version i to version i+1. A released migration is never
// edited; a change is a new entry.
var migrations = []migration{
	{
		description: "initial schema",
		sql: `
CREATE TABLE movements (
	id             TEXT PRIMARY KEY,   -- "<row id>:<kind>:<part>"
	account        TEXT NOT NULL,
	broker         TEXT NOT NULL,
	kind           TEXT NOT NULL,
	time           TEXT NOT NULL,      -- wall clock, YYYY-MM-DDTHH:MM:SS
	utc_offset     TEXT,               -- as written ("+0100"), NULL if none
	seq            INTEGER NOT NULL,
	part           INTEGER NOT NULL,
	line           INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	ticker         TEXT,
	cash_type      TEXT,
	code           TEXT,
	quantity       TEXT,               -- decimals: exact decimal strings, NULL when zero
	price          TEXT,
	amount         TEXT,
	commissions    TEXT,
	fees           TEXT,
	option_type    TEXT,
	strike         TEXT,
	new_strike     TEXT,
	expiration     TEXT,               -- YYYY-MM-DD
	premium        TEXT,
	net_premium    TEXT,
	multiplier     TEXT,
	from_currency  TEXT,
	amount_changed TEXT,
	notes          TEXT,
	session        TEXT NOT NULL       -- the import session the row was kept from
) WITHOUT ROWID;
CREATE INDEX movements_by_account ON movements (account, time, seq, part, id);

CREATE TABLE import_sessions (
	id           TEXT PRIMARY KEY,
	account      TEXT NOT NULL,
	broker       TEXT NOT NULL,
	file         TEXT NOT NULL,
	sha256       TEXT NOT NULL,
	phase        TEXT NOT NULL,        -- publishing, sealed, completed, failed, cancelled
	total_chunks INTEGER NOT NULL,
	movements    INTEGER NOT NULL,     -- planned movements
	rejected     INTEGER NOT NULL,
	error        TEXT,
	started_at   TEXT,                 -- RFC 3339 UTC
	sealed_at    TEXT,
	completed_at TEXT
) WITHOUT ROWID;
CREATE INDEX import_sessions_by_account ON import_sessions (account, started_at, id);

CREATE TABLE import_chunks (
	session   TEXT NOT NULL,
	chunk_id  TEXT NOT NULL,           -- "<ISO week>.<part>"
	account   TEXT NOT NULL,
	ordinal   INTEGER NOT NULL,
	total     INTEGER NOT NULL,
	week      TEXT NOT NULL,
	part      INTEGER NOT NULL,
	movements INTEGER NOT NULL,
	stored_at TEXT,                    -- first time the chunk was stored
	PRIMARY KEY (session, chunk_id)
) WITHOUT ROWID;

CREATE TABLE broker_snapshots (
	account                     TEXT NOT NULL,
	currency                    TEXT NOT NULL,
	date                        TEXT NOT NULL,
	movement_counter            INTEGER NOT NULL,
	realized_gains              TEXT NOT NULL,
	realized_percentage         TEXT NOT NULL,
	unrealized_gains            TEXT NOT NULL,
	unrealized_gains_percentage TEXT NOT NULL,
	invested                    TEXT NOT NULL,
	commissions                 TEXT NOT NULL,
	fees                        TEXT NOT NULL,
	deposited                   TEXT NOT NULL,
	withdrawn                   TEXT NOT NULL,
	dividends_received          TEXT NOT NULL,
	options_income              TEXT NOT NULL,
	other_income                TEXT NOT NULL,
	open_trades                 INTEGER NOT NULL,  -- 0 or 1
	net_cash_flow               TEXT NOT NULL,
	PRIMARY KEY (account, currency, date)
) WITHOUT ROWID;

CREATE TABLE ticker_snapshots (
	account          TEXT NOT NULL,
	ticker           TEXT NOT NULL,
	currency         TEXT NOT NULL,
	date             TEXT NOT NULL,
	total_shares     TEXT NOT NULL,
	weight           TEXT NOT NULL,
	cost_basis       TEXT NOT NULL,
	real_cost        TEXT NOT NULL,
	dividends        TEXT NOT NULL,
	dividend_taxes   TEXT NOT NULL,
	options          TEXT NOT NULL,
	total_incomes    TEXT NOT NULL,
	capital_deployed TEXT NOT NULL,
	realized         TEXT NOT NULL,
	performance      TEXT NOT NULL,
	open_trades      INTEGER NOT NULL,
	commissions      TEXT NOT NULL,
	fees             TEXT NOT NULL,
	PRIMARY KEY (account, ticker, currency, date)
) WITHOUT ROWID;

CREATE TABLE operations (
	account          TEXT NOT NULL,
	seq              INTEGER NOT NULL,  -- position in the account's list
	ticker           TEXT NOT NULL,
	currency         TEXT NOT NULL,
	is_open          INTEGER NOT NULL,
	open_date        TEXT NOT NULL,
	close_date       TEXT,              -- NULL while open
	realized         TEXT NOT NULL,
	commissions      TEXT NOT NULL,
	fees             TEXT NOT NULL,
	premium          TEXT NOT NULL,
	dividends        TEXT NOT NULL,
	dividend_taxes   TEXT NOT NULL,
	capital_deployed TEXT NOT NULL,
	performance      TEXT NOT NULL,
	PRIMARY KEY (account, seq)
) WITHOUT ROWID;

CREATE TABLE rejects (
	session     TEXT NOT NULL,
	account     TEXT NOT NULL,
	line        INTEGER NOT NULL,
	column_name TEXT NOT NULL,
	value       TEXT NOT NULL,
	reason      TEXT NOT NULL,
	PRIMARY KEY (session, line, column_name, reason)
) WITHOUT ROWID;
`,
	},
	{
		// Movements keyed by random IDs made every insert touch a random
		// page of a wide table (a WAL page per row once the table outgrew
		// the cache) and phase 2 read the account through an index, one
		// table lookup per row. Clustered by (account, time, seq, part,
		// id), inserts of a statement land on neighbouring pages and an
		// account's history is one range scan; the narrow unique index on
		// id keeps the upsert by ID (BENCHMARKS.md). Same columns, same
		// order.
		description: "movements clustered by account and time",
		sql: `
CREATE TABLE movements_by_time (
	id             TEXT NOT NULL,
	account        TEXT NOT NULL,
	broker         TEXT NOT NULL,
	kind           TEXT NOT NULL,
	time           TEXT NOT NULL,
	utc_offset     TEXT,
	seq            INTEGER NOT NULL,
	part           INTEGER NOT NULL,
	line           INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	ticker         TEXT,
	cash_type      TEXT,
	code           TEXT,
	quantity       TEXT,
	price          TEXT,
	amount         TEXT,
	commissions    TEXT,
	fees           TEXT,
	option_type    TEXT,
	strike         TEXT,
	new_strike     TEXT,
	expiration     TEXT,
	premium        TEXT,
	net_premium    TEXT,
	multiplier     TEXT,
	from_currency  TEXT,
	amount_changed TEXT,
	notes          TEXT,
	session        TEXT NOT NULL,
	PRIMARY KEY (account, time, seq, part, id)
) WITHOUT ROWID;
INSERT INTO movements_by_time SELECT * FROM movements;
DROP TABLE movements;
ALTER TABLE movements_by_time RENAME TO movements;
CREATE UNIQUE INDEX movements_id ON movements (id);
`,
	},
	{
		// The unique index on id took a random B-tree insert per movement:
		// once it outgrew the page cache every batch dirtied (and the WAL
		// wrote and fsynced) about one index page per movement, and writes
		// slowed down as the history grew. A movement ID determines the
		// movement's account and UTC instant (spec/parsers.md §6.2: the
		// row ID hashes the account, and the fingerprint holds the UTC
		// instant, or the naive time a statement without offsets gives),
		// so uniqueness by (account, utc, id) is uniqueness by ID, and its
		// index grows at its end, in time order, like the table
		// (BENCHMARKS.md). utc is the movement's time minus its offset, in
		// Unix seconds ([utcOf]; utcSQL is the same computation in SQL).
		// The same ID in two accounts is now two movements, as the row ID
		// scheme intends (it never happens with real IDs).
		description: "movements unique by account, UTC instant and id",
		sql: `
CREATE TABLE movements_v3 (
	id             TEXT NOT NULL,
	account        TEXT NOT NULL,
	broker         TEXT NOT NULL,
	kind           TEXT NOT NULL,
	time           TEXT NOT NULL,
	utc_offset     TEXT,
	seq            INTEGER NOT NULL,
	part           INTEGER NOT NULL,
	line           INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	ticker         TEXT,
	cash_type      TEXT,
	code           TEXT,
	quantity       TEXT,
	price          TEXT,
	amount         TEXT,
	commissions    TEXT,
	fees           TEXT,
	option_type    TEXT,
	strike         TEXT,
	new_strike     TEXT,
	expiration     TEXT,
	premium        TEXT,
	net_premium    TEXT,
	multiplier     TEXT,
	from_currency  TEXT,
	amount_changed TEXT,
	notes          TEXT,
	session        TEXT NOT NULL,
	utc            INTEGER NOT NULL,  -- UTC instant, Unix seconds: time minus utc_offset
	PRIMARY KEY (account, time, seq, part, id)
) WITHOUT ROWID;
INSERT INTO movements_v3 SELECT *, ` + utcSQL + ` FROM movements;
DROP TABLE movements;
ALTER TABLE movements_v3 RENAME TO movements;
CREATE UNIQUE INDEX movements_instant ON movements (account, utc, id);
`,
	},
	{
		// Two B-trees per movement (the table by wall time and the unique
		// index by instant) cost a quarter of the write rate; the table is
		// now the one B-tree, keyed by the dedup key (account, utc, id).
		// An account's history is still one range scan, in UTC order:
		// ScanMovements re-sorts it into events.Compare order (wall time,
		// seq, part, id) in a window bounded by the account's offsets,
		// which movement_offsets keeps (the smallest and largest time - utc
		// of its movements, in seconds; it only widens). Strike adjustments
		// (phase 2's first scan, usually none) have a partial index, so
		// that scan reads no movement of another kind. Same columns, same
		// order.
		description: "movements keyed by account, UTC instant and id",
		sql: `
CREATE TABLE movements_v4 (
	id             TEXT NOT NULL,
	account        TEXT NOT NULL,
	broker         TEXT NOT NULL,
	kind           TEXT NOT NULL,
	time           TEXT NOT NULL,
	utc_offset     TEXT,
	seq            INTEGER NOT NULL,
	part           INTEGER NOT NULL,
	line           INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	ticker         TEXT,
	cash_type      TEXT,
	code           TEXT,
	quantity       TEXT,
	price          TEXT,
	amount         TEXT,
	commissions    TEXT,
	fees           TEXT,
	option_type    TEXT,
	strike         TEXT,
	new_strike     TEXT,
	expiration     TEXT,
	premium        TEXT,
	net_premium    TEXT,
	multiplier     TEXT,
	from_currency  TEXT,
	amount_changed TEXT,
	notes          TEXT,
	session        TEXT NOT NULL,
	utc            INTEGER NOT NULL,
	PRIMARY KEY (account, utc, id)
) WITHOUT ROWID;
INSERT INTO movements_v4 SELECT * FROM movements ORDER BY account, utc, id;
DROP TABLE movements;
ALTER TABLE movements_v4 RENAME TO movements;
CREATE INDEX movements_adjustments ON movements (account, utc, id) WHERE kind = 'strike_adjustment';

CREATE TABLE movement_offsets (
	account    TEXT PRIMARY KEY,
	min_offset INTEGER NOT NULL,  -- seconds: the smallest time - utc of the account's movements
	max_offset INTEGER NOT NULL   -- the largest
) WITHOUT ROWID;
INSERT INTO movement_offsets
	SELECT account, min(o), max(o) FROM (SELECT account, CAST(strftime('%s', time) AS INTEGER) - utc AS o FROM movements)
	WHERE o IS NOT NULL GROUP BY account;
`,
	},
	{
		// A movement's 30 columns cost most of a write (the driver binds
		// and SQLite encodes each of them) and most of a scan (each is
		// stepped and converted): the table is now one narrow row per
		// movement, the dedup key (account, utc, id), what SQL filters and
		// the upsert compares (kind, session, line), and the rest as one
		// document, the movement's JSON object as a chunk message carries
		// it (events.AppendMovementJSON) without the members the columns
		// hold (id, account, kind, line). ScanMovements decodes only the
		// fields a query asks for. movements is a view with the columns
		// and values of version 4's table, for sqlite3 users
		// (docs/queries.md). The rows are converted in Go (migrateDocs):
		// SQL's json_object does not write encoding/json's bytes.
		description: "movements as documents",
		sql: `
CREATE TABLE movement_docs (
	account TEXT NOT NULL,
	utc     INTEGER NOT NULL,  -- UTC instant, Unix seconds
	id      TEXT NOT NULL,
	kind    TEXT NOT NULL,
	session TEXT NOT NULL,     -- the import session the row was kept from
	line    INTEGER NOT NULL,
	doc     TEXT NOT NULL,     -- the movement's JSON object without id, account, kind and line
	PRIMARY KEY (account, utc, id)
) WITHOUT ROWID;
`,
		run: migrateDocs,
		after: `
DROP TABLE movements;
CREATE INDEX movement_docs_adjustments ON movement_docs (account, utc, id) WHERE kind = 'strike_adjustment';
CREATE VIEW movements AS SELECT
	id,
	account,
	json_extract(doc, '$.broker') AS broker,
	kind,
	coalesce(nullif(json_extract(doc, '$.time'), ''), '1970-01-01T00:00:00') AS time,
	json_extract(doc, '$.offset') AS utc_offset,
	coalesce(json_extract(doc, '$.seq'), 0) AS seq,
	coalesce(json_extract(doc, '$.part'), 0) AS part,
	line,
	json_extract(doc, '$.currency') AS currency,
	json_extract(doc, '$.ticker') AS ticker,
	json_extract(doc, '$.cash_type') AS cash_type,
	json_extract(doc, '$.code') AS code,
	json_extract(doc, '$.quantity') AS quantity,
	json_extract(doc, '$.price') AS price,
	json_extract(doc, '$.amount') AS amount,
	json_extract(doc, '$.commissions') AS commissions,
	json_extract(doc, '$.fees') AS fees,
	json_extract(doc, '$.option_type') AS option_type,
	json_extract(doc, '$.strike') AS strike,
	json_extract(doc, '$.new_strike') AS new_strike,
	json_extract(doc, '$.expiration') AS expiration,
	json_extract(doc, '$.premium') AS premium,
	json_extract(doc, '$.net_premium') AS net_premium,
	json_extract(doc, '$.multiplier') AS multiplier,
	json_extract(doc, '$.from_currency') AS from_currency,
	json_extract(doc, '$.amount_changed') AS amount_changed,
	json_extract(doc, '$.notes') AS notes,
	session,
	utc
FROM movement_docs;
`,
	},
}

// utcSQL computes the utc column from time and utc_offset, exactly as
// [utcOf] does: offsets "+HHMM", "-HHMM", "+HH:MM", "-HH:MM" count, anything
// else ("", "Z", NULL, unreadable text) is zero.
const utcSQL = `CAST(strftime('%s', time) AS INTEGER) - CASE
	WHEN length(utc_offset) = 5 AND substr(utc_offset, 1, 1) IN ('+', '-')
		AND substr(utc_offset, 2, 4) GLOB '[0-9][0-9][0-9][0-9]'
	THEN (CASE substr(utc_offset, 1, 1) WHEN '-' THEN -1 ELSE 1 END)
		* (CAST(substr(utc_offset, 2, 2) AS INTEGER) * 3600 + CAST(substr(utc_offset, 4, 2) AS INTEGER) * 60)
	WHEN length(utc_offset) = 6 AND substr(utc_offset, 1, 1) IN ('+', '-') AND substr(utc_offset, 4, 1) = ':'
		AND substr(utc_offset, 2, 2) || substr(utc_offset, 5, 2) GLOB '[0-9][0-9][0-9][0-9]'
	THEN (CASE substr(utc_offset, 1, 1) WHEN '-' THEN -1 ELSE 1 END)
		* (CAST(substr(utc_offset, 2, 2) AS INTEGER) * 3600 + CAST(substr(utc_offset, 5, 2) AS INTEGER) * 60)
	ELSE 0 END`

// A migration runs sql, then run if not nil (a step in Go), then after,
// in one transaction.
type migration struct {
	description string
	sql         string
	run         func(ctx context.Context, tx *sql.Tx) error
	after       string
}

// schemaVersionTable records every applied migration; it is created before
// the first one.
const schemaVersionTable = `
CREATE TABLE IF NOT EXISTS schema_version (
	version     INTEGER PRIMARY KEY,
	description TEXT NOT NULL,
	applied_at  TEXT NOT NULL
)`
