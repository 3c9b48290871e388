package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

var _ herald.PortalStore = (*Store)(nil)

const portalColumns = `id, workspace_id, role, return_url, allowed_events, link_hash, session_hash, created_by, created_at, expires_at, redeemed_at`

// CreatePortalSession stores a new, unredeemed portal session.
func (s *Store) CreatePortalSession(ctx context.Context, p *herald.PortalSession) error {
	var allowed *string
	if p.AllowedEvents != nil {
		b, err := json.Marshal(p.AllowedEvents)
		if err != nil {
			return fmt.Errorf("create portal session: %w", err)
		}
		str := string(b)
		allowed = &str
	}
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO portal_sessions (id, workspace_id, role, return_url, allowed_events, link_hash, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		p.ID, p.WorkspaceID, string(p.Role), p.ReturnURL, allowed, p.LinkHash, p.CreatedBy, micros(p.CreatedAt), micros(p.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create portal session: %w", s.mapErr(err))
	}
	// Sessions a day past their expiry are of no use to anyone: forget
	// them here, where they are made (an index on expires_at).
	if _, err := s.write.ExecContext(ctx, s.q(`DELETE FROM portal_sessions WHERE expires_at < ?`), micros(p.CreatedAt.Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("purge old portal sessions: %w", s.mapErr(err))
	}
	return nil
}

// RedeemPortalLink marks an unused, unexpired link used, in one UPDATE,
// so of two concurrent redemptions only one changes the row.
func (s *Store) RedeemPortalLink(ctx context.Context, linkHash, sessionHash []byte, now time.Time) (*herald.PortalSession, error) {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE portal_sessions SET redeemed_at = ?, session_hash = ?
		WHERE link_hash = ? AND redeemed_at IS NULL AND expires_at > ?`), micros(now), sessionHash, linkHash, micros(now))
	if err := s.expectOne(res, err); err != nil {
		return nil, fmt.Errorf("redeem portal link: %w", err)
	}
	return s.portalBy(ctx, `link_hash`, linkHash)
}

// PortalSessionByToken returns the redeemed session of a cookie token hash.
func (s *Store) PortalSessionByToken(ctx context.Context, sessionHash []byte) (*herald.PortalSession, error) {
	return s.portalBy(ctx, `session_hash`, sessionHash)
}

// PortalSessionByLink returns the session of a link, used or not.
func (s *Store) PortalSessionByLink(ctx context.Context, linkHash []byte) (*herald.PortalSession, error) {
	return s.portalBy(ctx, `link_hash`, linkHash)
}

// DeletePortalSession ends a portal session.
func (s *Store) DeletePortalSession(ctx context.Context, sessionHash []byte) error {
	_, err := s.write.ExecContext(ctx, s.q(`DELETE FROM portal_sessions WHERE session_hash = ?`), sessionHash)
	return s.mapErr(err)
}

func (s *Store) portalBy(ctx context.Context, column string, hash []byte) (*herald.PortalSession, error) {
	// The write pool reads back what it just wrote (SQLite's readers may
	// not see the redemption's commit yet on another connection).
	db := s.read
	if column == "link_hash" {
		db = s.write
	}
	row := db.QueryRowContext(ctx, s.q(`SELECT `+portalColumns+` FROM portal_sessions WHERE `+column+` = ?`), hash)
	var p herald.PortalSession
	var role string
	var allowed sql.NullString
	var created, expires int64
	var redeemed sql.NullInt64
	if err := row.Scan(&p.ID, &p.WorkspaceID, &role, &p.ReturnURL, &allowed, &p.LinkHash, &p.SessionHash, &p.CreatedBy, &created, &expires, &redeemed); err != nil {
		return nil, s.mapErr(err)
	}
	p.Role = herald.PortalRole(role)
	if allowed.Valid {
		if err := json.Unmarshal([]byte(allowed.String), &p.AllowedEvents); err != nil {
			return nil, fmt.Errorf("portal session %s: allowed events: %w", p.ID, err)
		}
		if p.AllowedEvents == nil {
			p.AllowedEvents = []string{}
		}
	}
	p.CreatedAt, p.ExpiresAt = fromMicros(created), fromMicros(expires)
	if redeemed.Valid {
		t := fromMicros(redeemed.Int64)
		p.RedeemedAt = &t
	}
	return &p, nil
}
