// Package client is a Go client for the REST API of herald, the
// self-hosted webhook service: send events, and manage webhooks,
// authorizations and deliveries.
//
//	c := client.New("https://herald.example.com", os.Getenv("HERALD_API_KEY"))
//	res, err := c.SendEvent(ctx, client.Event{
//		Type: "member.verified",
//		Data: map[string]any{"member": map[string]any{"id": "m_1", "email": "ana@example.com"}},
//		ID:   "evt_123", // your own id: sending it twice stores it once
//	})
//	var herr *client.Error
//	if errors.As(err, &herr) {
//		// herald refused the request: herr.Status, herr.Detail, herr.Errors
//	}
//
// SendEvent and SendEvents retry connection failures and 429 and 5xx
// answers with exponential backoff (honouring Retry-After), at most five
// tries by default. Every event they send carries an idempotency key (the
// caller's, the event's ID, or a random one generated once per call), so a
// retry after a lost answer cannot store an event twice. Other methods
// make one request and return its error.
//
// The package depends on the standard library only.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent of requests unless WithUserAgent
// sets another.
const DefaultUserAgent = "herald-go-client/1"

// DefaultMaxTries is how many times SendEvent and SendEvents try a request
// unless WithMaxTries sets another number.
const DefaultMaxTries = 5

const (
	// maxResponseBytes bounds what the client reads of one answer.
	maxResponseBytes = 32 << 20
	// maxRetryAfter is the longest Retry-After the client waits for; a
	// longer one ends the retries with the server's error.
	maxRetryAfter = time.Minute
)

// Client calls one herald server with one API key. It is safe for
// concurrent use.
type Client struct {
	base      string // scheme://host[:port][/prefix]/api/v1
	apiKey    string
	http      *http.Client
	userAgent string
	maxTries  int
	// backoff before retry n (1-based) when the server gave no Retry-After:
	// baseDelay·2^(n-1), capped at maxDelay, with jitter.
	baseDelay, maxDelay time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for requests (timeouts, proxies,
// TLS settings). The default is http.DefaultClient; bound each call's time
// with its context.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithUserAgent sets the User-Agent header of requests.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithMaxTries sets how many times SendEvent and SendEvents try a request
// in all (1 turns retries off). The default is DefaultMaxTries.
func WithMaxTries(n int) Option {
	return func(c *Client) {
		if n >= 1 {
			c.maxTries = n
		}
	}
}

// New returns a client of the herald server at baseURL (e.g.
// "http://127.0.0.1:8080"; a trailing "/api/v1" is accepted too) that
// authenticates with apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	base = strings.TrimSuffix(base, "/api/v1")
	c := &Client{
		base:      base + "/api/v1",
		apiKey:    apiKey,
		http:      http.DefaultClient,
		userAgent: DefaultUserAgent,
		maxTries:  DefaultMaxTries,
		baseDelay: 250 * time.Millisecond,
		maxDelay:  8 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SendEvent sends one event (POST /events). herald stores it, with one
// delivery per published webhook of its type, before it answers.
//
// The request carries an Idempotency-Key header: ev.IdempotencyKey, else
// ev.ID, else a random key made for this call; the same key is sent on
// every retry.
func (c *Client) SendEvent(ctx context.Context, ev Event) (*IngestResult, error) {
	key := ev.IdempotencyKey
	if key == "" {
		key = ev.ID
	}
	if key == "" {
		key = newIdempotencyKey()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("herald: encode event: %w", err)
	}
	var out IngestResult
	h := http.Header{"Idempotency-Key": {key}}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/events", body: body, header: h, retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendEvents sends up to 1000 events in one request (POST /events/batch)
// and returns one result per event, in order. Either all are accepted or,
// on a validation error, none.
//
// An event with neither IdempotencyKey nor ID gets a random idempotency
// key (the events passed in are not modified), so retries cannot
// duplicate it.
func (c *Client) SendEvents(ctx context.Context, events []Event) ([]IngestResult, error) {
	batch := struct {
		Events []Event `json:"events"`
	}{Events: make([]Event, len(events))}
	copy(batch.Events, events)
	for i := range batch.Events {
		if batch.Events[i].IdempotencyKey == "" && batch.Events[i].ID == "" {
			batch.Events[i].IdempotencyKey = newIdempotencyKey()
		}
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return nil, fmt.Errorf("herald: encode events: %w", err)
	}
	var out struct {
		Results []IngestResult `json:"results"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/events/batch", body: body, retry: true}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// GetEvent reads a stored event.
func (c *Client) GetEvent(ctx context.Context, id string) (*StoredEvent, error) {
	return get[StoredEvent](ctx, c, "/events/"+url.PathEscape(id), nil)
}

// ListWebhooks lists webhooks, one page at a time.
func (c *Client) ListWebhooks(ctx context.Context, f WebhookFilter) (*Page[Webhook], error) {
	q := url.Values{}
	set(q, "name", f.Name)
	set(q, "event", f.Event)
	set(q, "status", f.Status)
	set(q, "endpoint", f.Endpoint)
	setPage(q, f.Cursor, f.Limit)
	return get[Page[Webhook]](ctx, c, "/webhooks", q)
}

// GetWebhook reads a webhook.
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	return get[Webhook](ctx, c, "/webhooks/"+url.PathEscape(id), nil)
}

// CreateWebhook creates a webhook. It is created unpublished: call
// PublishWebhook for it to receive events.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (*Webhook, error) {
	return post[Webhook](ctx, c, "/webhooks", in)
}

// MatchWebhook asks whether the webhook would receive ev (its event types,
// then its condition), without storing anything; ev nil tries the sample
// of the webhook's first event type.
func (c *Client) MatchWebhook(ctx context.Context, id string, ev *MatchEvent) (*MatchResult, error) {
	body := struct {
		Event *MatchEvent `json:"event,omitempty"`
	}{ev}
	return post[MatchResult](ctx, c, "/webhooks/"+url.PathEscape(id)+"/match", body)
}

// PublishWebhook makes a webhook receive events from now on.
func (c *Client) PublishWebhook(ctx context.Context, id string) (*Webhook, error) {
	return post[Webhook](ctx, c, "/webhooks/"+url.PathEscape(id)+"/publish", nil)
}

// UnpublishWebhook stops a webhook; its pending deliveries are canceled.
func (c *Client) UnpublishWebhook(ctx context.Context, id string) (*Webhook, error) {
	return post[Webhook](ctx, c, "/webhooks/"+url.PathEscape(id)+"/unpublish", nil)
}

// WebhookSecret returns a webhook's signing secret ("whsec_…"), which the
// receiver needs to verify the webhook-signature header.
func (c *Client) WebhookSecret(ctx context.Context, id string) (string, error) {
	var out struct {
		Secret string `json:"secret"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/webhooks/" + url.PathEscape(id) + "/secret"}, &out); err != nil {
		return "", err
	}
	return out.Secret, nil
}

// ListAttempts lists a webhook's delivery attempts (its logs), newest first.
func (c *Client) ListAttempts(ctx context.Context, webhookID string, f AttemptFilter) (*Page[Attempt], error) {
	q := url.Values{}
	set(q, "outcome", f.Outcome)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	setPage(q, f.Cursor, f.Limit)
	return get[Page[Attempt]](ctx, c, "/webhooks/"+url.PathEscape(webhookID)+"/attempts", q)
}

// ListDeliveries lists a webhook's deliveries and their state.
func (c *Client) ListDeliveries(ctx context.Context, webhookID string, f DeliveryFilter) (*Page[Delivery], error) {
	q := url.Values{}
	set(q, "status", f.Status)
	setPage(q, f.Cursor, f.Limit)
	return get[Page[Delivery]](ctx, c, "/webhooks/"+url.PathEscape(webhookID)+"/deliveries", q)
}

// RetryDelivery makes a delivery due now; a failed or canceled one
// becomes pending again.
func (c *Client) RetryDelivery(ctx context.Context, deliveryID string) (*Delivery, error) {
	return post[Delivery](ctx, c, "/deliveries/"+url.PathEscape(deliveryID)+"/retry", nil)
}

// SendTest sends the event type's sample event to a webhook now
// (published or not) and returns the attempt: the request and the
// receiver's response. A receiver's failure is the attempt's Outcome, not
// an error.
func (c *Client) SendTest(ctx context.Context, webhookID string) (*Attempt, error) {
	return post[Attempt](ctx, c, "/webhooks/"+url.PathEscape(webhookID)+"/test", nil)
}

// CreateAuthorization stores credentials for a third-party service; a
// webhook uses them with AuthorizationEnabled and AuthorizationID.
func (c *Client) CreateAuthorization(ctx context.Context, in AuthorizationInput) (*Authorization, error) {
	return post[Authorization](ctx, c, "/authorizations", in)
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setPage(q url.Values, cursor string, limit int) {
	set(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}

// newIdempotencyKey is a random key: 128 bits, base32.
func newIdempotencyKey() string {
	return "hck_" + strings.ToLower(rand.Text())
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         []byte // nil: no body
	header       http.Header
	// retry: the call is idempotent (an idempotency key or a read) and
	// may be sent again after a temporary failure.
	retry bool
}

// get reads path into a new T.
func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	out := new(T)
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// post sends in (no body when nil) to path and decodes the answer into a new T.
func post[T any](ctx context.Context, c *Client, path string, in any) (*T, error) {
	r := request{method: http.MethodPost, path: path}
	if in != nil {
		body, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("herald: encode request: %w", err)
		}
		r.body = body
	}
	out := new(T)
	if err := c.do(ctx, r, out); err != nil {
		return nil, err
	}
	return out, nil
}

// do sends r, retrying temporary failures when r.retry, and decodes a
// 2xx answer's JSON into out.
func (c *Client) do(ctx context.Context, r request, out any) error {
	tries := 1
	if r.retry {
		tries = c.maxTries
	}
	for try := 1; ; try++ {
		temporary, err := c.once(ctx, r, out)
		if err == nil {
			return nil
		}
		if !temporary || try >= tries || ctx.Err() != nil {
			if try > 1 {
				return fmt.Errorf("%w (after %d tries)", err, try)
			}
			return err
		}
		wait := c.backoff(try)
		var herr *Error
		if errors.As(err, &herr) && herr.hasRetryAfter {
			if herr.RetryAfter > maxRetryAfter {
				return fmt.Errorf("%w (the server asks to retry after %s; not waiting)", err, herr.RetryAfter)
			}
			wait = herr.RetryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fmt.Errorf("%w (after %d tries; no time left for another)", err, try)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d tries: %w)", err, try, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is the wait before retry n (1-based): exponential with jitter,
// between half and all of baseDelay·2^(n-1), at most maxDelay.
func (c *Client) backoff(n int) time.Duration {
	d := c.baseDelay
	for i := 1; i < n && d < c.maxDelay; i++ {
		d *= 2
	}
	d = min(d, c.maxDelay)
	if d <= 0 {
		return 0
	}
	return d/2 + mrand.N(d/2+1)
}

// once sends r one time. temporary says whether trying again may succeed.
func (c *Client) once(ctx context.Context, r request, out any) (temporary bool, err error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return false, fmt.Errorf("herald: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// A transport failure (refused, reset, timeout): the request may or
		// may not have arrived, which the idempotency key makes harmless.
		return ctx.Err() == nil, fmt.Errorf("herald: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("herald: %s %s: reading the answer: %w", r.method, r.path, err)
	}
	if len(data) > maxResponseBytes {
		return false, fmt.Errorf("herald: %s %s: the answer exceeds %d bytes", r.method, r.path, maxResponseBytes)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := errorFrom(res, data)
		return e.temporary(), e
	}
	if out == nil || res.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("herald: %s %s: cannot decode the answer (%d, %s): %w", r.method, r.path, res.StatusCode, snippet(data), err)
	}
	return false, nil
}
