package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald/internal/clientaddr"
	"github.com/heraldhq/herald/internal/herald"
)

// portalSessionResponse is the answer to POST /portal-sessions. url holds
// the one-time token: it is shown once and never stored in clear.
type portalSessionResponse struct {
	ID            string    `json:"id"`
	URL           string    `json:"url"`
	ExpiresAt     time.Time `json:"expires_at"`
	WorkspaceID   string    `json:"workspace_id"`
	Role          string    `json:"role"`
	ReturnURL     string    `json:"return_url,omitempty"`
	AllowedEvents []string  `json:"allowed_events"`
}

// createPortalSession mints a portal link for a workspace: a workspace
// key for its own workspace only (workspace_id may then be left out).
func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) {
	var in herald.PortalSessionSpec
	if err := s.decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	key := apiKeyFrom(r.Context())
	if key.WorkspaceID != "" {
		if in.WorkspaceID == "" {
			in.WorkspaceID = key.WorkspaceID
		}
		if in.WorkspaceID != key.WorkspaceID {
			s.writeError(w, r, &herald.Error{Code: herald.EForbidden, Message: "this API key acts in its own workspace only",
				Fields: []herald.FieldError{{Field: "workspace_id", Message: "is another workspace than this API key's"}}})
			return
		}
	}
	p, token, err := s.svc.CreatePortalSession(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, portalSessionResponse{
		ID: p.ID, URL: clientaddr.BaseURL(s.cfg.PublicURL, r) + "/portal/open?token=" + url.QueryEscape(token),
		ExpiresAt: p.ExpiresAt, WorkspaceID: p.WorkspaceID, Role: string(p.Role), ReturnURL: p.ReturnURL, AllowedEvents: p.AllowedEvents,
	})
}
