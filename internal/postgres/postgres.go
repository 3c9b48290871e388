// Package postgres is herald's PostgreSQL store, through pgx v5's
// database/sql driver so the queries are shared with SQLite
// (internal/sqlstore). Many herald processes may share one database.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockKey is an arbitrary constant: processes starting at once
// take this advisory lock so one migrates and the others wait.
const migrationLockKey = 7460215841

// Dialect describes PostgreSQL to the shared store.
func Dialect() sqlstore.Dialect {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sqlstore.Dialect{Name: "postgres", DollarPlaceholders: true, Migrations: sub, MapError: mapError, SkipLocked: " FOR UPDATE SKIP LOCKED", ForUpdate: " FOR UPDATE", RelaxTx: "SET LOCAL synchronous_commit = off", NotifyWork: "NOTIFY " + workChannel,
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
		SizeQuery: `SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT), CAST(0 AS BIGINT) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`}
}

// workChannel is the NOTIFY channel ingest signals on.
const workChannel = "herald_work"

// listener returns a ListenWork for the database at url: a dedicated pgx
// connection that LISTENs and calls wake on each notification,
// reconnecting with backoff until ctx ends.
func listener(url string) func(ctx context.Context, wake func()) error {
	return func(ctx context.Context, wake func()) error {
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := listenOnce(ctx, url, wake)
			if ctx.Err() != nil {
				return nil
			}
			slog.Default().Warn("postgres LISTEN connection lost; polling until it is back", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		}
		return nil
	}
}

func listenOnce(ctx context.Context, url string, wake func()) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+workChannel); err != nil {
		return err
	}
	wake() // work may have arrived while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// Open connects to the database at url (postgres://…), applies pending
// migrations and returns the store.
func Open(ctx context.Context, url string, cipher herald.Cipher) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if _, err := sqlstore.Migrate(ctx, db, Dialect()); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	d := Dialect()
	d.ListenWork = listener(url)
	s := sqlstore.New(db, db, d, cipher)
	if err := s.Prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// mapError turns constraint violations (by SQLSTATE) into herald errors.
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return &herald.Error{Code: herald.EConflict, Message: "already exists", Err: err}
	case "23503": // foreign_key_violation
		return &herald.Error{Code: herald.EConflict, Message: "refers to or is referred to by another object", Err: err}
	case "23514", "23502": // check_violation, not_null_violation
		return &herald.Error{Code: herald.EInvalid, Message: "violates a database constraint", Err: err}
	}
	return err
}
