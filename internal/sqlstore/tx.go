package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
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
	conn *sql.Conn
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
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, s.mapErr(err)
	}
	if s.dialect.SyncPragma != nil {
		if _, err := conn.ExecContext(ctx, s.dialect.SyncPragma(d == Durable)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("set durability: %w", s.mapErr(err))
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, s.mapErr(err)
	}
	if d == Relaxed && s.dialect.RelaxTx != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.RelaxTx); err != nil {
			tx.Rollback()
			conn.Close()
			return nil, fmt.Errorf("relax commit: %w", s.mapErr(err))
		}
	}
	return &txConn{Tx: tx, conn: conn}, nil
}
