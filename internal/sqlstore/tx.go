package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// Durability says how a transaction's commit must reach the disk.
type Durability int

const (
	// Durable commits are on disk when Commit returns: ingest (a 202
	// promises it) and configuration changes.
	Durable Durability = iota
	// Relaxed commits may be lost on a power cut (not on a crash of
	// herald): claims and delivery outcomes. Losing one repeats a delivery
	// at worst — at-least-once holds — and the next durable commit carries
	// them to disk anyway. This saves an fsync per batch of outcomes.
	Relaxed
)

// txConn is a transaction with the connection it runs on.
type txConn struct {
	*sql.Tx
	conn    *sql.Conn
	db      *sql.DB // the pool conn came from (its prepared statements fit)
	s       *Store
	durable bool
	outage  int64 // the outage this transaction began in, 0 if none
}

// Commit commits; a durable commit proves the database takes writes, so
// it ends the outage it began in (see availability).
func (t *txConn) Commit() error {
	err := t.Tx.Commit()
	if err == nil && t.durable {
		t.s.avail.up(t.outage)
	}
	return err
}

// Close ends the transaction (rolling back if not committed) and returns
// the connection to the pool.
func (t *txConn) Close() {
	t.Tx.Rollback()
	t.conn.Close()
}

// begin starts a write transaction with the given durability. SQLite sets
// the synchronous pragma on its one write connection before BEGIN (it
// cannot change inside a transaction); PostgreSQL sets
// synchronous_commit for the transaction alone.
func (s *Store) begin(ctx context.Context, d Durability) (*txConn, error) {
	outage := s.avail.during()
	pool := s.write
	if d == Relaxed && s.relaxed != nil {
		pool = s.relaxed // its sessions commit with synchronous_commit off
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, s.mapErr(err)
	}
	if s.dialect.SyncPragma != nil {
		if err := s.setSync(ctx, conn, d == Durable); err != nil {
			conn.Close()
			return nil, fmt.Errorf("set durability: %w", s.mapErr(err))
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, s.mapErr(err)
	}
	if d == Relaxed && s.dialect.RelaxTx != "" && pool != s.relaxed {
		if _, err := tx.ExecContext(ctx, s.dialect.RelaxTx); err != nil {
			tx.Rollback()
			conn.Close()
			return nil, fmt.Errorf("relax commit: %w", s.mapErr(err))
		}
	}
	return &txConn{Tx: tx, conn: conn, db: pool, s: s, durable: d == Durable, outage: outage}, nil
}

// setSync sets the synchronous pragma of conn unless it already has that
// value: a burst of ingests (or of outcome batches) sets it once, not per
// transaction. The setting is remembered per driver connection, so a
// connection the pool opens anew (after an error) is set again.
func (s *Store) setSync(ctx context.Context, conn *sql.Conn, durable bool) error {
	var dc any
	if err := conn.Raw(func(c any) error { dc = c; return nil }); err != nil {
		return err
	}
	if was, ok := s.syncOf.Load(dc); ok && was.(bool) == durable {
		return nil
	}
	if _, err := conn.ExecContext(ctx, s.dialect.SyncPragma(durable)); err != nil {
		s.syncOf.Delete(dc)
		return err
	}
	s.syncOf.Store(dc, durable)
	return nil
}

// prepared returns a statement prepared once on db for query (rebound),
// so hot queries are not parsed again on every call.
func (s *Store) prepared(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{db, query}
	if st, ok := s.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, s.mapErr(err)
	}
	if prev, loaded := s.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// txStmt returns query prepared for use inside tx. Only queries prepared
// when the store opened (hotWrites) are reused: preparing on the write
// pool now would wait for the connection this transaction holds.
func (s *Store) txStmt(ctx context.Context, tx *txConn, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(stmtKey{tx.db, query}); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	st, err := tx.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return st, nil
}

// The statements of the hot write paths (ingest, claim, outcomes).
const (
	qInsertEvent    = `INSERT INTO events (id, workspace_id, type, occurred_at, received_at, data, idempotency_key, deliveries, is_test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertDelivery = `INSERT INTO deliveries (id, workspace_id, event_id, event_type, webhook_id, status, status_reason, attempts, last_error, next_attempt_at, created_at, updated_at, claim_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// qPublishedHooks loads a workspace's published webhooks once per
	// ingest transaction; their lists of types and patterns are matched
	// in Go (see herald.EventsCover).
	qPublishedHooks = `SELECT id, ordered, revision, events, route_condition FROM webhooks WHERE workspace_id = ? AND status = 'published' ORDER BY id`
	qRecordOutcome  = `UPDATE deliveries SET status = ?, status_reason = ?, attempts = attempts + ?, next_attempt_at = ?, claim_token = NULL, last_status = ?, last_error = ?, updated_at = ? WHERE id = ? AND claim_token = ?`
	// qRecordSuccesses + "?, …)" marks a claim's plain successes (one
	// statement per bucket size of the IN list, see inBucket).
	qRecordSuccesses = `UPDATE deliveries SET status = 'succeeded', status_reason = '', attempts = attempts + 1, next_attempt_at = NULL,
				claim_token = NULL, last_status = ?, last_error = '', updated_at = ? WHERE claim_token = ? AND id IN (`
	// qWebhookHealthy and qWebhookFailing keep a webhook's failing_since
	// (written only when it changes), once per webhook per outcome batch.
	qWebhookHealthy = `UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`
	qWebhookFailing = `UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since IS NULL`
	qInsertAttempt  = `INSERT INTO attempts (id, workspace_id, delivery_id, webhook_id, event_id, number, started_at, duration_us, outcome, error_class, error, request_method, request_url, request_headers, request_body, response_status, response_headers, response_body, request_body_size, response_body_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func (s *Store) claimQuery() string {
	return `UPDATE deliveries SET next_attempt_at = ?, claim_token = ?, updated_at = ?
		WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?` + s.dialect.SkipLocked + `)
		RETURNING ` + deliveryColumns
}

// multiRows is how many rows one multi-row INSERT carries.
const multiRows = 64

// multiInsert repeats the VALUES group of a one-row INSERT n times (the
// text is built once per statement and size).
func multiInsert(one string, n int) string {
	key := multiKey{one, n}
	if q, ok := multiTexts.Load(key); ok {
		return q.(string)
	}
	i := strings.Index(one, "VALUES ")
	group := one[i+len("VALUES "):]
	q := one[:i+len("VALUES ")] + strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")
	multiTexts.Store(key, q)
	return q
}

type multiKey struct {
	one string
	n   int
}

var multiTexts sync.Map // multiKey → string

// rowBuffer batches the rows of one table into multi-row INSERTs: one
// statement per 64 rows instead of one per row.
type rowBuffer struct {
	s          *Store
	tx         *txConn
	one, many  string
	cols, rows int
	args       []any
	// parent holds rows that this table's rows refer to; it is flushed
	// first so a foreign key never points at a row not yet inserted.
	parent *rowBuffer
}

func (s *Store) newRowBuffer(tx *txConn, one string, cols int) *rowBuffer {
	return &rowBuffer{s: s, tx: tx, one: one, many: multiInsert(one, multiRows), cols: cols}
}

func (b *rowBuffer) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	b.rows++
	if b.rows < multiRows {
		return nil
	}
	if b.parent != nil {
		if err := b.parent.flush(ctx); err != nil {
			return err
		}
	}
	st, err := b.s.txStmt(ctx, b.tx, b.many)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, b.args...)
	b.args, b.rows = b.args[:0], 0
	return b.s.mapErr(err)
}

// flush inserts the rows still buffered (fewer than multiRows) in as
// few statements as the binary digits of their count: 13 rows go as 8,
// 4 and 1, each a statement prepared once (see Prepare) — one round trip
// each on PostgreSQL instead of one per row.
func (b *rowBuffer) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	if b.parent != nil {
		if err := b.parent.flush(ctx); err != nil {
			return err
		}
	}
	at := 0
	for size := multiRows / 2; size >= 1; size /= 2 {
		if b.rows-at < size {
			continue
		}
		q := b.one
		if size > 1 {
			q = multiInsert(b.one, size)
		}
		st, err := b.s.txStmt(ctx, b.tx, q)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, b.args[at*b.cols:(at+size)*b.cols]...); err != nil {
			return b.s.mapErr(err)
		}
		at += size
	}
	b.args, b.rows = b.args[:0], 0
	return nil
}

// Prepare readies the hot write statements; call it once the schema is
// migrated and before the store is used.
func (s *Store) Prepare(ctx context.Context) error {
	hot := []string{qInsertEvent, qInsertDelivery, multiInsert(qInsertEvent, multiRows), multiInsert(qInsertDelivery, multiRows),
		qPublishedHooks, qRecordOutcome, qInsertAttempt, qWebhookHealthy, qWebhookFailing, s.claimQuery()}
	for n := 2; n < multiRows; n *= 2 {
		hot = append(hot, multiInsert(qInsertEvent, n), multiInsert(qInsertDelivery, n))
	}
	for n := 1; n <= maxInList; n *= 2 {
		hot = append(hot, qRecordSuccesses+inMarks(n)+`)`)
	}
	pools := []*sql.DB{s.write}
	if s.relaxed != nil {
		pools = append(pools, s.relaxed)
	}
	for _, db := range pools {
		for _, q := range hot {
			if _, err := s.prepared(ctx, db, q); err != nil {
				return fmt.Errorf("prepare %q: %w", q[:min(len(q), 40)], err)
			}
		}
	}
	return nil
}

type stmtKey struct {
	db    *sql.DB
	query string
}
