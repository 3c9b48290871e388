package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/heraldhq/herald/internal/herald"
)

// Ingest groups concurrent calls into one transaction (group commit): the
// first caller's batch starts a commit, and every batch that arrives while
// it runs is committed together next. Each caller returns only after the
// commit that holds its events, so "nil" still means "on disk", at the
// cost of one fsync per group instead of one per request.
func (s *Store) Ingest(ctx context.Context, reqs []*herald.IngestRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	s.ingestOnce.Do(s.startCommitter)
	b := &ingestBatch{reqs: reqs, done: make(chan error, 1)}
	select {
	case s.ingestQ <- b:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errors.New("store is closing")
	}
	// Once queued, the batch is committed or refused as a whole; wait for
	// the answer even if ctx ends, so no caller reports "not stored" for an
	// event that is on disk.
	select {
	case err := <-b.done:
		return err
	case <-s.committerDone:
		select {
		case err := <-b.done:
			return err
		default:
			return errors.New("store closed before the events were committed")
		}
	}
}

type ingestBatch struct {
	reqs []*herald.IngestRequest
	done chan error
}

// maxGroupEvents bounds one group commit.
const maxGroupEvents = 2000

func (s *Store) startCommitter() {
	s.ingestQ = make(chan *ingestBatch, 1024)
	s.committerDone = make(chan struct{})
	go func() {
		defer close(s.committerDone)
		for {
			var first *ingestBatch
			select {
			case first = <-s.ingestQ:
			case <-s.closing:
				// Commit what is already queued, then stop.
				for {
					select {
					case b := <-s.ingestQ:
						s.commitGroup([]*ingestBatch{b})
					default:
						return
					}
				}
			}
			group := []*ingestBatch{first}
			n := len(first.reqs)
		drain:
			for n < maxGroupEvents {
				select {
				case b := <-s.ingestQ:
					group = append(group, b)
					n += len(b.reqs)
				default:
					break drain
				}
			}
			s.commitGroup(group)
		}
	}()
}

// commitGroup commits all batches in one transaction; if that fails, it
// retries each batch alone (see below).
func (s *Store) commitGroup(group []*ingestBatch) {
	var all []*herald.IngestRequest
	for _, b := range group {
		all = append(all, b.reqs...)
	}
	err := s.ingestTx(context.Background(), all)
	if err == nil {
		for _, b := range group {
			b.done <- nil
		}
		return
	}
	// A database that is unavailable refuses every batch alike: answer
	// them all at once instead of failing one transaction per batch.
	if herald.ErrorCodeOf(err) == herald.EUnavailable {
		for _, b := range group {
			b.done <- err
		}
		return
	}
	// Retry each batch alone, once: a batch that raced another process
	// on an idempotency key now finds the winner's event and answers with
	// it, and a batch that is really at fault fails only its own caller.
	for _, b := range group {
		b.done <- s.ingestTx(context.Background(), b.reqs)
	}
}

type wsType struct{ ws, typ string }

type publishedHook struct {
	id      string
	ordered bool
}

func (s *Store) ingestTx(ctx context.Context, reqs []*herald.IngestRequest) error {
	tx, err := s.begin(ctx, Durable)
	if err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	defer tx.Close()
	events := s.newRowBuffer(tx, qInsertEvent, 9)
	deliveries := s.newRowBuffer(tx, qInsertDelivery, 8)
	deliveries.parent = events

	hooks := map[wsType][]publishedHook{}
	seenKeys := map[wsType]*herald.IngestRequest{}
	// ordered webhooks that already have a pending delivery (in the
	// database or earlier in this transaction): new ones are held.
	busy := map[string]bool{}
	for _, r := range reqs {
		r.Result = herald.IngestResult{}
		ev := r.Event
		if ev.IdempotencyKey != "" {
			k := wsType{ev.WorkspaceID, ev.IdempotencyKey}
			if first, ok := seenKeys[k]; ok {
				r.Result = first.Result
				r.Result.Duplicate = true
				continue
			}
			dup, err := s.checkIdempotency(ctx, tx, ev)
			if err != nil {
				return err
			}
			if dup != nil {
				r.Result = *dup
				seenKeys[k] = r
				continue
			}
			seenKeys[k] = r
		}
		key := wsType{ev.WorkspaceID, ev.Type}
		list, ok := hooks[key]
		if ev.Test {
			list, ok = nil, true // a test send's event goes only where the test sends it
		}
		if !ok {
			if list, err = s.publishedHooks(ctx, tx, ev.WorkspaceID, ev.Type); err != nil {
				return err
			}
			hooks[key] = list
		}
		var idem sql.NullString
		if ev.IdempotencyKey != "" {
			idem = sql.NullString{String: ev.IdempotencyKey, Valid: true}
		}
		if err := events.add(ctx, ev.ID, ev.WorkspaceID, ev.Type, micros(ev.OccurredAt), micros(ev.ReceivedAt), string(ev.RawData), idem, len(list), ev.Test); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		now := micros(ev.ReceivedAt)
		for _, h := range list {
			due := now
			if h.ordered {
				if busy[h.id] {
					due = micros(herald.HeldUntil)
				} else {
					pending, err := s.hasPending(ctx, tx, h.id)
					if err != nil {
						return err
					}
					if pending {
						due = micros(herald.HeldUntil)
					}
					busy[h.id] = true
				}
			}
			if err := deliveries.add(ctx, herald.NewID(), ev.WorkspaceID, ev.ID, ev.Type, h.id, due, now, now); err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
		}
		r.Result = herald.IngestResult{EventID: ev.ID, Deliveries: len(list)}
	}
	if s.dialect.NotifyWork != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.NotifyWork); err != nil {
			return fmt.Errorf("notify: %w", s.mapErr(err))
		}
	}
	// Events first: deliveries refer to them.
	if err := events.flush(ctx); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if err := deliveries.flush(ctx); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit ingest: %w", s.mapErr(err))
	}
	return nil
}

// checkIdempotency returns the first answer for a key seen within the
// window; an older use of the key is forgotten so the key can be reused.
func (s *Store) checkIdempotency(ctx context.Context, tx *txConn, ev *herald.Event) (*herald.IngestResult, error) {
	var id string
	var deliveries int
	var received int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT id, deliveries, received_at FROM events WHERE workspace_id = ? AND idempotency_key = ?`), ev.WorkspaceID, ev.IdempotencyKey).
		Scan(&id, &deliveries, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check idempotency key: %w", s.mapErr(err))
	}
	if fromMicros(received).After(ev.ReceivedAt.Add(-herald.IdempotencyWindow)) {
		return &herald.IngestResult{EventID: id, Deliveries: deliveries, Duplicate: true}, nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE events SET idempotency_key = NULL WHERE id = ?`), id); err != nil {
		return nil, fmt.Errorf("expire idempotency key: %w", s.mapErr(err))
	}
	return nil, nil
}

func (s *Store) publishedHooks(ctx context.Context, tx *txConn, workspaceID, eventType string) ([]publishedHook, error) {
	st, err := s.txStmt(ctx, tx, qPublishedHooks)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, workspaceID, eventType)
	if err != nil {
		return nil, fmt.Errorf("published webhooks: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []publishedHook
	for rows.Next() {
		var h publishedHook
		if err := rows.Scan(&h.id, &h.ordered); err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, h)
	}
	return out, s.mapErr(rows.Err())
}

// hasPending reports whether an ordered webhook has a pending delivery.
// It first locks the webhook's row, as releaseHeld does, so an ingest and
// the outcome of the webhook's last pending delivery cannot interleave in
// two processes (which could leave a new delivery held with nobody left
// to release it).
func (s *Store) hasPending(ctx context.Context, tx *txConn, webhookID string) (bool, error) {
	if err := s.lockWebhook(ctx, tx, webhookID); err != nil {
		return false, err
	}
	var n int
	err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM deliveries WHERE webhook_id = ? AND status = 'pending'`), webhookID).Scan(&n)
	return n > 0, s.mapErr(err)
}

// closer state for the committer; see Close.
type committer struct {
	ingestOnce    sync.Once
	ingestQ       chan *ingestBatch
	closing       chan struct{}
	committerDone chan struct{}
	closeOnce     sync.Once
}

// lockWebhook holds the webhook's row until tx ends (PostgreSQL; SQLite
// has a single writer and needs no lock).
func (s *Store) lockWebhook(ctx context.Context, tx *txConn, webhookID string) error {
	if s.dialect.ForUpdate == "" {
		return nil
	}
	var id string
	err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM webhooks WHERE id = ?`+s.dialect.ForUpdate), webhookID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lock webhook %s: %w", webhookID, s.mapErr(err))
	}
	return nil
}
