package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/heraldhq/herald/internal/herald"
)

const authorizationColumns = `id, workspace_id, name, endpoint, type, header_key, header_visibility, basic_username, secret, created_at, updated_at`

// authorizationRow flattens an Authorization: the header value or the
// basic password, whichever the type has, is the one sealed secret.
func (s *Store) authorizationArgs(a *herald.Authorization) (headerKey, visibility, username sql.NullString, secret []byte, err error) {
	var plain string
	switch a.Type {
	case herald.AuthHeader:
		headerKey = sql.NullString{String: a.Header.Key, Valid: true}
		visibility = sql.NullString{String: string(a.Header.Visibility), Valid: true}
		plain = a.Header.Value
	case herald.AuthBasic:
		username = sql.NullString{String: a.Basic.Username, Valid: true}
		plain = a.Basic.Password
	}
	secret, err = s.seal(plain)
	return
}

func (s *Store) scanAuthorization(row interface{ Scan(...any) error }) (*herald.Authorization, error) {
	var a herald.Authorization
	var headerKey, visibility, username sql.NullString
	var secret []byte
	var created, updated int64
	if err := row.Scan(&a.ID, &a.WorkspaceID, &a.Name, &a.Endpoint, &a.Type, &headerKey, &visibility, &username, &secret, &created, &updated); err != nil {
		return nil, s.mapErr(err)
	}
	plain, err := s.open(secret)
	if err != nil {
		return nil, fmt.Errorf("authorization %s: %w", a.ID, err)
	}
	switch a.Type {
	case herald.AuthHeader:
		a.Header = &herald.HeaderAuth{Key: headerKey.String, Value: plain, Visibility: herald.Visibility(visibility.String)}
	case herald.AuthBasic:
		a.Basic = &herald.BasicAuth{Username: username.String, Password: plain}
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// CreateAuthorization stores a new authorization with its secret sealed.
func (s *Store) CreateAuthorization(ctx context.Context, a *herald.Authorization) error {
	headerKey, visibility, username, secret, err := s.authorizationArgs(a)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO authorizations (`+authorizationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.WorkspaceID, a.Name, a.Endpoint, string(a.Type), headerKey, visibility, username, secret, micros(a.CreatedAt), micros(a.UpdatedAt))
	return s.mapErr(err)
}

// Authorization returns one authorization of the workspace.
func (s *Store) Authorization(ctx context.Context, workspaceID, id string) (*herald.Authorization, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+authorizationColumns+` FROM authorizations WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	a, err := s.scanAuthorization(row)
	if err != nil {
		return nil, fmt.Errorf("authorization %s: %w", id, err)
	}
	return a, nil
}

// ListAuthorizations returns a page of authorizations, newest first.
func (s *Store) ListAuthorizations(ctx context.Context, workspaceID string, f herald.AuthorizationFilter) ([]*herald.Authorization, string, error) {
	query := `SELECT ` + authorizationColumns + ` FROM authorizations WHERE workspace_id = ?`
	args := []any{workspaceID}
	if f.Name != "" {
		query += ` AND LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, likePattern(f.Name))
	}
	if f.Type != "" {
		query += ` AND type = ?`
		args = append(args, string(f.Type))
	}
	return listPage(ctx, s, query, args, f.Cursor, f.Limit, s.scanAuthorization, func(a *herald.Authorization) string { return a.ID })
}

// listPage runs a list query newest first with keyset pagination on id.
func listPage[T any](ctx context.Context, s *Store, query string, args []any, cursor string, limit int,
	scan func(interface{ Scan(...any) error }) (T, error), id func(T) string) ([]T, string, error) {
	limit = pageLimit(limit)
	if cursor != "" {
		query += ` AND id < ?`
		args = append(args, cursor)
	}
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit+1)
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, "", s.mapErr(err)
	}
	defer rows.Close()
	var items []T
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.mapErr(err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = id(items[limit-1])
	}
	return items, next, nil
}

// UpdateAuthorization overwrites the stored authorization.
func (s *Store) UpdateAuthorization(ctx context.Context, a *herald.Authorization) error {
	headerKey, visibility, username, secret, err := s.authorizationArgs(a)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE authorizations SET name = ?, endpoint = ?, type = ?, header_key = ?, header_visibility = ?, basic_username = ?, secret = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`),
		a.Name, a.Endpoint, string(a.Type), headerKey, visibility, username, secret, micros(a.UpdatedAt), a.WorkspaceID, a.ID)
	return s.expectOne(res, err)
}

// DeleteAuthorization deletes an unused authorization; EConflict if used.
func (s *Store) DeleteAuthorization(ctx context.Context, workspaceID, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(err)
	}
	defer tx.Rollback()
	var users int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM webhooks WHERE workspace_id = ? AND authorization_id = ?`), workspaceID, id).Scan(&users); err != nil {
		return s.mapErr(err)
	}
	if users > 0 {
		return &herald.Error{Code: herald.EConflict, Message: fmt.Sprintf("authorization is used by %d webhook(s); change or delete them first", users)}
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM authorizations WHERE workspace_id = ? AND id = ?`), workspaceID, id)
	if err := s.expectOne(res, err); err != nil {
		return err
	}
	return s.mapErr(tx.Commit())
}

// expectOne turns "no row affected" into ENotFound.
func (s *Store) expectOne(res sql.Result, err error) error {
	if err != nil {
		return s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.mapErr(err)
	}
	if n == 0 {
		return herald.ErrNotFound
	}
	return nil
}
