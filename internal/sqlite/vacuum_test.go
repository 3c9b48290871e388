package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/storetest"
)

// A file made before incremental auto-vacuum (mode NONE, tables in it) is
// rewritten once at open and keeps its data; a new file is in the mode
// from the start.
func TestOldFileIsRewrittenForIncrementalVacuum(t *testing.T) {
	ctx := context.Background()
	mode := func(path string) int {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var m int
		if err := db.QueryRow(`PRAGMA auto_vacuum`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE keep (v TEXT); INSERT INTO keep VALUES ('still here')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if m := mode(old); m != 0 {
		t.Fatalf("the old file starts in mode %d", m)
	}
	s, err := sqlite.Open(ctx, old, storetest.TestCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := s.DB().QueryRow(`SELECT v FROM keep`).Scan(&v); err != nil || v != "still here" {
		t.Fatalf("data after the rewrite: %q %v", v, err)
	}
	s.Close()
	if m := mode(old); m != 2 {
		t.Fatalf("after open the old file is in mode %d, want 2 (incremental)", m)
	}
	fresh := filepath.Join(t.TempDir(), "new.db")
	s, err = sqlite.Open(ctx, fresh, storetest.TestCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if m := mode(fresh); m != 2 {
		t.Fatalf("a new file is in mode %d", m)
	}
}
