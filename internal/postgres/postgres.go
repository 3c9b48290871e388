// Package postgres is herald's PostgreSQL store, through pgx v5's
// database/sql driver so the queries are shared with SQLite
// (internal/sqlstore). Many herald processes may share one database.
package postgres

import (
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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
	return sqlstore.Dialect{Name: "postgres", DollarPlaceholders: true, Migrations: sub, MapError: mapError, SkipLocked: " FOR UPDATE SKIP LOCKED", ForUpdate: " FOR UPDATE", RelaxTx: "SET LOCAL synchronous_commit = off", NotifyWork: "NOTIFY " + workChannel, Committers: 4,
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
		SizeQuery: `SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT), CAST(0 AS BIGINT) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`,
		// The queue's updates and retention's deletes leave dead rows;
		// where the server's autovacuum is off, the store vacuums these.
		// ANALYZE too: without statistics, a plan a connection cached
		// while a table was nearly empty (a sequential scan, say, in the
		// foreign-key check of every delivery insert) would stay after the
		// table has grown; new statistics make the server plan again.
		Vacuum:    []string{"VACUUM (ANALYZE) deliveries", "VACUUM (ANALYZE) attempts", "VACUUM (ANALYZE) events"},
		VacuumOff: "SELECT current_setting('autovacuum') = 'off'"}
}

// workChannel is the NOTIFY channel ingest signals on.
const workChannel = "herald_work"

// listener returns a ListenWork for the database: a dedicated pgx
// connection that LISTENs and calls wake on each notification from
// another process (self is this store's NOTIFY payload: its own ingests
// wake its claim loop directly), reconnecting with backoff until ctx
// ends. A lost connection is logged once when it is lost and once when
// it is back, not at every retry.
func listener(cfg *pgx.ConnConfig, log *slog.Logger, self string) func(ctx context.Context, wake func()) error {
	return func(ctx context.Context, wake func()) error {
		backoff := 100 * time.Millisecond
		lost := false
		co := &coalescer{window: foreignWakeWindow, wake: wake}
		defer co.stop()
		for ctx.Err() == nil {
			err := listenOnce(ctx, cfg, self, func() {
				backoff = 100 * time.Millisecond
				if lost {
					lost = false
					log.Info("postgres LISTEN connection is back")
				}
			}, wake, co.notify)
			if ctx.Err() != nil {
				return nil
			}
			if !lost {
				lost = true
				log.Warn("postgres LISTEN connection lost; polling until it is back", "err", err)
			} else {
				log.Debug("postgres LISTEN reconnect failed", "err", err, "retry_in", backoff)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		}
		return nil
	}
}

func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, self string, connected, wake, foreign func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+workChannel); err != nil {
		return err
	}
	connected()
	wake() // work may have arrived while we were not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		route(n.Payload, self, wake, foreign)
	}
}

// route acts on one notification: none for our own ingest (it woke our
// claim loop already), a wake at once for an ingest-only process's (or an
// older herald's, without a payload): nobody else will claim it, and a
// coalesced wake for another delivering process's.
func route(payload, self string, wake, foreign func()) {
	switch {
	case payload == self:
	case strings.HasSuffix(payload, urgentMark), !herald.ValidID(payload):
		wake()
	default:
		foreign()
	}
}

// foreignWakeWindow bounds how often other delivering processes' ingests
// wake this one's claim loop: the first notification wakes it at once,
// those that follow within the window are folded into one wake at its
// end. A delivering process claims its own ingests at once, so under
// load spread over every process a wake per foreign commit mostly
// claimed nothing — a claim query per commit per process, what made two
// processes cost more per delivery than one (docs/PERFORMANCE.md,
// "Scale-out"). Help for a process whose slots are all taken still comes
// within the window. An ingest-only process (serve --no-deliver) marks
// its notifications urgent: they wake at once, every time.
const foreignWakeWindow = 100 * time.Millisecond

// urgentMark ends the payload of an ingest-only process's notifications.
const urgentMark = "!"

// coalescer wakes at once, then at most once per window.
type coalescer struct {
	window     time.Duration
	wake       func()
	mu         sync.Mutex
	quietUntil time.Time
	timer      *time.Timer
	stopped    bool
}

func (c *coalescer) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !now.Before(c.quietUntil) {
		c.quietUntil = now.Add(c.window)
		c.wake()
		return
	}
	if c.timer == nil && !c.stopped {
		c.timer = time.AfterFunc(c.quietUntil.Sub(now), c.fire)
	}
}

func (c *coalescer) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = nil
	if c.stopped {
		return
	}
	c.quietUntil = time.Now().Add(c.window)
	c.wake()
}

func (c *coalescer) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// Open connects to the database at url (postgres://…), applies pending
// migrations and returns the store. sqlstore.WithLogger names the logger
// for the store's lines and the driver's: the server's notices and
// warnings (OnNotice) and the LISTEN connection.
func Open(ctx context.Context, url string, cipher herald.Cipher, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	o := sqlstore.NewOptions(opts...)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { logNotice(o.Log, n) }
	db := stdlib.OpenDB(*cfg)
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
	// Each store names itself in its notifications, so its listener can
	// skip its own (a hex id: safe inside the literal).
	// A process that delivers nothing adds "!": claim this at once.
	self := herald.NewID()
	payload := self
	if o.IngestOnly {
		payload += urgentMark
	}
	d.NotifyWork = "SELECT pg_notify('" + workChannel + "', '" + payload + "')"
	d.ListenWork = listener(cfg, o.Log, self)
	s := sqlstore.New(db, db, d, cipher, opts...)
	// Claims and outcomes: sessions that commit without waiting for the
	// WAL flush (a lost claim or outcome repeats a delivery after its
	// lease, never loses one; see docs/ARCHITECTURE.md).
	relaxed := cfg.Copy()
	if relaxed.RuntimeParams == nil {
		relaxed.RuntimeParams = map[string]string{}
	}
	relaxed.RuntimeParams["synchronous_commit"] = "off"
	rdb := stdlib.OpenDB(*relaxed)
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	s.SetRelaxedPool(rdb)
	if err := s.Prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// logNotice logs a server notice: a WARNING as a warning, except those of
// class 57 (operator intervention: "terminating connection due to … shutdown",
// one per pooled connection), which the store's single availability line
// already covers; NOTICE and below ("relation already exists, skipping" at
// every start) at debug level.
func logNotice(log *slog.Logger, n *pgconn.Notice) {
	level := slog.LevelDebug
	if n.Severity == "WARNING" && !strings.HasPrefix(n.Code, "57") {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "postgres "+strings.ToLower(n.Severity), "code", n.Code, "message", n.Message, "detail", n.Detail, "hint", n.Hint)
}

// mapError turns constraint violations (by SQLSTATE) into herald errors,
// and every sign that the server cannot be reached or cannot take work
// into EUnavailable (see unavailable).
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if unavailable(err, nil) {
			return &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable (PostgreSQL cannot be reached)", Err: err}
		}
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
	if unavailable(err, pe) {
		return &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable (PostgreSQL: " + pe.Code + ")", Err: err}
	}
	return err
}

// unavailable reports whether err means the server is not there or cannot
// take work now, decided by type and SQLSTATE, never by message text:
//   - class 08 (connection exception), 57P01 admin_shutdown, 57P02
//     crash_shutdown, 57P03 cannot_connect_now (starting up, recovering),
//     class 53 (insufficient resources: 53100 disk_full, 53200
//     out_of_memory, 53300 too_many_connections), 25006
//     read_only_sql_transaction (a standby after a failover);
//   - a failed connection attempt (*pgconn.ConnectError), a network
//     error on an open connection (net.Error), a connection that ended in
//     the middle of a message (io.ErrUnexpectedEOF), driver.ErrBadConn
//     (database/sql gave up re-dialling), and what pgconn marks safe to
//     retry because nothing was sent (a connection already closed under a
//     transaction: database/sql cannot re-dial inside one).
//
// The caller's own deadline or cancellation is never "unavailable".
func unavailable(err error, pe *pgconn.PgError) bool {
	if pe != nil {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "25006":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up (context.DeadlineExceeded is a net.Error too)
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
