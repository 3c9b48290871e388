package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// listenOn starts an HTTP server on addr ("127.0.0.2:0").
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("SKIP: cannot listen on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// The real `herald serve --egress-proxy`: an OAuth2 webhook whose token
// endpoint and receiver (on 127.0.0.2, the only network allowed) are both
// reached through a CONNECT proxy on 127.0.0.1 (allowed by being named);
// a webhook to 127.0.0.1 is refused by the guard and never asked of the
// proxy; neither the client secret nor a token reaches the attempts or
// the log.
func TestServeWithEgressProxyAndOAuth2(t *testing.T) {
	const secret = "cs-0123456789-abcdef"
	var fetches atomic.Int64
	tokens := listenOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if id, sec, _ := r.BasicAuth(); id != "herald" || sec != secret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n := fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": "tok-%d-xyzzy", "token_type": "bearer", "expires_in": 3600}`, n)
	}))
	var got sync.Map
	receiver := listenOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"), true)
		w.WriteHeader(http.StatusNoContent)
	}))
	var mu sync.Mutex
	var asked []string
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Host)
		mu.Unlock()
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, conn); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	})}
	go proxy.Serve(proxyLn)
	t.Cleanup(func() { proxy.Close() })

	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	s := startServe(t, vars, "--allow-network", "127.0.0.2/32", "--egress-proxy", "http://"+proxyLn.Addr().String())
	code, auth := call(t, "POST", s.url+"/api/v1/authorizations", key, map[string]any{"endpoint": receiver.URL, "type": "oauth2_client_credentials",
		"oauth2": map[string]any{"token_url": tokens.URL + "/token", "client_id": "herald", "client_secret": secret}})
	if code != 201 {
		t.Fatalf("create authorization: %d %v", code, auth)
	}
	hook := func(name, url string, authID any) string {
		body := map[string]any{"name": name, "event": "member.verified", "endpoint_url": url, "method": "POST", "payload_type": "JSON",
			"payload": `{"id": "{{ member.id }}"}`, "custom_headers": []any{}, "authorization_enabled": authID != nil}
		if authID != nil {
			body["authorization_id"] = authID
		}
		code, wh := call(t, "POST", s.url+"/api/v1/webhooks", key, body)
		if code != 201 {
			t.Fatalf("create webhook: %d %v", code, wh)
		}
		id := wh["id"].(string)
		if code, _ := call(t, "POST", s.url+"/api/v1/webhooks/"+id+"/publish", key, nil); code != 200 {
			t.Fatalf("publish: %d", code)
		}
		return id
	}
	ok := hook("through the proxy", receiver.URL+"/in", auth["id"])
	refused := hook("refused", "http://127.0.0.1:9/in", nil)
	for range 3 {
		if code, res := call(t, "POST", s.url+"/api/v1/events", key, map[string]any{"type": "member.verified", "data": map[string]any{"member": map[string]any{"id": "m1"}}}); code != 202 {
			t.Fatalf("ingest: %d %v", code, res)
		}
	}
	attempts := func(id string) []any {
		_, page := call(t, "GET", s.url+"/api/v1/webhooks/"+id+"/attempts", key, nil)
		list, _ := page["data"].([]any)
		return list
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(attempts(ok)) < 3 || len(attempts(refused)) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("attempts: %d through the proxy, %d refused\n%s", len(attempts(ok)), len(attempts(refused)), s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, seen := got.Load("Bearer tok-1-xyzzy"); !seen || fetches.Load() != 1 {
		t.Fatalf("the receiver did not get the token, or %d fetches for 3 deliveries", fetches.Load())
	}
	for _, a := range attempts(ok) {
		if a.(map[string]any)["outcome"] != "success" {
			t.Fatalf("attempt through the proxy: %v", a)
		}
	}
	r := attempts(refused)[0].(map[string]any)
	if r["error_class"] != "blocked" {
		t.Fatalf("refused destination: %v", r)
	}
	mu.Lock()
	for _, a := range asked {
		if !strings.HasPrefix(a, "127.0.0.2:") {
			t.Errorf("the proxy was asked for %s", a)
		}
	}
	if len(asked) == 0 {
		t.Error("the proxy carried nothing")
	}
	mu.Unlock()
	// The public Go client speaks the new types too.
	c := client.New(s.url, key)
	q, err := c.CreateAuthorization(context.Background(), client.AuthorizationInput{Endpoint: receiver.URL, Type: client.AuthQuery,
		Query: &client.QueryCredential{Key: "api_key", Value: "query-value-0123456789"}})
	if err != nil || q.Query == nil || q.Query.Value != "••••6789" || !q.Query.ValueSet || q.Query.Visibility != client.VisibilitySecret {
		t.Fatalf("client CreateAuthorization query: %+v, %v", q, err)
	}
	all, _ := json.Marshal(append(attempts(ok), attempts(refused)...))
	for _, bad := range []string{secret, "xyzzy"} {
		if strings.Contains(string(all), bad) || strings.Contains(s.logs.String(), bad) {
			t.Errorf("%q shows in the attempts or the log", bad)
		}
	}
}
