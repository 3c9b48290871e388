package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/storetest"
)

// echo answers 401 with everything it got: the URL, every request header
// (raw, and JSON-escaped in the body) and the body, the way debugging
// receivers (httpbin's /anything) do.
func echo(n int, w http.ResponseWriter, r *http.Request) {
	for name, values := range r.Header {
		for _, v := range values {
			w.Header().Add("X-Echo-"+name, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]any{"url": r.URL.String(), "headers": r.Header, "error": "invalid credentials " + r.Header.Get("Authorization")})
}

func TestEchoedSecretsAreNotStored(t *testing.T) {
	const (
		password    = "pa55-w0rd/with+plus&amp"
		token       = "tok_9f8e7d6c5b4a39281706"
		bearerToken = "brr_0a1b2c3d4e5f60718293"
		queryValue  = "qv/9z8y+7x6w&5v4u3t2s1r"
	)
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var raw func() []byte // everything the database holds, as bytes
			o := envOpts{cfg: Config{Schedule: []time.Duration{time.Hour}}}
			if name == "postgres" {
				pg := storetest.OpenPostgres(t)
				o.store = pg
				raw = func() []byte {
					var b strings.Builder
					for _, table := range []string{"attempts", "deliveries", "events", "webhooks", "authorizations"} {
						rows, err := pg.DB().Query(`SELECT CAST(t AS TEXT) FROM ` + table + ` t`)
						if err != nil {
							t.Fatal(err)
						}
						for rows.Next() {
							var s string
							rows.Scan(&s)
							b.WriteString(s)
						}
						rows.Close()
					}
					return []byte(b.String())
				}
			} else {
				path := filepath.Join(t.TempDir(), "herald.db")
				s, err := sqlite.Open(context.Background(), path, storetest.TestCipher(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				o.store = s
				raw = func() []byte {
					var all []byte
					for _, f := range []string{path, path + "-wal"} {
						b, _ := os.ReadFile(f)
						all = append(all, b...)
					}
					return all
				}
			}
			e := setup(t, o)
			rc := newReceiver(t, echo)
			basic, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL + "/basic", Type: herald.AuthBasic,
				Basic: &herald.BasicAuth{Username: "herald", Password: password}})
			if err != nil {
				t.Fatal(err)
			}
			bearer, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL + "/bearer", Type: herald.AuthHeader,
				Header: &herald.HeaderAuth{Key: "Authorization", Value: "Bearer " + token, Visibility: herald.Secret}})
			if err != nil {
				t.Fatal(err)
			}
			bearerType, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL + "/bearer-type", Type: herald.AuthBearer,
				Bearer: &herald.BearerAuth{Token: bearerToken}})
			if err != nil {
				t.Fatal(err)
			}
			query, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL + "/query", Type: herald.AuthQuery,
				Query: &herald.QueryAuth{Key: "api_key", Value: queryValue, Visibility: herald.Secret}})
			if err != nil {
				t.Fatal(err)
			}
			w1 := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: basic.ID, EndpointURL: rc.URL + "/basic"})
			w2 := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: bearer.ID, EndpointURL: rc.URL + "/bearer", Name: "bearer"})
			w3 := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: bearerType.ID, EndpointURL: rc.URL + "/bearer-type", Name: "bearer type"})
			w4 := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: query.ID, EndpointURL: rc.URL + "/query", Name: "query"})
			e.send("member.verified", memberData)
			var hooks []*herald.Webhook
			for _, w := range []*herald.Webhook{w1, w2, w3, w4} {
				e.waitAttempted(w.ID)
				hook, _ := e.store.Webhook(ctx, e.ws, w.ID)
				hooks = append(hooks, hook)
			}
			secrets := []string{password, basicCredential("herald", password), token, hooks[0].SigningSecret, hooks[1].SigningSecret,
				strings.TrimPrefix(hooks[0].SigningSecret, "whsec_"), bearerToken, queryValue, url.QueryEscape(queryValue)}
			// The receiver really got them (so the test can fail).
			if rc.count() < 4 {
				t.Fatalf("the receiver got %d requests", rc.count())
			}
			var stored []*herald.Attempt
			for _, w := range hooks {
				atts, _, err := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
				if err != nil || len(atts) == 0 {
					t.Fatalf("attempts of %s: %v %v", w.Name, atts, err)
				}
				stored = append(stored, atts...)
			}
			for _, a := range stored {
				if a.ResponseStatus != 401 || !strings.Contains(a.ResponseBody, "invalid credentials") || !strings.Contains(a.ResponseBody, redacted) {
					t.Fatalf("the echo should be stored, redacted: %d %s", a.ResponseStatus, a.ResponseBody)
				}
			}
			js, _ := json.Marshal(stored)
			// The WAL and the file pages are flushed lazily; close nothing,
			// but give the outcome writer its moment.
			time.Sleep(100 * time.Millisecond)
			db := raw()
			for _, s := range secrets {
				if strings.Contains(string(js), s) {
					t.Errorf("an attempt as read back holds the secret %q", s)
				}
				if strings.Contains(string(db), s) {
					t.Errorf("the database holds the secret %q in clear", s)
				}
				if q := jsonASCII(s); q != s && strings.Contains(string(db), q) {
					t.Errorf("the database holds the secret %q JSON-escaped", s)
				}
			}
		})
	}
}

func TestStoredBodiesAreCapped(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 6<<10) // 96 KiB
	e := setup(t, envOpts{cfg: Config{LogBodyBytes: 4096, LogSuccessBodyBytes: 512, Schedule: []time.Duration{time.Hour}}})
	fail := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, big)
	})
	ok := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) })
	payload := `{"pad": "` + strings.Repeat("x", 10000) + `{{ member.id }}"}`
	none := 0
	wf := e.webhook(herald.WebhookSpec{EndpointURL: fail.URL, Payload: payload})
	ws := e.webhook(herald.WebhookSpec{EndpointURL: ok.URL, Payload: payload, Name: "ok"})
	wn := e.webhook(herald.WebhookSpec{EndpointURL: fail.URL + "/none", Payload: payload, Name: "none", LogBodyBytes: &none})
	e.send("member.verified", memberData)
	e.waitDelivery(ws.ID, herald.DeliverySucceeded, 10*time.Second)
	check := func(w *herald.Webhook, want int) {
		t.Helper()
		var atts []*herald.Attempt
		for i := 0; i < 500 && len(atts) == 0; i++ {
			atts, _, _ = e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
			time.Sleep(10 * time.Millisecond)
		}
		if len(atts) != 1 {
			t.Fatalf("%s: %d attempts", w.Name, len(atts))
		}
		a := atts[0]
		if len(a.ResponseBody) != want || len(a.RequestBody) != want || a.ResponseBodySize != len(big) || a.RequestBodySize < 10000 {
			t.Fatalf("%s: stored %d/%d bytes of bodies of %d/%d, want %d", w.Name, len(a.RequestBody), len(a.ResponseBody), a.RequestBodySize, a.ResponseBodySize, want)
		}
	}
	check(wf, 4096)
	check(ws, 512)
	check(wn, 0)
}

func TestBodyThatNeverEndsIsATimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"ok": tr`)
		w.(http.Flusher).Flush()
		select { // the rest never comes
		case <-release:
		case <-time.After(30 * time.Second):
		}
	})
	t.Cleanup(func() { close(release) }) // before the receiver closes
	e := setup(t, envOpts{cfg: Config{BodyTimeout: 300 * time.Millisecond, Schedule: []time.Duration{time.Hour}}})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL})
	start := time.Now()
	e.send("member.verified", memberData)
	e.waitAttempted(w.ID)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if len(atts) != 1 || atts[0].Outcome != herald.OutcomeFailure || atts[0].ErrorClass != herald.ErrClassTimeout {
		t.Fatalf("a body that never ends must be a timeout failure: %+v", atts)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("the attempt held its slot for %s", el)
	}
	if !strings.Contains(atts[0].Error, "did not end") || atts[0].ResponseBody != `{"ok": tr` {
		t.Fatalf("error %q, body %q", atts[0].Error, atts[0].ResponseBody)
	}
}

func TestHalfOpenProbePrefersARetriedDelivery(t *testing.T) {
	eps := endpoints{limits: EndpointLimits{Concurrency: 10, BreakerThreshold: 2, BreakerCooldown: 10 * time.Second, BreakerMax: time.Minute}, log: discardLog()}
	now := time.Unix(1000, 0)
	key := "https://picky.example.com:443"
	for i := 0; i < 2; i++ {
		a := eps.acquire(key, now, false, nil)
		eps.release(key, now, a.probe, false, true)
	}
	if h := eps.health(key, now); h.State != herald.CircuitOpen {
		t.Fatalf("state %+v", h)
	}
	half := now.Add(11 * time.Second)
	if a := eps.acquire(key, half, false, nil); a.ok {
		t.Fatal("a first attempt probed although a retried delivery may come")
	}
	if h := eps.health(key, half); h.State != herald.CircuitHalfOpen {
		t.Fatalf("state %+v", h)
	}
	a := eps.acquire(key, half.Add(time.Second), true, nil)
	if !a.ok || !a.probe {
		t.Fatalf("a retried delivery should probe: %+v", a)
	}
	eps.release(key, half.Add(time.Second), true, true, true)
	if h := eps.health(key, half); h.State != herald.CircuitClosed {
		t.Fatalf("a successful probe should close: %+v", h)
	}
	// With no retried delivery around, a first attempt probes after a while.
	for i := 0; i < 2; i++ {
		a := eps.acquire(key, half, false, nil)
		eps.release(key, half, a.probe, false, true)
	}
	later := half.Add(11 * time.Second)
	eps.acquire(key, later, false, nil) // half-open from now
	if a := eps.acquire(key, later.Add(probePreference), false, nil); !a.ok || !a.probe {
		t.Fatalf("no probe by a first attempt after %s: %+v", probePreference, a)
	}
}

// A receiver that rejects every delivery's first attempt and accepts the
// retry: the breaker opens (20 first attempts in a row fail) but must not
// keep itself open by probing with first attempts.
func TestBreakerRecoversFromFirstAttemptRejectingReceiver(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		again := seen[id]
		seen[id] = true
		mu.Unlock()
		if !again {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	var logs logBuffer
	e := setup(t, envOpts{log: logs.logger(), cfg: Config{Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond},
		Endpoint: EndpointLimits{Concurrency: 16, BreakerThreshold: 5, BreakerCooldown: 200 * time.Millisecond, BreakerMax: 30 * time.Second}}})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL})
	// New events keep coming, as in production: at the end of each open
	// period the due deliveries are mostly new ones (first attempts).
	const n = 400
	burst := make([]herald.EventInput, 20) // 20 first attempts in a row: the circuit opens
	for i := range burst {
		burst[i] = herald.EventInput{Type: "member.verified", Data: []byte(memberData)}
	}
	if _, err := e.engine.Ingest(ctx, e.ws, burst); err != nil {
		t.Fatal(err)
	}
	for i := len(burst); i < n; i++ {
		if _, err := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.verified", Data: []byte(memberData)}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second) // the last retries come due 50 ms after their first attempt
	for {
		if failed := countStatus(t, e, w.ID, herald.DeliveryFailed); failed > 0 {
			t.Fatalf("%d deliveries failed for good", failed)
		}
		done := countStatus(t, e, w.ID, herald.DeliverySucceeded)
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered 5 s after the last event; log:\n%s", done, n, tail(logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if logs.count("circuit open") == 0 || logs.count("circuit half-open") == 0 || logs.count("circuit closed") == 0 {
		t.Fatalf("breaker transitions not logged:\n%s", tail(logs.String(), 3000))
	}
}

// waitAttempted waits until a delivery of the webhook has been attempted
// and its attempt logged.
func (e *env) waitAttempted(hookID string) {
	e.t.Helper()
	for i := 0; i < 1000; i++ {
		atts, _, err := e.store.ListAttempts(ctx, e.ws, hookID, herald.AttemptFilter{})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(atts) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("no attempt of webhook %s logged within 10 s", hookID)
}

func countStatus(t *testing.T, e *env, hookID string, st herald.DeliveryStatus) int {
	n, cursor := 0, ""
	for i := 0; i < 100; i++ {
		list, next, err := e.store.ListDeliveries(ctx, e.ws, hookID, herald.DeliveryFilter{Status: st, Limit: 200, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		n += len(list)
		if next == "" {
			break
		}
		cursor = next
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// The circuit of each endpoint is on /metrics: 0 closed, 1 half-open, 2 open.
func TestCircuitStateMetric(t *testing.T) {
	store := storetest.OpenSQLite(t)
	reg := prometheus.NewRegistry()
	svc := herald.NewService(store, nil)
	e := New(Config{Endpoint: EndpointLimits{BreakerThreshold: 2, BreakerCooldown: time.Minute}}, Deps{Service: svc, Queue: store, Metrics: NewMetrics(reg, store), Log: discardLog()})
	key := "https://down.example.com:443"
	state := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "herald_endpoint_circuit_state" {
				if len(mf.GetMetric()) != 1 {
					t.Fatalf("%d circuit series", len(mf.GetMetric()))
				}
				m := mf.GetMetric()[0]
				if m.GetLabel()[0].GetValue() != key {
					t.Fatalf("label %v", m.GetLabel())
				}
				return m.GetGauge().GetValue()
			}
		}
		return -1
	}
	now := time.Now()
	a := e.eps.acquire(key, now, false, nil)
	e.eps.release(key, now, a.probe, false, true)
	if v := state(); v != 0 {
		t.Fatalf("after one failure: %v", v)
	}
	a = e.eps.acquire(key, now, false, nil)
	e.eps.release(key, now, a.probe, false, true)
	if v := state(); v != 2 {
		t.Fatalf("after two failures (threshold 2): %v", v)
	}
	if h := e.EndpointHealth("https://DOWN.example.com/some/path"); h.State != herald.CircuitOpen || h.Failures != 2 || h.OpenUntil.IsZero() {
		t.Fatalf("EndpointHealth %+v", h)
	}
}
