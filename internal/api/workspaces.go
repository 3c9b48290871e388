package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// The instance API: workspaces, their keys and their members. Every route
// here needs an instance key (herald apikey create --instance); the
// workspace is the {id} of the path, never the key's.

// workspacePatchBody is what PATCH /workspace and PATCH /workspaces/{id}
// read. Absent fields stay as they are.
type workspacePatchBody struct {
	Name     *string `json:"name"`
	TimeZone *string `json:"time_zone"`
	// absent: unchanged; null: the server's default
	RetentionSeconds     json.RawMessage `json:"retention_seconds"`
	PortalAllowedOrigins *[]string       `json:"portal_allowed_origins"`
	// read-only fields a client may send back from GET
	ID        any `json:"id"`
	CreatedAt any `json:"created_at"`
}

// patch turns the body into a herald.WorkspacePatch; the name only
// changes through the instance API (PATCH /workspace sends it back as read).
func (b *workspacePatchBody) patch(allowName bool) (herald.WorkspacePatch, error) {
	p := herald.WorkspacePatch{TimeZone: b.TimeZone, PortalAllowedOrigins: b.PortalAllowedOrigins}
	if allowName {
		p.Name = b.Name
	}
	if len(b.RetentionSeconds) > 0 {
		p.SetRetention = true
		if string(b.RetentionSeconds) != "null" {
			var secs int64
			if err := json.Unmarshal(b.RetentionSeconds, &secs); err != nil {
				return p, fieldError(herald.EInvalid, "retention_seconds", "must be a whole number of seconds, or null for the server's default")
			}
			d := time.Duration(secs) * time.Second
			if secs > int64(herald.MaxRetention/time.Second) || secs < 0 {
				d = herald.MaxRetention + time.Second // refused by the service, with the bounds
			}
			p.Retention = &d
		}
	}
	return p, nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.ListWorkspaces(r.Context())
	writeList(s, w, r, list, "", err)
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name                 string          `json:"name"`
		TimeZone             *string         `json:"time_zone"`
		RetentionSeconds     json.RawMessage `json:"retention_seconds"`
		PortalAllowedOrigins *[]string       `json:"portal_allowed_origins"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := (&workspacePatchBody{TimeZone: body.TimeZone, RetentionSeconds: body.RetentionSeconds, PortalAllowedOrigins: body.PortalAllowedOrigins}).patch(false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Validate the settings before the workspace exists.
	if p.PortalAllowedOrigins != nil {
		if _, err := herald.ValidateOrigins(*p.PortalAllowedOrigins); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if p.SetRetention {
		if err := herald.ValidateRetention(p.Retention); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ws, err := s.svc.CreateWorkspace(r.Context(), body.Name)
	if err == nil && (p.TimeZone != nil || p.SetRetention || p.PortalAllowedOrigins != nil) {
		ws, err = s.svc.UpdateWorkspace(r.Context(), ws.ID, p)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+ws.ID)
	writeJSON(w, http.StatusCreated, ws)
}

func (s *Server) getWorkspaceByID(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		var ws *herald.Workspace
		if ws, err = s.store.WorkspaceByID(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, ws)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *Server) updateWorkspaceByID(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body workspacePatchBody
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := body.patch(true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ws, err := s.svc.UpdateWorkspace(r.Context(), id, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

// deleteWorkspace needs ?confirm=<the workspace's name>.
func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		if err = s.svc.DeleteWorkspace(r.Context(), id, r.URL.Query().Get("confirm")); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.writeError(w, r, err)
}

// createWorkspaceKey mints a key of the workspace; the key is in this
// answer only.
func (s *Server) createWorkspaceKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		Name   string         `json:"name"`
		Scopes []herald.Scope `json:"scopes"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.store.WorkspaceByID(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	key, rec, err := s.svc.CreateAPIKey(r.Context(), id, body.Name, body.Scopes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "id": rec.ID, "workspace_id": rec.WorkspaceID, "name": rec.Name,
		"prefix": rec.Prefix, "scopes": rec.Scopes, "created_at": rec.CreatedAt})
}

// baseURL is where links herald hands out point: the configured public
// URL, else the address the request came to.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func memberID(r *http.Request) (string, error) {
	id := r.PathValue("member")
	if !herald.ValidID(id) {
		return "", &herald.Error{Code: herald.ENotFound, Message: "not found: malformed id",
			Fields: []herald.FieldError{{Field: "member", Message: "is not a valid id (26 characters, Crockford base32)"}}}
	}
	return id, nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		if _, err = s.store.WorkspaceByID(r.Context(), id); err == nil {
			var t herald.TenantStore
			if t, err = s.svc.Tenants(); err == nil {
				list, err := t.ListMembers(r.Context(), id)
				writeList(s, w, r, list, "", err)
				return
			}
		}
	}
	s.writeError(w, r, err)
}

func (s *Server) inviteMember(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		Email string      `json:"email"`
		Role  herald.Role `json:"role"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, token, err := s.svc.InviteMember(r.Context(), id, body.Email, body.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m.InviteURL = herald.InviteURL(s.baseURL(r), token)
	w.Header().Set("Location", "/api/v1/workspaces/"+id+"/members/"+m.ID)
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	s.memberCall(w, r, func(t herald.TenantStore, ws, id string) (any, error) {
		return t.Member(r.Context(), ws, id)
	})
}

// memberPatchBody is what PATCH /workspaces/{id}/members/{member} reads.
type memberPatchBody struct {
	Role herald.Role `json:"role"`
	// read-only fields a client may send back from GET
	ID              any `json:"id"`
	WorkspaceID     any `json:"workspace_id"`
	UserID          any `json:"user_id"`
	Email           any `json:"email"`
	Status          any `json:"status"`
	InviteExpiresAt any `json:"invite_expires_at"`
	CreatedAt       any `json:"created_at"`
	AcceptedAt      any `json:"accepted_at"`
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	var body memberPatchBody
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.memberCall(w, r, func(t herald.TenantStore, ws, id string) (any, error) {
		return s.svc.SetMemberRole(r.Context(), ws, id, body.Role)
	})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.memberCall(w, r, func(t herald.TenantStore, ws, id string) (any, error) {
		return nil, s.svc.RemoveMember(r.Context(), ws, id)
	})
}

// memberCall answers a route on /workspaces/{id}/members/{member}.
func (s *Server) memberCall(w http.ResponseWriter, r *http.Request, call func(t herald.TenantStore, ws, id string) (any, error)) {
	ws, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := memberID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.Tenants()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := call(t, ws, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
