package delivery

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
)

// redactor replaces every secret herald sent in one request — the
// authorization's secret header value, basic password and credentials,
// the signing secrets — wherever it appears in what is stored of the
// attempt: the URL, the headers and bodies of the request and of the
// response (a receiver may echo what it got). Each secret is looked for as
// sent and in the spellings an echo would use: JSON-escaped and
// URL-escaped.
type redactor struct {
	forms []string // longest first, so a longer form is replaced before a part of it
}

func newRedactor(secrets ...string) *redactor {
	seen := map[string]bool{}
	r := &redactor{}
	add := func(s string) {
		if s != "" && !seen[s] && s != redacted {
			seen[s] = true
			r.forms = append(r.forms, s)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add(s)
		if j, err := json.Marshal(s); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		add(jsonASCII(s))
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	sort.Slice(r.forms, func(i, j int) bool { return len(r.forms[i]) > len(r.forms[j]) })
	return r
}

// redactorCache keeps the redactor of each set of secrets: a webhook's
// and its authorization's secrets change only when they are edited, and
// deriving every spelling of each cost ~6 % of herald's CPU at batch
// rates when done per attempt. Redactors are never modified once made.
// The cache is emptied when full (rotated secrets and OAuth2 tokens
// leave entries behind until then).
type redactorCache struct {
	mu sync.Mutex
	m  map[string]*redactor
}

const redactorCacheMax = 1024

func (c *redactorCache) get(secrets []string) *redactor {
	key := strings.Join(secrets, "\x00")
	c.mu.Lock()
	r := c.m[key]
	c.mu.Unlock()
	if r != nil {
		return r
	}
	r = newRedactor(secrets...)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= redactorCacheMax {
		c.m = make(map[string]*redactor)
	}
	c.m[key] = r
	c.mu.Unlock()
	return r
}

// jsonASCII is s as a JSON string body with every non-ASCII rune and
// HTML-significant character escaped as \uXXXX (how some echo servers and
// PHP's json_encode write it).
func jsonASCII(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '/':
			b.WriteString(`\/`)
		case c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&':
			if c > 0xffff {
				r1, r2 := utf16Surrogates(c)
				b.WriteString(hex4(r1))
				b.WriteString(hex4(r2))
			} else {
				b.WriteString(hex4(c))
			}
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func utf16Surrogates(c rune) (rune, rune) {
	c -= 0x10000
	return 0xd800 + (c>>10)&0x3ff, 0xdc00 + c&0x3ff
}

func hex4(c rune) string {
	const digits = "0123456789abcdef"
	return `\u` + string([]byte{digits[c>>12&15], digits[c>>8&15], digits[c>>4&15], digits[c&15]})
}

// longest is the length of the longest form: a body read this far past
// the stored cap can have a secret that straddles the cap redacted.
func (r *redactor) longest() int {
	if len(r.forms) == 0 {
		return 0
	}
	return len(r.forms[0])
}

// string returns s with every secret replaced by ••••.
func (r *redactor) string(s string) string {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redacted)
		}
	}
	return s
}

func (r *redactor) headers(h []herald.Header) {
	for i := range h {
		h[i].Value = r.string(h[i].Value)
	}
}

// capText cuts s to at most n bytes on a rune boundary and reports the
// size it had.
func capText(s string, n int) (string, int) {
	size := len(s)
	if len(s) <= n {
		return s, size
	}
	if n <= 0 {
		return "", size
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], size
}

// basicCredential is the base64 of user:password as sent.
func basicCredential(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
