package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Store implements herald.Store. Writes go through write; reads through
// read, which is the same pool except on SQLite, where one connection
// writes and a pool reads (single writer, many readers under WAL).
type Store struct {
	write *sql.DB
	read  *sql.DB
	// relaxed, if set (PostgreSQL), is a pool whose sessions commit with
	// synchronous_commit off: claims and outcomes run there, a claim as
	// one statement with no transaction around it (see SetRelaxedPool).
	relaxed *sql.DB
	dialect Dialect
	cipher  herald.Cipher
	rb      rebinder
	stmts   sync.Map                  // stmtKey → *sql.Stmt
	syncOf  sync.Map                  // driver connection → its synchronous pragma (true: durable), see setSync
	keys    ttlCache[herald.APIKey]   // by hash, see cache.go
	hooks   ttlCache[*herald.Webhook] // by id, see cache.go
	avail   availability
	committer
	closeOnce sync.Once
	// vacuum bookkeeping (PostgreSQL with autovacuum off)
	vacuumMu    sync.Mutex
	lastVacuum  time.Time
	vacuumNoted bool
}

// New returns a Store over the given pools; read may equal write.
func New(write, read *sql.DB, d Dialect, cipher herald.Cipher, opts ...Option) *Store {
	o := NewOptions(opts...)
	s := &Store{write: write, read: read, dialect: d, cipher: cipher, rb: rebinder{dollar: d.DollarPlaceholders}}
	s.avail.log = o.Log
	return s
}

var _ herald.Store = (*Store)(nil)

// log is where the store's own lines go (WithLogger; slog.Default).
func (s *Store) log() *slog.Logger { return s.avail.log }

// ListenForWork calls wake whenever another process commits new events,
// until ctx ends; it returns at once on databases with a single writer
// (SQLite), where this process sees all work itself.
func (s *Store) ListenForWork(ctx context.Context, wake func()) error {
	if s.dialect.ListenWork == nil {
		return nil
	}
	return s.dialect.ListenWork(ctx, wake)
}

// SetRelaxedPool names a pool for claims and outcomes whose sessions
// already commit without waiting for the disk (PostgreSQL: opened with
// synchronous_commit=off), so they need no "SET LOCAL" and a claim needs
// no BEGIN/COMMIT: one round trip instead of four. Call it before
// Prepare; Close closes the pool.
func (s *Store) SetRelaxedPool(db *sql.DB) { s.relaxed = db }

// DB returns the write pool, for the dialect packages' own queries.
func (s *Store) DB() *sql.DB { return s.write }

// Close commits what ingest has queued, then closes both pools.
func (s *Store) Close() error {
	defer s.stmts.Range(func(k, v any) bool { v.(*sql.Stmt).Close(); return true })
	s.closeOnce.Do(s.closeIngest)
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	if s.relaxed != nil {
		err = errors.Join(err, s.relaxed.Close())
	}
	return err
}

// Ping reports whether the database answers (an unreachable one is
// EUnavailable, and noted by the availability tracker).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.mapErr(s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one))
}

func (s *Store) q(query string) string { return s.rb.q(query) }

func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return herald.ErrNotFound
	}
	if s.dialect.MapError != nil {
		return s.noteErr(s.dialect.MapError(err))
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// likePattern returns a case-insensitive substring pattern with LIKE's
// wildcards escaped (used with ESCAPE '\').
func likePattern(s string) string {
	return "%" + likeEscaper.Replace(strings.ToLower(s)) + "%"
}

// likeEscaper escapes LIKE's wildcards (used with ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return herald.DefaultPageSize
	case n > herald.MaxPageSize:
		return herald.MaxPageSize
	}
	return n
}

func (s *Store) seal(plain string) ([]byte, error) {
	if plain == "" {
		return nil, nil
	}
	b, err := s.cipher.Seal([]byte(plain))
	if err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return b, nil
}

func (s *Store) open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	b, err := s.cipher.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("open secret (wrong secret key?): %w", err)
	}
	return string(b), nil
}

// EnsureWorkspace returns the named workspace, creating it if missing.
func (s *Store) EnsureWorkspace(ctx context.Context, name string) (*herald.Workspace, error) {
	w, err := s.WorkspaceByName(ctx, name)
	if err == nil || herald.ErrorCodeOf(err) != herald.ENotFound {
		return w, err
	}
	w = &herald.Workspace{ID: herald.NewID(), Name: name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		w.ID, w.Name, micros(w.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("create workspace %s: %w", name, s.mapErr(err))
	}
	// Another process may have won the race; read back whichever row exists.
	return s.WorkspaceByName(ctx, name)
}

// WorkspaceByName returns the named workspace or ENotFound.
func (s *Store) WorkspaceByName(ctx context.Context, name string) (*herald.Workspace, error) {
	return s.workspaceWhere(ctx, "name", name)
}

// WorkspaceByID returns the workspace with this id or ENotFound.
func (s *Store) WorkspaceByID(ctx context.Context, id string) (*herald.Workspace, error) {
	return s.workspaceWhere(ctx, "id", id)
}

func (s *Store) workspaceWhere(ctx context.Context, column, value string) (*herald.Workspace, error) {
	var w herald.Workspace
	var created int64
	var retention sql.NullInt64
	var origins string
	err := s.read.QueryRowContext(ctx, s.q(`SELECT id, name, time_zone, retention_seconds, portal_allowed_origins, created_at FROM workspaces WHERE `+column+` = ?`), value).
		Scan(&w.ID, &w.Name, &w.TimeZone, &retention, &origins, &created)
	if err != nil {
		return nil, s.mapErr(err)
	}
	if err := json.Unmarshal([]byte(origins), &w.PortalAllowedOrigins); err != nil || w.PortalAllowedOrigins == nil {
		w.PortalAllowedOrigins = []string{}
	}
	if retention.Valid {
		w.RetentionSeconds = &retention.Int64
	}
	w.CreatedAt = fromMicros(created)
	return &w, nil
}

// SetWorkspaceTimeZone stores the workspace's time zone ("" = default).
func (s *Store) SetWorkspaceTimeZone(ctx context.Context, id, timeZone string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE workspaces SET time_zone = ? WHERE id = ?`), timeZone, id)
	return s.expectOne(res, err)
}

// CreateAPIKey stores a key's hash and metadata.
func (s *Store) CreateAPIKey(ctx context.Context, k *herald.APIKey) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		k.ID, nullString(k.WorkspaceID), k.Name, k.Prefix, k.Hash, strings.Join(scopes, ","), micros(k.CreatedAt))
	return s.mapErr(err)
}

// APIKeyByHash returns the unrevoked key with this hash, or ENotFound.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*herald.APIKey, error) {
	now := time.Now()
	if k, ok := s.keys.get(string(hash), now); ok {
		return &k, nil
	}
	gen := s.keys.generation()
	k, err := s.apiKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.keys.put(string(hash), *k, gen, now)
	return k, nil
}

func (s *Store) apiKeyByHash(ctx context.Context, hash []byte) (*herald.APIKey, error) {
	var k herald.APIKey
	var scopes string
	var created int64
	var ws sql.NullString
	st, err := s.prepared(ctx, s.read, `SELECT id, workspace_id, name, prefix, hash, scopes, created_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL`)
	if err != nil {
		return nil, err
	}
	err = st.QueryRowContext(ctx, hash).Scan(&k.ID, &ws, &k.Name, &k.Prefix, &k.Hash, &scopes, &created)
	if err != nil {
		return nil, s.mapErr(err)
	}
	k.WorkspaceID = ws.String
	for _, sc := range strings.Split(scopes, ",") {
		k.Scopes = append(k.Scopes, herald.Scope(sc))
	}
	k.CreatedAt = fromMicros(created)
	return &k, nil
}
