package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.DeliveryReader = (*Store)(nil)

// Event returns one event of the workspace.
func (s *Store) Event(ctx context.Context, workspaceID, id string) (*herald.Event, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT id, workspace_id, type, occurred_at, received_at, data, idempotency_key, is_test FROM events WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	ev, err := scanEvent(row)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", id, s.mapErr(err))
	}
	return ev, nil
}

// Delivery returns one delivery of the workspace.
func (s *Store) Delivery(ctx context.Context, workspaceID, id string) (*herald.Delivery, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+deliveryColumns+` FROM deliveries WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	d, err := scanDelivery(row)
	if err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, s.mapErr(err))
	}
	return d, nil
}

// ListDeliveries returns a page of a webhook's deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, workspaceID, webhookID string, f herald.DeliveryFilter) ([]*herald.Delivery, string, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE workspace_id = ? AND webhook_id = ?`
	args := []any{workspaceID, webhookID}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, func(row interface{ Scan(...any) error }) (*herald.Delivery, error) {
		d, err := scanDelivery(row)
		return d, s.mapErr(err)
	}, func(d *herald.Delivery) string { return d.ID })
}

const attemptColumns = `id, workspace_id, delivery_id, webhook_id, event_id, number, started_at, duration_us, outcome, error_class, error,
	request_method, request_url, request_headers, request_body, response_status, response_headers, response_body, request_body_size, response_body_size`

func (s *Store) scanAttempt(row interface{ Scan(...any) error }) (*herald.Attempt, error) {
	var a herald.Attempt
	var started, dur int64
	var reqHeaders, resHeaders string
	if err := row.Scan(&a.ID, &a.WorkspaceID, &a.DeliveryID, &a.WebhookID, &a.EventID, &a.Number, &started, &dur, &a.Outcome, &a.ErrorClass, &a.Error,
		&a.RequestMethod, &a.RequestURL, &reqHeaders, &a.RequestBody, &a.ResponseStatus, &resHeaders, &a.ResponseBody, &a.RequestBodySize, &a.ResponseBodySize); err != nil {
		return nil, s.mapErr(err)
	}
	a.StartedAt, a.DurationMS = fromMicros(started), float64(dur)/1000
	if err := json.Unmarshal([]byte(reqHeaders), &a.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s: request headers: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(resHeaders), &a.ResponseHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s: response headers: %w", a.ID, err)
	}
	return &a, nil
}

// Attempt returns one attempt of the workspace.
func (s *Store) Attempt(ctx context.Context, workspaceID, id string) (*herald.Attempt, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+attemptColumns+` FROM attempts WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	a, err := s.scanAttempt(row)
	if err != nil {
		return nil, fmt.Errorf("attempt %s: %w", id, err)
	}
	return a, nil
}

// ListAttempts returns a page of a webhook's attempts, newest first.
func (s *Store) ListAttempts(ctx context.Context, workspaceID, webhookID string, f herald.AttemptFilter) ([]*herald.Attempt, string, error) {
	query := `SELECT ` + attemptColumns + ` FROM attempts WHERE workspace_id = ? AND webhook_id = ?`
	args := []any{workspaceID, webhookID}
	if f.Outcome != "" {
		query += ` AND outcome = ?`
		args = append(args, string(f.Outcome))
	}
	if !f.Since.IsZero() {
		query += ` AND started_at >= ?`
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		query += ` AND started_at < ?`
		args = append(args, micros(f.Until))
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, s.scanAttempt, func(a *herald.Attempt) string { return a.ID })
}

// AttemptStats counts per hour since the given time the deliveries that
// succeeded (from the deliveries table, so a webhook that logs only errors
// still shows its successes) and the failed attempts.
func (s *Store) AttemptStats(ctx context.Context, workspaceID, webhookID string, since time.Time) ([]herald.AttemptStats, error) {
	const hour = int64(time.Hour / time.Microsecond)
	byHour := map[int64]*herald.AttemptStats{}
	count := func(query string, add func(*herald.AttemptStats, int)) error {
		rows, err := s.read.QueryContext(ctx, s.q(query), hour, workspaceID, webhookID, micros(since))
		if err != nil {
			return fmt.Errorf("attempt stats: %w", s.mapErr(err))
		}
		defer rows.Close()
		for rows.Next() {
			var h int64
			var n int
			if err := rows.Scan(&h, &n); err != nil {
				return s.mapErr(err)
			}
			st, ok := byHour[h]
			if !ok {
				st = &herald.AttemptStats{Hour: fromMicros(h * hour)}
				byHour[h] = st
			}
			add(st, n)
		}
		return s.mapErr(rows.Err())
	}
	if err := count(`SELECT updated_at / ? AS h, COUNT(*) FROM deliveries
		WHERE workspace_id = ? AND webhook_id = ? AND status = 'succeeded' AND updated_at >= ? GROUP BY 1`,
		func(st *herald.AttemptStats, n int) { st.Successes += n }); err != nil {
		return nil, err
	}
	if err := count(`SELECT started_at / ? AS h, COUNT(*) FROM attempts
		WHERE workspace_id = ? AND webhook_id = ? AND started_at >= ? AND outcome <> 'success' GROUP BY 1`,
		func(st *herald.AttemptStats, n int) { st.Failures += n }); err != nil {
		return nil, err
	}
	out := make([]herald.AttemptStats, 0, len(byHour))
	for _, st := range byHour {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hour.Before(out[j].Hour) })
	return out, nil
}

var _ herald.EventLister = (*Store)(nil)

// ListEvents returns the workspace's newest events matching f.
func (s *Store) ListEvents(ctx context.Context, workspaceID string, f herald.EventFilter) ([]*herald.Event, error) {
	query := `SELECT id, workspace_id, type, occurred_at, received_at, data, idempotency_key, is_test FROM events WHERE workspace_id = ?`
	args := []any{workspaceID}
	if f.TypePrefix != "" {
		query += ` AND type LIKE ? ESCAPE '\'`
		args = append(args, likeEscaper.Replace(f.TypePrefix)+"%")
	}
	if !f.Since.IsZero() {
		query += ` AND received_at >= ?`
		args = append(args, micros(f.Since))
	}
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, pageLimit(f.Limit))
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*herald.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, s.mapErr(err)
		}
		out = append(out, ev)
	}
	return out, s.mapErr(rows.Err())
}
