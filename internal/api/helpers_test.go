package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/storetest"
)

// env is one API server on a real store, with an admin key for the
// default workspace and every log line it wrote.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store herald.Store
	svc   *herald.Service
	key   string
	logs  *syncBuffer
	// bodies collects every response body, for the secret-leak checks.
	bodies *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stores runs fn once on SQLite and once on PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, open func(testing.TB) herald.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, func(tb testing.TB) herald.Store { return storetest.OpenSQLite(tb) })
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, func(tb testing.TB) herald.Store { return storetest.OpenPostgres(tb) })
	})
}

func setup(t *testing.T, store herald.Store, cfg Config) *env {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := herald.NewService(store, nil)
	if ps, ok := store.(herald.PortalStore); ok {
		svc.Portals = ps
	}
	srv := httptest.NewServer(newServer(t, cfg, svc, payload.Previewer{}, fakeDelivery(), log))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store, svc: svc, logs: logs, bodies: &syncBuffer{}}
	e.key = e.newKey(herald.DefaultWorkspace, herald.ScopeAdmin)
	return e
}

// newServer is New for tests that need a server: it fails the test if
// New refuses the dependencies.
func newServer(tb testing.TB, cfg Config, svc *herald.Service, renderer Renderer, d Delivery, log *slog.Logger) *Server {
	tb.Helper()
	s, err := New(cfg, svc, renderer, d, log)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fakeDelivery is an engine that answers every call with made-up data
// (oaFakeEngine), for tests of the routes that do not deliver.
func fakeDelivery() Delivery {
	f := oaFakeEngine{now: time.Now().UTC().Truncate(time.Second)}
	return Delivery{Ingester: f, Control: f, Reader: f, Rotate: f.rotate}
}

func (e *env) newKey(workspace string, scopes ...herald.Scope) string {
	e.t.Helper()
	ws, err := e.store.EnsureWorkspace(context.Background(), workspace)
	if err != nil {
		e.t.Fatal(err)
	}
	key, rec := herald.NewAPIKey(ws.ID, "test-"+workspace, scopes, time.Now())
	if err := e.store.CreateAPIKey(context.Background(), rec); err != nil {
		e.t.Fatal(err)
	}
	return key
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request with the env's admin key; body may be a string
// (sent as is) or any value (sent as JSON).
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	return e.doKey(e.key, method, path, body)
}

func (e *env) doKey(key, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	e.bodies.Write(data)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		e.t.Fatalf("%s %s: status %d with Content-Type %q, want application/problem+json\n%s", method, path, res.StatusCode, res.Header.Get("Content-Type"), data)
	}
	if res.StatusCode >= 500 {
		e.t.Fatalf("%s %s: status %d\n%s", method, path, res.StatusCode, data)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// must fails the test unless the response has the wanted status.
func (r response) must(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
	return r
}

// fieldErrors returns the problem's errors as field → message.
func (r response) fieldErrors(t *testing.T) map[string]string {
	t.Helper()
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem document: %v\n%s", err, r.body)
	}
	out := map[string]string{}
	for _, f := range p.Errors {
		out[f.Field] = f.Message
	}
	return out
}

func (e *env) createAuthorization(body map[string]any) string {
	e.t.Helper()
	res := e.do("POST", "/api/v1/authorizations", body).must(e.t, http.StatusCreated)
	return res.json(e.t)["id"].(string)
}

func (e *env) createWebhook(body map[string]any) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/webhooks", body).must(e.t, http.StatusCreated).json(e.t)
}

// validWebhook returns a webhook body that passes every check; tests
// change one field at a time.
func validWebhook() map[string]any {
	return map[string]any{
		"name":                  "Bloomreach — perks",
		"description":           "Sends redeemed coupons to Bloomreach",
		"event":                 "coupon.redeemed",
		"authorization_enabled": false,
		"endpoint_url":          "https://api.bloomreach.example.com/track/{{ member.id }}",
		"method":                "POST",
		"log_only_errors":       false,
		"custom_headers":        []map[string]string{{"name": "X-Source", "value": "herald"}},
		"payload_type":          "JSON",
		"payload":               `{"perk_id": "{{ coupon.id }}"}`,
	}
}

func headerAuthorization(endpoint, secret string) map[string]any {
	return map[string]any{"endpoint": endpoint, "type": "header",
		"header": map[string]any{"key": "X-Api-Key", "value": secret, "visibility": "SECRET"}}
}

func t0() context.Context { return context.Background() }

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
