package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
// logged (secret values redacted) and the redactor for everything else
// stored of the attempt. tokens are the OAuth2 access tokens of this
// attempt, the one to send last (an earlier one the endpoint refused is
// redacted as well).
func (e *Engine) buildRequest(ctx context.Context, r *payload.Request, c *herald.Claim, w *herald.Webhook, auth *herald.Authorization, tokens []string, now time.Time) (*http.Request, []herald.Header, *redactor, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	secretValues := []string{w.SigningSecret, strings.TrimPrefix(w.SigningSecret, "whsec_")}
	if w.PreviousSigningSecret != "" {
		secretValues = append(secretValues, w.PreviousSigningSecret, strings.TrimPrefix(w.PreviousSigningSecret, "whsec_"))
	}
	if auth != nil {
		// Every secret the authorization holds, whether or not this request
		// carries it (a client secret, a private key): none may be stored.
		secretValues = append(secretValues, auth.Secrets()...)
	}
	secretValues = append(secretValues, tokens...)
	target := r.URL
	if auth != nil && auth.Type == herald.AuthQuery {
		target = withQueryParam(r.URL, auth.Query.Key, auth.Query.Value)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, target, body)
	if err != nil {
		return nil, nil, newRedactor(secretValues...), fmt.Errorf("build request: %w", err)
	}
	logged := make([]herald.Header, 0, 8)
	names := make([]string, 0, 8) // the canonical name of each logged header
	set := func(name, value, shown string) {
		// Canonicalising allocates for a name not already canonical:
		// herald's own are looked up.
		key, ok := signatureHeaderKeys[name]
		if !ok {
			key = http.CanonicalHeaderKey(name)
		}
		req.Header[key] = []string{value}
		// A custom header may replace one herald set (Content-Type, say):
		// the log shows what was sent, once.
		for i, k := range names {
			if k == key {
				logged[i] = herald.Header{Name: name, Value: shown}
				return
			}
		}
		names = append(names, key)
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
				secretValues = append(secretValues, auth.Header.Value)
				// "Bearer abc…" is often echoed as the token alone.
				if _, token, ok := strings.Cut(auth.Header.Value, " "); ok && len(token) >= 8 {
					secretValues = append(secretValues, token)
				}
			}
			set(auth.Header.Key, auth.Header.Value, shown)
		case herald.AuthBasic:
			cred := basicCredential(auth.Basic.Username, auth.Basic.Password)
			secretValues = append(secretValues, auth.Basic.Password, cred)
			set("Authorization", "Basic "+cred, "Basic "+redacted)
		case herald.AuthBearer:
			set("Authorization", "Bearer "+auth.Bearer.Token, "Bearer "+redacted)
		case herald.AuthOAuth2:
			if len(tokens) > 0 {
				set("Authorization", "Bearer "+tokens[len(tokens)-1], "Bearer "+redacted)
			}
		}
	}
	set("User-Agent", e.cfg.UserAgent, e.cfg.UserAgent)
	ts := now.Unix()
	keys := []string{w.SigningSecret}
	if w.PreviousSigningSecret != "" && w.PreviousSecretExpiresAt != nil && now.Before(*w.PreviousSecretExpiresAt) {
		keys = append(keys, w.PreviousSigningSecret)
	}
	red := e.redactors.get(secretValues)
	sig, err := secrets.SignatureHeader(c.ID, ts, r.Body, keys...)
	if err != nil {
		return nil, nil, red, fmt.Errorf("sign request: %w", err)
	}
	set("webhook-id", c.ID, c.ID)
	stamp := strconv.FormatInt(ts, 10)
	set("webhook-timestamp", stamp, stamp)
	set("webhook-signature", sig, sig)
	red.headers(logged)
	return req, logged, red, nil
}

// signatureHeaderKeys are the canonical forms of the Standard Webhooks
// header names, which herald logs as the specification writes them.
var signatureHeaderKeys = map[string]string{
	"webhook-id":        "Webhook-Id",
	"webhook-timestamp": "Webhook-Timestamp",
	"webhook-signature": "Webhook-Signature",
}

// logCap is the most bytes of the request and response bodies an
// attempt keeps: the webhook's log_body_bytes or the server's default, and
// no more than the smaller default for successes.
func (e *Engine) logCap(w *herald.Webhook, success bool) int {
	n := e.cfg.LogBodyBytes
	if w.LogBodyBytes != nil {
		n = *w.LogBodyBytes
	}
	if success {
		n = min(n, e.cfg.LogSuccessBodyBytes)
	}
	return max(n, 0)
}

// attemptTimeout is the webhook's timeout or the server's default, and
// at most ¾ of the lease: an attempt must end well before its claim's
// lease, or another process could take the delivery over while it is
// still in flight (attempt checks that this much of the lease is left).
func (e *Engine) attemptTimeout(w *herald.Webhook) time.Duration {
	timeout := e.cfg.DefaultTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	return min(timeout, e.cfg.Lease*3/4)
}

// send makes one HTTP call and describes it as an attempt. What is kept of
// it is redacted (every secret sent, wherever it shows) and capped.
func (e *Engine) send(ctx context.Context, r *payload.Request, c *herald.Claim, w *herald.Webhook, auth *herald.Authorization) *sent {
	start := e.clock.Now()
	timeout := e.attemptTimeout(w)
	// cancel ends the attempt at its timeout, or earlier when the body is
	// late (below); ctx.Err() tells the two apart.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: c.Attempts + 1, StartedAt: start.UTC(), RequestMethod: r.Method}
	out := &sent{attempt: a}
	var tokens []string
	if auth != nil && auth.Type == herald.AuthOAuth2 {
		token, err := e.accessToken(ctx, auth, "")
		if err != nil {
			return e.authFailure(out, r, w, auth, nil, err)
		}
		tokens = append(tokens, token)
	}
	client, err := e.clientFor(auth)
	if err != nil {
		return e.authFailure(out, r, w, auth, tokens, err)
	}
	req, logged, red, err := e.buildRequest(ctx, r, c, w, auth, tokens, start)
	a.RequestHeaders = logged
	a.RequestURL = red.string(r.URL)
	if req != nil {
		a.RequestURL = red.string(req.URL.String())
	}
	keep := func(success bool) {
		// Cut a little past the cap first, so a large body is not searched
		// whole, and a secret straddling the cap is still redacted.
		limit := e.logCap(w, success)
		a.RequestBody, _ = capText(red.string(string(r.Body[:min(len(r.Body), limit+red.longest()+utf8.UTFMax)])), limit)
		a.RequestBodySize = len(r.Body)
	}
	if err != nil {
		keep(false)
		a.Outcome, a.ErrorClass, a.Error = herald.OutcomeFailure, herald.ErrClassNetwork, red.string(err.Error())
		return out
	}
	wall := time.Now()
	res, err := client.Do(req)
	if err == nil && res.StatusCode == http.StatusUnauthorized && len(tokens) > 0 {
		// The endpoint refused the cached token (revoked, or expired
		// early): fetch a new one, once, and retry at once.
		io.Copy(io.Discard, io.LimitReader(res.Body, maxDiscard))
		res.Body.Close()
		token, terr := e.accessToken(ctx, auth, tokens[0])
		if terr != nil {
			return e.authFailure(out, r, w, auth, tokens, fmt.Errorf("the endpoint answered 401 to the cached access token, and a new one could not be had: %w", terr))
		}
		tokens = append(tokens, token)
		req, logged, red, err = e.buildRequest(ctx, r, c, w, auth, tokens, start)
		a.RequestHeaders = logged
		if err != nil {
			keep(false)
			a.Outcome, a.ErrorClass, a.Error = herald.OutcomeFailure, herald.ErrClassNetwork, red.string(err.Error())
			return out
		}
		a.RequestURL = red.string(req.URL.String())
		res, err = client.Do(req)
	}
	if err != nil {
		keep(false)
		a.DurationMS = float64(time.Since(wall).Microseconds()) / 1000
		a.Outcome = herald.OutcomeFailure
		a.ErrorClass, a.Error = classify(err, ctx)
		a.Error = red.string(a.Error)
		out.health = a.ErrorClass != herald.ErrClassBlocked
		return out
	}
	defer res.Body.Close()
	success := w.SuccessStatuses.Accepts(res.StatusCode)
	limit := e.logCap(w, success)
	read := limit + red.longest() + utf8.UTFMax
	if w.SuccessCondition != "" && success {
		read = max(read, maxConditionBody) // the condition reads the body
	}
	// The body must end within BodyTimeout of the headers (and within the
	// attempt's timeout): a body that never ends is a timeout, not a
	// success that holds a slot for the whole timeout.
	var bodyLate atomic.Bool
	late := time.AfterFunc(e.cfg.BodyTimeout, func() { bodyLate.Store(true); cancel() })
	body, size, readErr := readBody(res.Body, read)
	late.Stop()
	a.DurationMS = float64(time.Since(wall).Microseconds()) / 1000
	a.ResponseStatus = res.StatusCode
	text := red.string(strings.ToValidUTF8(string(body), "\uFFFD"))
	a.ResponseBody, _ = capText(text, limit)
	a.ResponseBodySize = size
	for name, values := range res.Header {
		for _, v := range values {
			a.ResponseHeaders = append(a.ResponseHeaders, herald.Header{Name: name, Value: red.string(v)})
		}
	}
	out.status = res.StatusCode
	if readErr != nil {
		keep(false)
		a.Outcome, a.ErrorClass = herald.OutcomeFailure, herald.ErrClassTimeout
		switch {
		case bodyLate.Load():
			a.Error = fmt.Sprintf("the receiver answered %d but its body did not end within %s", res.StatusCode, e.cfg.BodyTimeout)
		case ctx.Err() != nil:
			a.Error = fmt.Sprintf("the receiver answered %d but its body did not end within the timeout (%s)", res.StatusCode, timeout)
		default:
			a.ErrorClass = herald.ErrClassNetwork
			a.Error = red.string(fmt.Sprintf("the receiver answered %d but reading its body failed: %v", res.StatusCode, readErr))
		}
		out.health = true
		return out
	}
	rejected := ""
	if success && w.SuccessCondition != "" {
		rejected = e.checkSuccess(w, res, body, size)
		if rejected != "" {
			success = false
			a.ResponseBody, _ = capText(text, e.logCap(w, false))
		}
	}
	if success {
		a.ResponseBody, _ = capText(text, limit)
	}
	keep(success)
	if success {
		a.Outcome, out.success = herald.OutcomeSuccess, true
		return out
	}
	if rejected != "" {
		// The endpoint is up and answering: a rejection says nothing about
		// its health, so the circuit breaker ignores it.
		a.Outcome, a.ErrorClass, a.Error = herald.OutcomeFailure, herald.ErrClassRejected, red.string(rejected)
		out.retryAfter = retryAfter(res, start)
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

// maxConditionBody is how much of a response body a success condition
// sees (response.body, response.json).
const maxConditionBody = 64 << 10

// checkSuccess evaluates the webhook's success condition over the
// response (status, headers by lower-case name, body, and json: the body
// parsed when it is JSON and whole, else null) and returns why it
// failed ("" when it held).
func (e *Engine) checkSuccess(w *herald.Webhook, res *http.Response, body []byte, size int) string {
	headers := make(map[string]any, len(res.Header))
	for name, values := range res.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	response := map[string]any{"status": json.Number(strconv.Itoa(res.StatusCode)), "headers": headers,
		"body": strings.ToValidUTF8(string(body), "\uFFFD"), "json": nil}
	if size <= len(body) {
		var parsed any
		if herald.DecodeJSON(body, &parsed) == nil {
			response["json"] = parsed
		}
	}
	return e.conds.Rejection(w.ID, w.Revision, w.SuccessCondition, e.svc.Location(context.Background(), w.WorkspaceID), response)
}

// authFailure records an attempt whose credentials could not be had (an
// OAuth2 token fetch failed): class auth, no request sent to the
// endpoint, the endpoint's health untouched.
func (e *Engine) authFailure(out *sent, r *payload.Request, w *herald.Webhook, auth *herald.Authorization, tokens []string, err error) *sent {
	a := out.attempt
	red := newRedactor(append(auth.Secrets(), tokens...)...)
	a.RequestURL = red.string(r.URL)
	a.RequestHeaders = []herald.Header{}
	a.RequestBody, _ = capText(red.string(string(r.Body)), e.logCap(w, false))
	a.RequestBodySize = len(r.Body)
	a.Outcome, a.ErrorClass, a.Error = herald.OutcomeFailure, herald.ErrClassAuth, red.string(err.Error())
	return out
}

// withQueryParam adds key=value to a URL's query (after what the template
// rendered), both escaped.
func withQueryParam(raw, key, value string) string {
	base, frag, _ := strings.Cut(raw, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	out := base + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
	if frag != "" {
		out += "#" + frag
	}
	return out
}

// maxDiscard is how much of a response body past what is kept is read
// (so the connection can be reused); a larger body closes the connection.
const maxDiscard = 1 << 20

// readBody reads a response body to its end, keeping the first keep
// bytes, and returns the bytes kept, the body's size (as far as it was
// read) and the error that stopped it before its end.
func readBody(body io.Reader, keep int) ([]byte, int, error) {
	buf, err := io.ReadAll(io.LimitReader(body, int64(keep)))
	size := len(buf)
	if err != nil {
		return buf, size, err
	}
	// Past maxDiscard (err == nil) reading stops and the connection closes.
	n, err := io.CopyN(io.Discard, body, maxDiscard)
	size += int(n)
	if err == io.EOF {
		err = nil
	}
	return buf, size, err
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
