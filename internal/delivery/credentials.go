package delivery

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// credentials holds what the engine derives from authorizations and
// keeps in memory only: OAuth2 access tokens and the HTTP clients that
// present a client certificate. Both are keyed by authorization id and
// its revision (updated_at), so an edit takes effect on the next attempt.
// On PostgreSQL each process holds its own.
type credentials struct {
	mu      sync.Mutex
	tokens  map[string]*tokenEntry
	clients map[string]*certClient
}

// tokenEntry is one authorization's cached access token. lock (a channel,
// so a waiter can give up with its context) is held while a token is
// fetched: concurrent deliveries wait for that one fetch instead of each
// asking the token endpoint (no stampede).
type tokenEntry struct {
	lock    chan struct{}
	rev     int64
	token   string
	expires time.Time
	// A failed fetch is remembered for tokenFailureHold: the deliveries
	// that waited for it fail with its error instead of each asking a
	// token endpoint that is down or refusing the client.
	failRev   int64
	failUntil time.Time
	failErr   error
}

// tokenFailureHold is how long a failed token fetch answers for the
// authorization before the endpoint is asked again.
const tokenFailureHold = 5 * time.Second

type certClient struct {
	rev      int64
	notAfter time.Time
	client   *http.Client
	tr       *http.Transport
}

func revision(a *herald.Authorization) int64 { return a.UpdatedAt.UnixMicro() }

// tokenLifetime is how long a token is used when the endpoint gives no
// expires_in (RFC 6749 makes it optional): a 401 refreshes it sooner.
const tokenLifetime = 10 * time.Minute

// tokenMargin is how long before its expiry a token is replaced: a tenth
// of its lifetime, at most a minute, so a token is never sent at the very
// moment it expires.
func tokenMargin(lifetime time.Duration) time.Duration { return min(lifetime/10, time.Minute) }

// tokenError is a failed token fetch: an attempt error of class auth.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// accessToken returns a valid access token for an OAuth2 authorization,
// fetching one if none is cached, the cached one is near its expiry, or
// the cached one is stale (the endpoint refused it: a 401). A token
// another delivery already fetched in place of stale is returned as is.
func (e *Engine) accessToken(ctx context.Context, a *herald.Authorization, stale string) (string, error) {
	e.creds.mu.Lock()
	if e.creds.tokens == nil {
		e.creds.tokens = map[string]*tokenEntry{}
	}
	t := e.creds.tokens[a.ID]
	if t == nil {
		t = &tokenEntry{lock: make(chan struct{}, 1)}
		e.creds.tokens[a.ID] = t
	}
	e.creds.mu.Unlock()
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return "", &tokenError{"gave up waiting for an access token: " + ctx.Err().Error()}
	}
	defer func() { <-t.lock }()
	rev := revision(a)
	now := e.clock.Now()
	if t.rev == rev && t.token != "" && t.token != stale && now.Before(t.expires) {
		return t.token, nil
	}
	if t.failRev == rev && now.Before(t.failUntil) {
		return "", t.failErr
	}
	token, lifetime, err := e.fetchToken(ctx, a)
	if err != nil {
		t.token = ""
		t.failRev, t.failUntil, t.failErr = rev, e.clock.Now().Add(tokenFailureHold), err
		e.metrics.TokenFetches.WithLabelValues("failed").Inc()
		return "", err
	}
	t.failErr = nil
	t.failUntil = time.Time{}
	t.rev, t.token, t.expires = rev, token, e.clock.Now().Add(lifetime-tokenMargin(lifetime))
	e.metrics.TokenFetches.WithLabelValues("ok").Inc()
	return token, nil
}

// fetchToken asks the token endpoint for an access token with the
// client-credentials grant (RFC 6749 §4.4), through the same SSRF-guarded
// transport (and client certificate) as deliveries. Errors carry the
// endpoint's status and OAuth error, never the client secret.
func (e *Engine) fetchToken(ctx context.Context, a *herald.Authorization) (string, time.Duration, error) {
	o := a.OAuth2
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	if o.Audience != "" {
		form.Set("audience", o.Audience)
	}
	if o.ClientAuth == herald.ClientAuthBody {
		form.Set("client_id", o.ClientID)
		form.Set("client_secret", o.ClientSecret)
	}
	red := newRedactor(o.ClientSecret, basicCredential(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret)))
	fail := func(format string, args ...any) (string, time.Duration, error) {
		return "", 0, &tokenError{red.string(fmt.Sprintf("token endpoint %s: ", o.TokenURL) + fmt.Sprintf(format, args...))}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", e.cfg.UserAgent)
	if o.ClientAuth != herald.ClientAuthBody {
		// RFC 6749 §2.3.1: both parts form-encoded before base64.
		req.Header.Set("Authorization", "Basic "+basicCredential(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret)))
	}
	client, err := e.clientFor(a)
	if err != nil {
		return fail("%v", err)
	}
	res, err := client.Do(req)
	if err != nil {
		_, msg := classify(err, ctx)
		return fail("%s", msg)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var tok struct {
		AccessToken      string          `json:"access_token"`
		TokenType        string          `json:"token_type"`
		ExpiresIn        json.RawMessage `json:"expires_in"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	jsonErr := json.Unmarshal(body, &tok)
	if res.StatusCode != http.StatusOK {
		reason := http.StatusText(res.StatusCode)
		if tok.Error != "" {
			reason = tok.Error
			if tok.ErrorDescription != "" {
				reason += " (" + tok.ErrorDescription + ")"
			}
		}
		return fail("answered %d: %s", res.StatusCode, truncateText(reason, 300))
	}
	switch {
	case jsonErr != nil:
		return fail("answered 200 but not with a JSON token response: %v", jsonErr)
	case tok.AccessToken == "":
		return fail("answered 200 without an access_token")
	case tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer"):
		return fail("issued a %q token; herald sends bearer tokens only", tok.TokenType)
	case strings.ContainsAny(tok.AccessToken, "\r\n\x00"):
		return fail("issued an access token with line breaks or NUL")
	}
	lifetime := tokenLifetime
	if s := strings.Trim(string(tok.ExpiresIn), `"`); s != "" && s != "null" {
		// Some servers send the number as a string.
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n <= 0 {
			return fail("answered with expires_in %s, not a positive number of seconds", s)
		}
		lifetime = time.Duration(n * float64(time.Second))
	}
	return tok.AccessToken, lifetime, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut, _ := capText(s, n)
	return cut + "…"
}

// clientFor returns the HTTP client for an authorization: the engine's,
// or, for one with a client certificate, a client over a clone of the
// engine's transport (so it still dials through the SSRF guard and any
// egress proxy) that presents the certificate when the server asks.
func (e *Engine) clientFor(a *herald.Authorization) (*http.Client, error) {
	if a == nil || a.TLSClient == nil {
		return e.client, nil
	}
	rev := revision(a)
	e.creds.mu.Lock()
	defer e.creds.mu.Unlock()
	if c := e.creds.clients[a.ID]; c != nil && c.rev == rev {
		e.warnCertificate(a, c.notAfter)
		return c.client, nil
	}
	if e.baseTransport == nil {
		return nil, fmt.Errorf("client certificates need the engine's transport to be an *http.Transport")
	}
	cert, err := a.TLSClient.Certificate()
	if err != nil {
		return nil, fmt.Errorf("the authorization's client certificate: %v", err)
	}
	tr := e.baseTransport.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	if e.creds.clients == nil {
		e.creds.clients = map[string]*certClient{}
	}
	if old := e.creds.clients[a.ID]; old != nil {
		old.tr.CloseIdleConnections()
	}
	c := &certClient{rev: rev, tr: tr, notAfter: a.TLSClient.NotAfter(), client: &http.Client{Transport: tr, CheckRedirect: e.client.CheckRedirect}}
	e.creds.clients[a.ID] = c
	e.warnCertificate(a, c.notAfter)
	return c.client, nil
}

// warnCertificate logs and raises herald.authorization.certificate_expiring
// when a client certificate in use expires within CertificateWarnDays:
// at most once a day per authorization revision and process.
func (e *Engine) warnCertificate(a *herald.Authorization, notAfter time.Time) {
	left := notAfter.Sub(e.clock.Now())
	if notAfter.IsZero() || left > herald.CertificateWarnDays*24*time.Hour {
		return
	}
	key := a.ID + "@" + strconv.FormatInt(revision(a), 10) + "@" + e.clock.Now().UTC().Format("2006-01-02")
	if _, done := e.certWarned.LoadOrStore(key, struct{}{}); done {
		return
	}
	days := int(left.Hours() / 24)
	e.log.Warn("client certificate expires soon", "authorization", a.ID, "name", a.Name, "not_after", notAfter.Format(time.RFC3339), "days_left", days)
	e.raise(a.WorkspaceID, "herald.authorization.certificate_expiring", map[string]any{
		"authorization": map[string]any{"id": a.ID, "name": a.Name, "endpoint": a.Endpoint, "type": string(a.Type)},
		"not_after":     notAfter.Format(time.RFC3339), "days_left": days})
}
