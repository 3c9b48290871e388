package herald

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// EndpointKey is scheme://host:port of an endpoint URL or URL template
// (placeholders are allowed only in the path and query): the unit of
// herald's isolation — one concurrency limit and one circuit breaker per
// endpoint, shared by every webhook that sends there.
func EndpointKey(raw string) string {
	if u, err := ParseEndpoint(raw); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return raw
}

// CircuitState is where an endpoint's circuit breaker stands.
type CircuitState string

const (
	CircuitClosed   CircuitState = "closed"    // deliveries go out
	CircuitOpen     CircuitState = "open"      // too many failures in a row: deliveries wait until OpenUntil
	CircuitHalfOpen CircuitState = "half_open" // one probe decides whether it closes or opens again
)

// EndpointHealth is one endpoint's circuit breaker as this process sees it.
type EndpointHealth struct {
	Endpoint  string       `json:"endpoint"`
	State     CircuitState `json:"state"`
	Failures  int          `json:"consecutive_failures"`
	InFlight  int          `json:"in_flight"`
	OpenUntil time.Time    `json:"open_until,omitzero"`
}

// EndpointMonitor reports endpoints' circuit breakers (the delivery
// engine; each process keeps its own).
type EndpointMonitor interface {
	EndpointHealth(endpoint string) EndpointHealth
}

// MaxNameLength bounds names and other one-line labels.
const MaxNameLength = 200

// ParseEndpoint parses an http or https URL and returns it with a
// lower-case scheme and host and an explicit port, so two spellings of one
// endpoint compare equal. Template placeholders are allowed in the path and
// query only; each is replaced by "x" for the check, since a rendered value
// is escaped and cannot add a path segment or change the host.
func ParseEndpoint(raw string) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, errors.New("must be at most 2048 characters")
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		authority := raw[i+3:]
		if j := strings.IndexAny(authority, "/?#"); j >= 0 {
			authority = authority[:j]
		}
		if strings.Contains(authority, "{{") || strings.Contains(authority, "{%") {
			return nil, errors.New("must not have a placeholder in the host or port")
		}
	}
	s := stripPlaceholders(raw)
	if strings.ContainsAny(s, " \t\r\n\x00") {
		return nil, errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("is not a valid URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("must start with http:// or https://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must name a host")
	}
	if u.User != nil {
		return nil, errors.New("must not contain a user or password (use an authorization)")
	}
	if u.Fragment != "" {
		return nil, errors.New("must not contain a fragment (#…)")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		if u.Scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	u.Host = net.JoinHostPort(host, port)
	return u, nil
}

// stripPlaceholders replaces each {{ … }} and {% … %} with "x".
func stripPlaceholders(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexAny(s, "{")
		if i < 0 || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '%') {
			if i < 0 || i+1 >= len(s) {
				b.WriteString(s)
				return b.String()
			}
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		closer := "}}"
		if s[i+1] == '%' {
			closer = "%}"
		}
		j := strings.Index(s[i+2:], closer)
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("x")
		s = s[i+2+j+2:]
	}
}

// validateHeaderName checks that name is an HTTP token (RFC 9110).
func validateHeaderName(v *Validation, field, name string) {
	if name == "" {
		v.Add(field, "is required")
		return
	}
	if len(name) > 256 {
		v.Add(field, "must be at most 256 characters")
		return
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			v.Add(field, "%q is not a valid header name", name)
			return
		}
	}
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// framingHeaders are set by the HTTP client or describe the connection;
// letting a webhook set them would break or smuggle requests.
var framingHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true,
	"Proxy-Authorization": true, "Proxy-Authenticate": true, "Expect": true,
}

// signatureHeaders are herald's own: a custom header must not forge them.
var signatureHeaders = map[string]bool{
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true, "User-Agent": true,
}

// ForbiddenCustomHeader reports whether a custom header may not be set,
// and why.
func ForbiddenCustomHeader(name string) (bool, string) {
	c := http.CanonicalHeaderKey(name)
	if framingHeaders[c] || strings.HasPrefix(c, "Proxy-") {
		return true, "is a hop-by-hop or framing header that herald sets itself"
	}
	if signatureHeaders[c] {
		return true, "is set by herald on every request"
	}
	return false, ""
}

func forbiddenAuthHeader(name string) bool {
	bad, _ := ForbiddenCustomHeader(name)
	return bad || http.CanonicalHeaderKey(name) == "Content-Type"
}
