// Package chtest gives tests a ClickHouse database of their own on the test
// server that .ci/run starts (.ci/clickhouse.sh): [DSN] reads the server's
// address from FOLIO_CLICKHOUSE_TEST_DSN and skips the test, loudly, when it
// is not set; [NewDatabase] creates a fresh database and drops it when the
// test ends; [NewStore] opens a [clickhouse.Store] on one.
//
// CI always sets the variable, so the ClickHouse tests always run there. To
// run them locally:
//
//	source .ci/clickhouse.sh && ch_start && go test ./...; ch_stop
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foliostream/foliostream/internal/store/clickhouse"
)

// EnvDSN names the environment variable holding the test server's DSN, e.g.
// clickhouse://127.0.0.1:19000/default.
const EnvDSN = "FOLIO_CLICKHOUSE_TEST_DSN"

// SkipMessage is what a test skipped for want of a server says.
const SkipMessage = "SKIPPING ClickHouse tests: " + EnvDSN + " not set " +
	"(.ci/run starts a server and sets it; locally: source .ci/clickhouse.sh && ch_start)"

// DSN returns the test server's DSN, or skips t with [SkipMessage].
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skip(SkipMessage)
	}
	return dsn
}

// NewDatabase creates a database of its own for t on the test server and
// returns a DSN naming it; the database is dropped when t ends. It skips t
// when there is no test server.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	db := "foliotest_" + hex.EncodeToString(b[:])
	u.Path = "/" + db
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, base, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop test database %s: %v", db, err)
		}
	})
	return u.String()
}

// NewStore opens a store on a database of its own for t (see
// [NewDatabase]); it is closed when t ends.
func NewStore(t testing.TB, opts clickhouse.Options) *clickhouse.Store {
	t.Helper()
	dsn := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := clickhouse.New(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("clickhouse.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Exec runs one statement on the database of dsn (test setup only).
func Exec(t testing.TB, dsn, query string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, dsn, query); err != nil {
		t.Fatal(err)
	}
}

func exec(ctx context.Context, dsn, query string) error {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return err
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, query); err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	return nil
}
