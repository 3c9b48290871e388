package herald

import (
	"net/url"
	"strings"
	"time"
)

// AuthType says how an authorization presents its credentials.
type AuthType string

const (
	AuthHeader AuthType = "header" // one header, e.g. X-Api-Key: …
	AuthBasic  AuthType = "basic"  // HTTP basic authentication
)

// Visibility says whether a header value may be shown back after save.
type Visibility string

const (
	Secret Visibility = "SECRET" // write-only: encrypted at rest, shown masked
	Public Visibility = "PUBLIC" // shown back in clear (still never logged)
)

// HeaderAuth is a header credential. Value holds the plaintext in memory
// only; stores keep it encrypted.
type HeaderAuth struct {
	Key        string     `json:"key"`
	Value      string     `json:"value,omitempty"`
	Visibility Visibility `json:"visibility"`
}

// BasicAuth is a basic-auth credential; Password is always write-only.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
}

// AuthorizationSpec is what an administrator sets on an authorization.
type AuthorizationSpec struct {
	Name     string      `json:"name"`
	Endpoint string      `json:"endpoint"`
	Type     AuthType    `json:"type"`
	Header   *HeaderAuth `json:"header,omitempty"`
	Basic    *BasicAuth  `json:"basic,omitempty"`
}

// Authorization holds the credentials for one third-party service. They
// are sent only to URLs under Endpoint (see InScope).
type Authorization struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	AuthorizationSpec
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AuthorizationFilter narrows a list of authorizations.
type AuthorizationFilter struct {
	Name   string // substring, case-insensitive
	Type   AuthType
	Cursor string // id of the last item of the previous page
	Limit  int
}

// Normalize trims input and fills defaults before validation.
func (s *AuthorizationSpec) Normalize() {
	s.Name = strings.TrimSpace(s.Name)
	s.Endpoint = strings.TrimSpace(s.Endpoint)
	s.Type = AuthType(strings.ToLower(strings.TrimSpace(string(s.Type))))
	if s.Name == "" {
		if u, err := url.Parse(s.Endpoint); err == nil && u.Host != "" {
			s.Name = u.Hostname()
		}
	}
	if s.Header != nil {
		s.Header.Key = strings.TrimSpace(s.Header.Key)
		s.Header.Visibility = Visibility(strings.ToUpper(strings.TrimSpace(string(s.Header.Visibility))))
		if s.Header.Visibility == "" {
			s.Header.Visibility = Secret
		}
	}
	if s.Basic != nil {
		s.Basic.Username = strings.TrimSpace(s.Basic.Username)
	}
	// Only the part matching the type is kept, so a type switch drops the
	// other credential instead of storing it unseen.
	switch s.Type {
	case AuthHeader:
		s.Basic = nil
	case AuthBasic:
		s.Header = nil
	}
}

// Validate checks the spec. Secrets must be present: callers that keep an
// omitted secret on update fill it in from the stored one first.
func (s *AuthorizationSpec) Validate() error {
	var v Validation
	if len(s.Name) > MaxNameLength {
		v.Add("name", "must be at most %d characters", MaxNameLength)
	}
	if s.Endpoint == "" {
		v.Add("endpoint", "is required")
	} else if _, err := ParseEndpoint(s.Endpoint); err != nil {
		v.Add("endpoint", "%s", err.Error())
	}
	switch s.Type {
	case AuthHeader:
		if s.Header == nil {
			v.Add("header", "is required for type header")
			break
		}
		validateHeaderName(&v, "header.key", s.Header.Key)
		if forbiddenAuthHeader(s.Header.Key) {
			v.Add("header.key", "%q is set by herald and cannot carry a credential", s.Header.Key)
		}
		if s.Header.Value == "" {
			v.Add("header.value", "is required")
		} else if strings.ContainsAny(s.Header.Value, "\r\n\x00") {
			v.Add("header.value", "must not contain line breaks or NUL")
		} else if len(s.Header.Value) > 8192 {
			v.Add("header.value", "must be at most 8192 bytes")
		}
		if s.Header.Visibility != Secret && s.Header.Visibility != Public {
			v.Add("header.visibility", "must be SECRET or PUBLIC")
		}
	case AuthBasic:
		if s.Basic == nil {
			v.Add("basic", "is required for type basic")
			break
		}
		if s.Basic.Username == "" {
			v.Add("basic.username", "is required")
		} else if strings.ContainsAny(s.Basic.Username, ":\r\n\x00") {
			v.Add("basic.username", "must not contain a colon, line breaks or NUL")
		}
		if s.Basic.Password == "" {
			v.Add("basic.password", "is required")
		} else if strings.ContainsAny(s.Basic.Password, "\r\n\x00") {
			v.Add("basic.password", "must not contain line breaks or NUL")
		}
	case "":
		v.Add("type", "is required (header or basic)")
	default:
		v.Add("type", "must be header or basic")
	}
	return v.Err()
}

// InScope reports whether rawURL lies under the authorization's endpoint:
// same scheme, host and port, and a path under the endpoint's path
// (segment-wise: /api covers /api and /api/x, not /apix).
func (a *Authorization) InScope(rawURL string) bool {
	base, err := ParseEndpoint(a.Endpoint)
	if err != nil {
		return false
	}
	u, err := ParseEndpoint(rawURL)
	if err != nil {
		return false
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return false
	}
	prefix := strings.TrimSuffix(base.Path, "/")
	if prefix == "" {
		return true
	}
	return u.Path == prefix || strings.HasPrefix(u.Path, prefix+"/")
}

// Mask returns how a write-only secret is shown after save: bullets and,
// for long values, the last four characters so admins can tell keys apart.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	if len(secret) >= 16 {
		return "••••" + secret[len(secret)-4:]
	}
	return "••••"
}
