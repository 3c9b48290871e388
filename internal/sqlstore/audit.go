package sqlstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.AuditLog = (*Store)(nil)

// RecordAudit appends one entry.
func (s *Store) RecordAudit(ctx context.Context, e *herald.AuditEntry) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO audit_log (id, workspace_id, at, actor, action, object_type, object_id, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.WorkspaceID, micros(e.At), e.Actor, e.Action, e.ObjectType, e.ObjectID, e.Summary)
	if err != nil {
		return fmt.Errorf("record audit entry: %w", s.mapErr(err))
	}
	return nil
}

// ListAudit returns a page of the workspace's audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, workspaceID string, f herald.AuditFilter) ([]*herald.AuditEntry, string, error) {
	query := `SELECT id, workspace_id, at, actor, action, object_type, object_id, summary FROM audit_log WHERE workspace_id = ?`
	args := []any{workspaceID}
	if f.ObjectID != "" {
		query += ` AND object_id = ?`
		args = append(args, f.ObjectID)
	}
	if f.ObjectType != "" {
		query += ` AND object_type = ?`
		args = append(args, f.ObjectType)
	}
	if f.Actor != "" {
		query += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, func(row interface{ Scan(...any) error }) (*herald.AuditEntry, error) {
		var e herald.AuditEntry
		var at int64
		if err := row.Scan(&e.ID, &e.WorkspaceID, &at, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Summary); err != nil {
			return nil, s.mapErr(err)
		}
		e.At = fromMicros(at)
		return &e, nil
	}, func(e *herald.AuditEntry) string { return e.ID })
}
