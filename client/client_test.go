package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is an httptest server that mimics herald's API: each request is
// recorded and answered by the next scripted reply (the last one repeats).
type fake struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []seen
	replies []reply
}

type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
}

type reply struct {
	status int
	header map[string]string
	body   string
	hangUp bool // close the connection without answering
}

func problem(status int, code, title, detail string, fields ...FieldError) reply {
	doc := map[string]any{"type": "urn:herald:problem:" + code, "title": title, "status": status, "detail": detail}
	if len(fields) > 0 {
		doc["errors"] = fields
	}
	b, _ := json.Marshal(doc)
	return reply{status: status, header: map[string]string{"Content-Type": "application/problem+json"}, body: string(b)}
}

func ok(status int, body string) reply {
	return reply{status: status, header: map[string]string{"Content-Type": "application/json"}, body: body}
}

func newFake(t *testing.T, replies ...reply) *fake {
	f := &fake{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	rep := f.replies[min(len(f.reqs), len(f.replies))-1]
	f.mu.Unlock()
	if rep.hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Error(err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// script replaces the replies (and so the answers from now on).
func (f *fake) script(replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = replies
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// client returns a client of the fake with millisecond backoff.
func (f *fake) client(opts ...Option) *Client {
	c := New(f.srv.URL, "hrld_test", opts...)
	c.baseDelay, c.maxDelay = time.Millisecond, 4*time.Millisecond
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSendEventRetriesWithOneIdempotencyKey(t *testing.T) {
	f := newFake(t,
		reply{hangUp: true},
		problem(503, "unavailable", "Service Unavailable", "busy"),
		reply{status: 502, body: "<html>bad gateway</html>"},
		problem(429, "too_many", "Too Many Requests", "slow down"),
		ok(202, `{"id":"evt_1","deliveries":2}`),
	)
	f.replies[3].header["Retry-After"] = "0"
	occurred := time.Date(2025, 5, 12, 12, 34, 56, 0, time.UTC)
	res, err := f.client().SendEvent(ctx(t), Event{Type: "member.verified", Data: map[string]any{"member": map[string]any{"id": "m1"}}, OccurredAt: occurred})
	if err != nil {
		t.Fatal(err)
	}
	if *res != (IngestResult{ID: "evt_1", Deliveries: 2}) {
		t.Fatalf("result %+v", res)
	}
	reqs := f.requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	key := reqs[0].header.Get("Idempotency-Key")
	if !strings.HasPrefix(key, "hck_") || len(key) < 20 {
		t.Fatalf("generated key %q", key)
	}
	for i, r := range reqs {
		if r.method != "POST" || r.path != "/api/v1/events" {
			t.Fatalf("request %d: %s %s", i, r.method, r.path)
		}
		if got := r.header.Get("Idempotency-Key"); got != key {
			t.Fatalf("request %d: key %q, want %q on every try", i, got, key)
		}
		if !bytes.Equal(r.body, reqs[0].body) {
			t.Fatalf("request %d: body changed: %s", i, r.body)
		}
		if r.header.Get("Authorization") != "Bearer hrld_test" || r.header.Get("Content-Type") != "application/json" ||
			r.header.Get("User-Agent") != DefaultUserAgent {
			t.Fatalf("request %d headers: %v", i, r.header)
		}
	}
	// The body is what POST /events decodes strictly.
	var body struct {
		Type       string          `json:"type"`
		Data       json.RawMessage `json:"data"`
		OccurredAt string          `json:"occurred_at"`
	}
	dec := json.NewDecoder(bytes.NewReader(reqs[0].body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %s: %v", reqs[0].body, err)
	}
	if body.Type != "member.verified" || string(body.Data) != `{"member":{"id":"m1"}}` || body.OccurredAt != "2025-05-12T12:34:56Z" {
		t.Fatalf("body %s", reqs[0].body)
	}

	// A second call is a new event: a new key.
	f.script(ok(202, `{"id":"evt_2","deliveries":0}`))
	if _, err := f.client().SendEvent(ctx(t), Event{Type: "member.verified"}); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[5].header.Get("Idempotency-Key"); got == key || got == "" {
		t.Fatalf("second event reused key %q", got)
	}
}

func TestSendEventKeyFromCaller(t *testing.T) {
	f := newFake(t, ok(202, `{"id":"evt_1","deliveries":1,"duplicate":true}`))
	c := f.client()
	res, err := c.SendEvent(ctx(t), Event{Type: "a.b", IdempotencyKey: "order-42", ID: "evt-src-1"})
	if err != nil || !res.Duplicate {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := c.SendEvent(ctx(t), Event{Type: "a.b", ID: "evt-src-2"}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if reqs[0].header.Get("Idempotency-Key") != "order-42" || reqs[1].header.Get("Idempotency-Key") != "evt-src-2" {
		t.Fatalf("keys %q %q", reqs[0].header.Get("Idempotency-Key"), reqs[1].header.Get("Idempotency-Key"))
	}
	if !strings.Contains(string(reqs[1].body), `"id":"evt-src-2"`) {
		t.Fatalf("id not sent: %s", reqs[1].body)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	f := newFake(t, problem(503, "unavailable", "Service Unavailable", "database does not answer"))
	_, err := f.client().SendEvent(ctx(t), Event{Type: "a.b"})
	var herr *Error
	if !errors.As(err, &herr) || herr.Status != 503 || herr.Detail != "database does not answer" {
		t.Fatalf("err %v", err)
	}
	if n := len(f.requests()); n != DefaultMaxTries {
		t.Fatalf("%d tries, want %d", n, DefaultMaxTries)
	}
	if !strings.Contains(err.Error(), "after 5 tries") {
		t.Fatalf("message does not say it retried: %v", err)
	}

	f = newFake(t, problem(500, "internal", "Internal error", "x"))
	if _, err := f.client(WithMaxTries(2)).SendEvents(ctx(t), []Event{{Type: "a.b"}}); err == nil || len(f.requests()) != 2 {
		t.Fatalf("WithMaxTries(2): %d tries, %v", len(f.requests()), err)
	}

	// A connection that always fails is retried as often, then reported.
	f = newFake(t, reply{hangUp: true})
	_, err = f.client().SendEvent(ctx(t), Event{Type: "a.b"})
	if err == nil || errors.As(err, &herr) || len(f.requests()) != DefaultMaxTries {
		t.Fatalf("hang-ups: %d tries, %v", len(f.requests()), err)
	}
}

func TestNoRetryForPermanentAnswers(t *testing.T) {
	for _, rep := range []reply{
		problem(422, "invalid", "Validation failed", "validation failed", FieldError{Field: "type", Message: "is required"}),
		problem(401, "unauthorized", "Authentication required", "missing API key"),
		problem(501, "not_implemented", "Not implemented", "the delivery engine is not running in this server"),
		problem(400, "bad_request", "Malformed request", "request body is not valid JSON"),
	} {
		f := newFake(t, rep)
		_, err := f.client().SendEvent(ctx(t), Event{Type: "a.b"})
		var herr *Error
		if !errors.As(err, &herr) || herr.Status != rep.status {
			t.Fatalf("%d: %v", rep.status, err)
		}
		if n := len(f.requests()); n != 1 {
			t.Fatalf("%d was tried %d times", rep.status, n)
		}
	}
}

func TestProblemIsDecoded(t *testing.T) {
	f := newFake(t, problem(422, "invalid", "Validation failed", "validation failed",
		FieldError{Field: "type", Message: `unknown event type "nope"; known types: member.verified`},
		FieldError{Field: "payload", Message: "unexpected end of template", Line: 3, Column: 7}))
	_, err := f.client().SendEvent(ctx(t), Event{Type: "nope"})
	var herr *Error
	if !errors.As(err, &herr) {
		t.Fatalf("not an *Error: %#v", err)
	}
	want := Error{Status: 422, Type: "urn:herald:problem:invalid", Title: "Validation failed", Detail: "validation failed",
		Errors: []FieldError{{Field: "type", Message: `unknown event type "nope"; known types: member.verified`},
			{Field: "payload", Message: "unexpected end of template", Line: 3, Column: 7}}}
	if herr.Status != want.Status || herr.Type != want.Type || herr.Title != want.Title || herr.Detail != want.Detail ||
		len(herr.Errors) != 2 || herr.Errors[0] != want.Errors[0] || herr.Errors[1] != want.Errors[1] {
		t.Fatalf("got %+v", herr)
	}
	msg := err.Error()
	for _, s := range []string{"422", "Validation failed", `type unknown event type "nope"`, "payload unexpected end of template (line 3, column 7)"} {
		if !strings.Contains(msg, s) {
			t.Errorf("Error() %q lacks %q", msg, s)
		}
	}

	// An answer that is not problem+json still makes an *Error.
	f = newFake(t, reply{status: 404, header: map[string]string{"Content-Type": "text/html"}, body: "<h1>no\n such page</h1>"})
	_, err = f.client().GetWebhook(ctx(t), "wh_1")
	if !errors.As(err, &herr) || herr.Status != 404 || herr.Title != "Not Found" || herr.Detail != "<h1>no such page</h1>" {
		t.Fatalf("html 404: %+v", err)
	}
	if len(f.requests()) != 1 {
		t.Fatal("a read was retried")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFake(t, problem(429, "too_many", "Too Many Requests", "slow down"), ok(202, `{"id":"e","deliveries":0}`))
	f.replies[0].header["Retry-After"] = "1"
	start := time.Now()
	if _, err := f.client().SendEvent(ctx(t), Event{Type: "a.b"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 10*time.Second {
		t.Fatalf("waited %v for Retry-After: 1", d)
	}

	// A wait longer than the client accepts, or than the context leaves,
	// ends the retries at once with the server's error.
	f = newFake(t, problem(503, "unavailable", "Service Unavailable", "maintenance"))
	f.replies[0].header["Retry-After"] = "3600"
	start = time.Now()
	_, err := f.client().SendEvent(ctx(t), Event{Type: "a.b"})
	var herr *Error
	if !errors.As(err, &herr) || herr.RetryAfter != time.Hour || len(f.requests()) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("Retry-After 3600: %v, %d tries", err, len(f.requests()))
	}
	wait30 := problem(503, "unavailable", "Service Unavailable", "maintenance")
	wait30.header["Retry-After"] = "30"
	f.script(wait30)
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = f.client().SendEvent(short, Event{Type: "a.b"})
	if !errors.As(err, &herr) || len(f.requests()) != 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("Retry-After past the deadline: %v, %d tries", err, len(f.requests()))
	}

	now := time.Date(2025, 5, 12, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"0": 0, "120": 2 * time.Minute, "Mon, 12 May 2025 12:00:30 GMT": 30 * time.Second} {
		if got, ok := retryAfter(in, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %v %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "soon", "-1"} {
		if _, ok := retryAfter(in, now); ok {
			t.Errorf("retryAfter(%q) accepted", in)
		}
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	f := newFake(t, problem(503, "unavailable", "Service Unavailable", "busy"))
	c := f.client()
	c.baseDelay, c.maxDelay = 10*time.Second, 10*time.Second
	cctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.SendEvent(cctx, Event{Type: "a.b"})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
}

func TestSendEventsKeysEveryEvent(t *testing.T) {
	f := newFake(t, problem(502, "bad_gateway", "Bad Gateway", ""),
		ok(202, `{"results":[{"id":"e1","deliveries":1},{"id":"e2","deliveries":0},{"id":"e3","deliveries":3,"duplicate":true}]}`))
	in := []Event{{Type: "a.b"}, {Type: "a.b", ID: "src-2"}, {Type: "a.b", IdempotencyKey: "k-3"}}
	res, err := f.client().SendEvents(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0] != (IngestResult{ID: "e1", Deliveries: 1}) || !res[2].Duplicate {
		t.Fatalf("results %+v", res)
	}
	if in[0].IdempotencyKey != "" {
		t.Fatal("SendEvents modified the caller's events")
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].path != "/api/v1/events/batch" || !bytes.Equal(reqs[0].body, reqs[1].body) {
		t.Fatalf("the retry sent another body:\n%s\n%s", reqs[0].body, reqs[1].body)
	}
	var batch struct {
		Events []struct {
			Type           string `json:"type"`
			ID             string `json:"id"`
			IdempotencyKey string `json:"idempotency_key"`
		} `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(reqs[0].body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&batch); err != nil {
		t.Fatal(err)
	}
	e := batch.Events
	if len(e) != 3 || !strings.HasPrefix(e[0].IdempotencyKey, "hck_") || e[1].IdempotencyKey != "" || e[1].ID != "src-2" || e[2].IdempotencyKey != "k-3" {
		t.Fatalf("batch %s", reqs[0].body)
	}
}

// The management methods send the documented method, path, query and
// body, and decode the answers.
func TestManagementCalls(t *testing.T) {
	webhook := `{"id":"wh_1","name":"CRM","event":"member.verified","endpoint_url":"https://crm.example.com/hook","method":"POST",
		"payload_type":"JSON","payload":"{}","custom_headers":[],"status":"published","revision":2,"created_at":"2025-05-12T12:00:00Z","updated_at":"2025-05-12T12:00:00Z"}`
	routes := map[string]reply{
		"GET /api/v1/events/evt_1":               ok(200, `{"id":"evt_1","type":"member.verified","occurred_at":"2025-05-12T12:00:00Z","received_at":"2025-05-12T12:00:01Z","data":{"member":{"id":"m1"}}}`),
		"GET /api/v1/webhooks":                   ok(200, `{"data":[`+webhook+`],"next_cursor":"wh_1"}`),
		"GET /api/v1/webhooks/wh_1":              ok(200, webhook),
		"POST /api/v1/webhooks":                  ok(201, webhook),
		"POST /api/v1/webhooks/wh_1/publish":     ok(200, webhook),
		"POST /api/v1/webhooks/wh_1/unpublish":   ok(200, strings.Replace(webhook, `"published"`, `"unpublished"`, 1)),
		"GET /api/v1/webhooks/wh_1/secret":       ok(200, `{"secret":"whsec_abc"}`),
		"POST /api/v1/webhooks/wh_1/match":       ok(200, `{"matches":false,"reason":"the condition gave false: the event would not be sent"}`),
		"GET /api/v1/webhooks/wh_1/attempts":     ok(200, `{"data":[{"id":"at_1","delivery_id":"dl_1","attempt":1,"outcome":"failure","error_class":"http_status","response_status":503}]}`),
		"GET /api/v1/webhooks/wh_1/deliveries":   ok(200, `{"data":[{"id":"dl_1","status":"failed","attempts":5,"last_status_code":503}]}`),
		"POST /api/v1/deliveries/dl_1/retry":     ok(200, `{"id":"dl_1","status":"pending","attempts":5}`),
		"POST /api/v1/webhooks/wh_1/test":        ok(200, `{"id":"at_2","outcome":"success","response_status":200,"request_headers":[{"name":"webhook-id","value":"dl_2"}]}`),
		"POST /api/v1/authorizations":            ok(201, `{"id":"au_1","name":"crm","endpoint":"https://crm.example.com","type":"header","header":{"key":"X-Api-Key","value":"••••1234","value_set":true,"visibility":"SECRET"}}`),
		"GET /api/v1/webhooks/wh_missing/secret": problem(404, "not_found", "Not found", "no such webhook"),
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		mu.Unlock()
		rep, found := routes[r.Method+" "+r.URL.Path]
		if !found {
			rep = problem(404, "not_found", "Not found", "no API route")
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	defer srv.Close()
	c := New(srv.URL+"/api/v1/", "hrld_k", WithUserAgent("test-agent/1"), WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	bg := ctx(t)
	last := func() seen { mu.Lock(); defer mu.Unlock(); return got[len(got)-1] }
	strict := func(body []byte, v any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
	}

	ev, err := c.GetEvent(bg, "evt_1")
	if err != nil || ev.Type != "member.verified" || string(ev.Data) != `{"member":{"id":"m1"}}` || ev.ReceivedAt.Second() != 1 {
		t.Fatalf("GetEvent: %+v %v", ev, err)
	}
	if h := last().header; h.Get("Authorization") != "Bearer hrld_k" || h.Get("User-Agent") != "test-agent/1" {
		t.Fatalf("headers %v", h)
	}

	page, err := c.ListWebhooks(bg, WebhookFilter{Name: "crm x", Event: "member.verified", Status: StatusPublished, Endpoint: "crm", Cursor: "wh_0", Limit: 50})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != "wh_1" || page.NextCursor != "wh_1" {
		t.Fatalf("ListWebhooks: %+v %v", page, err)
	}
	if q := last().query; q != "cursor=wh_0&endpoint=crm&event=member.verified&limit=50&name=crm+x&status=published" {
		t.Fatalf("ListWebhooks query %q", q)
	}
	if page, err := c.ListWebhooks(bg, WebhookFilter{}); err != nil || last().query != "" || len(page.Data) != 1 {
		t.Fatalf("ListWebhooks without filter: %q %v", last().query, err)
	}

	wh, err := c.GetWebhook(bg, "wh_1")
	if err != nil || wh.Name != "CRM" || wh.Status != StatusPublished || wh.Revision != 2 {
		t.Fatalf("GetWebhook: %+v %v", wh, err)
	}

	wh, err = c.CreateWebhook(bg, WebhookInput{Name: "CRM", Event: "member.verified", EndpointURL: "https://crm.example.com/hook",
		Method: "POST", PayloadType: PayloadJSON, Payload: `{"email":"{{ member.email }}"}`})
	if err != nil || wh.ID != "wh_1" {
		t.Fatalf("CreateWebhook: %v", err)
	}
	var spec struct {
		Name                 string   `json:"name"`
		Description          string   `json:"description"`
		Event                string   `json:"event"`
		AuthorizationEnabled bool     `json:"authorization_enabled"`
		AuthorizationID      string   `json:"authorization_id"`
		EndpointURL          string   `json:"endpoint_url"`
		Method               string   `json:"method"`
		LogOnlyErrors        bool     `json:"log_only_errors"`
		CustomHeaders        []Header `json:"custom_headers"`
		PayloadType          string   `json:"payload_type"`
		Payload              string   `json:"payload"`
		Ordered              bool     `json:"ordered"`
		TimeoutSeconds       int      `json:"timeout_seconds"`
		RetrySchedule        []string `json:"retry_schedule"`
	}
	strict(last().body, &spec)
	if spec.Payload != `{"email":"{{ member.email }}"}` || spec.Method != "POST" || last().header.Get("Content-Type") != "application/json" {
		t.Fatalf("CreateWebhook body %s", last().body)
	}

	m, err := c.MatchWebhook(bg, "wh_1", &MatchEvent{Type: "coupon.redeemed", Data: map[string]any{"member": map[string]any{"tier": "silver"}}})
	if err != nil || m.Matches || !strings.Contains(m.Reason, "gave false") {
		t.Fatalf("MatchWebhook: %+v %v", m, err)
	}
	if b := string(last().body); b != `{"event":{"type":"coupon.redeemed","data":{"member":{"tier":"silver"}}}}` {
		t.Fatalf("MatchWebhook body %s", b)
	}
	if _, err := c.MatchWebhook(bg, "wh_1", nil); err != nil || string(last().body) != `{}` {
		t.Fatalf("MatchWebhook of the sample: body %s, %v", last().body, err)
	}

	if wh, err = c.PublishWebhook(bg, "wh_1"); err != nil || wh.Status != StatusPublished || len(last().body) != 0 {
		t.Fatalf("PublishWebhook: %v", err)
	}
	if wh, err = c.UnpublishWebhook(bg, "wh_1"); err != nil || wh.Status != StatusUnpublished {
		t.Fatalf("UnpublishWebhook: %+v %v", wh, err)
	}
	if s, err := c.WebhookSecret(bg, "wh_1"); err != nil || s != "whsec_abc" {
		t.Fatalf("WebhookSecret: %q %v", s, err)
	}
	var herr *Error
	if _, err := c.WebhookSecret(bg, "wh_missing"); !errors.As(err, &herr) || herr.Status != 404 || herr.Detail != "no such webhook" {
		t.Fatalf("WebhookSecret of a missing webhook: %v", err)
	}

	since := time.Date(2025, 5, 1, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	attempts, err := c.ListAttempts(bg, "wh_1", AttemptFilter{Outcome: OutcomeFailure, Since: since, Limit: 10})
	if err != nil || len(attempts.Data) != 1 || attempts.Data[0].ErrorClass != "http_status" || attempts.Data[0].ResponseStatus != 503 {
		t.Fatalf("ListAttempts: %+v %v", attempts, err)
	}
	if q := last().query; q != "limit=10&outcome=failure&since=2025-04-30T22%3A00%3A00Z" {
		t.Fatalf("ListAttempts query %q", q)
	}
	deliveries, err := c.ListDeliveries(bg, "wh_1", DeliveryFilter{Status: DeliveryFailed})
	if err != nil || len(deliveries.Data) != 1 || deliveries.Data[0].LastStatus != 503 || last().query != "status=failed" {
		t.Fatalf("ListDeliveries: %+v %v %q", deliveries, err, last().query)
	}
	d, err := c.RetryDelivery(bg, "dl_1")
	if err != nil || d.Status != DeliveryPending {
		t.Fatalf("RetryDelivery: %+v %v", d, err)
	}
	a, err := c.SendTest(bg, "wh_1")
	if err != nil || a.Outcome != OutcomeSuccess || a.RequestHeaders[0].Value != "dl_2" {
		t.Fatalf("SendTest: %+v %v", a, err)
	}

	au, err := c.CreateAuthorization(bg, AuthorizationInput{Endpoint: "https://crm.example.com", Type: AuthHeader,
		Header: &HeaderCredential{Key: "X-Api-Key", Value: "secret-1234", Visibility: VisibilitySecret}})
	if err != nil || au.Header == nil || !au.Header.ValueSet || au.Header.Value != "••••1234" {
		t.Fatalf("CreateAuthorization: %+v %v", au, err)
	}
	var auth struct {
		Name     string `json:"name"`
		Endpoint string `json:"endpoint"`
		Type     string `json:"type"`
		Header   *struct {
			Key        string `json:"key"`
			Value      string `json:"value"`
			Visibility string `json:"visibility"`
		} `json:"header"`
		Basic *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"basic"`
	}
	strict(last().body, &auth)
	if auth.Header == nil || auth.Header.Value != "secret-1234" || auth.Basic != nil {
		t.Fatalf("CreateAuthorization body %s", last().body)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, r := range got {
		if r.header.Get("Idempotency-Key") != "" {
			t.Errorf("%s %s carries an idempotency key", r.method, r.path)
		}
	}
}
