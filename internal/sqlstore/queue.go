package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.Queue = (*Store)(nil)

const deliveryColumns = `id, workspace_id, event_id, event_type, webhook_id, status, status_reason, attempts, next_attempt_at, last_status, last_error, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*herald.Delivery, error) {
	var d herald.Delivery
	var next sql.NullInt64
	var created, updated int64
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.EventType, &d.WebhookID, &d.Status, &d.StatusReason, &d.Attempts,
		&next, &d.LastStatus, &d.LastError, &created, &updated); err != nil {
		return nil, err
	}
	if next.Valid && next.Int64 == micros(herald.HeldUntil) {
		d.Held = true
	} else {
		d.NextAttemptAt = nullTime(next)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

func newToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClaimDeliveries leases up to limit due deliveries. On PostgreSQL the
// inner SELECT takes FOR UPDATE SKIP LOCKED, so processes sharing the
// database never claim the same row; SQLite has a single writer, so the
// UPDATE … RETURNING is atomic by itself.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*herald.Claim, error) {
	token := newToken()
	query := s.claimQuery()
	args := []any{micros(now.Add(lease)), token, micros(now), micros(now), limit}
	if s.relaxed != nil {
		// One statement on a session that commits relaxed: no BEGIN,
		// SET LOCAL or COMMIT round trips around it.
		st, err := s.prepared(ctx, s.relaxed, query)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", s.mapErr(err))
		}
		claims, err := scanClaims(rows, token)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", s.mapErr(err))
		}
		return claims, nil
	}
	tx, err := s.begin(ctx, Relaxed)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer tx.Close()
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.mapErr(err))
	}
	claims, err := scanClaims(rows, token)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit claim: %w", s.mapErr(err))
	}
	return claims, nil
}

// scanClaims reads the claimed rows and closes them.
func scanClaims(rows *sql.Rows, token string) ([]*herald.Claim, error) {
	defer rows.Close()
	var claims []*herald.Claim
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		claims = append(claims, &herald.Claim{Delivery: *d, Token: token})
	}
	return claims, rows.Err()
}

// PostponeDue moves due, unclaimed deliveries of the webhooks to until.
func (s *Store) PostponeDue(ctx context.Context, webhookIDs []string, now, until time.Time, limit int) (int, error) {
	if len(webhookIDs) == 0 || limit <= 0 {
		return 0, nil
	}
	tx, err := s.begin(ctx, Relaxed)
	if err != nil {
		return 0, fmt.Errorf("postpone deliveries: %w", err)
	}
	defer tx.Close()
	marks, args := inList(webhookIDs)
	args = append([]any{micros(until), micros(now)}, append(args, micros(now), limit)...)
	res, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE id IN (
		SELECT id FROM deliveries WHERE webhook_id IN (`+marks+`) AND status = 'pending' AND claim_token IS NULL AND next_attempt_at <= ?
		ORDER BY next_attempt_at LIMIT ?`+s.dialect.SkipLocked+`)`), args...)
	if err != nil {
		return 0, fmt.Errorf("postpone deliveries: %w", s.mapErr(err))
	}
	n, _ := res.RowsAffected()
	return int(n), s.mapErr(tx.Commit())
}

// RecordOutcomes applies a batch of worker reports in one transaction.
func (s *Store) RecordOutcomes(ctx context.Context, recs []*herald.OutcomeRecord) error {
	if len(recs) == 0 {
		return nil
	}
	tx, err := s.begin(ctx, Relaxed)
	if err != nil {
		return fmt.Errorf("begin outcomes: %w", err)
	}
	defer tx.Close()
	upd, err := s.txStmt(ctx, tx, qRecordOutcome)
	if err != nil {
		return err
	}
	var ins *sql.Stmt
	health := map[string]bool{} // webhook id → last counted attempt succeeded
	var healthOrder []string
	// Plain successes of one claim are the common case: they are marked
	// in one statement per (claim, status code) instead of one per row.
	type successKey struct {
		token  string
		status int
	}
	successes := map[successKey][]string{}
	var successOrder []successKey
	for _, r := range recs {
		if r.Counted {
			if _, seen := health[r.WebhookID]; !seen {
				healthOrder = append(healthOrder, r.WebhookID)
			}
			// A success is what the webhook's success_statuses and
			// success_condition accepted, not any 2xx.
			health[r.WebhookID] = r.Status == herald.DeliverySucceeded
		}
		if r.Attempt != nil {
			if ins == nil {
				if ins, err = s.txStmt(ctx, tx, qInsertAttempt); err != nil {
					return err
				}
			}
			a := r.Attempt
			reqHeaders, _ := json.Marshal(nonNil(a.RequestHeaders))
			resHeaders, _ := json.Marshal(nonNil(a.ResponseHeaders))
			if _, err := ins.ExecContext(ctx, a.ID, a.WorkspaceID, a.DeliveryID, a.WebhookID, a.EventID, a.Number, micros(a.StartedAt),
				int64(a.DurationMS*1000), string(a.Outcome), string(a.ErrorClass), a.Error, a.RequestMethod, a.RequestURL, string(reqHeaders),
				a.RequestBody, a.ResponseStatus, string(resHeaders), a.ResponseBody, a.RequestBodySize, a.ResponseBodySize); err != nil {
				return fmt.Errorf("insert attempt: %w", s.mapErr(err))
			}
		}
		if r.Status == herald.DeliverySucceeded && r.Counted && !r.Ordered && r.Reason == "" && r.LastError == "" {
			k := successKey{r.Token, r.LastStatus}
			if _, ok := successes[k]; !ok {
				successOrder = append(successOrder, k)
			}
			successes[k] = append(successes[k], r.DeliveryID)
			continue
		}
		var next sql.NullInt64
		if r.Status == herald.DeliveryPending {
			next = sql.NullInt64{Int64: micros(r.NextAttemptAt), Valid: true}
		}
		counted := 0
		if r.Counted {
			counted = 1
		}
		res, err := upd.ExecContext(ctx, string(r.Status), r.Reason, counted, next, r.LastStatus, truncate(r.LastError, 1000), micros(r.At), r.DeliveryID, r.Token)
		if err != nil {
			return fmt.Errorf("record outcome of %s: %w", r.DeliveryID, s.mapErr(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // the claim was lost: another worker owns the delivery now
		}
		if r.Ordered && r.Status != herald.DeliveryPending {
			if err := s.releaseHeld(ctx, tx, r.WebhookID, r.At); err != nil {
				return err
			}
		}
	}
	at := micros(recs[len(recs)-1].At)
	for _, k := range successOrder {
		ids := successes[k]
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), maxInList)]
			ids = ids[len(chunk):]
			marks, args := inBucket(chunk)
			args = append([]any{k.status, at, k.token}, args...)
			st, err := s.txStmt(ctx, tx, qRecordSuccesses+marks+`)`)
			if err != nil {
				return fmt.Errorf("record successes: %w", err)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("record successes: %w", s.mapErr(err))
			}
		}
	}
	healthChanged := false
	for _, id := range healthOrder {
		q, args := qWebhookFailing, []any{micros(recs[0].At), id}
		if health[id] {
			q, args = qWebhookHealthy, []any{id}
		}
		st, err := s.txStmt(ctx, tx, q)
		if err != nil {
			return fmt.Errorf("webhook health: %w", err)
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("webhook health: %w", s.mapErr(err))
		}
		if n, _ := res.RowsAffected(); n > 0 {
			healthChanged = true
		}
	}
	err = tx.Commit()
	if healthChanged {
		s.hooks.forget() // failing_since moved: auto-disable and alerts read it
	}
	if err != nil {
		return fmt.Errorf("commit outcomes: %w", s.mapErr(err))
	}
	return nil
}

// releaseHeld makes the oldest held delivery of an ordered webhook due.
func (s *Store) releaseHeld(ctx context.Context, tx *txConn, webhookID string, now time.Time) error {
	if err := s.lockWebhook(ctx, tx, webhookID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE id = (
		SELECT id FROM deliveries WHERE webhook_id = ? AND status = 'pending' AND next_attempt_at = ? ORDER BY id LIMIT 1)`),
		micros(now), micros(now), webhookID, micros(herald.HeldUntil))
	if err != nil {
		return fmt.Errorf("release held delivery: %w", s.mapErr(err))
	}
	return nil
}

func nonNil(h []herald.Header) []herald.Header {
	if h == nil {
		return []herald.Header{}
	}
	return h
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// inList returns "?, ?, ?" and the ids as arguments.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// EventsByID loads events by id.
func (s *Store) EventsByID(ctx context.Context, ids []string) (map[string]*herald.Event, error) {
	out := make(map[string]*herald.Event, len(ids))
	err := s.queryIDs(ctx, `SELECT id, workspace_id, type, occurred_at, received_at, data, idempotency_key, is_test FROM events WHERE id IN (`, ids, func(rows *sql.Rows) error {
		ev, err := scanEvent(rows)
		if err != nil {
			return err
		}
		out[ev.ID] = ev
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	return out, nil
}

// maxInList bounds the ids of one IN list (larger sets go in chunks).
const maxInList = 512

// inBucket is inList padded to the next power of two by repeating the
// last id, so that an IN list comes in a few shapes (1, 2, 4, … 512
// marks) that are each prepared once instead of parsed on every call.
// A repeated id matches its row once.
func inBucket(ids []string) (string, []any) {
	n := 1
	for n < len(ids) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = ids[min(i, len(ids)-1)]
	}
	return inMarks(n), args
}

// inMarks is "?, ?, …" n times (cached for the bucket sizes).
func inMarks(n int) string {
	if n < len(marksCache) {
		return marksCache[n]
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

var marksCache = func() []string {
	out := make([]string, maxInList+1)
	for n := 1; n <= maxInList; n *= 2 {
		out[n] = strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	}
	return out
}()

// queryIDs runs head + "?, …)" on the read pool for ids, in chunks of
// at most maxInList, with a statement prepared once per bucket size, and
// calls each for every row.
func (s *Store) queryIDs(ctx context.Context, head string, ids []string, each func(*sql.Rows) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxInList)]
		ids = ids[len(chunk):]
		marks, args := inBucket(chunk)
		st, err := s.prepared(ctx, s.read, head+marks+`)`)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return s.mapErr(err)
		}
		for rows.Next() {
			if err := each(rows); err != nil {
				rows.Close()
				return s.mapErr(err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.mapErr(err)
		}
	}
	return nil
}

func scanEvent(row interface{ Scan(...any) error }) (*herald.Event, error) {
	var ev herald.Event
	var occurred, received int64
	var data string
	var idem sql.NullString
	if err := row.Scan(&ev.ID, &ev.WorkspaceID, &ev.Type, &occurred, &received, &data, &idem, &ev.Test); err != nil {
		return nil, err
	}
	ev.OccurredAt, ev.ReceivedAt, ev.IdempotencyKey = fromMicros(occurred), fromMicros(received), idem.String
	ev.RawData = []byte(data)
	if err := herald.DecodeJSON(ev.RawData, &ev.Data); err != nil {
		return nil, fmt.Errorf("event %s: decode data: %w", ev.ID, err)
	}
	return &ev, nil
}

// WebhooksByID loads webhooks by id, across workspaces.
func (s *Store) WebhooksByID(ctx context.Context, ids []string) (map[string]*herald.Webhook, error) {
	out := make(map[string]*herald.Webhook, len(ids))
	now := time.Now()
	var missing []string
	for _, id := range ids {
		if w, ok := s.hooks.get(id, now); ok {
			out[id] = w
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := s.hooks.generation()
	err := s.queryIDs(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id IN (`, missing, func(rows *sql.Rows) error {
		w, err := s.scanWebhook(rows)
		if err != nil {
			return err
		}
		out[w.ID] = w
		s.hooks.put(w.ID, w, gen, now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load webhooks: %w", err)
	}
	return out, nil
}

// AuthorizationsByID loads authorizations by id, across workspaces.
func (s *Store) AuthorizationsByID(ctx context.Context, ids []string) (map[string]*herald.Authorization, error) {
	out := make(map[string]*herald.Authorization, len(ids))
	err := s.queryIDs(ctx, `SELECT `+authorizationColumns+` FROM authorizations WHERE id IN (`, ids, func(rows *sql.Rows) error {
		a, err := s.scanAuthorization(rows)
		if err != nil {
			return err
		}
		out[a.ID] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load authorizations: %w", err)
	}
	return out, nil
}

// CancelPending cancels the pending deliveries of a webhook that no
// worker holds.
func (s *Store) CancelPending(ctx context.Context, webhookID, reason string, now time.Time) (int, error) {
	// A delivery a worker holds right now is left to it: its outcome is
	// recorded, and its next claim (if any) sees the webhook unpublished.
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE deliveries SET status = 'canceled', status_reason = ?, next_attempt_at = NULL, claim_token = NULL, updated_at = ?
		WHERE webhook_id = ? AND status = 'pending' AND (claim_token IS NULL OR next_attempt_at <= ?)`), reason, micros(now), webhookID, micros(now))
	if err != nil {
		return 0, fmt.Errorf("cancel deliveries of %s: %w", webhookID, s.mapErr(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RetryDelivery makes one delivery due now.
func (s *Store) RetryDelivery(ctx context.Context, workspaceID, id string, now time.Time) (*herald.Delivery, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE deliveries SET status = 'pending', status_reason = '', next_attempt_at = ?, claim_token = NULL, updated_at = ?
		WHERE workspace_id = ? AND id = ? AND status <> 'succeeded'`), micros(now), micros(now), workspaceID, id)
	if err := s.expectOne(res, err); err != nil {
		d, gerr := s.Delivery(ctx, workspaceID, id)
		if gerr == nil && d.Status == herald.DeliverySucceeded {
			return nil, &herald.Error{Code: herald.EConflict, Message: "the delivery already succeeded; resend the event to deliver it again"}
		}
		return nil, fmt.Errorf("retry delivery %s: %w", id, err)
	}
	return s.Delivery(ctx, workspaceID, id)
}

// CreateDelivery adds a pending delivery of a stored event to a webhook of
// the same workspace.
func (s *Store) CreateDelivery(ctx context.Context, workspaceID, eventID, webhookID string, now time.Time) (*herald.Delivery, error) {
	ev, err := s.Event(ctx, workspaceID, eventID)
	if err != nil {
		return nil, err
	}
	id := herald.NewID()
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO deliveries (id, workspace_id, event_id, event_type, webhook_id, status, next_attempt_at, created_at, updated_at)
		SELECT ?, ?, ?, ?, id, 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT) FROM webhooks WHERE workspace_id = ? AND id = ?`),
		id, workspaceID, ev.ID, ev.Type, micros(now), micros(now), micros(now), workspaceID, webhookID)
	if err != nil {
		return nil, fmt.Errorf("create delivery: %w", s.mapErr(err))
	}
	d, err := s.Delivery(ctx, workspaceID, id)
	if herald.ErrorCodeOf(err) == herald.ENotFound {
		return nil, &herald.Error{Code: herald.ENotFound, Message: "no such webhook", Fields: []herald.FieldError{{Field: "webhook_id", Message: "no such webhook"}}}
	}
	return d, err
}

// CreateClaimedDelivery adds a delivery leased to the caller at once.
func (s *Store) CreateClaimedDelivery(ctx context.Context, workspaceID, eventID, webhookID string, now time.Time, lease time.Duration) (*herald.Claim, error) {
	d, err := s.CreateDelivery(ctx, workspaceID, eventID, webhookID, now.Add(lease))
	if err != nil {
		return nil, err
	}
	token := newToken()
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE deliveries SET claim_token = ?, created_at = ?, updated_at = ? WHERE id = ? AND claim_token IS NULL`), token, micros(now), micros(now), d.ID)
	if err := s.expectOne(res, err); err != nil {
		return nil, fmt.Errorf("claim new delivery: %w", err)
	}
	d.CreatedAt, d.UpdatedAt = now, now
	return &herald.Claim{Delivery: *d, Token: token}, nil
}

// ReplayFailed makes failed deliveries created in [since, until) due now.
func (s *Store) ReplayFailed(ctx context.Context, workspaceID, webhookID string, since, until, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE deliveries SET status = 'pending', status_reason = 'replayed', next_attempt_at = ?, claim_token = NULL, updated_at = ?
		WHERE workspace_id = ? AND webhook_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?`),
		micros(now), micros(now), workspaceID, webhookID, micros(since), micros(until))
	if err != nil {
		return 0, fmt.Errorf("replay deliveries of %s: %w", webhookID, s.mapErr(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SetSigningSecrets stores a rotated secret pair.
func (s *Store) SetSigningSecrets(ctx context.Context, workspaceID, id, current, previous string, expires time.Time) error {
	cur, err := s.seal(current)
	if err != nil {
		return err
	}
	prev, err := s.seal(previous)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE webhooks SET signing_secret = ?, previous_signing_secret = ?, previous_secret_expires_at = ? WHERE workspace_id = ? AND id = ?`),
		cur, prev, micros(expires), workspaceID, id)
	s.hooks.forget()
	return s.expectOne(res, err)
}

// QueueStats counts pending deliveries (held ones included) and the
// oldest due time among those not held.
func (s *Store) QueueStats(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := s.read.QueryRowContext(ctx, s.q(`SELECT COUNT(*), MIN(CASE WHEN next_attempt_at < ? THEN next_attempt_at END) FROM deliveries WHERE status = 'pending'`),
		micros(herald.HeldUntil)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("queue stats: %w", s.mapErr(err))
	}
	var t time.Time
	if oldest.Valid {
		t = fromMicros(oldest.Int64)
	}
	return n, t, nil
}
