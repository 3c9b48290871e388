package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald/internal/herald"
)

// CreateEventType stores a custom event type; EConflict if the key exists.
func (s *Store) CreateEventType(ctx context.Context, t *herald.EventType) error {
	vars, err := json.Marshal(t.Variables)
	if err != nil {
		return fmt.Errorf("encode variables: %w", err)
	}
	sample, err := json.Marshal(t.Sample)
	if err != nil {
		return fmt.Errorf("encode sample: %w", err)
	}
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO event_types (workspace_id, event_key, display_name, description, variables, sample, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		t.WorkspaceID, t.Key, t.DisplayName, t.Description, string(vars), string(sample), micros(t.CreatedAt))
	return s.mapErr(err)
}

// ListEventTypes returns the workspace's custom event types by key.
func (s *Store) ListEventTypes(ctx context.Context, workspaceID string) ([]*herald.EventType, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT workspace_id, event_key, display_name, description, variables, sample, created_at FROM event_types WHERE workspace_id = ? ORDER BY event_key`), workspaceID)
	if err != nil {
		return nil, s.mapErr(err)
	}
	defer rows.Close()
	var types []*herald.EventType
	for rows.Next() {
		var t herald.EventType
		var vars, sample string
		var created int64
		if err := rows.Scan(&t.WorkspaceID, &t.Key, &t.DisplayName, &t.Description, &vars, &sample, &created); err != nil {
			return nil, s.mapErr(err)
		}
		if err := json.Unmarshal([]byte(vars), &t.Variables); err != nil {
			return nil, fmt.Errorf("event type %s: decode variables: %w", t.Key, err)
		}
		if err := herald.DecodeJSON([]byte(sample), &t.Sample); err != nil {
			return nil, fmt.Errorf("event type %s: decode sample: %w", t.Key, err)
		}
		t.CreatedAt = fromMicros(created)
		types = append(types, &t)
	}
	return types, s.mapErr(rows.Err())
}
