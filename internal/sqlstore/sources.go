package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.SourceStore = (*Store)(nil)

const sourceColumns = `id, workspace_id, name, type, url, config, type_from, data_from, id_from, paused, created_at, updated_at, ` +
	`state, last_error, state_at, ingested, rejected, last_message_at, lag`

// sourceConfig is the per-type object kept in sources.config as JSON.
type sourceConfig struct {
	NATS   *herald.NATSSource   `json:"nats,omitempty"`
	AMQP   *herald.AMQPSource   `json:"amqp,omitempty"`
	Outbox *herald.OutboxSource `json:"outbox,omitempty"`
}

func (s *Store) sourceArgs(src *herald.Source) (sealed []byte, config string, err error) {
	if sealed, err = s.seal(src.URL); err != nil {
		return nil, "", err
	}
	if sealed == nil {
		sealed = []byte{}
	}
	b, err := json.Marshal(sourceConfig{NATS: src.NATS, AMQP: src.AMQP, Outbox: src.Outbox})
	if err != nil {
		return nil, "", fmt.Errorf("source config: %w", err)
	}
	return sealed, string(b), nil
}

func (s *Store) scanSource(row interface{ Scan(...any) error }) (*herald.Source, error) {
	var src herald.Source
	var sealed []byte
	var config string
	var created, updated, stateAt, lastMsg int64
	st := &src.Status
	if err := row.Scan(&src.ID, &src.WorkspaceID, &src.Name, &src.Type, &sealed, &config, &src.Mapping.TypeFrom, &src.Mapping.DataFrom, &src.Mapping.IDFrom,
		&src.Paused, &created, &updated, &st.State, &st.LastError, &stateAt, &st.Ingested, &st.Rejected, &lastMsg, &st.Lag); err != nil {
		return nil, s.mapErr(err)
	}
	url, err := s.open(sealed)
	if err != nil {
		return nil, fmt.Errorf("source %s: url: %w", src.ID, err)
	}
	src.URL = url
	var c sourceConfig
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		return nil, fmt.Errorf("source %s: config: %w", src.ID, err)
	}
	src.NATS, src.AMQP, src.Outbox = c.NATS, c.AMQP, c.Outbox
	src.CreatedAt, src.UpdatedAt = fromMicros(created), fromMicros(updated)
	if stateAt != 0 {
		st.StateAt = fromMicros(stateAt)
	}
	if lastMsg != 0 {
		st.LastMessageAt = fromMicros(lastMsg)
	}
	return &src, nil
}

// CreateSource stores a new source, its URL sealed.
func (s *Store) CreateSource(ctx context.Context, src *herald.Source) error {
	sealed, config, err := s.sourceArgs(src)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO sources (id, workspace_id, name, type, url, config, type_from, data_from, id_from, paused, created_at, updated_at) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		src.ID, src.WorkspaceID, src.Name, string(src.Type), sealed, config, src.Mapping.TypeFrom, src.Mapping.DataFrom, src.Mapping.IDFrom,
		src.Paused, micros(src.CreatedAt), micros(src.UpdatedAt))
	return s.mapErr(err)
}

// Source returns one source of the workspace with its status.
func (s *Store) Source(ctx context.Context, workspaceID, id string) (*herald.Source, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+sourceColumns+` FROM sources WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	src, err := s.scanSource(row)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", id, err)
	}
	return src, nil
}

// ListSources returns a page of the workspace's sources, newest first.
func (s *Store) ListSources(ctx context.Context, workspaceID string, f herald.SourceFilter) ([]*herald.Source, string, error) {
	query := `SELECT ` + sourceColumns + ` FROM sources WHERE workspace_id = ?`
	args := []any{workspaceID}
	if f.Type != "" {
		query += ` AND type = ?`
		args = append(args, string(f.Type))
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, s.scanSource, func(src *herald.Source) string { return src.ID })
}

// AllSources returns every source of every workspace.
func (s *Store) AllSources(ctx context.Context) ([]*herald.Source, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources ORDER BY id`)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var out []*herald.Source
	for rows.Next() {
		src, err := s.scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, s.mapErr(rows.Err())
}

// UpdateSource writes the configuration, paused and updated_at; the
// status columns are the runners'.
func (s *Store) UpdateSource(ctx context.Context, src *herald.Source) error {
	sealed, config, err := s.sourceArgs(src)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sources SET name = ?, url = ?, config = ?, type_from = ?, data_from = ?, id_from = ?, paused = ?, updated_at = ? `+
		`WHERE workspace_id = ? AND id = ?`),
		src.Name, sealed, config, src.Mapping.TypeFrom, src.Mapping.DataFrom, src.Mapping.IDFrom, src.Paused, micros(src.UpdatedAt), src.WorkspaceID, src.ID)
	return s.expectOne(res, err)
}

// DeleteSource deletes the source; its rejected messages go with it
// (ON DELETE CASCADE).
func (s *Store) DeleteSource(ctx context.Context, workspaceID, id string) error {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM sources WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	return s.expectOne(res, err)
}

// SetSourceState records a state change.
func (s *Store) SetSourceState(ctx context.Context, id string, state herald.SourceState, lastError string, at time.Time) error {
	if len(lastError) > 1024 {
		lastError = lastError[:1024]
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sources SET state = ?, last_error = ?, state_at = ? WHERE id = ?`), string(state), lastError, micros(at), id)
	return s.expectOne(res, err)
}

// RecordSourceProgress adds a batch's ingested events to the count.
func (s *Store) RecordSourceProgress(ctx context.Context, id string, p herald.SourceProgress) error {
	var last int64
	if !p.LastMessageAt.IsZero() {
		last = micros(p.LastMessageAt)
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sources SET ingested = ingested + ?, `+
		`last_message_at = CASE WHEN ? > last_message_at THEN ? ELSE last_message_at END, `+
		`lag = CASE WHEN ? >= 0 THEN ? ELSE lag END WHERE id = ?`), p.Ingested, last, last, p.Lag, p.Lag, id)
	return s.expectOne(res, err)
}

// RecordRejects stores rejected messages once per message id, counts the
// new ones, and trims the source's list to MaxRejectsPerSource, in one
// durable transaction.
func (s *Store) RecordRejects(ctx context.Context, sourceID string, rejects []*herald.SourceReject) (int, error) {
	if len(rejects) == 0 {
		return 0, nil
	}
	tx, err := s.begin(ctx, Durable)
	if err != nil {
		return 0, err
	}
	defer tx.Close()
	added := 0
	for _, r := range rejects {
		raw := r.Raw
		if len(raw) > herald.MaxRejectRaw {
			raw = raw[:herald.MaxRejectRaw]
		}
		if raw == nil {
			raw = []byte{}
		}
		if r.ID == "" {
			r.ID = herald.NewID()
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO source_rejects (id, source_id, message_id, subject, reason, raw, raw_size, received_at) `+
			`VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, message_id) DO NOTHING`),
			r.ID, sourceID, r.MessageID, r.Subject, r.Reason, raw, r.RawSize, micros(r.At))
		if err != nil {
			return 0, fmt.Errorf("record reject: %w", s.mapErr(err))
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	if added > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sources SET rejected = rejected + ?, `+
			`last_message_at = CASE WHEN ? > last_message_at THEN ? ELSE last_message_at END WHERE id = ?`),
			added, micros(rejects[len(rejects)-1].At), micros(rejects[len(rejects)-1].At), sourceID); err != nil {
			return 0, fmt.Errorf("count rejects: %w", s.mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, s.q(fmt.Sprintf(`DELETE FROM source_rejects WHERE source_id = ? AND id < (`+
			`SELECT MIN(id) FROM (SELECT id FROM source_rejects WHERE source_id = ? ORDER BY id DESC LIMIT %d) newest)`, herald.MaxRejectsPerSource)),
			sourceID, sourceID); err != nil {
			return 0, fmt.Errorf("trim rejects: %w", s.mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, s.mapErr(err)
	}
	return added, nil
}

// ListRejects returns a page of the source's rejected messages, newest first.
func (s *Store) ListRejects(ctx context.Context, workspaceID, sourceID string, f herald.RejectFilter) ([]*herald.SourceReject, string, error) {
	query := `SELECT r.id, r.source_id, r.message_id, r.subject, r.reason, r.raw, r.raw_size, r.received_at FROM source_rejects r ` +
		`JOIN sources s ON s.id = r.source_id WHERE s.workspace_id = ? AND r.source_id = ?`
	// listPage appends "AND id < ?" and "ORDER BY id": the one id column in
	// scope must be the reject's, so wrap the join.
	query = `SELECT * FROM (` + query + `) rj WHERE 1 = 1`
	return listPage(ctx, s, query, []any{workspaceID, sourceID}, f.Cursor, f.Limit, func(row interface{ Scan(...any) error }) (*herald.SourceReject, error) {
		var r herald.SourceReject
		var at int64
		if err := row.Scan(&r.ID, &r.SourceID, &r.MessageID, &r.Subject, &r.Reason, &r.Raw, &r.RawSize, &at); err != nil {
			return nil, s.mapErr(err)
		}
		r.At = fromMicros(at)
		return &r, nil
	}, func(r *herald.SourceReject) string { return r.ID })
}
