package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// The embeddable portal: a tenant's view of herald's own webhook and
// authorization screens (and the webhooks' logs) for one workspace,
// shown in an iframe of the platform's admin. The platform's backend
// creates a portal session (POST /api/v1/portal-sessions) and puts its
// one-time link in the iframe; GET /portal/open redeems it, sets the
// portal cookie and sends the frame to the webhooks page.
//
// A portal request is told apart by its cookie (herald_portal), which is
// SameSite=None; Secure; Partitioned — it must reach herald from inside
// another site's frame — while the admin's own cookies stay SameSite=Lax.
// A browser holding a live portal cookie is in the portal on every page:
// only the routes in portalRoutes answer (others are not found), the
// global navigation is replaced by a minimal header, the role of the
// portal session applies, and the pages may be framed by the workspace's
// portal_allowed_origins (frame-ancestors) instead of by nobody.

const portalCookie = "herald_portal"

// portalRoutes are the UI routes a portal session may use: the Webhooks
// and Authorizations tabs, the webhooks' pages and logs, the template
// reference, and leaving the portal.
var portalRoutes = map[string]bool{
	"GET /{$}":                                        true,
	"GET /webhooks":                                   true,
	"GET /webhooks/new":                               true,
	"POST /webhooks":                                  true,
	"GET /webhooks/{id}":                              true,
	"GET /webhooks/{id}/edit":                         true,
	"POST /webhooks/{id}":                             true,
	"POST /webhooks/{id}/publish":                     true,
	"POST /webhooks/{id}/unpublish":                   true,
	"POST /webhooks/{id}/duplicate":                   true,
	"GET /webhooks/{id}/delete":                       true,
	"POST /webhooks/{id}/delete":                      true,
	"POST /webhooks/{id}/rotate-secret":               true,
	"POST /webhooks/{id}/test":                        true,
	"POST /webhooks/{id}/preview":                     true,
	"GET /webhooks/{id}/logs":                         true,
	"GET /webhooks/{id}/logs/{attempt}":               true,
	"POST /webhooks/{id}/deliveries/{delivery}/retry": true,
	"GET /webhooks/{id}/events/{event}":               true,
	"POST /webhooks/{id}/events/{event}/resend":       true,
	"GET /webhooks/{id}/replay":                       true,
	"POST /webhooks/{id}/replay":                      true,
	"GET /authorizations":                             true,
	"GET /authorizations/new":                         true,
	"POST /authorizations":                            true,
	"GET /authorizations/{id}/edit":                   true,
	"POST /authorizations/{id}":                       true,
	"GET /authorizations/{id}/delete":                 true,
	"POST /authorizations/{id}/delete":                true,
	"POST /portal/leave":                              true,
}

// portalView is what the layout needs to draw the portal's header.
type portalView struct {
	ReturnURL string
	ReadOnly  bool
	Expires   time.Time
}

// portalFromCookie returns the portal session of the request's portal
// cookie and whether it is still live; a cookie that names no session is
// cleared, and so is one whose session is over (which is returned, so the
// page can say so inside the platform's frame).
func (s *Server) portalFromCookie(w http.ResponseWriter, r *http.Request) (p *herald.PortalSession, live bool, err error) {
	c, err := r.Cookie(portalCookie)
	if err != nil || c.Value == "" || s.portals == nil || strings.HasPrefix(r.URL.Path, "/static/") {
		return nil, false, nil // static files need no session (nor a database read each)
	}
	p, err = s.portals.PortalSessionByToken(r.Context(), herald.HashSessionToken(c.Value))
	switch {
	case herald.ErrorCodeOf(err) == herald.ENotFound:
		p = nil
	case err != nil:
		return nil, false, err
	case !p.Expired(s.now()):
		return p, true, nil
	}
	http.SetCookie(w, portalCookieFor("", -1))
	return p, false, nil
}

// portalEnded answers a page of a portal session that has expired, in
// the platform's frame.
func (s *Server) portalEnded(w http.ResponseWriter, r *http.Request, p *herald.PortalSession) {
	s.portalHeaders(w, r, p)
	s.render(w, r, http.StatusUnauthorized, "error", &view{Title: "This portal session has ended",
		D: "Portal sessions last a limited time. Reload the page around this frame to open a new one."})
}

// portalCookieFor is the portal's cookie: sent from inside another
// site's frame (SameSite=None, which browsers accept only with Secure),
// and partitioned by that site (CHIPS), so browsers that block
// third-party cookies still keep it for the frame.
func portalCookieFor(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: portalCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: true, SameSite: http.SameSiteNoneMode, Partitioned: true}
}

// openPortal redeems a one-time portal link: a fresh cookie token (only
// its hash is stored, bound to the session as it is redeemed), then the
// webhooks page. A link used before, expired or unknown gets one answer.
func (s *Server) openPortal(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if s.portals == nil || token == "" || len(token) > 200 {
		s.portalGone(w, r)
		return
	}
	cookieToken, cookieHash := herald.NewPortalToken()
	p, err := s.portals.RedeemPortalLink(r.Context(), herald.HashSessionToken(token), cookieHash, s.now().UTC().Truncate(time.Microsecond))
	if herald.ErrorCodeOf(err) == herald.ENotFound {
		// A link that existed (used, or expired) answers inside its
		// workspace's frames; an unknown one refuses framing.
		if dead, err := s.portals.PortalSessionByLink(r.Context(), herald.HashSessionToken(token)); err == nil {
			s.portalHeaders(w, r, dead)
		}
		s.portalGone(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "ui: portal session opened", "portal_session", p.ID, "workspace", p.WorkspaceID, "role", string(p.Role))
	rc := requestFrom(r)
	rc.portal = p
	s.portalHeaders(w, r, p)
	// Whatever session this browser had in herald, the portal's now rules.
	http.SetCookie(w, portalCookieFor(cookieToken, int(p.ExpiresAt.Sub(s.now())/time.Second)+1))
	redirect(w, r, "/webhooks")
}

func (s *Server) portalGone(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusGone, "error", &view{Title: "This portal link no longer works",
		D: "A portal link works once, for a limited time. Reload the page that showed it to get a new one."})
}

// leavePortal ends the portal session in this browser.
func (s *Server) leavePortal(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(portalCookie); err == nil && s.portals != nil {
		if err := s.portals.DeletePortalSession(r.Context(), herald.HashSessionToken(c.Value)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, portalCookieFor("", -1))
	p := requestFrom(r).portal
	if p != nil && p.ReturnURL != "" {
		http.Redirect(w, r, p.ReturnURL, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "error", &view{Title: "You left the portal", D: "This browser is no longer in the portal."})
}

// portalHeaders lets the workspace's allowed origins, and only them,
// frame a portal page.
func (s *Server) portalHeaders(w http.ResponseWriter, r *http.Request, p *herald.PortalSession) {
	origins, err := s.portalOrigins(r.Context(), p.WorkspaceID)
	if err != nil {
		s.log.WarnContext(r.Context(), "ui: could not read the portal's allowed origins; framing refused", "error", err)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(pageCSP, "frame-ancestors 'none'", "frame-ancestors "+frameAncestors(origins), 1))
	h.Del("X-Frame-Options")
}

// frameAncestors is the CSP source list of origins: each one that is a
// plain scheme://host[:port] (anything else — a path, a wildcard in the
// wrong place, a ';' — is left out rather than risk the header), or
// 'none'.
func frameAncestors(origins []string) string {
	var ok []string
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil ||
			strings.ContainsAny(o, " ;,'\"\r\n") {
			continue
		}
		ok = append(ok, u.Scheme+"://"+u.Host)
	}
	if len(ok) == 0 {
		return "'none'"
	}
	return strings.Join(ok, " ")
}

// portalSession turns the portal session into the session and context
// every handler expects: its workspace, its actor in the audit log, and
// herald.WithPortal (Service holds its webhooks to the allowed events).
func portalSession(p *herald.PortalSession) *herald.Session {
	return &herald.Session{ID: "portal:" + p.ID, WorkspaceID: p.WorkspaceID, Email: p.Actor(), ExpiresAt: p.ExpiresAt}
}

// portalMember is the portal's principal: a member of its workspace with
// the portal's role, so the routes' actions (allow) and the pages' .Can
// decide for it as for anyone — a viewer portal changes nothing.
func portalMember(p *herald.PortalSession) *memberCtx {
	role := herald.RoleViewer
	if p.Role == herald.PortalAdmin {
		role = herald.RoleAdmin
	}
	return &memberCtx{principal: herald.Principal{WorkspaceID: p.WorkspaceID, Role: role}, Role: role}
}

func portalContext(ctx context.Context, p *herald.PortalSession) context.Context {
	return herald.WithPortal(herald.WithActor(ctx, p.Actor()), p)
}

// portalOrigins are the origins allowed to frame the workspace's portal
// (its portal_allowed_origins).
func (s *Server) portalOrigins(ctx context.Context, workspaceID string) ([]string, error) {
	ws, err := s.store.WorkspaceByID(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return ws.PortalAllowedOrigins, nil
}
