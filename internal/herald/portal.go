package herald

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// PortalSession is a tenant's way into herald's own webhook and
// authorization screens for one workspace, shown in an iframe of the
// platform's admin. The platform's backend creates one (POST
// /api/v1/portal-sessions) and puts its one-time link in the iframe;
// opening the link redeems it: herald then keeps the browser in the
// session by a cookie (SameSite=None; Secure, for portal sessions only)
// until ExpiresAt. Only hashes of the link token and of the cookie's
// token are stored.
type PortalSession struct {
	ID          string
	WorkspaceID string
	// Role is what the tenant may do: PortalAdmin changes the webhooks and
	// authorizations, PortalViewer only reads them.
	Role PortalRole
	// ReturnURL, if set, is where the portal's "back" link leads.
	ReturnURL string
	// AllowedEvents, if not nil, are the event types (keys or patterns)
	// the tenant may subscribe a webhook to.
	AllowedEvents []string
	// LinkHash is the SHA-256 of the one-time link's token.
	LinkHash []byte
	// SessionHash is the SHA-256 of the browser's cookie token, set when
	// the link is redeemed; nil until then.
	SessionHash []byte
	CreatedBy   string // the actor that created it (an API key)
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RedeemedAt  *time.Time
}

// PortalRole is the role a portal session acts with.
type PortalRole string

const (
	PortalAdmin  PortalRole = "admin"
	PortalViewer PortalRole = "viewer"
)

// Bounds of a portal session's lifetime (expires_in, seconds).
const (
	MinPortalExpiry = 60
	MaxPortalExpiry = 24 * 60 * 60
)

// Actor is how the audit log names what the portal session does.
func (p *PortalSession) Actor() string { return "portal session " + p.ID }

// Expired reports whether the session is over at now.
func (p *PortalSession) Expired(now time.Time) bool { return !now.Before(p.ExpiresAt) }

// MayUse reports whether the tenant may subscribe to the event-type entry
// e (a key or a pattern): every entry when AllowedEvents is nil; a key
// that the allowed list covers; a pattern only if the list names that
// pattern (or "*"), since it covers types added later.
func (p *PortalSession) MayUse(e string) bool {
	if p.AllowedEvents == nil {
		return true
	}
	if IsEventPattern(e) {
		return slices.Contains(p.AllowedEvents, e) || slices.Contains(p.AllowedEvents, "*")
	}
	return EventsCover(p.AllowedEvents, e)
}

// PortalSessionSpec is what POST /api/v1/portal-sessions asks for.
type PortalSessionSpec struct {
	WorkspaceID   string   `json:"workspace_id"`
	Role          string   `json:"role"`
	ExpiresIn     int64    `json:"expires_in"`
	ReturnURL     string   `json:"return_url,omitempty"`
	AllowedEvents []string `json:"allowed_events,omitempty"`
}

// PortalStore keeps portal sessions; the SQL store implements it
// (conformance: storetest.RunPortal).
type PortalStore interface {
	CreatePortalSession(ctx context.Context, p *PortalSession) error
	// RedeemPortalLink uses the one-time link whose token hashes to
	// linkHash: only if it was never used and has not expired at now, it
	// is marked used and bound to the browser's sessionHash, and the
	// session is returned. Otherwise ENotFound, whatever the reason (a
	// link says nothing about why it no longer works). Two concurrent
	// redemptions: one wins.
	RedeemPortalLink(ctx context.Context, linkHash, sessionHash []byte, now time.Time) (*PortalSession, error)
	// PortalSessionByToken returns the redeemed session whose cookie
	// token hashes to sessionHash, expired or not; ENotFound if none.
	PortalSessionByToken(ctx context.Context, sessionHash []byte) (*PortalSession, error)
	// PortalSessionByLink returns the session of a link, used, expired or
	// not (to answer a dead link inside the right frame); ENotFound if
	// there is none.
	PortalSessionByLink(ctx context.Context, linkHash []byte) (*PortalSession, error)
	// DeletePortalSession ends a portal session (leaving the portal);
	// deleting a missing one is not an error.
	DeletePortalSession(ctx context.Context, sessionHash []byte) error
}

// NewPortalToken returns a fresh random token (256 bits) and its stored
// hash, for a portal link or a portal cookie.
func NewPortalToken() (token string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("herald: crypto/rand failed: " + err.Error())
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashSessionToken(token)
}

// CreatePortalSession validates spec and stores a new portal session for
// the workspace; it returns the session and the one-time link's token
// (shown once, in the link). The caller has checked that the request may
// act in spec.WorkspaceID. EInvalid names the field (role, expires_in,
// return_url, allowed_events[i]); ENotFound if the workspace does not
// exist. The audit log records it in that workspace.
func (s *Service) CreatePortalSession(ctx context.Context, spec PortalSessionSpec) (*PortalSession, string, error) {
	if s.Portals == nil {
		return nil, "", Errorf(EUnavailable, "portal sessions are not available")
	}
	var v Validation
	if !ValidID(spec.WorkspaceID) {
		v.Add("workspace_id", "is required: the id of the tenant's workspace")
	}
	role := PortalRole(spec.Role)
	if role != PortalAdmin && role != PortalViewer {
		v.Add("role", "must be \"admin\" (changes webhooks and authorizations) or \"viewer\" (reads them)")
	}
	if spec.ExpiresIn < MinPortalExpiry || spec.ExpiresIn > MaxPortalExpiry {
		v.Add("expires_in", "must be from %d to %d seconds", MinPortalExpiry, MaxPortalExpiry)
	}
	if spec.ReturnURL != "" {
		if err := checkReturnURL(spec.ReturnURL); err != "" {
			v.Add("return_url", "%s", err)
		}
	}
	if len(spec.AllowedEvents) > 200 {
		v.Add("allowed_events", "may list at most 200 event types")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, err := s.Store.WorkspaceByID(ctx, spec.WorkspaceID); err != nil {
		if ErrorCodeOf(err) == ENotFound {
			return nil, "", &Error{Code: ENotFound, Message: "no such workspace", Fields: []FieldError{{Field: "workspace_id", Message: "no such workspace"}}}
		}
		return nil, "", err
	}
	var allowed []string
	if spec.AllowedEvents != nil {
		types, err := s.EventTypes(ctx, spec.WorkspaceID)
		if err != nil {
			return nil, "", err
		}
		allowed = []string{}
		for i, e := range spec.AllowedEvents {
			e = strings.TrimSpace(e)
			field := fmt.Sprintf("allowed_events[%d]", i)
			switch {
			case e == "":
				v.Add(field, "is empty")
			case IsEventPattern(e):
			case !slices.ContainsFunc(types, func(t *EventType) bool { return t.Key == e }):
				msg := fmt.Sprintf("unknown event type %q", e)
				if near := Closest(e, eventKeys(types)); near != "" {
					msg += fmt.Sprintf(" — did you mean %q?", near)
				}
				v.Add(field, "%s", msg)
			}
			if !slices.Contains(allowed, e) {
				allowed = append(allowed, e)
			}
		}
		if err := v.Err(); err != nil {
			return nil, "", err
		}
	}
	token, hash := NewPortalToken()
	now := s.now()
	p := &PortalSession{ID: NewID(), WorkspaceID: spec.WorkspaceID, Role: role, ReturnURL: spec.ReturnURL,
		AllowedEvents: allowed, LinkHash: hash, CreatedBy: ActorFrom(ctx), CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(spec.ExpiresIn) * time.Second)}
	if err := s.Portals.CreatePortalSession(ctx, p); err != nil {
		return nil, "", err
	}
	summary := fmt.Sprintf("portal session for role %s, valid %s", role, time.Duration(spec.ExpiresIn)*time.Second)
	if allowed != nil {
		summary += ", events limited to " + strings.Join(allowed, ", ")
	}
	s.RecordAudit(ctx, spec.WorkspaceID, "portal_session.create", "portal_session", p.ID, summary)
	return p, token, nil
}

// checkReturnURL: an absolute http(s) URL (it is shown as a link).
func checkReturnURL(raw string) string {
	if len(raw) > 2000 {
		return "must be at most 2000 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "must be an absolute http:// or https:// URL"
	}
	return ""
}

type portalKey struct{}

// WithPortal marks ctx as acting for a portal session: Service then
// holds webhooks to the session's allowed events.
func WithPortal(ctx context.Context, p *PortalSession) context.Context {
	return context.WithValue(ctx, portalKey{}, p)
}

// PortalFrom returns the portal session ctx acts for, or nil.
func PortalFrom(ctx context.Context) *PortalSession {
	p, _ := ctx.Value(portalKey{}).(*PortalSession)
	return p
}

// checkPortalEvents refuses, for a portal session, event-type entries
// outside its allowed events.
func checkPortalEvents(ctx context.Context, spec *WebhookSpec, v *Validation) {
	p := PortalFrom(ctx)
	if p == nil || p.AllowedEvents == nil {
		return
	}
	for i, e := range spec.Events {
		if e != "" && !p.MayUse(e) {
			v.Add(spec.EventField(i), "%q is not among the event types this portal may subscribe to (%s)", e, strings.Join(p.AllowedEvents, ", "))
		}
	}
}
