package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrate applies every migration of d not yet recorded in
// schema_migrations, each in its own transaction, and returns how many it
// applied. It is safe to run on every start.
func Migrate(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(d.Migrations, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	type migration struct {
		version int64
		name    string
	}
	var list []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("migration %s: name must start with a number and an underscore", name)
		}
		list = append(list, migration{v, name})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	rb := &rebinder{dollar: d.DollarPlaceholders}
	applied := 0
	for _, m := range list {
		body, err := fs.ReadFile(d.Migrations, m.name)
		if err != nil {
			return applied, fmt.Errorf("read migration %s: %w", m.name, err)
		}
		done, err := applyMigration(ctx, db, d, rb, m.version, m.name, string(body))
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if done {
			applied++
		}
	}
	return applied, nil
}

// foreignKeysOff marks a migration that must run with foreign keys off
// (SQLite: rebuilding a table that other tables refer to). The keys are
// checked before it commits and turned on again after.
const foreignKeysOff = "-- herald:foreign-keys-off"

func applyMigration(ctx context.Context, db *sql.DB, d Dialect, rb *rebinder, version int64, name, body string) (bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	keysOff := d.ForeignKeys != nil && strings.Contains(body, foreignKeysOff)
	if keysOff {
		// PRAGMA foreign_keys is a no-op inside a transaction: it is set on
		// the connection before BEGIN.
		if _, err := conn.ExecContext(ctx, d.ForeignKeys(false)); err != nil {
			return false, fmt.Errorf("foreign keys off: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), d.ForeignKeys(true))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return false, fmt.Errorf("lock: %w", err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, rb.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if keysOff && d.ForeignKeyCheck != "" {
		rows, err := tx.QueryContext(ctx, d.ForeignKeyCheck)
		if err != nil {
			return false, fmt.Errorf("foreign key check: %w", err)
		}
		broken := rows.Next()
		rows.Close()
		if broken {
			return false, fmt.Errorf("foreign key check: the migration leaves rows that refer to missing rows")
		}
	}
	if _, err := tx.ExecContext(ctx, rb.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		version, name, time.Now().UnixMicro()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
