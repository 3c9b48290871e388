package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

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
// mask. The certificate of a client certificate is public and is shown;
// its key is a secret like the others.
type authForm struct {
	ID string
	// UsedBy are the webhooks that use the stored authorization.
	UsedBy     []*herald.Webhook
	Spec       herald.AuthorizationSpec
	Key        string
	Value      string // only a PUBLIC value, or what the admin just typed on a failed add
	Visibility herald.Visibility
	Username   string
	SecretSet  bool // the stored authorization has the secret of Spec.Type
	Hint       string
	StoredType herald.AuthType

	QueryKey, QueryValue string
	QueryVisibility      herald.Visibility
	OAuth2               herald.OAuth2Auth // without the client secret

	TLSCert     string
	TLSKeySet   bool
	TLSSubject  string
	TLSNotAfter time.Time
	TLSSoon     bool // expires within herald.CertificateWarnDays
	Preset      *herald.Preset
}

// Secret reports whether a secret of type t is stored (so a blank field
// keeps it).
func (f *authForm) Secret(t string) bool { return f.SecretSet && string(f.StoredType) == t }

func (f *authForm) Action() string {
	if f.ID == "" {
		return "/authorizations"
	}
	return "/authorizations/" + f.ID
}

func formFromAuthorization(a *herald.Authorization) *authForm {
	f := &authForm{ID: a.ID, Spec: a.AuthorizationSpec, Visibility: herald.Secret, QueryVisibility: herald.Secret, StoredType: a.Type}
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
	if a.Bearer != nil {
		f.SecretSet, f.Hint = a.Bearer.Token != "", herald.Mask(a.Bearer.Token)
	}
	if a.Query != nil {
		f.QueryKey, f.QueryVisibility = a.Query.Key, a.Query.Visibility
		if a.Query.Visibility == herald.Public {
			f.QueryValue = a.Query.Value
		} else {
			f.SecretSet, f.Hint = a.Query.Value != "", herald.Mask(a.Query.Value)
		}
	}
	if a.OAuth2 != nil {
		f.OAuth2 = *a.OAuth2
		f.OAuth2.ClientSecret = ""
		f.SecretSet, f.Hint = a.OAuth2.ClientSecret != "", herald.Mask(a.OAuth2.ClientSecret)
	}
	if t := a.TLSClient; t != nil {
		f.TLSCert, f.TLSKeySet = t.CertificatePEM, t.PrivateKeyPEM != ""
		if leaf, err := t.Leaf(); err == nil {
			f.TLSSubject, f.TLSNotAfter = leaf.Subject.String(), leaf.NotAfter.UTC()
			f.TLSSoon = time.Until(leaf.NotAfter) < herald.CertificateWarnDays*24*time.Hour
		}
	}
	f.Spec.Header, f.Spec.Basic, f.Spec.Bearer, f.Spec.Query, f.Spec.OAuth2, f.Spec.TLSClient = nil, nil, nil, nil, nil, nil
	return f
}

// parseAuthForm reads the form. Field names match the service's errors:
// name, endpoint, type, header.key, header.value, header.visibility,
// basic.username, basic.password, bearer.token, query.key, query.value,
// query.visibility, oauth2.token_url, oauth2.client_id,
// oauth2.client_secret, oauth2.scope, oauth2.audience, oauth2.client_auth,
// tls_client.certificate_pem, tls_client.private_key_pem.
func parseAuthForm(form url.Values) herald.AuthorizationSpec {
	spec := herald.AuthorizationSpec{Name: form.Get("name"), Endpoint: form.Get("endpoint"), Type: herald.AuthType(form.Get("type"))}
	switch spec.Type {
	case herald.AuthHeader:
		spec.Header = &herald.HeaderAuth{Key: form.Get("header.key"), Value: form.Get("header.value"),
			Visibility: herald.Visibility(form.Get("header.visibility"))}
	case herald.AuthBasic:
		spec.Basic = &herald.BasicAuth{Username: form.Get("basic.username"), Password: form.Get("basic.password")}
	case herald.AuthBearer:
		spec.Bearer = &herald.BearerAuth{Token: form.Get("bearer.token")}
	case herald.AuthQuery:
		spec.Query = &herald.QueryAuth{Key: form.Get("query.key"), Value: form.Get("query.value"), Visibility: herald.Visibility(form.Get("query.visibility"))}
	case herald.AuthOAuth2:
		spec.OAuth2 = &herald.OAuth2Auth{TokenURL: form.Get("oauth2.token_url"), ClientID: form.Get("oauth2.client_id"), ClientSecret: form.Get("oauth2.client_secret"),
			Scope: form.Get("oauth2.scope"), Audience: form.Get("oauth2.audience"), ClientAuth: form.Get("oauth2.client_auth")}
	}
	if c, k := form.Get("tls_client.certificate_pem"), form.Get("tls_client.private_key_pem"); strings.TrimSpace(c+k) != "" {
		spec.TLSClient = &herald.TLSClientAuth{CertificatePEM: c, PrivateKeyPEM: k}
	}
	return spec
}

// refill puts what the admin typed (never a secret value) back into a
// form that failed to save.
func (f *authForm) refill(form url.Values, spec herald.AuthorizationSpec) {
	f.Spec = herald.AuthorizationSpec{Name: spec.Name, Endpoint: spec.Endpoint, Type: spec.Type}
	f.Key, f.Username = form.Get("header.key"), form.Get("basic.username")
	f.Visibility = herald.Visibility(form.Get("header.visibility"))
	f.Value = ""
	if f.Visibility == herald.Public {
		f.Value = form.Get("header.value")
	}
	f.QueryKey, f.QueryVisibility, f.QueryValue = form.Get("query.key"), herald.Visibility(form.Get("query.visibility")), ""
	if f.QueryVisibility == herald.Public {
		f.QueryValue = form.Get("query.value")
	}
	f.OAuth2 = herald.OAuth2Auth{TokenURL: form.Get("oauth2.token_url"), ClientID: form.Get("oauth2.client_id"), Scope: form.Get("oauth2.scope"),
		Audience: form.Get("oauth2.audience"), ClientAuth: form.Get("oauth2.client_auth")}
	f.TLSCert = form.Get("tls_client.certificate_pem")
}

func (s *Server) newAuthorization(w http.ResponseWriter, r *http.Request) {
	f := &authForm{Spec: herald.AuthorizationSpec{Type: herald.AuthHeader}, Visibility: herald.Secret, QueryVisibility: herald.Secret,
		OAuth2: herald.OAuth2Auth{ClientAuth: herald.ClientAuthBasic}}
	if t := herald.AuthType(r.URL.Query().Get("type")); herald.ValidAuthType(t) {
		f.Spec.Type = t
	}
	f.Spec.Endpoint = r.URL.Query().Get("endpoint")
	if key := r.URL.Query().Get("preset"); key != "" {
		p, err := herald.PresetByKey(key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		pa := p.Authorization
		f.Preset = p
		f.Spec = herald.AuthorizationSpec{Name: strings.SplitN(p.Name, " — ", 2)[0], Endpoint: pa.Endpoint, Type: p.AuthorizationType}
		f.Key, f.Username, f.QueryKey = pa.HeaderKey, pa.Username, pa.QueryKey
		f.OAuth2 = herald.OAuth2Auth{TokenURL: pa.TokenURL, ClientAuth: pa.ClientAuth}
		if f.OAuth2.ClientAuth == "" {
			f.OAuth2.ClientAuth = herald.ClientAuthBasic
		}
	}
	s.render(w, r, http.StatusOK, "authorization_form", &view{Title: "Add an authorization", Section: "authorizations", D: f})
}

func (s *Server) createAuthorization(w http.ResponseWriter, r *http.Request) {
	spec := parseAuthForm(r.PostForm)
	a, err := s.svc.CreateAuthorization(r.Context(), workspace(r), spec)
	if err != nil {
		f := &authForm{}
		f.refill(r.PostForm, spec)
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
	if f.QueryVisibility == "" {
		f.QueryVisibility = herald.Secret
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

// authUsers lists the webhooks that use the authorization, by name.
func (s *Server) authUsers(r *http.Request, id string) ([]*herald.Webhook, error) {
	var out []*herald.Webhook
	f := herald.WebhookFilter{AuthorizationID: id, Limit: herald.MaxPageSize}
	for {
		hooks, next, err := s.store.ListWebhooks(r.Context(), workspace(r), f)
		if err != nil {
			return nil, err
		}
		out = append(out, hooks...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

func (s *Server) editAuthorization(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAuthorization(w, r)
	if !ok {
		return
	}
	f := formFromAuthorization(a)
	var err error
	if f.UsedBy, err = s.authUsers(r, a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "authorization_form", &view{Title: "Edit " + a.Name, Section: "authorizations", D: f})
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
		f.refill(r.PostForm, in)
		users, uerr := s.authUsers(r, a.ID)
		if uerr != nil {
			s.fail(w, r, uerr)
			return
		}
		f.UsedBy = users
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
