package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

type authListData struct {
	Authorizations []*herald.Authorization
	Filter         string
	Next           string
}

func (s *Server) listAuthorizations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := herald.AuthorizationFilter{Name: strings.TrimSpace(q.Get("name")), Limit: 50}
	if c := q.Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	list, next, err := s.store.ListAuthorizations(r.Context(), workspace(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := authListData{Authorizations: list, Filter: f.Name}
	if next != "" {
		nq := url.Values{"cursor": {next}}
		if f.Name != "" {
			nq.Set("name", f.Name)
		}
		d.Next = "/authorizations?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "authorizations", &view{Title: "Authorizations", Section: "authorizations", D: d})
}

// authForm is the data of the add and edit forms. Secret values are never
// put back into the form: SecretSet says one is stored, Hint shows its
// mask.
type authForm struct {
	ID         string
	Spec       herald.AuthorizationSpec
	Key        string
	Value      string // only a PUBLIC value, or what the admin just typed on a failed add
	Visibility herald.Visibility
	Username   string
	SecretSet  bool
	Hint       string
}

func (f *authForm) Action() string {
	if f.ID == "" {
		return "/authorizations"
	}
	return "/authorizations/" + f.ID
}

func formFromAuthorization(a *herald.Authorization) *authForm {
	f := &authForm{ID: a.ID, Spec: a.AuthorizationSpec, Visibility: herald.Secret}
	if a.Header != nil {
		f.Key, f.Visibility = a.Header.Key, a.Header.Visibility
		if a.Header.Visibility == herald.Public {
			f.Value = a.Header.Value
		} else {
			f.SecretSet, f.Hint = a.Header.Value != "", herald.Mask(a.Header.Value)
		}
	}
	if a.Basic != nil {
		f.Username = a.Basic.Username
		f.SecretSet, f.Hint = a.Basic.Password != "", herald.Mask(a.Basic.Password)
	}
	return f
}

// parseAuthForm reads the form. Field names match the service's errors:
// name, endpoint, type, header.key, header.value, header.visibility,
// basic.username, basic.password.
func parseAuthForm(form url.Values) herald.AuthorizationSpec {
	spec := herald.AuthorizationSpec{Name: form.Get("name"), Endpoint: form.Get("endpoint"), Type: herald.AuthType(form.Get("type"))}
	switch spec.Type {
	case herald.AuthHeader:
		spec.Header = &herald.HeaderAuth{Key: form.Get("header.key"), Value: form.Get("header.value"),
			Visibility: herald.Visibility(form.Get("header.visibility"))}
	case herald.AuthBasic:
		spec.Basic = &herald.BasicAuth{Username: form.Get("basic.username"), Password: form.Get("basic.password")}
	}
	return spec
}

func (s *Server) newAuthorization(w http.ResponseWriter, r *http.Request) {
	f := &authForm{Spec: herald.AuthorizationSpec{Type: herald.AuthHeader}, Visibility: herald.Secret}
	s.render(w, r, http.StatusOK, "authorization_form", &view{Title: "Add an authorization", Section: "authorizations", D: f})
}

func (s *Server) createAuthorization(w http.ResponseWriter, r *http.Request) {
	spec := parseAuthForm(r.PostForm)
	a, err := s.svc.CreateAuthorization(r.Context(), workspace(r), spec)
	if err != nil {
		f := &authForm{Spec: spec, Key: r.PostForm.Get("header.key"), Visibility: herald.Visibility(r.PostForm.Get("header.visibility")),
			Username: r.PostForm.Get("basic.username")}
		if f.Visibility == herald.Public {
			f.Value = r.PostForm.Get("header.value")
		}
		s.authFormFailed(w, r, f, err, "Add an authorization")
		return
	}
	setFlash(w, r, fmt.Sprintf("Authorization “%s” saved. Webhooks can now use it for URLs under %s.", a.Name, a.Endpoint), false)
	redirect(w, r, "/authorizations")
}

func (s *Server) authFormFailed(w http.ResponseWriter, r *http.Request, f *authForm, err error, title string) {
	errs, formErr, ok := fieldErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	if f.Visibility == "" {
		f.Visibility = herald.Secret
	}
	s.render(w, r, http.StatusUnprocessableEntity, "authorization_form", &view{Title: title, Section: "authorizations", Errors: errs, FormError: formErr, D: f})
}

func (s *Server) loadAuthorization(w http.ResponseWriter, r *http.Request) (*herald.Authorization, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	a, err := s.store.Authorization(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return a, true
}

func (s *Server) editAuthorization(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAuthorization(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "authorization_form", &view{Title: "Edit " + a.Name, Section: "authorizations", D: formFromAuthorization(a)})
}

func (s *Server) updateAuthorization(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAuthorization(w, r)
	if !ok {
		return
	}
	in := parseAuthForm(r.PostForm)
	saved, err := s.svc.UpdateAuthorization(r.Context(), workspace(r), a.ID, func(spec *herald.AuthorizationSpec) error {
		// A secret left blank keeps the stored one (the service fills it in).
		*spec = in
		return nil
	})
	if err != nil {
		f := formFromAuthorization(a)
		f.Spec = in
		f.Key, f.Username = r.PostForm.Get("header.key"), r.PostForm.Get("basic.username")
		f.Visibility = herald.Visibility(r.PostForm.Get("header.visibility"))
		f.Value = ""
		if f.Visibility == herald.Public {
			f.Value = r.PostForm.Get("header.value")
		}
		s.authFormFailed(w, r, f, err, "Edit "+a.Name)
		return
	}
	setFlash(w, r, fmt.Sprintf("Authorization “%s” saved.", saved.Name), false)
	redirect(w, r, "/authorizations")
}

func (s *Server) confirmDeleteAuthorization(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAuthorization(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete authorization", Section: "authorizations", D: confirmData{
		Question: fmt.Sprintf("Delete the authorization “%s”?", a.Name),
		Detail:   "Its credentials are removed from herald. An authorization that a webhook still uses cannot be deleted.",
		Action:   "/authorizations/" + a.ID + "/delete", Button: "Delete authorization", Cancel: "/authorizations/" + a.ID + "/edit"}})
}

func (s *Server) deleteAuthorization(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAuthorization(w, r)
	if !ok {
		return
	}
	if err := s.svc.DeleteAuthorization(r.Context(), workspace(r), a.ID); err != nil {
		if herald.ErrorCodeOf(err) == herald.EConflict {
			setFlash(w, r, fmt.Sprintf("“%s” was not deleted: %s", a.Name, err.Error()), true)
			redirect(w, r, "/authorizations")
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Authorization “%s” deleted.", a.Name), false)
	redirect(w, r, "/authorizations")
}
