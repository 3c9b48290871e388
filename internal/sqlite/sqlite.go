// Package sqlite is herald's embedded store: a SQLite file through the
// pure-Go driver modernc.org/sqlite (no cgo), in WAL mode, with one
// writing connection and a pool of readers. SQLite has a single writer, so
// one connection for writes avoids SQLITE_BUSY between our own goroutines;
// readers never block it under WAL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect describes SQLite to the shared store.
func Dialect() sqlstore.Dialect {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sqlstore.Dialect{Name: "sqlite", Migrations: sub, MapError: mapError, SyncPragma: syncPragma,
		SizeQuery: `SELECT (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size()),
			(SELECT freelist_count FROM pragma_freelist_count()) * (SELECT page_size FROM pragma_page_size())`,
		ReclaimSpace: func(pages int) string { return fmt.Sprintf("PRAGMA incremental_vacuum(%d)", pages) },
		ForeignKeys: func(on bool) string {
			if on {
				return "PRAGMA foreign_keys = ON"
			}
			return "PRAGMA foreign_keys = OFF"
		},
		ForeignKeyCheck: "PRAGMA foreign_key_check"}
}

// dsn sets busy_timeout first (so the other pragmas wait rather than fail),
// then WAL, foreign keys and FULL sync (journal_size_limit truncates the
// WAL after a checkpoint, so one burst does not leave a large -wal file
// behind for good): a committed transaction survives a
// power cut, which is what "202 means on disk" promises. BEGIN IMMEDIATE
// takes the write lock up front instead of failing on upgrade.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Set("_txlock", "immediate")
	if readOnly {
		q.Set("mode", "ro")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path, applies
// pending migrations, and returns the store (sqlstore.WithLogger names
// the logger of its availability lines).
func Open(ctx context.Context, path string, cipher herald.Cipher, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := incrementalVacuum(ctx, write, sqlstore.NewOptions(opts...).Log); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if _, err := sqlstore.Migrate(ctx, write, Dialect()); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)*2))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)*2))
	s := sqlstore.New(write, read, Dialect(), cipher, opts...)
	if err := s.Prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// incrementalVacuum puts the file in incremental auto-vacuum mode, so the
// space that retention frees can be given back to the file system
// (sqlstore's ReclaimSpace) as well as reused. The mode takes effect
// through VACUUM: instant for a new file; a file made by an older herald
// is rewritten once, and the log says so.
func incrementalVacuum(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var mode int
	if err := db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return err
	}
	if mode == 2 { // incremental
		return nil
	}
	if _, err := db.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return err
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		// A new file: WAL mode has already written its header, so the
		// mode takes effect only through VACUUM — instant when empty.
		_, err := db.ExecContext(ctx, `VACUUM`)
		return err
	}
	log.Warn("rewriting the SQLite file once so retention can give space back (incremental auto-vacuum); a large file takes a while", "path", dbPath(ctx, db))
	start := time.Now()
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return err
	}
	log.Info("SQLite file rewritten", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// dbPath names the main database file of db, for log lines.
func dbPath(ctx context.Context, db *sql.DB) string {
	var seq int
	var name, file string
	if err := db.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return ""
	}
	return file
}

// syncPragma: FULL fsyncs the WAL at every commit; NORMAL leaves it to
// the next FULL commit or checkpoint (safe against a crash of herald,
// not against a power cut). Other connections are read-only.
func syncPragma(durable bool) string {
	if durable {
		return "PRAGMA synchronous = FULL"
	}
	return "PRAGMA synchronous = NORMAL"
}

// mapError turns constraint violations into EConflict or EInvalid, and a
// database that cannot take writes into EUnavailable, by (extended) result
// code: SQLITE_FULL (disk or max_page_count full), SQLITE_IOERR_* (the
// disk failed), SQLITE_CANTOPEN (the file went away), SQLITE_BUSY (another
// process held the lock past busy_timeout). The transaction that hit one
// rolls back whole, so nothing is half-written.
func mapError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &herald.Error{Code: herald.EConflict, Message: "already exists", Err: err}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &herald.Error{Code: herald.EConflict, Message: "refers to or is referred to by another object", Err: err}
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return &herald.Error{Code: herald.EInvalid, Message: "violates a database constraint", Err: err}
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL:
		return &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable (SQLite: the disk or database is full)", Err: err}
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable (SQLite: cannot read or write the file)", Err: err}
	case sqlite3.SQLITE_BUSY:
		return &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable (SQLite: locked by another process past the busy timeout)", Err: err}
	}
	return err
}
