package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Ingest groups concurrent calls into one transaction (group commit).
// There is no committer goroutine: a caller that finds fewer than
// Dialect.Committers commits running becomes a leader and commits what
// is pending — its own batch and every batch that arrived meanwhile — in
// one transaction; the others wait for the leader's answer. At a low
// rate each caller thus commits its own event on its own goroutine (no
// hand-off to a committer and back, two scheduler wake-ups fewer per
// event), and under load concurrent requests share commits. Each caller
// returns only after the commit that holds its events, so "nil" still
// means "on disk". With more than one committer (PostgreSQL, where a
// commit waits for the server's WAL flush and several flush together),
// groups are pipelined: the next group is built and sent while the
// previous one is being flushed.
func (s *Store) Ingest(ctx context.Context, reqs []*herald.IngestRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b := &ingestBatch{reqs: reqs, done: make(chan error, 1)}
	c := &s.committer
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("store is closing")
	}
	c.pending = append(c.pending, b)
	if c.leaders < max(1, s.dialect.Committers) {
		c.leaders++
		c.running.Add(1)
		s.lead(b) // unlocks c.mu
	} else {
		c.mu.Unlock()
	}
	// Once queued, the batch is committed or refused as a whole; wait for
	// the answer even if ctx ends, so no caller reports "not stored" for an
	// event that is on disk.
	return <-b.done
}

type ingestBatch struct {
	reqs []*herald.IngestRequest
	done chan error
}

// maxGroupEvents bounds one group commit.
const maxGroupEvents = 2000

// lead commits pending groups, with c.mu held on entry (it returns with
// it released). Once the caller's own batch is committed, a leader that
// still finds work pending hands it to a goroutine instead of making its
// caller wait for other callers' commits.
func (s *Store) lead(own *ingestBatch) {
	c := &s.committer
	for {
		if len(c.pending) == 0 {
			c.leaders--
			c.mu.Unlock()
			c.running.Done()
			return
		}
		n, i := 0, 0
		for i < len(c.pending) && (i == 0 || n+len(c.pending[i].reqs) <= maxGroupEvents) {
			n += len(c.pending[i].reqs)
			i++
		}
		group := append([]*ingestBatch(nil), c.pending[:i]...)
		c.pending = append(c.pending[:0], c.pending[i:]...)
		mine := false
		for _, b := range group {
			mine = mine || b == own
		}
		c.mu.Unlock()
		s.commitGroup(group)
		c.mu.Lock()
		if mine && own != nil && len(c.pending) > 0 {
			go func() { c.mu.Lock(); s.lead(nil) }()
			c.mu.Unlock()
			return
		}
	}
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

// routed is a webhook an event goes to; evalErr is set when its
// condition could not be evaluated (the delivery is created failed).
type routed struct {
	hook    *herald.RouteHook
	evalErr error
}

// conditionUnevaluated is the error of a webhook with a condition
// ingested without a router.
var conditionUnevaluated = errors.New("no condition evaluator was configured")

func (s *Store) ingestTx(ctx context.Context, reqs []*herald.IngestRequest) error {
	tx, err := s.begin(ctx, Durable)
	if err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	defer tx.Close()
	events := s.newRowBuffer(tx, qInsertEvent, 9)
	deliveries := s.newRowBuffer(tx, qInsertDelivery, 13)
	var claimToken string // one lease token for what this transaction claims
	deliveries.parent = events
	var failedAttempts []*herald.Attempt

	published := map[string][]*herald.RouteHook{} // workspace → its published webhooks
	hooks := map[wsType][]*herald.RouteHook{}     // the ones whose Events cover the type
	seenKeys := map[wsType]*herald.IngestRequest{}
	// ordered webhooks that already have a pending delivery (in the
	// database or earlier in this transaction): new ones are held.
	busy := map[string]bool{}
	for _, r := range reqs {
		r.Result, r.Claims = herald.IngestResult{}, nil
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
			all, loaded := published[ev.WorkspaceID]
			if !loaded {
				if all, err = s.publishedHooks(ctx, tx, ev.WorkspaceID); err != nil {
					return err
				}
				published[ev.WorkspaceID] = all
			}
			list = nil
			for _, h := range all {
				if herald.EventsCover(h.Events, ev.Type) {
					list = append(list, h)
				}
			}
			hooks[key] = list
		}
		// Conditions: a webhook whose condition is false gets no delivery;
		// one whose condition cannot be evaluated gets a failed delivery
		// that says why (the ingest itself succeeds).
		targets := make([]routed, 0, len(list))
		for _, h := range list {
			if h.Condition == "" {
				targets = append(targets, routed{hook: h})
				continue
			}
			match, merr := false, conditionUnevaluated
			if r.Router != nil {
				match, merr = r.Router.Match(h, ev)
			}
			switch {
			case merr != nil:
				targets = append(targets, routed{hook: h, evalErr: merr})
				r.Result.Matched = append(r.Result.Matched, h.ID)
			case match:
				targets = append(targets, routed{hook: h})
				r.Result.Matched = append(r.Result.Matched, h.ID)
			default:
				r.Result.Filtered = append(r.Result.Filtered, h.ID)
			}
		}
		var idem sql.NullString
		if ev.IdempotencyKey != "" {
			idem = sql.NullString{String: ev.IdempotencyKey, Valid: true}
		}
		if err := events.add(ctx, ev.ID, ev.WorkspaceID, ev.Type, micros(ev.OccurredAt), micros(ev.ReceivedAt), string(ev.RawData), idem, len(targets), ev.Test); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		now := micros(ev.ReceivedAt)
		for _, t := range targets {
			h := t.hook
			if t.evalErr != nil {
				id := herald.NewID()
				msg := "condition: " + t.evalErr.Error()
				if err := deliveries.add(ctx, id, ev.WorkspaceID, ev.ID, ev.Type, h.ID, string(herald.DeliveryFailed),
					"the condition could not be evaluated", 1, truncate(msg, 1000), nil, now, now, nil); err != nil {
					return fmt.Errorf("insert deliveries: %w", err)
				}
				failedAttempts = append(failedAttempts, &herald.Attempt{ID: herald.NewID(), WorkspaceID: ev.WorkspaceID, DeliveryID: id,
					WebhookID: h.ID, EventID: ev.ID, Number: 1, StartedAt: ev.ReceivedAt, Outcome: herald.OutcomeFailure,
					ErrorClass: herald.ErrClassTemplate, Error: msg})
				continue
			}
			due := now
			if h.Ordered {
				if busy[h.ID] {
					due = micros(herald.HeldUntil)
				} else {
					pending, err := s.hasPending(ctx, tx, h.ID)
					if err != nil {
						return err
					}
					if pending {
						due = micros(herald.HeldUntil)
					}
					busy[h.ID] = true
				}
			}
			id := herald.NewID()
			var token sql.NullString
			if r.ClaimLease > 0 && due == now {
				// Leased to the caller at once, as a claim right after
				// this commit would (see herald.IngestRequest.ClaimLease).
				if claimToken == "" {
					claimToken = newToken()
				}
				token = sql.NullString{String: claimToken, Valid: true}
				due = micros(ev.ReceivedAt.Add(r.ClaimLease))
				r.Claims = append(r.Claims, &herald.Claim{Token: claimToken, Delivery: herald.Delivery{ID: id, WorkspaceID: ev.WorkspaceID,
					EventID: ev.ID, EventType: ev.Type, WebhookID: h.ID, Status: herald.DeliveryPending, NextAttemptAt: ptrTime(fromMicros(due)),
					CreatedAt: fromMicros(now), UpdatedAt: fromMicros(now)}})
			}
			if err := deliveries.add(ctx, id, ev.WorkspaceID, ev.ID, ev.Type, h.ID, string(herald.DeliveryPending), "", 0, "", due, now, now, token); err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
		}
		r.Result.EventID, r.Result.Deliveries = ev.ID, len(targets)
	}
	// Events first: deliveries refer to them.
	if err := events.flush(ctx); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if err := deliveries.flush(ctx); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	for _, a := range failedAttempts {
		if _, err := tx.ExecContext(ctx, s.q(qInsertAttempt), a.ID, a.WorkspaceID, a.DeliveryID, a.WebhookID, a.EventID, a.Number, micros(a.StartedAt),
			0, string(a.Outcome), string(a.ErrorClass), a.Error, "", "", "[]", "", 0, "[]", "", 0, 0); err != nil {
			return fmt.Errorf("insert attempt: %w", s.mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit ingest: %w", s.mapErr(err))
	}
	s.notifyWork()
	return nil
}

func ptrTime(t time.Time) *time.Time { return &t }

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

func (s *Store) publishedHooks(ctx context.Context, tx *txConn, workspaceID string) ([]*herald.RouteHook, error) {
	st, err := s.txStmt(ctx, tx, qPublishedHooks)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("published webhooks: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*herald.RouteHook
	for rows.Next() {
		var h herald.RouteHook
		var events string
		if err := rows.Scan(&h.ID, &h.Ordered, &h.Revision, &events, &h.Condition); err != nil {
			return nil, s.mapErr(err)
		}
		if err := json.Unmarshal([]byte(events), &h.Events); err != nil {
			return nil, fmt.Errorf("webhook %s: decode events: %w", h.ID, err)
		}
		out = append(out, &h)
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

// committer is the group commit's state (see Ingest and Close).
type committer struct {
	mu      sync.Mutex
	pending []*ingestBatch
	leaders int            // commits running now
	closed  bool           // Close was called: no new batches
	running sync.WaitGroup // leaders, for Close
	// notify: at most one NOTIFY in flight, another one owed if set.
	notifyMu      sync.Mutex
	notifyRunning bool
	notifyOwed    bool
	notifying     sync.WaitGroup
}

// closeIngest refuses new batches and waits for the commits of those
// already queued.
func (c *committer) closeIngest() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
	c.notifying.Wait()
}

// notifyWork tells other processes that deliveries are due (PostgreSQL
// NOTIFY). It runs after the ingest commit, on its own connection, and
// coalesces: while one NOTIFY is in flight, later commits owe just one
// more. (A NOTIFY inside the ingest transaction would take the server's
// global notification lock from the commit until its WAL flush ends,
// so concurrent ingest transactions could not flush together.)
func (s *Store) notifyWork() {
	if s.dialect.NotifyWork == "" {
		return
	}
	c := &s.committer
	c.notifyMu.Lock()
	if c.notifyRunning {
		c.notifyOwed = true
		c.notifyMu.Unlock()
		return
	}
	c.notifyRunning = true
	c.notifying.Add(1)
	c.notifyMu.Unlock()
	go func() {
		defer c.notifying.Done()
		for {
			if _, err := s.write.ExecContext(context.Background(), s.dialect.NotifyWork); err != nil {
				s.log().Debug("notify other processes of new work", "err", err)
			}
			c.notifyMu.Lock()
			if !c.notifyOwed {
				c.notifyRunning = false
				c.notifyMu.Unlock()
				return
			}
			c.notifyOwed = false
			c.notifyMu.Unlock()
		}
	}()
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
