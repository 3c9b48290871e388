package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/secrets"
)

// sent is the result of one HTTP call.
type sent struct {
	attempt    *herald.Attempt
	success    bool
	status     int
	retryAfter time.Duration
	// health says whether the outcome tells about the endpoint's health
	// (for the circuit breaker).
	health bool
}

// redacted is what the log shows instead of a secret.
const redacted = "••••"

// buildRequest adds herald's headers, the authorization and the Standard
// Webhooks signature to a rendered request. It also returns the headers as
// logged: secret values redacted.
func (e *Engine) buildRequest(ctx context.Context, r *payload.Request, c *herald.Claim, w *herald.Webhook, auth *herald.Authorization, now time.Time) (*http.Request, []herald.Header, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	var logged []herald.Header
	set := func(name, value, shown string) {
		req.Header.Set(name, value)
		logged = append(logged, herald.Header{Name: name, Value: shown})
	}
	if r.ContentType != "" {
		set("Content-Type", r.ContentType, r.ContentType)
	}
	for _, h := range r.Headers {
		set(h.Name, h.Value, h.Value)
	}
	if auth != nil {
		switch auth.Type {
		case herald.AuthHeader:
			shown := auth.Header.Value
			if auth.Header.Visibility == herald.Secret {
				shown = redacted
			}
			set(auth.Header.Key, auth.Header.Value, shown)
		case herald.AuthBasic:
			cred := base64.StdEncoding.EncodeToString([]byte(auth.Basic.Username + ":" + auth.Basic.Password))
			set("Authorization", "Basic "+cred, "Basic "+redacted)
		}
	}
	set("User-Agent", e.cfg.UserAgent, e.cfg.UserAgent)
	ts := now.Unix()
	keys := []string{w.SigningSecret}
	if w.PreviousSigningSecret != "" && w.PreviousSecretExpiresAt != nil && now.Before(*w.PreviousSecretExpiresAt) {
		keys = append(keys, w.PreviousSigningSecret)
	}
	sig, err := secrets.SignatureHeader(c.ID, ts, r.Body, keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("sign request: %w", err)
	}
	set("webhook-id", c.ID, c.ID)
	set("webhook-timestamp", strconv.FormatInt(ts, 10), strconv.FormatInt(ts, 10))
	set("webhook-signature", sig, sig)
	return req, logged, nil
}

// send makes one HTTP call and describes it as an attempt.
func (e *Engine) send(ctx context.Context, r *payload.Request, c *herald.Claim, w *herald.Webhook, auth *herald.Authorization) *sent {
	start := e.clock.Now()
	timeout := e.cfg.DefaultTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	// An attempt must end well before its claim's lease, or another
	// process could take the delivery over while it is still in flight.
	timeout = min(timeout, e.cfg.Lease*3/4)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: c.Attempts + 1, StartedAt: start.UTC(), RequestMethod: r.Method, RequestURL: r.URL, RequestBody: string(r.Body)}
	out := &sent{attempt: a}
	req, logged, err := e.buildRequest(ctx, r, c, w, auth, start)
	a.RequestHeaders = logged
	if err != nil {
		a.Outcome, a.ErrorClass, a.Error = herald.OutcomeFailure, herald.ErrClassNetwork, err.Error()
		return out
	}
	wall := time.Now()
	res, err := e.client.Do(req)
	if err != nil {
		a.DurationMS = float64(time.Since(wall).Microseconds()) / 1000
		a.Outcome = herald.OutcomeFailure
		a.ErrorClass, a.Error = classify(err, ctx)
		out.health = a.ErrorClass != herald.ErrClassBlocked
		return out
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, int64(e.cfg.MaxResponseBytes)))
	// Read a little past the cap so the connection can be reused.
	io.CopyN(io.Discard, res.Body, 64<<10)
	a.DurationMS = float64(time.Since(wall).Microseconds()) / 1000
	a.ResponseStatus = res.StatusCode
	a.ResponseBody = strings.ToValidUTF8(string(body), "\uFFFD")
	for name, values := range res.Header {
		for _, v := range values {
			a.ResponseHeaders = append(a.ResponseHeaders, herald.Header{Name: name, Value: v})
		}
	}
	out.status = res.StatusCode
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		a.Outcome, out.success = herald.OutcomeSuccess, true
		return out
	}
	a.Outcome, a.ErrorClass = herald.OutcomeFailure, herald.ErrClassHTTP
	a.Error = fmt.Sprintf("the receiver answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		a.Error += " (redirects are not followed: update the endpoint URL)"
	}
	out.retryAfter = retryAfter(res, start)
	out.health = res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusRequestTimeout
	return out
}

// classify names the kind of transport failure for the log.
func classify(err error, ctx context.Context) (herald.ErrorClass, string) {
	var blocked *netguard.BlockedError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	msg := err.Error()
	var uerr *url.Error
	if errors.As(err, &uerr) {
		msg = uerr.Err.Error()
	}
	switch {
	case errors.As(err, &blocked):
		return herald.ErrClassBlocked, blocked.Error()
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return herald.ErrClassTimeout, "no answer within the timeout: " + msg
	case errors.As(err, &dnsErr):
		return herald.ErrClassDNS, msg
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recordErr):
		return herald.ErrClassTLS, msg
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return herald.ErrClassConnect, msg
	case strings.Contains(msg, "tls:"):
		return herald.ErrClassTLS, msg
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return herald.ErrClassTimeout, msg
	}
	return herald.ErrClassNetwork, msg
}
