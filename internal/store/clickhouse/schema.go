package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// migration is one schema version: statements that take the database from
// the previous version to this one. Each statement must be idempotent (IF
// NOT EXISTS), because ClickHouse has no transactional DDL: a migration
// interrupted half-way is applied again whole at the next start.
type migration struct {
	description string
	statements  []string
}

// migrations are the schema versions, in order: migrations[i] is version
// i+1. A released migration is never edited; a change is a new entry.
var migrations = []migration{
	{
		description: "initial schema",
		statements: []string{
			// Amounts: Decimal(38, 10) columns plus the row's exact column
			// (see the package doc, "Exact decimals").
			`CREATE TABLE IF NOT EXISTS movements (
	account        String,
	date           Date,               -- the day of time
	id             String,             -- "<row id>:<kind>:<part>"
	broker         String,
	kind           String,
	time           DateTime('UTC'),    -- the statement's wall clock, read as UTC
	utc_offset     String,             -- as written ("+0100"), '' if none
	seq            UInt32,
	part           UInt32,
	line           UInt32,
	currency       String,
	ticker         String,
	cash_type      String,
	code           String,
	quantity       Decimal(38, 10),
	price          Decimal(38, 10),
	amount         Decimal(38, 10),
	commissions    Decimal(38, 10),
	fees           Decimal(38, 10),
	option_type    String,
	strike         Decimal(38, 10),
	new_strike     Decimal(38, 10),
	expiration     Nullable(Date),
	premium        Decimal(38, 10),
	net_premium    Decimal(38, 10),
	multiplier     Decimal(38, 10),
	from_currency  String,
	amount_changed Decimal(38, 10),
	notes          String,
	exact          String,             -- JSON of the fields the Decimal columns round
	session        String,             -- the import session that wrote the row last
	chunk          String,
	version        UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(date)
ORDER BY (account, date, id)`,

			`CREATE TABLE IF NOT EXISTS import_sessions (
	account         String,
	id              String,
	broker          String,
	file            String,
	sha256          String,
	phase           String,            -- publishing, sealed, completed, failed, cancelled
	total_chunks    UInt32,
	movements       UInt32,            -- planned movements
	rejected        UInt32,
	error           String,
	started_at      Nullable(DateTime('UTC')),
	started_at_ns   UInt32,            -- nanoseconds within the second
	sealed_at       Nullable(DateTime('UTC')),
	sealed_at_ns    UInt32,
	completed_at    Nullable(DateTime('UTC')),
	completed_at_ns UInt32,
	version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (account, id)`,

			`CREATE TABLE IF NOT EXISTS import_chunks (
	account   String,
	session   String,
	chunk     String,                  -- "<ISO week>.<part>"
	ordinal   UInt32,
	total     UInt32,
	week      String,
	part      UInt32,
	movements UInt32,
	stored_at Nullable(DateTime('UTC')), -- the last time the chunk was written
	version   UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (account, session, chunk)`,

			`CREATE TABLE IF NOT EXISTS rejects (
	account     String,
	session     String,
	line        UInt32,
	column_name String,
	value       String,
	reason      String,
	version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (account, session, line, column_name, reason)`,

			`CREATE TABLE IF NOT EXISTS projection_commits (
	account        String,
	version        UInt64,
	broker_rows    UInt32,
	ticker_rows    UInt32,
	operation_rows UInt32,
	committed_at   Nullable(DateTime('UTC'))
) ENGINE = ReplacingMergeTree(version)
ORDER BY (account, version)`,

			`CREATE TABLE IF NOT EXISTS broker_snapshots (
	account                     String,
	version                     UInt64,
	currency                    String,
	date                        Date,
	movement_counter            UInt32,
	realized_gains              Decimal(38, 10),
	realized_percentage         Decimal(38, 10),
	unrealized_gains            Decimal(38, 10),
	unrealized_gains_percentage Decimal(38, 10),
	invested                    Decimal(38, 10),
	commissions                 Decimal(38, 10),
	fees                        Decimal(38, 10),
	deposited                   Decimal(38, 10),
	withdrawn                   Decimal(38, 10),
	dividends_received          Decimal(38, 10),
	options_income              Decimal(38, 10),
	other_income                Decimal(38, 10),
	open_trades                 UInt8,
	net_cash_flow               Decimal(38, 10),
	exact                       String
) ENGINE = ReplacingMergeTree
PARTITION BY (account, version)
ORDER BY (account, version, currency, date)`,

			`CREATE TABLE IF NOT EXISTS ticker_snapshots (
	account          String,
	version          UInt64,
	ticker           String,
	currency         String,
	date             Date,
	total_shares     Decimal(38, 10),
	weight           Decimal(38, 10),
	cost_basis       Decimal(38, 10),
	real_cost        Decimal(38, 10),
	dividends        Decimal(38, 10),
	dividend_taxes   Decimal(38, 10),
	options          Decimal(38, 10),
	total_incomes    Decimal(38, 10),
	capital_deployed Decimal(38, 10),
	realized         Decimal(38, 10),
	performance      Decimal(38, 10),
	open_trades      UInt8,
	commissions      Decimal(38, 10),
	fees             Decimal(38, 10),
	exact            String
) ENGINE = ReplacingMergeTree
PARTITION BY (account, version)
ORDER BY (account, version, ticker, currency, date)`,

			`CREATE TABLE IF NOT EXISTS operations (
	account          String,
	version          UInt64,
	seq              UInt32,           -- position in the account's list
	ticker           String,
	currency         String,
	is_open          UInt8,
	open_date        Date,
	close_date       Nullable(Date),   -- NULL while open
	realized         Decimal(38, 10),
	commissions      Decimal(38, 10),
	fees             Decimal(38, 10),
	premium          Decimal(38, 10),
	dividends        Decimal(38, 10),
	dividend_taxes   Decimal(38, 10),
	capital_deployed Decimal(38, 10),
	performance      Decimal(38, 10),
	exact            String
) ENGINE = ReplacingMergeTree
PARTITION BY (account, version)
ORDER BY (account, version, seq)`,

			// The latest complete version of each account's projections.
			`CREATE VIEW IF NOT EXISTS broker_snapshots_current AS
SELECT * FROM broker_snapshots FINAL
WHERE (account, version) IN (SELECT account, max(version) FROM projection_commits GROUP BY account)`,
			`CREATE VIEW IF NOT EXISTS ticker_snapshots_current AS
SELECT * FROM ticker_snapshots FINAL
WHERE (account, version) IN (SELECT account, max(version) FROM projection_commits GROUP BY account)`,
			`CREATE VIEW IF NOT EXISTS operations_current AS
SELECT * FROM operations FINAL
WHERE (account, version) IN (SELECT account, max(version) FROM projection_commits GROUP BY account)`,
		},
	},
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version     UInt32,
	description String,
	applied_at  DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY version`

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate applies the migrations the database does not have yet.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.exec(ctx, "create schema_migrations", createMigrationsTable); err != nil {
		return err
	}
	var current uint32
	err := s.do(ctx, "read schema version", func(ctx context.Context) error {
		return s.conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&current)
	})
	if err != nil {
		return err
	}
	if int(current) > len(migrations) {
		return fmt.Errorf("%w: database %s is at version %d, this build knows %d",
			ErrNewerSchema, s.database, current, len(migrations))
	}
	for i := int(current); i < len(migrations); i++ {
		m := migrations[i]
		for j, stmt := range m.statements {
			what := fmt.Sprintf("migration %d (%s) statement %d (%s)", i+1, m.description, j+1, firstLine(stmt))
			if err := s.exec(ctx, what, stmt); err != nil {
				return err
			}
		}
		err := s.insert(ctx, "schema_migrations", []column{
			{"version", []uint32{uint32(i + 1)}},
			{"description", []string{m.description}},
			{"applied_at", []time.Time{time.Now().UTC().Truncate(time.Second)}},
		})
		if err != nil {
			return fmt.Errorf("record migration %d: %w", i+1, err)
		}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
