package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

const webhookColumns = `id, workspace_id, name, description, event, authorization_id, endpoint_url, method, log_only_errors, custom_headers, payload_type, payload, status, status_reason, revision, signing_secret, created_at, updated_at, ordered, timeout_seconds, retry_schedule, previous_signing_secret, previous_secret_expires_at, failing_since, log_body_bytes, events, route_condition, success_statuses, success_condition`

func (s *Store) scanWebhook(row interface{ Scan(...any) error }) (*herald.Webhook, error) {
	var w herald.Webhook
	var authID sql.NullString
	var headers string
	var secret, prevSecret []byte
	var created, updated int64
	var schedule string
	var prevExpires, failingSince, logBody sql.NullInt64
	var events, statuses string
	err := row.Scan(&w.ID, &w.WorkspaceID, &w.Name, &w.Description, &w.Event, &authID, &w.EndpointURL, &w.Method,
		&w.LogOnlyErrors, &headers, &w.PayloadType, &w.Payload, &w.Status, &w.StatusReason, &w.Revision, &secret, &created, &updated,
		&w.Ordered, &w.TimeoutSeconds, &schedule, &prevSecret, &prevExpires, &failingSince, &logBody,
		&events, &w.Condition, &statuses, &w.SuccessCondition)
	if err != nil {
		return nil, s.mapErr(err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: decode events: %w", w.ID, err)
	}
	w.Event = herald.SingleEvent(w.Events)
	if statuses != "" {
		w.SuccessStatuses = strings.Split(statuses, ",")
	}
	if schedule != "" {
		w.RetrySchedule = strings.Split(schedule, ",")
	}
	w.PreviousSecretExpiresAt = nullTime(prevExpires)
	w.FailingSince = nullTime(failingSince)
	if logBody.Valid {
		n := int(logBody.Int64)
		w.LogBodyBytes = &n
	}
	if w.PreviousSigningSecret, err = s.open(prevSecret); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	w.AuthorizationEnabled, w.AuthorizationID = authID.Valid, authID.String
	if err := json.Unmarshal([]byte(headers), &w.CustomHeaders); err != nil {
		return nil, fmt.Errorf("webhook %s: decode custom headers: %w", w.ID, err)
	}
	if w.SigningSecret, err = s.open(secret); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &w, nil
}

// storedEvents is the stored form of a webhook's Events (a JSON array;
// a webhook given only the compatibility field Event gets a list of
// one) and the "event" column (the one plain key, else ”).
func storedEvents(w *herald.Webhook) (events, event string) {
	list := w.Events
	if len(list) == 0 && w.Event != "" {
		list = []string{w.Event}
	}
	if list == nil {
		list = []string{}
	}
	b, _ := json.Marshal(list) // strings always encode
	return string(b), herald.SingleEvent(list)
}

func (s *Store) webhookArgs(w *herald.Webhook) (authID sql.NullString, headers string, secret, prevSecret []byte, err error) {
	if w.AuthorizationEnabled {
		authID = sql.NullString{String: w.AuthorizationID, Valid: true}
	}
	h := w.CustomHeaders
	if h == nil {
		h = []herald.Header{}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return authID, "", nil, nil, fmt.Errorf("encode custom headers: %w", err)
	}
	if secret, err = s.seal(w.SigningSecret); err != nil {
		return authID, "", nil, nil, err
	}
	prevSecret, err = s.seal(w.PreviousSigningSecret)
	return authID, string(b), secret, prevSecret, err
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func nullInt(n *int) sql.NullInt64 {
	if n == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*n), Valid: true}
}

// CreateWebhook stores a new webhook.
func (s *Store) CreateWebhook(ctx context.Context, w *herald.Webhook) error {
	authID, headers, secret, prevSecret, err := s.webhookArgs(w)
	if err != nil {
		return err
	}
	events, event := storedEvents(w)
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		w.ID, w.WorkspaceID, w.Name, w.Description, event, authID, w.EndpointURL, w.Method, w.LogOnlyErrors, headers,
		string(w.PayloadType), w.Payload, string(w.Status), w.StatusReason, w.Revision, secret, micros(w.CreatedAt), micros(w.UpdatedAt),
		w.Ordered, w.TimeoutSeconds, strings.Join(w.RetrySchedule, ","), prevSecret, nullMicros(w.PreviousSecretExpiresAt), nullMicros(w.FailingSince), nullInt(w.LogBodyBytes),
		events, w.Condition, w.SuccessStatuses.String(), w.SuccessCondition)
	return s.mapErr(err)
}

// Webhook returns one webhook of the workspace.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (*herald.Webhook, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	w, err := s.scanWebhook(row)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns a page of webhooks matching f, newest first.
func (s *Store) ListWebhooks(ctx context.Context, workspaceID string, f herald.WebhookFilter) ([]*herald.Webhook, string, error) {
	query := `SELECT ` + webhookColumns + ` FROM webhooks WHERE workspace_id = ?`
	args := []any{workspaceID}
	if f.Name != "" {
		query += ` AND LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, likePattern(f.Name))
	}
	if f.Event != "" {
		// Every entry that could cover the type, quoted as in the stored
		// JSON array: the key, each "prefix.*" of it, and "*".
		var or []string
		for _, e := range herald.CoveringEntries(f.Event) {
			or = append(or, `events LIKE ? ESCAPE '\'`)
			args = append(args, `%"`+likeEscaper.Replace(e)+`"%`)
		}
		query += ` AND (` + strings.Join(or, ` OR `) + `)`
	}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.Endpoint != "" {
		query += ` AND LOWER(endpoint_url) LIKE ? ESCAPE '\'`
		args = append(args, likePattern(f.Endpoint))
	}
	if f.AuthorizationID != "" {
		query += ` AND authorization_id = ?`
		args = append(args, f.AuthorizationID)
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, s.scanWebhook, func(w *herald.Webhook) string { return w.ID })
}

// UpdateWebhook saves w as revision w.Revision if the stored one is
// w.Revision-1; otherwise another edit came first: EConflict.
func (s *Store) UpdateWebhook(ctx context.Context, w *herald.Webhook) error {
	authID, headers, secret, prevSecret, err := s.webhookArgs(w)
	if err != nil {
		return err
	}
	events, event := storedEvents(w)
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE webhooks SET name = ?, description = ?, event = ?, authorization_id = ?, endpoint_url = ?, method = ?, log_only_errors = ?, custom_headers = ?, payload_type = ?, payload = ?, status = ?, status_reason = ?, revision = ?, signing_secret = ?, updated_at = ?,
		ordered = ?, timeout_seconds = ?, retry_schedule = ?, previous_signing_secret = ?, previous_secret_expires_at = ?, log_body_bytes = ?,
		events = ?, route_condition = ?, success_statuses = ?, success_condition = ?
		WHERE workspace_id = ? AND id = ? AND revision = ?`),
		w.Name, w.Description, event, authID, w.EndpointURL, w.Method, w.LogOnlyErrors, headers, string(w.PayloadType), w.Payload,
		string(w.Status), w.StatusReason, w.Revision, secret, micros(w.UpdatedAt),
		w.Ordered, w.TimeoutSeconds, strings.Join(w.RetrySchedule, ","), prevSecret, nullMicros(w.PreviousSecretExpiresAt), nullInt(w.LogBodyBytes),
		events, w.Condition, w.SuccessStatuses.String(), w.SuccessCondition,
		w.WorkspaceID, w.ID, w.Revision-1)
	s.hooks.forget()
	if err := s.expectOne(res, err); err != nil {
		if herald.ErrorCodeOf(err) == herald.ENotFound {
			if _, gerr := s.Webhook(ctx, w.WorkspaceID, w.ID); gerr == nil {
				return &herald.Error{Code: herald.EConflict, Message: "the webhook was changed by someone else; reload and try again"}
			}
		}
		return err
	}
	return nil
}

// SetWebhookStatus changes only the status and its reason.
func (s *Store) SetWebhookStatus(ctx context.Context, workspaceID, id string, status herald.WebhookStatus, reason string) (*herald.Webhook, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE webhooks SET status = ?, status_reason = ? WHERE workspace_id = ? AND id = ?`),
		string(status), reason, workspaceID, id)
	s.hooks.forget()
	if err := s.expectOne(res, err); err != nil {
		return nil, fmt.Errorf("set status of webhook %s: %w", id, err)
	}
	return s.Webhook(ctx, workspaceID, id)
}

// DeleteWebhook deletes a webhook.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM webhooks WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	s.hooks.forget()
	if err := s.expectOne(res, err); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}
