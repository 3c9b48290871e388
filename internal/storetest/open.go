// Package storetest is the conformance suite every herald.Store passes,
// and helpers that open real stores for other packages' tests: SQLite on a
// temporary file, PostgreSQL in a fresh schema of the server on
// 127.0.0.1:5432 (or HERALD_TEST_POSTGRES_URL).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// TestCipher returns a Box under a fixed test key.
func TestCipher(t testing.TB) herald.Cipher {
	box, err := secrets.NewBox(bytes.Repeat([]byte{0x42}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// OpenSQLite opens a store on a new file in t.TempDir().
func OpenSQLite(t testing.TB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), TestCipher(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresURL returns the URL of a fresh, empty schema on the test server,
// dropped when the test ends. It skips the test, saying why, when no
// server answers — unless HERALD_REQUIRE_POSTGRES is set (as in CI), in
// which case it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL required (HERALD_REQUIRE_POSTGRES is set) but %s does not answer: %v", base, err)
		}
		t.Skipf("SKIP: no PostgreSQL at %s (%v); set HERALD_TEST_POSTGRES_URL to run the PostgreSQL suite", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "herald_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a store on a fresh schema (see PostgresURL).
func OpenPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return OpenPostgresURL(t, PostgresURL(t))
}

// OpenPostgresURL opens a store on url; two calls with one URL act like
// two herald processes sharing a database.
func OpenPostgresURL(t testing.TB, url string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, TestCipher(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
