package api

import (
	"context"
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
	if f.Type != "" && f.Type != herald.AuthHeader && f.Type != herald.AuthBasic {
		s.writeError(w, r, fieldError(herald.EInvalid, "type", "must be header or basic"))
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
		var patch struct {
			authorizationPatch
			Header *patchHeader `json:"header"`
			Basic  *patchBasic  `json:"basic"`
		}
		patch.AuthorizationSpec = spec
		if err := s.decode(r, &patch); err != nil {
			return err
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
