package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

type apiKeysData struct {
	Keys   []*herald.APIKey
	Name   string
	Scopes map[string]bool
	NewKey string // shown once, right after creation
	NewFor string
}

func (s *Server) apiKeysPage(r *http.Request, d *apiKeysData) error {
	keys, err := s.users.ListAPIKeys(r.Context(), workspace(r))
	if err != nil {
		return err
	}
	d.Keys = keys
	if d.Scopes == nil {
		d.Scopes = map[string]bool{"admin": true}
		if !principal(r).CanGrant([]herald.Scope{herald.ScopeAdmin}, "") {
			d.Scopes = map[string]bool{"read": true}
		}
	}
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	d := &apiKeysData{}
	if err := s.apiKeysPage(r, d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "apikeys", &view{Title: "API keys", Section: "apikeys", D: d})
}

// createAPIKey shows the new key on the answer itself (never stored in
// clear, never in a cookie or URL), so it is seen exactly once.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	d := &apiKeysData{Name: name, Scopes: map[string]bool{}}
	var scopes []herald.Scope
	for _, v := range r.PostForm["scopes"] {
		sc := herald.Scope(v)
		if sc == herald.ScopeAdmin || sc == herald.ScopeRead || sc == herald.ScopeIngest {
			if !d.Scopes[v] {
				scopes = append(scopes, sc)
			}
			d.Scopes[v] = true
		}
	}
	errs := map[string]string{}
	switch {
	case name == "":
		errs["name"] = "is required: say what uses the key, e.g. “CRM sync”"
	case len(name) > herald.MaxNameLength:
		errs["name"] = fmt.Sprintf("must be at most %d characters", herald.MaxNameLength)
	}
	if len(scopes) == 0 {
		errs["scopes"] = "choose at least one scope"
	} else if !principal(r).CanGrant(scopes, "") {
		// An admin key acts as the workspace's owner: no more than one's own role.
		errs["scopes"] = "your role (admin) cannot create an admin key, which acts as the workspace's owner; choose read or ingest, or ask an owner"
	}
	if len(errs) > 0 {
		if err := s.apiKeysPage(r, d); err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "apikeys", &view{Title: "API keys", Section: "apikeys", Errors: errs,
			FormError: "Please correct the fields marked below.", D: d})
		return
	}
	key, _, err := s.svc.CreateAPIKey(r.Context(), workspace(r), name, scopes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d = &apiKeysData{NewKey: key, NewFor: name}
	if err := s.apiKeysPage(r, d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusCreated, "apikeys", &view{Title: "API keys", Section: "apikeys", D: d})
}

func (s *Server) findAPIKey(w http.ResponseWriter, r *http.Request) (*herald.APIKey, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	keys, err := s.users.ListAPIKeys(r.Context(), workspace(r))
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	s.fail(w, r, herald.ErrNotFound)
	return nil, false
}

func (s *Server) confirmRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	k, ok := s.findAPIKey(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Revoke API key", Section: "apikeys", D: confirmData{
		Question: fmt.Sprintf("Revoke the API key “%s” (%s…)?", k.Name, k.Prefix),
		Detail:   "Requests with this key are refused from now on. This cannot be undone; create a new key if needed.",
		Action:   "/settings/api-keys/" + k.ID + "/revoke", Button: "Revoke key", Cancel: "/settings/api-keys"}})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	k, ok := s.findAPIKey(w, r)
	if !ok {
		return
	}
	if _, err := s.svc.RevokeAPIKey(r.Context(), workspace(r), k.ID); err != nil {
		if herald.ErrorCodeOf(err) == herald.EConflict {
			setFlash(w, r, fmt.Sprintf("The API key “%s” was already revoked.", k.Name), true)
			redirect(w, r, "/settings/api-keys")
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("API key “%s” revoked.", k.Name), false)
	redirect(w, r, "/settings/api-keys")
}
