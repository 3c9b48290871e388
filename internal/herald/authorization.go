package herald

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// AuthType says how an authorization presents its credentials.
type AuthType string

const (
	AuthHeader AuthType = "header" // one header, e.g. X-Api-Key: …
	AuthBasic  AuthType = "basic"  // HTTP basic authentication
	AuthBearer AuthType = "bearer" // Authorization: Bearer <token>
	AuthQuery  AuthType = "query"  // one query parameter, e.g. ?api_key=…
	// AuthOAuth2 fetches an access token from a token endpoint with the
	// client-credentials grant (RFC 6749 §4.4) and sends it as a bearer token.
	AuthOAuth2 AuthType = "oauth2_client_credentials"
)

// AuthTypes lists every authorization type, in the order forms show them.
var AuthTypes = []AuthType{AuthHeader, AuthBasic, AuthBearer, AuthQuery, AuthOAuth2}

// ValidAuthType reports whether t is a known authorization type.
func ValidAuthType(t AuthType) bool {
	for _, k := range AuthTypes {
		if k == t {
			return true
		}
	}
	return false
}

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

// BearerAuth is a static bearer token; Token is always write-only.
type BearerAuth struct {
	Token string `json:"token,omitempty"`
}

// QueryAuth is a credential sent as a query parameter of the URL.
type QueryAuth struct {
	Key        string     `json:"key"`
	Value      string     `json:"value,omitempty"`
	Visibility Visibility `json:"visibility"`
}

// OAuth2 client authentication at the token endpoint (RFC 6749 §2.3.1).
const (
	ClientAuthBasic = "basic" // client_id and client_secret in an Authorization: Basic header
	ClientAuthBody  = "body"  // client_id and client_secret in the form body
)

// OAuth2Auth is an OAuth 2.0 client-credentials grant. ClientSecret is
// write-only; the access tokens herald fetches live only in memory.
type OAuth2Auth struct {
	TokenURL     string `json:"token_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Audience     string `json:"audience,omitempty"`
	ClientAuth   string `json:"client_auth"`
}

// TLSClientAuth is a client certificate herald presents when the endpoint
// asks for one. PrivateKeyPEM is write-only and encrypted at rest; the
// certificate is public.
type TLSClientAuth struct {
	CertificatePEM string `json:"certificate_pem"`
	PrivateKeyPEM  string `json:"private_key_pem,omitempty"`
}

// Certificate parses the certificate and key into what crypto/tls presents.
func (t *TLSClientAuth) Certificate() (tls.Certificate, error) {
	c, err := tls.X509KeyPair([]byte(t.CertificatePEM), []byte(t.PrivateKeyPEM))
	if err != nil {
		return tls.Certificate{}, err
	}
	return c, nil
}

// Leaf parses the first certificate of CertificatePEM.
func (t *TLSClientAuth) Leaf() (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(t.CertificatePEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cannot be parsed: %v", err)
	}
	return c, nil
}

// NotAfter is when the certificate expires (zero if it does not parse).
func (t *TLSClientAuth) NotAfter() time.Time {
	if t == nil {
		return time.Time{}
	}
	c, err := t.Leaf()
	if err != nil {
		return time.Time{}
	}
	return c.NotAfter.UTC()
}

// CertificateWarnDays is how long before its expiry a client certificate
// is warned about (UI, log, alert event).
const CertificateWarnDays = 30

// AuthorizationSpec is what an administrator sets on an authorization.
type AuthorizationSpec struct {
	Name      string         `json:"name"`
	Endpoint  string         `json:"endpoint"`
	Type      AuthType       `json:"type"`
	Header    *HeaderAuth    `json:"header,omitempty"`
	Basic     *BasicAuth     `json:"basic,omitempty"`
	Bearer    *BearerAuth    `json:"bearer,omitempty"`
	Query     *QueryAuth     `json:"query,omitempty"`
	OAuth2    *OAuth2Auth    `json:"oauth2,omitempty"`
	TLSClient *TLSClientAuth `json:"tls_client,omitempty"`
}

// Secrets returns every secret value the authorization holds (for
// redaction), not including tokens fetched with them.
func (s *AuthorizationSpec) Secrets() []string {
	var out []string
	if s.Header != nil && s.Header.Visibility != Public {
		out = append(out, s.Header.Value)
	}
	if s.Basic != nil {
		out = append(out, s.Basic.Password)
	}
	if s.Bearer != nil {
		out = append(out, s.Bearer.Token)
	}
	if s.Query != nil && s.Query.Visibility != Public {
		out = append(out, s.Query.Value)
	}
	if s.OAuth2 != nil {
		out = append(out, s.OAuth2.ClientSecret)
	}
	if s.TLSClient != nil {
		out = append(out, s.TLSClient.PrivateKeyPEM)
	}
	return out
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
	if s.Bearer != nil {
		s.Bearer.Token = strings.TrimSpace(s.Bearer.Token)
	}
	if s.Query != nil {
		s.Query.Key = strings.TrimSpace(s.Query.Key)
		s.Query.Visibility = Visibility(strings.ToUpper(strings.TrimSpace(string(s.Query.Visibility))))
		if s.Query.Visibility == "" {
			s.Query.Visibility = Secret
		}
	}
	if o := s.OAuth2; o != nil {
		o.TokenURL = strings.TrimSpace(o.TokenURL)
		o.ClientID = strings.TrimSpace(o.ClientID)
		o.Scope = strings.Join(strings.Fields(o.Scope), " ")
		o.Audience = strings.TrimSpace(o.Audience)
		o.ClientAuth = strings.ToLower(strings.TrimSpace(o.ClientAuth))
		if o.ClientAuth == "" {
			o.ClientAuth = ClientAuthBasic
		}
	}
	if t := s.TLSClient; t != nil {
		t.CertificatePEM = strings.TrimSpace(t.CertificatePEM)
		t.PrivateKeyPEM = strings.TrimSpace(t.PrivateKeyPEM)
		if t.CertificatePEM == "" && t.PrivateKeyPEM == "" {
			s.TLSClient = nil
		}
	}
	// Only the part matching the type is kept, so a type switch drops the
	// other credential instead of storing it unseen.
	if s.Type != AuthHeader {
		s.Header = nil
	}
	if s.Type != AuthBasic {
		s.Basic = nil
	}
	if s.Type != AuthBearer {
		s.Bearer = nil
	}
	if s.Type != AuthQuery {
		s.Query = nil
	}
	if s.Type != AuthOAuth2 {
		s.OAuth2 = nil
	}
}

// secretText checks a write-only value that is sent in a header or URL.
func secretText(v *Validation, field, value string, max int) {
	switch {
	case value == "":
		v.Add(field, "is required")
	case strings.ContainsAny(value, "\r\n\x00"):
		v.Add(field, "must not contain line breaks or NUL")
	case len(value) > max:
		v.Add(field, "must be at most %d bytes", max)
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
	case AuthBearer:
		if s.Bearer == nil {
			v.Add("bearer", "is required for type bearer")
			break
		}
		secretText(&v, "bearer.token", s.Bearer.Token, 8192)
		if strings.ContainsAny(s.Bearer.Token, " \t") {
			v.Add("bearer.token", "must be the token alone, without spaces (herald adds “Bearer ”)")
		}
	case AuthQuery:
		if s.Query == nil {
			v.Add("query", "is required for type query")
			break
		}
		switch {
		case s.Query.Key == "":
			v.Add("query.key", "is required")
		case len(s.Query.Key) > 256:
			v.Add("query.key", "must be at most 256 characters")
		case strings.ContainsAny(s.Query.Key, "&=#?\r\n\x00 "):
			v.Add("query.key", "must not contain &, =, #, ?, spaces, line breaks or NUL")
		}
		secretText(&v, "query.value", s.Query.Value, 4096)
		if s.Query.Visibility != Secret && s.Query.Visibility != Public {
			v.Add("query.visibility", "must be SECRET or PUBLIC")
		}
	case AuthOAuth2:
		o := s.OAuth2
		if o == nil {
			v.Add("oauth2", "is required for type oauth2_client_credentials")
			break
		}
		if o.TokenURL == "" {
			v.Add("oauth2.token_url", "is required")
		} else if u, err := ParseEndpoint(o.TokenURL); err != nil {
			v.Add("oauth2.token_url", "%s", err.Error())
		} else if strings.Contains(o.TokenURL, "{{") || strings.Contains(o.TokenURL, "{%") {
			v.Add("oauth2.token_url", "must be a plain URL, without template placeholders")
		} else if u.RawQuery != "" {
			v.Add("oauth2.token_url", "must not have a query string (RFC 6749 §3.2: parameters go in the body)")
		}
		if o.ClientID == "" {
			v.Add("oauth2.client_id", "is required")
		} else if strings.ContainsAny(o.ClientID, "\r\n\x00") || len(o.ClientID) > 1024 {
			v.Add("oauth2.client_id", "must be at most 1024 characters, without line breaks or NUL")
		}
		secretText(&v, "oauth2.client_secret", o.ClientSecret, 4096)
		if strings.ContainsAny(o.Scope, "\"\\\x00") || len(o.Scope) > 2048 {
			v.Add("oauth2.scope", "must be space-separated scope names (at most 2048 characters, no quotes or backslashes)")
		}
		if strings.ContainsAny(o.Audience, "\r\n\x00") || len(o.Audience) > 2048 {
			v.Add("oauth2.audience", "must be at most 2048 characters, without line breaks or NUL")
		}
		if o.ClientAuth != ClientAuthBasic && o.ClientAuth != ClientAuthBody {
			v.Add("oauth2.client_auth", "must be basic (an Authorization header) or body (client_id and client_secret in the form)")
		}
	case "":
		v.Add("type", "is required (header, basic, bearer, query or oauth2_client_credentials)")
	default:
		v.Add("type", "must be header, basic, bearer, query or oauth2_client_credentials")
	}
	if t := s.TLSClient; t != nil {
		leaf, err := t.Leaf()
		switch {
		case t.CertificatePEM == "":
			v.Add("tls_client.certificate_pem", "is required with a private key")
		case len(t.CertificatePEM) > 64<<10:
			v.Add("tls_client.certificate_pem", "must be at most 64 KiB")
		case err != nil:
			v.Add("tls_client.certificate_pem", "%s", err.Error())
		}
		switch {
		case t.PrivateKeyPEM == "":
			v.Add("tls_client.private_key_pem", "is required with a certificate")
		case len(t.PrivateKeyPEM) > 64<<10:
			v.Add("tls_client.private_key_pem", "must be at most 64 KiB")
		case err == nil:
			if _, err := t.Certificate(); err != nil {
				v.Add("tls_client.private_key_pem", "does not go with the certificate, or is not a PEM private key: %v", err)
			}
		}
		if leaf != nil && leaf.NotAfter.Before(time.Now()) {
			v.Add("tls_client.certificate_pem", "expired on %s", leaf.NotAfter.UTC().Format("2006-01-02"))
		}
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
