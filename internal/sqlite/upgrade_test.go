package sqlite_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// TestUpgradeRebuildsAuthorizations migrates a database holding an
// authorization and a webhook that uses it to 0006, then opens it with
// every migration: 0007 rebuilds the authorizations table, and the
// webhook's foreign key must still name it and still hold.
func TestUpgradeRebuildsAuthorizations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	d := sqlite.Dialect()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(d.Migrations, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0007" {
			b, _ := fs.ReadFile(d.Migrations, e.Name())
			old[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	d.Migrations = old
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := sqlstore.Migrate(ctx, db, d); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, created_at) VALUES ('w', 'default', 0)`,
		`INSERT INTO authorizations (id, workspace_id, name, endpoint, type, header_key, header_visibility, secret, created_at, updated_at) VALUES ('a', 'w', 'n', 'https://x.example.com', 'header', 'K', 'SECRET', NULL, 0, 0)`,
		`INSERT INTO webhooks (id, workspace_id, name, event, authorization_id, endpoint_url, method, payload_type, status, revision, signing_secret, created_at, updated_at) VALUES ('h', 'w', 'n', 'e', 'a', 'https://x.example.com', 'POST', 'JSON', 'published', 1, x'01', 0, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	c, err := secrets.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var parent string
	if err := s.DB().QueryRowContext(ctx, `SELECT "table" FROM pragma_foreign_key_list('webhooks') WHERE "from" = 'authorization_id'`).Scan(&parent); err != nil || parent != "authorizations" {
		t.Fatalf("webhooks.authorization_id refers to %q (%v), want authorizations", parent, err)
	}
	var typ string
	if err := s.DB().QueryRowContext(ctx, `SELECT type FROM authorizations WHERE id = 'a'`).Scan(&typ); err != nil || typ != "header" {
		t.Fatalf("authorization after upgrade: %q, %v", typ, err)
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM authorizations WHERE id = 'a'`); err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Fatalf("deleting a used authorization after the upgrade: %v, want a foreign key failure", err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO authorizations (id, workspace_id, name, endpoint, type, secret, created_at, updated_at) VALUES ('b', 'w', 'n', 'https://x.example.com', 'bearer', x'01', 0, 0)`); err != nil {
		t.Fatalf("a bearer row after the upgrade: %v", err)
	}
}
