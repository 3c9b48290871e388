package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// Real SQLite failures map to EUnavailable by result code: a full
// database (max_page_count), a file that cannot be opened, a lock held
// past the busy timeout by another connection.
func TestMapErrorOfRealFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(50)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	var pages int
	db.QueryRow(`PRAGMA page_count`).Scan(&pages)
	if _, err := db.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, full = db.Exec(`INSERT INTO t VALUES (?)`, string(make([]byte, 4000)))
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if got := mapError(err); herald.ErrorCodeOf(got) != herald.EUnavailable || !errors.Is(got, err) {
			t.Fatalf("%s: %v → %v", what, err, got)
		}
	}
	check("full", full)

	// Another connection holds the write lock past busy_timeout.
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, busy := db.Exec(`DELETE FROM t`)
	check("busy", busy)

	missing, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "no", "such", "dir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	check("cantopen", missing.Ping())

	// A constraint stays a constraint.
	if _, err := db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if _, err := db.Exec(`CREATE TABLE u (v TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO u VALUES ('a')`)
	_, dup := db.Exec(`INSERT INTO u VALUES ('a')`)
	if herald.ErrorCodeOf(mapError(dup)) != herald.EConflict {
		t.Fatalf("duplicate: %v → %v", dup, mapError(dup))
	}
}
