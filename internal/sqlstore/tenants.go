package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.TenantStore = (*Store)(nil)

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateWorkspace stores a new workspace; EConflict if the name is taken.
func (s *Store) CreateWorkspace(ctx context.Context, w *herald.Workspace) error {
	origins, _ := json.Marshal(nonNilStrings(w.PortalAllowedOrigins))
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO workspaces (id, name, time_zone, portal_allowed_origins, created_at) VALUES (?, ?, ?, ?, ?)`),
		w.ID, w.Name, w.TimeZone, string(origins), micros(w.CreatedAt))
	return s.mapErr(err)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListWorkspaces returns every workspace, oldest first.
func (s *Store) ListWorkspaces(ctx context.Context) ([]*herald.Workspace, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, time_zone, retention_seconds, portal_allowed_origins, created_at FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*herald.Workspace
	for rows.Next() {
		var w herald.Workspace
		var created int64
		var retention sql.NullInt64
		var origins string
		if err := rows.Scan(&w.ID, &w.Name, &w.TimeZone, &retention, &origins, &created); err != nil {
			return nil, fmt.Errorf("list workspaces: %w", s.mapErr(err))
		}
		if retention.Valid {
			w.RetentionSeconds = &retention.Int64
		}
		if err := json.Unmarshal([]byte(origins), &w.PortalAllowedOrigins); err != nil || w.PortalAllowedOrigins == nil {
			w.PortalAllowedOrigins = []string{}
		}
		w.CreatedAt = fromMicros(created)
		out = append(out, &w)
	}
	return out, s.mapErr(rows.Err())
}

// RenameWorkspace renames; EConflict if the name is taken.
func (s *Store) RenameWorkspace(ctx context.Context, id, name string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE workspaces SET name = ? WHERE id = ?`), name, id)
	return s.expectOne(res, err)
}

// SetWorkspacePortalOrigins stores the portal's allowed origins.
func (s *Store) SetWorkspacePortalOrigins(ctx context.Context, id string, origins []string) error {
	b, _ := json.Marshal(nonNilStrings(origins))
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE workspaces SET portal_allowed_origins = ? WHERE id = ?`), string(b), id)
	return s.expectOne(res, err)
}

// DeleteWorkspace removes the workspace and everything in it, in one
// transaction, children before parents.
func (s *Store) DeleteWorkspace(ctx context.Context, id string) error {
	tx, err := s.begin(ctx, Durable)
	if err != nil {
		return err
	}
	defer tx.Close()
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM workspaces WHERE id = ?`), id).Scan(&n); err != nil {
		return s.mapErr(err)
	}
	if n == 0 {
		return fmt.Errorf("workspace %s: %w", id, herald.ErrNotFound)
	}
	stmts := []string{
		`DELETE FROM attempts WHERE workspace_id = ?`,
		`DELETE FROM deliveries WHERE workspace_id = ?`,
		`DELETE FROM events WHERE workspace_id = ?`,
		`DELETE FROM webhooks WHERE workspace_id = ?`,
		`DELETE FROM authorizations WHERE workspace_id = ?`,
		`DELETE FROM event_types WHERE workspace_id = ?`,
		`DELETE FROM source_rejects WHERE source_id IN (SELECT id FROM sources WHERE workspace_id = ?)`,
		`DELETE FROM sources WHERE workspace_id = ?`,
		`DELETE FROM api_keys WHERE workspace_id = ?`,
		`DELETE FROM audit_log WHERE workspace_id = ?`,
		`DELETE FROM sessions WHERE workspace_id = ?`,
		`DELETE FROM portal_sessions WHERE workspace_id = ?`,
		`DELETE FROM members WHERE workspace_id = ?`,
		// Users left with no workspace at all are removed (instance owners
		// stay); the others who started in it start in another of their
		// workspaces, or in the oldest one (instance owners).
		`DELETE FROM users WHERE NOT instance_owner AND workspace_id = ? AND NOT EXISTS (SELECT 1 FROM members m WHERE m.user_id = users.id)`,
		`UPDATE users SET workspace_id = COALESCE(
			(SELECT MIN(m.workspace_id) FROM members m WHERE m.user_id = users.id),
			(SELECT w.id FROM workspaces w WHERE w.id <> ? ORDER BY w.created_at, w.id LIMIT 1))
		 WHERE workspace_id = ?`,
		`DELETE FROM workspaces WHERE id = ?`,
	}
	for _, q := range stmts {
		args := []any{id}
		if n := countPlaceholders(q); n == 2 {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
			return fmt.Errorf("delete workspace: %w", s.mapErr(err))
		}
	}
	err = s.mapErr(tx.Commit())
	s.keys.forget()
	s.hooks.forget()
	return err
}

func countPlaceholders(q string) int {
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
		}
	}
	return n
}

const memberCols = `m.id, m.workspace_id, w.name, m.user_id, m.email, m.role, m.invite_hash, m.invite_expires_at, m.created_at, m.accepted_at`

func scanMember(sc interface{ Scan(...any) error }) (*herald.Member, error) {
	var m herald.Member
	var user sql.NullString
	var role string
	var expires, accepted sql.NullInt64
	var created int64
	if err := sc.Scan(&m.ID, &m.WorkspaceID, &m.WorkspaceName, &user, &m.Email, &role, &m.InviteHash, &expires, &created, &accepted); err != nil {
		return nil, err
	}
	m.UserID, m.Role, m.CreatedAt = user.String, herald.Role(role), fromMicros(created)
	m.Status = herald.MemberInvited
	if accepted.Valid {
		t := fromMicros(accepted.Int64)
		m.AcceptedAt, m.Status = &t, herald.MemberActive
	}
	if expires.Valid && !accepted.Valid {
		t := fromMicros(expires.Int64)
		m.InviteExpiresAt = &t
	}
	return &m, nil
}

func (s *Store) members(ctx context.Context, where string, args ...any) ([]*herald.Member, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+memberCols+` FROM members m JOIN workspaces w ON w.id = m.workspace_id WHERE `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*herald.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("list members: %w", s.mapErr(err))
		}
		out = append(out, m)
	}
	return out, s.mapErr(rows.Err())
}

func (s *Store) oneMember(ctx context.Context, where string, args ...any) (*herald.Member, error) {
	list, err := s.members(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, herald.ErrNotFound
	}
	return list[0], nil
}

// CreateMember stores a membership or an invitation.
func (s *Store) CreateMember(ctx context.Context, m *herald.Member) error {
	var expires, accepted any
	if m.InviteExpiresAt != nil {
		expires = micros(*m.InviteExpiresAt)
	}
	if m.AcceptedAt != nil {
		accepted = micros(*m.AcceptedAt)
	}
	var hash any
	if len(m.InviteHash) > 0 {
		hash = m.InviteHash
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO members (id, workspace_id, user_id, email, role, invite_hash, invite_expires_at, created_at, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		m.ID, m.WorkspaceID, nullString(m.UserID), herald.NormalizeEmail(m.Email), string(m.Role), hash, expires, micros(m.CreatedAt), accepted)
	return s.mapErr(err)
}

// Member returns one of the workspace's members or invitations.
func (s *Store) Member(ctx context.Context, workspaceID, id string) (*herald.Member, error) {
	return s.oneMember(ctx, `m.workspace_id = ? AND m.id = ?`, workspaceID, id)
}

// ListMembers returns the workspace's members and invitations, oldest first.
func (s *Store) ListMembers(ctx context.Context, workspaceID string) ([]*herald.Member, error) {
	return s.members(ctx, `m.workspace_id = ? ORDER BY m.created_at, m.id`, workspaceID)
}

// MemberByInvite returns the pending invitation with this token hash.
func (s *Store) MemberByInvite(ctx context.Context, hash []byte) (*herald.Member, error) {
	return s.oneMember(ctx, `m.invite_hash = ? AND m.accepted_at IS NULL`, hash)
}

// MembershipsOf returns the user's active memberships, by workspace name.
func (s *Store) MembershipsOf(ctx context.Context, userID string) ([]*herald.Member, error) {
	return s.members(ctx, `m.user_id = ? ORDER BY w.name, w.id`, userID)
}

// MembershipOf returns the user's membership of one workspace.
func (s *Store) MembershipOf(ctx context.Context, userID, workspaceID string) (*herald.Member, error) {
	return s.oneMember(ctx, `m.user_id = ? AND m.workspace_id = ?`, userID, workspaceID)
}

// SetMemberRole changes a member's (or an invitation's) role.
func (s *Store) SetMemberRole(ctx context.Context, workspaceID, id string, role herald.Role) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE members SET role = ? WHERE workspace_id = ? AND id = ?`), string(role), workspaceID, id)
	return s.expectOne(res, err)
}

// AcceptInvite turns a pending invitation into the user's membership;
// its token hash is dropped, so the link works once.
func (s *Store) AcceptInvite(ctx context.Context, id, userID string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE members SET user_id = ?, accepted_at = ?, invite_hash = NULL, invite_expires_at = NULL WHERE id = ? AND accepted_at IS NULL`),
		userID, micros(at), id)
	return s.expectOne(res, err)
}

// DeleteMember removes a membership or invitation, and the member's
// sessions in that workspace.
func (s *Store) DeleteMember(ctx context.Context, workspaceID, id string) error {
	tx, err := s.begin(ctx, Durable)
	if err != nil {
		return err
	}
	defer tx.Close()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE workspace_id = ? AND user_id = (SELECT user_id FROM members WHERE workspace_id = ? AND id = ?)`), workspaceID, workspaceID, id); err != nil {
		return s.mapErr(err)
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM members WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	if err := s.expectOne(res, err); err != nil {
		return err
	}
	return s.mapErr(tx.Commit())
}

// UserByID returns a user or ENotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*herald.User, error) {
	var u herald.User
	var created int64
	err := s.read.QueryRowContext(ctx, s.q(`SELECT id, workspace_id, email, password_hash, instance_owner, created_at FROM users WHERE id = ?`), id).
		Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.PasswordHash, &u.InstanceOwner, &created)
	if err != nil {
		return nil, s.mapErr(err)
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// SetSessionWorkspace moves a session (and the user's next sign-in) to
// another workspace.
func (s *Store) SetSessionWorkspace(ctx context.Context, tokenHash []byte, workspaceID string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sessions SET workspace_id = ? WHERE token_hash = ?`), workspaceID, tokenHash)
	if err := s.expectOne(res, err); err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, s.q(`UPDATE users SET workspace_id = ? WHERE id = (SELECT user_id FROM sessions WHERE token_hash = ?)`), workspaceID, tokenHash)
	return s.mapErr(err)
}
