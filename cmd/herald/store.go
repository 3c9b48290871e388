package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// storeFlags are the flags of every command that opens the database.
type storeFlags struct {
	db            string
	secretKeyFile string
	secretKey     string
	production    bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.db, "db", "herald.db", "database: a SQLite file path, or a postgres:// URL")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", "", "file holding the base64 of the 32-byte key that encrypts secrets at rest (default: <db>.key beside a SQLite file, created on first start)")
	fs.StringVar(&f.secretKey, "secret-key", "", "the base64 key itself, instead of a file")
	fs.BoolVar(&f.production, "production", false, "refuse to start without an explicit secret key")
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

const keyHowTo = "create a key with: head -c 32 /dev/urandom | base64 > herald.key, then pass --secret-key-file herald.key (or HERALD_SECRET_KEY_FILE)"

// cipher loads the secret key: from --secret-key, --secret-key-file, or,
// for a SQLite database outside production mode, <db>.key (created on
// first start, mode 0600, and said so in the log).
func (f *storeFlags) cipher(log *slog.Logger) (*secrets.Box, error) {
	var key []byte
	var err error
	switch {
	case f.secretKey != "":
		key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(f.secretKey))
		if err != nil || len(key) != secrets.KeySize {
			return nil, fmt.Errorf("--secret-key must be the base64 of %d random bytes; %s", secrets.KeySize, keyHowTo)
		}
	case f.secretKeyFile != "":
		if key, err = secrets.LoadKeyFile(f.secretKeyFile); err != nil {
			return nil, err
		}
	case f.production:
		return nil, errors.New("production mode needs a secret key to encrypt secrets at rest; " + keyHowTo)
	case isPostgres(f.db):
		return nil, errors.New("with PostgreSQL every herald process must share one secret key; " + keyHowTo)
	default:
		path := f.db + ".key"
		var created bool
		if key, created, err = secrets.LoadOrCreateKeyFile(path); err != nil {
			return nil, err
		}
		if created {
			log.Warn("created a new secret key for encrypting secrets at rest; back it up with the database — without it stored secrets cannot be read", "path", path)
		}
	}
	return secrets.NewBox(key)
}

// checkDB refuses a --db that names no database herald can open, with
// the reason: empty, another database's URL, a folder that does not
// exist or cannot be written.
func (f *storeFlags) checkDB() error {
	db := strings.TrimSpace(f.db)
	switch {
	case db == "":
		return usageError{"--db is empty: give a SQLite file path (e.g. herald.db) or a postgres:// URL"}
	case isPostgres(db):
		return nil
	case strings.Contains(db, "://"):
		scheme, _, _ := strings.Cut(db, "://")
		return usageError{fmt.Sprintf("--db %s://…: unsupported database scheme %q; herald runs on SQLite (a file path) or PostgreSQL (postgres://…)", scheme, scheme)}
	}
	dir := filepath.Dir(db)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--db %s: the folder %s does not exist; create it first", db, dir)
	case err != nil:
		return fmt.Errorf("--db %s: cannot look at the folder %s: %v", db, dir, err)
	case !st.IsDir():
		return fmt.Errorf("--db %s: %s is not a folder", db, dir)
	}
	if fi, err := os.Stat(db); err == nil && fi.IsDir() {
		return fmt.Errorf("--db %s is a folder; name a file in it, e.g. %s", db, filepath.Join(db, "herald.db"))
	}
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		probe, err := os.CreateTemp(dir, ".herald-write-check-*")
		if err != nil {
			return fmt.Errorf("--db %s: cannot create files in %s (SQLite writes the database, its WAL and the key beside it): %v", db, dir, err)
		}
		probe.Close()
		os.Remove(probe.Name())
	}
	return nil
}

// open opens the database named by --db and applies pending migrations.
func (f *storeFlags) open(ctx context.Context, log *slog.Logger, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	if err := f.checkDB(); err != nil {
		return nil, err
	}
	box, err := f.cipher(log)
	if err != nil {
		return nil, err
	}
	if isPostgres(f.db) {
		return postgres.Open(ctx, f.db, box, append([]sqlstore.Option{sqlstore.WithLogger(log)}, opts...)...)
	}
	return sqlite.Open(ctx, f.db, box, append([]sqlstore.Option{sqlstore.WithLogger(log)}, opts...)...)
}

// cliActor names who changes things from the command line, for the audit
// log: "herald CLI (user)" with the operating-system user, when known.
func cliActor(ctx context.Context) context.Context {
	actor := "herald CLI"
	if u, err := user.Current(); err == nil {
		actor += " (" + u.Username + ")"
	}
	return herald.WithActor(ctx, actor)
}
