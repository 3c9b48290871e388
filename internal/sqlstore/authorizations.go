package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/heraldhq/herald/internal/herald"
)

const authorizationColumns = `id, workspace_id, name, endpoint, type, header_key, header_visibility, basic_username, secret, created_at, updated_at, ` +
	`query_key, query_visibility, oauth2_token_url, oauth2_client_id, oauth2_scope, oauth2_audience, oauth2_client_auth, tls_certificate, tls_private_key`

// authorizationRow is an Authorization flattened into its columns. The
// one secret of the type (header value, basic password, bearer token,
// query value, OAuth2 client secret) is sealed into secret, a client
// certificate's private key into tlsKey.
type authorizationRow struct {
	headerKey, visibility, username                          sql.NullString
	queryKey, queryVisibility                                sql.NullString
	tokenURL, clientID, scope, audience, clientAuth, tlsCert sql.NullString
	secret, tlsKey                                           []byte
}

func text(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func (s *Store) authorizationArgs(a *herald.Authorization) (*authorizationRow, error) {
	var r authorizationRow
	var plain string
	switch a.Type {
	case herald.AuthHeader:
		r.headerKey, r.visibility = text(a.Header.Key), text(string(a.Header.Visibility))
		plain = a.Header.Value
	case herald.AuthBasic:
		r.username = text(a.Basic.Username)
		plain = a.Basic.Password
	case herald.AuthBearer:
		plain = a.Bearer.Token
	case herald.AuthQuery:
		r.queryKey, r.queryVisibility = text(a.Query.Key), text(string(a.Query.Visibility))
		plain = a.Query.Value
	case herald.AuthOAuth2:
		o := a.OAuth2
		r.tokenURL, r.clientID, r.clientAuth = text(o.TokenURL), text(o.ClientID), text(o.ClientAuth)
		r.scope, r.audience = text(o.Scope), text(o.Audience)
		plain = o.ClientSecret
	}
	var err error
	if r.secret, err = s.seal(plain); err != nil {
		return nil, err
	}
	if t := a.TLSClient; t != nil {
		r.tlsCert = text(t.CertificatePEM)
		if r.tlsKey, err = s.seal(t.PrivateKeyPEM); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

func (r *authorizationRow) values() []any {
	return []any{r.headerKey, r.visibility, r.username, r.secret, r.queryKey, r.queryVisibility, r.tokenURL, r.clientID, r.scope, r.audience, r.clientAuth, r.tlsCert, r.tlsKey}
}

func (s *Store) scanAuthorization(row interface{ Scan(...any) error }) (*herald.Authorization, error) {
	var a herald.Authorization
	var r authorizationRow
	var created, updated int64
	if err := row.Scan(&a.ID, &a.WorkspaceID, &a.Name, &a.Endpoint, &a.Type, &r.headerKey, &r.visibility, &r.username, &r.secret, &created, &updated,
		&r.queryKey, &r.queryVisibility, &r.tokenURL, &r.clientID, &r.scope, &r.audience, &r.clientAuth, &r.tlsCert, &r.tlsKey); err != nil {
		return nil, s.mapErr(err)
	}
	plain, err := s.open(r.secret)
	if err != nil {
		return nil, fmt.Errorf("authorization %s: %w", a.ID, err)
	}
	switch a.Type {
	case herald.AuthHeader:
		a.Header = &herald.HeaderAuth{Key: r.headerKey.String, Value: plain, Visibility: herald.Visibility(r.visibility.String)}
	case herald.AuthBasic:
		a.Basic = &herald.BasicAuth{Username: r.username.String, Password: plain}
	case herald.AuthBearer:
		a.Bearer = &herald.BearerAuth{Token: plain}
	case herald.AuthQuery:
		a.Query = &herald.QueryAuth{Key: r.queryKey.String, Value: plain, Visibility: herald.Visibility(r.queryVisibility.String)}
	case herald.AuthOAuth2:
		a.OAuth2 = &herald.OAuth2Auth{TokenURL: r.tokenURL.String, ClientID: r.clientID.String, ClientSecret: plain,
			Scope: r.scope.String, Audience: r.audience.String, ClientAuth: r.clientAuth.String}
	}
	if r.tlsCert.Valid {
		key, err := s.open(r.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("authorization %s: client certificate key: %w", a.ID, err)
		}
		a.TLSClient = &herald.TLSClientAuth{CertificatePEM: r.tlsCert.String, PrivateKeyPEM: key}
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// CreateAuthorization stores a new authorization with its secrets sealed.
func (s *Store) CreateAuthorization(ctx context.Context, a *herald.Authorization) error {
	r, err := s.authorizationArgs(a)
	if err != nil {
		return err
	}
	args := append([]any{a.ID, a.WorkspaceID, a.Name, a.Endpoint, string(a.Type), micros(a.CreatedAt), micros(a.UpdatedAt)}, r.values()...)
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO authorizations (id, workspace_id, name, endpoint, type, created_at, updated_at, `+
		`header_key, header_visibility, basic_username, secret, query_key, query_visibility, oauth2_token_url, oauth2_client_id, oauth2_scope, oauth2_audience, oauth2_client_auth, tls_certificate, tls_private_key) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
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
	r, err := s.authorizationArgs(a)
	if err != nil {
		return err
	}
	args := append([]any{a.Name, a.Endpoint, string(a.Type), micros(a.UpdatedAt)}, r.values()...)
	args = append(args, a.WorkspaceID, a.ID)
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE authorizations SET name = ?, endpoint = ?, type = ?, updated_at = ?, `+
		`header_key = ?, header_visibility = ?, basic_username = ?, secret = ?, query_key = ?, query_visibility = ?, oauth2_token_url = ?, oauth2_client_id = ?, `+
		`oauth2_scope = ?, oauth2_audience = ?, oauth2_client_auth = ?, tls_certificate = ?, tls_private_key = ? WHERE workspace_id = ? AND id = ?`), args...)
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
