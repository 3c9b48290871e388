package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// authorizationView is an authorization as the API shows it: a SECRET
// header value and a basic password never leave herald, only whether they
// are set and a masked hint.
type authorizationView struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Endpoint  string          `json:"endpoint"`
	Type      herald.AuthType `json:"type"`
	Header    *headerView     `json:"header,omitempty"`
	Basic     *basicView      `json:"basic,omitempty"`
	Bearer    *bearerView     `json:"bearer,omitempty"`
	Query     *queryView      `json:"query,omitempty"`
	OAuth2    *oauth2View     `json:"oauth2,omitempty"`
	TLSClient *tlsClientView  `json:"tls_client,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type headerView struct {
	Key        string            `json:"key"`
	Value      string            `json:"value"`
	ValueSet   bool              `json:"value_set"`
	Visibility herald.Visibility `json:"visibility"`
}

type basicView struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	PasswordSet bool   `json:"password_set"`
}

type bearerView struct {
	Token    string `json:"token"`
	TokenSet bool   `json:"token_set"`
}

type queryView struct {
	Key        string            `json:"key"`
	Value      string            `json:"value"`
	ValueSet   bool              `json:"value_set"`
	Visibility herald.Visibility `json:"visibility"`
}

type oauth2View struct {
	TokenURL        string `json:"token_url"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	ClientSecretSet bool   `json:"client_secret_set"`
	Scope           string `json:"scope"`
	Audience        string `json:"audience"`
	ClientAuth      string `json:"client_auth"`
}

// tlsClientView shows the certificate (public) and when it expires; the
// private key only masked.
type tlsClientView struct {
	CertificatePEM string    `json:"certificate_pem"`
	PrivateKeyPEM  string    `json:"private_key_pem"`
	PrivateKeySet  bool      `json:"private_key_set"`
	Subject        string    `json:"subject"`
	NotAfter       time.Time `json:"not_after"`
	ExpiresSoon    bool      `json:"expires_soon"`
}

func viewAuthorization(a *herald.Authorization) authorizationView {
	v := authorizationView{ID: a.ID, Name: a.Name, Endpoint: a.Endpoint, Type: a.Type, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.Header != nil {
		h := &headerView{Key: a.Header.Key, Visibility: a.Header.Visibility, ValueSet: a.Header.Value != ""}
		if a.Header.Visibility == herald.Public {
			h.Value = a.Header.Value
		} else {
			h.Value = herald.Mask(a.Header.Value)
		}
		v.Header = h
	}
	if a.Basic != nil {
		v.Basic = &basicView{Username: a.Basic.Username, Password: herald.Mask(a.Basic.Password), PasswordSet: a.Basic.Password != ""}
	}
	if a.Bearer != nil {
		v.Bearer = &bearerView{Token: herald.Mask(a.Bearer.Token), TokenSet: a.Bearer.Token != ""}
	}
	if a.Query != nil {
		q := &queryView{Key: a.Query.Key, Visibility: a.Query.Visibility, ValueSet: a.Query.Value != ""}
		if a.Query.Visibility == herald.Public {
			q.Value = a.Query.Value
		} else {
			q.Value = herald.Mask(a.Query.Value)
		}
		v.Query = q
	}
	if o := a.OAuth2; o != nil {
		v.OAuth2 = &oauth2View{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: herald.Mask(o.ClientSecret), ClientSecretSet: o.ClientSecret != "",
			Scope: o.Scope, Audience: o.Audience, ClientAuth: o.ClientAuth}
	}
	if t := a.TLSClient; t != nil {
		tv := &tlsClientView{CertificatePEM: t.CertificatePEM, PrivateKeyPEM: herald.Mask(t.PrivateKeyPEM), PrivateKeySet: t.PrivateKeyPEM != ""}
		if leaf, err := t.Leaf(); err == nil {
			tv.Subject, tv.NotAfter = leaf.Subject.String(), leaf.NotAfter.UTC()
			tv.ExpiresSoon = time.Until(leaf.NotAfter) < herald.CertificateWarnDays*24*time.Hour
		}
		v.TLSClient = tv
	}
	return v
}

type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) listAuthorizations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := herald.AuthorizationFilter{Name: q.Get("name"), Type: herald.AuthType(q.Get("type"))}
	var err error
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Type != "" && !herald.ValidAuthType(f.Type) {
		s.writeError(w, r, fieldError(herald.EInvalid, "type", "must be header, basic, bearer, query or oauth2_client_credentials"))
		return
	}
	list, next, err := s.store.ListAuthorizations(r.Context(), workspaceOf(r), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listResponse[authorizationView]{Data: make([]authorizationView, 0, len(list)), NextCursor: next}
	for _, a := range list {
		out.Data = append(out.Data, viewAuthorization(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createAuthorization(w http.ResponseWriter, r *http.Request) {
	var spec herald.AuthorizationSpec
	if err := s.decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.svc.CreateAuthorization(r.Context(), workspaceOf(r), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/authorizations/"+a.ID)
	writeJSON(w, http.StatusCreated, viewAuthorization(a))
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		a, err := s.store.Authorization(ctx, ws, id)
		if err != nil {
			return nil, err
		}
		return viewAuthorization(a), nil
	})
}

// authorizationPatch accepts what GET returns, so a client can send back
// a read object; read-only fields are ignored.
type authorizationPatch struct {
	*herald.AuthorizationSpec
	ID        any `json:"id"`
	CreatedAt any `json:"created_at"`
	UpdatedAt any `json:"updated_at"`
}

func (s *Server) updateAuthorization(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.svc.UpdateAuthorization(r.Context(), workspaceOf(r), id, func(spec *herald.AuthorizationSpec) error {
		var patch authorizationPatchBody
		patch.AuthorizationSpec = spec
		if err := s.decode(r, &patch); err != nil {
			return err
		}
		if patch.Bearer != nil {
			if spec.Bearer == nil {
				spec.Bearer = &herald.BearerAuth{}
			}
			patch.Bearer.apply(spec.Bearer)
		}
		if patch.Query != nil {
			if spec.Query == nil {
				spec.Query = &herald.QueryAuth{}
			}
			patch.Query.apply(spec.Query)
		}
		if patch.OAuth2 != nil {
			if spec.OAuth2 == nil {
				spec.OAuth2 = &herald.OAuth2Auth{}
			}
			patch.OAuth2.apply(spec.OAuth2)
		}
		// tls_client: null removes the client certificate; absent keeps it.
		if len(patch.TLSClient) > 0 {
			if string(patch.TLSClient) == "null" {
				spec.TLSClient = nil
			} else {
				var p patchTLSClient
				if err := strictUnmarshal(patch.TLSClient, &p); err != nil {
					return err
				}
				if spec.TLSClient == nil {
					spec.TLSClient = &herald.TLSClientAuth{}
				}
				p.apply(spec.TLSClient)
			}
		}
		if patch.Header != nil {
			if spec.Header == nil {
				spec.Header = &herald.HeaderAuth{}
			}
			patch.Header.apply(spec.Header)
		}
		if patch.Basic != nil {
			if spec.Basic == nil {
				spec.Basic = &herald.BasicAuth{}
			}
			patch.Basic.apply(spec.Basic)
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAuthorization(a))
}

// authorizationPatchBody is what PATCH /authorizations/{id} decodes.
type authorizationPatchBody struct {
	authorizationPatch
	Header    *patchHeader    `json:"header"`
	Basic     *patchBasic     `json:"basic"`
	Bearer    *patchBearer    `json:"bearer"`
	Query     *patchQuery     `json:"query"`
	OAuth2    *patchOAuth2    `json:"oauth2"`
	TLSClient json.RawMessage `json:"tls_client"`
}

type patchBearer struct {
	Token    *string `json:"token"`
	TokenSet any     `json:"token_set"`
}

func (p *patchBearer) apply(b *herald.BearerAuth) {
	if p.Token != nil && !isMask(*p.Token) {
		b.Token = *p.Token
	}
}

type patchQuery struct {
	Key        *string            `json:"key"`
	Value      *string            `json:"value"`
	ValueSet   any                `json:"value_set"`
	Visibility *herald.Visibility `json:"visibility"`
}

func (p *patchQuery) apply(q *herald.QueryAuth) {
	if p.Key != nil {
		q.Key = *p.Key
	}
	if p.Visibility != nil {
		q.Visibility = *p.Visibility
	}
	if p.Value != nil && !isMask(*p.Value) {
		q.Value = *p.Value
	}
}

type patchOAuth2 struct {
	TokenURL        *string `json:"token_url"`
	ClientID        *string `json:"client_id"`
	ClientSecret    *string `json:"client_secret"`
	ClientSecretSet any     `json:"client_secret_set"`
	Scope           *string `json:"scope"`
	Audience        *string `json:"audience"`
	ClientAuth      *string `json:"client_auth"`
}

func (p *patchOAuth2) apply(o *herald.OAuth2Auth) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&o.TokenURL, p.TokenURL)
	set(&o.ClientID, p.ClientID)
	set(&o.Scope, p.Scope)
	set(&o.Audience, p.Audience)
	set(&o.ClientAuth, p.ClientAuth)
	if p.ClientSecret != nil && !isMask(*p.ClientSecret) {
		o.ClientSecret = *p.ClientSecret
	}
}

type patchTLSClient struct {
	CertificatePEM *string `json:"certificate_pem"`
	PrivateKeyPEM  *string `json:"private_key_pem"`
	PrivateKeySet  any     `json:"private_key_set"`
	Subject        any     `json:"subject"`
	NotAfter       any     `json:"not_after"`
	ExpiresSoon    any     `json:"expires_soon"`
}

func (p *patchTLSClient) apply(t *herald.TLSClientAuth) {
	if p.CertificatePEM != nil {
		t.CertificatePEM = *p.CertificatePEM
	}
	if p.PrivateKeyPEM != nil && !isMask(*p.PrivateKeyPEM) {
		t.PrivateKeyPEM = *p.PrivateKeyPEM
	}
}

// patchHeader and patchBasic take the masked views GET returns without
// mistaking a mask for a new secret.
type patchHeader struct {
	Key        *string            `json:"key"`
	Value      *string            `json:"value"`
	ValueSet   any                `json:"value_set"`
	Visibility *herald.Visibility `json:"visibility"`
}

func (p *patchHeader) apply(h *herald.HeaderAuth) {
	if p.Key != nil {
		h.Key = *p.Key
	}
	if p.Visibility != nil {
		h.Visibility = *p.Visibility
	}
	if p.Value != nil && !isMask(*p.Value) {
		h.Value = *p.Value
	}
}

type patchBasic struct {
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	PasswordSet any     `json:"password_set"`
}

func (p *patchBasic) apply(b *herald.BasicAuth) {
	if p.Username != nil {
		b.Username = *p.Username
	}
	if p.Password != nil && !isMask(*p.Password) {
		b.Password = *p.Password
	}
}

func isMask(s string) bool {
	return len(s) >= len("••••") && s[:len("••••")] == "••••"
}

func (s *Server) deleteAuthorization(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusNoContent, func(ctx context.Context, ws, id string) (any, error) {
		return nil, s.svc.DeleteAuthorization(ctx, ws, id)
	})
}

// pathID returns the {id} path value if it is a well-formed id.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !herald.ValidID(id) {
		return "", &herald.Error{Code: herald.ENotFound, Message: "not found: malformed id",
			Fields: []herald.FieldError{{Field: "id", Message: "is not a valid id (26 characters, Crockford base32)"}}}
	}
	return id, nil
}

// pageParams reads cursor and limit.
func pageParams(r *http.Request) (cursor string, limit int, err error) {
	q := r.URL.Query()
	cursor = q.Get("cursor")
	if cursor != "" && !herald.ValidID(cursor) {
		return "", 0, fieldError(herald.EInvalid, "cursor", "is not a cursor this API returned")
	}
	if l := q.Get("limit"); l != "" {
		n := 0
		for _, c := range l {
			if c < '0' || c > '9' || n > herald.MaxPageSize {
				return "", 0, fieldError(herald.EInvalid, "limit", "must be a number from 1 to 200")
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > herald.MaxPageSize {
			return "", 0, fieldError(herald.EInvalid, "limit", "must be a number from 1 to 200")
		}
		limit = n
	}
	return cursor, limit, nil
}

func fieldError(code herald.ErrorCode, field, msg string) *herald.Error {
	return &herald.Error{Code: code, Message: "validation failed", Fields: []herald.FieldError{{Field: field, Message: msg}}}
}

// strictUnmarshal decodes the tls_client object of a PATCH as strictly as
// the rest of the body, naming fields under tls_client.
func strictUnmarshal(raw json.RawMessage, p *patchTLSClient) error {
	err := decodeJSON(raw, p)
	var e *herald.Error
	if errors.As(err, &e) {
		for i := range e.Fields {
			if e.Fields[i].Field == "body" {
				e.Fields[i].Field = "tls_client"
			} else {
				e.Fields[i].Field = "tls_client." + e.Fields[i].Field
			}
		}
	}
	return err
}
