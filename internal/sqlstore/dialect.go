package sqlstore

import (
	"context"
	"io/fs"
	"strconv"
	"strings"
	"sync"
)

// Dialect is what differs between the SQL databases herald runs on.
type Dialect struct {
	Name string
	// DollarPlaceholders rebinds "?" to "$1", "$2", … (PostgreSQL).
	DollarPlaceholders bool
	// MapError turns a driver error into a herald error (unique and
	// foreign-key violations become EConflict) or returns it unchanged.
	MapError func(error) error
	// Migrations holds NNNN_name.sql files applied in order.
	Migrations fs.FS
	// SkipLocked ends the claim's inner SELECT: " FOR UPDATE SKIP LOCKED"
	// on PostgreSQL, "" on SQLite (one writer; the UPDATE is atomic).
	SkipLocked string
	// ForUpdate ends a SELECT that must lock its row until the transaction
	// ends: " FOR UPDATE" on PostgreSQL, "" on SQLite (one writer).
	ForUpdate string
	// SyncPragma, if set, returns the statement run on a connection before
	// a transaction to make its commit durable or relaxed (SQLite).
	SyncPragma func(durable bool) string
	// RelaxTx, if set, runs first inside a relaxed transaction
	// (PostgreSQL: SET LOCAL synchronous_commit = off).
	RelaxTx string
	// NotifyWork, if set, runs after ingest commits (coalesced, on its
	// own connection) to tell other processes that deliveries are due
	// (PostgreSQL: NOTIFY).
	NotifyWork string
	// Committers is how many ingest group commits may run at once (0 or
	// 1: one; SQLite has one writer). More pipelines the groups where a
	// commit mostly waits for the server's WAL flush (PostgreSQL).
	Committers int
	// ListenWork, if set, calls wake whenever another process's ingest
	// committed, until ctx ends (PostgreSQL: LISTEN on its own connection).
	ListenWork func(ctx context.Context, wake func()) error
	// MigrationLock, if set, runs first in the migration transaction so
	// that concurrent processes migrate one at a time.
	MigrationLock string
	// ForeignKeys, if set, returns the statement that turns foreign-key
	// enforcement on or off for a connection, and ForeignKeyCheck lists
	// violations (SQLite): migrations marked "-- herald:foreign-keys-off"
	// run with the keys off and must leave no violation.
	ForeignKeys     func(on bool) string
	ForeignKeyCheck string
	// SizeQuery returns two integers: the bytes herald's tables take and
	// how many of them are free for reuse.
	SizeQuery string
	// ReclaimSpace, if set, returns the statement that gives up to n free
	// pages back to the file system (SQLite: PRAGMA incremental_vacuum).
	ReclaimSpace func(pages int) string
	// Vacuum, if set, are the statements that make dead rows' space
	// reusable (PostgreSQL: VACUUM of the queue's tables), run by the
	// store itself when VacuumOff says the server's autovacuum is off.
	Vacuum    []string
	VacuumOff string
}

// rebinder caches the rebound form of each query text.
type rebinder struct {
	dollar bool
	cache  sync.Map // string → string
}

func (r *rebinder) q(query string) string {
	if !r.dollar {
		return query
	}
	if v, ok := r.cache.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	r.cache.Store(query, out)
	return out
}
