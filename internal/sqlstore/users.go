package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.UserStore = (*Store)(nil)

// CreateUser stores a new admin user; EConflict when the email is taken.
func (s *Store) CreateUser(ctx context.Context, u *herald.User) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO users (id, workspace_id, email, password_hash, instance_owner, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		u.ID, u.WorkspaceID, herald.NormalizeEmail(u.Email), u.PasswordHash, u.InstanceOwner, micros(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user: %w", s.mapErr(err))
	}
	return nil
}

// UserByEmail returns the user with this email, or ENotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*herald.User, error) {
	var u herald.User
	var created int64
	err := s.read.QueryRowContext(ctx, s.q(`SELECT id, workspace_id, email, password_hash, instance_owner, created_at FROM users WHERE email = ?`), herald.NormalizeEmail(email)).
		Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.PasswordHash, &u.InstanceOwner, &created)
	if err != nil {
		return nil, s.mapErr(err)
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// CountUsers counts the users of every workspace.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", s.mapErr(err))
	}
	return n, nil
}

// CreateSession stores a session (its token hash only). An empty ID is
// filled in; LastSeenAt defaults to CreatedAt.
func (s *Store) CreateSession(ctx context.Context, sess *herald.Session) error {
	if sess.ID == "" {
		sess.ID = herald.NewID()
	}
	if sess.LastSeenAt.IsZero() {
		sess.LastSeenAt = sess.CreatedAt
	}
	sess.UserAgent = herald.TrimUserAgent(sess.UserAgent)
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO sessions (token_hash, id, user_id, workspace_id, created_at, expires_at, last_seen_at, client_addr, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		sess.TokenHash, sess.ID, sess.UserID, sess.WorkspaceID, micros(sess.CreatedAt), micros(sess.ExpiresAt), micros(sess.LastSeenAt), sess.ClientAddr, sess.UserAgent)
	if err != nil {
		return fmt.Errorf("create session: %w", s.mapErr(err))
	}
	return nil
}

const sessionColumns = `s.token_hash, s.id, s.user_id, s.workspace_id, u.email, s.created_at, s.expires_at, s.last_seen_at, s.client_addr, s.user_agent`

type rowScanner interface{ Scan(dest ...any) error }

func scanSession(row rowScanner) (*herald.Session, error) {
	var sess herald.Session
	var created, expires, seen int64
	if err := row.Scan(&sess.TokenHash, &sess.ID, &sess.UserID, &sess.WorkspaceID, &sess.Email, &created, &expires, &seen, &sess.ClientAddr, &sess.UserAgent); err != nil {
		return nil, err
	}
	sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return &sess, nil
}

// Session returns the session with this token hash and its user's email.
// Expired sessions are returned too; the caller decides (and deletes).
func (s *Store) Session(ctx context.Context, tokenHash []byte) (*herald.Session, error) {
	sess, err := scanSession(s.read.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`), tokenHash))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return sess, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.write.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash = ?`), tokenHash)
	return s.mapErr(err)
}

// TouchSession records the last request made with a session.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, at time.Time, clientAddr, userAgent string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE sessions SET last_seen_at = ?, client_addr = ?, user_agent = ? WHERE token_hash = ?`),
		micros(at), clientAddr, herald.TrimUserAgent(userAgent), tokenHash)
	if err := s.expectOne(res, err); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// ListSessions returns the user's live sessions, most recently seen
// first; token hashes are not read.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]*herald.Session, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+sessionColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ? AND s.expires_at > ?
		ORDER BY s.last_seen_at DESC, s.id DESC`), userID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", s.mapErr(err))
	}
	defer rows.Close()
	var list []*herald.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", s.mapErr(err))
		}
		sess.TokenHash = nil
		list = append(list, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", s.mapErr(err))
	}
	return list, nil
}

// DeleteUserSession signs out one of the user's sessions.
func (s *Store) DeleteUserSession(ctx context.Context, userID, id string) error {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_id = ? AND id = ?`), userID, id)
	if err := s.expectOne(res, err); err != nil {
		return fmt.Errorf("session %s: %w", id, err)
	}
	return nil
}

// DeleteUserSessions signs out every session of the user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_id = ?`), userID)
	if err != nil {
		return 0, fmt.Errorf("sign out everywhere: %w", s.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sign out everywhere: %w", s.mapErr(err))
	}
	return int(n), nil
}

// ListAPIKeys returns the workspace's keys, revoked ones included, newest
// first. Hashes are not read: the page has no use for them.
func (s *Store) ListAPIKeys(ctx context.Context, workspaceID string) ([]*herald.APIKey, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT id, workspace_id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE workspace_id = ? ORDER BY id DESC`), workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", s.mapErr(err))
	}
	defer rows.Close()
	var keys []*herald.APIKey
	for rows.Next() {
		var k herald.APIKey
		var scopes string
		var created int64
		var revoked *int64
		if err := rows.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &scopes, &created, &revoked); err != nil {
			return nil, fmt.Errorf("list api keys: %w", s.mapErr(err))
		}
		for _, sc := range strings.Split(scopes, ",") {
			k.Scopes = append(k.Scopes, herald.Scope(sc))
		}
		k.CreatedAt = fromMicros(created)
		if revoked != nil {
			t := fromMicros(*revoked)
			k.RevokedAt = &t
		}
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", s.mapErr(err))
	}
	return keys, nil
}

// RevokeAPIKey marks a key revoked; APIKeyByHash no longer finds it.
func (s *Store) RevokeAPIKey(ctx context.Context, workspaceID, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL`),
		micros(at), workspaceID, id)
	s.keys.forget()
	if err := s.expectOne(res, err); err == nil || herald.ErrorCodeOf(err) != herald.ENotFound {
		return err
	}
	// Nothing changed: tell a missing key from an already revoked one.
	var n int
	if err := s.read.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM api_keys WHERE workspace_id = ? AND id = ?`), workspaceID, id).Scan(&n); err != nil {
		return s.mapErr(err)
	}
	if n == 0 {
		return fmt.Errorf("api key %s: %w", id, herald.ErrNotFound)
	}
	return &herald.Error{Code: herald.EConflict, Message: "the API key is already revoked"}
}
