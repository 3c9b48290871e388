package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// callHeader is call with extra request headers.
func callHeader(t *testing.T, method, url, key string, body any, header map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// The event and delivery routes on the real server, SQLite, with a
// receiver on 127.0.0.1.
func TestEventAndDeliveryAPI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "api")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	ingestKey, _, _ := runHerald(t, vars, "apikey", "create", "--name", "platform", "--scopes", "ingest")
	ingestKey = strings.TrimSpace(ingestKey)
	var failing atomic.Bool
	var received atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rc.Close()
	s := startServe(t, vars, "--allow-network", "127.0.0.0/8")
	api := s.url + "/api/v1"
	code, wh := call(t, "POST", api+"/webhooks", key, map[string]any{"name": "crm", "event": "member.verified", "endpoint_url": rc.URL + "/in",
		"method": "POST", "payload_type": "JSON", "payload": `{"id": "{{ member.id }}"}`, "retry_schedule": []string{"0s"}})
	if code != 201 {
		t.Fatalf("webhook: %d %v", code, wh)
	}
	id := wh["id"].(string)
	call(t, "POST", api+"/webhooks/"+id+"/publish", key, nil)

	// Ingest with an Idempotency-Key, twice: one event, one delivery.
	ev := map[string]any{"type": "member.verified", "data": map[string]any{"member": map[string]any{"id": "m-1"}}}
	code, first := callHeader(t, "POST", api+"/events", ingestKey, ev, map[string]string{"Idempotency-Key": "signup-m-1"})
	if code != 202 || first["deliveries"] != 1.0 {
		t.Fatalf("ingest: %d %v", code, first)
	}
	code, again := callHeader(t, "POST", api+"/events", ingestKey, ev, map[string]string{"Idempotency-Key": "signup-m-1"})
	if code != 202 || again["id"] != first["id"] || again["duplicate"] != true {
		t.Fatalf("repeat: %d %v", code, again)
	}
	// The ingest key cannot read; the admin key can.
	if code, _ := call(t, "GET", api+"/events/"+first["id"].(string), ingestKey, nil); code != 403 {
		t.Fatalf("ingest key read an event: %d", code)
	}
	code, got := call(t, "GET", api+"/events/"+first["id"].(string), key, nil)
	if code != 200 || got["type"] != "member.verified" || got["data"].(map[string]any)["member"] == nil {
		t.Fatalf("event: %d %v", code, got)
	}
	code, batch := call(t, "POST", api+"/events/batch", ingestKey, map[string]any{"events": []any{ev, ev, map[string]any{"type": "coupon.redeemed", "data": map[string]any{}}}})
	if code != 202 || len(batch["results"].([]any)) != 3 {
		t.Fatalf("batch: %d %v", code, batch)
	}
	code, bad := call(t, "POST", api+"/events/batch", ingestKey, map[string]any{"events": []any{ev, map[string]any{"type": "nope.nope"}}})
	if code != 422 || !strings.Contains(toJSON(bad), "events[1].type") {
		t.Fatalf("bad batch: %d %v", code, bad)
	}
	waitFor(t, func() bool { return received.Load() == 3 })

	// Deliveries and attempts, with filters.
	deliveries := func(q string) []any {
		code, list := call(t, "GET", api+"/webhooks/"+id+"/deliveries"+q, key, nil)
		if code != 200 {
			t.Fatalf("deliveries%s: %d %v", q, code, list)
		}
		return list["data"].([]any)
	}
	waitFor(t, func() bool { return len(deliveries("?status=succeeded")) == 3 })
	code, atts := call(t, "GET", api+"/webhooks/"+id+"/attempts?outcome=success&since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), key, nil)
	if code != 200 || len(atts["data"].([]any)) != 3 {
		t.Fatalf("attempts: %d %v", code, atts)
	}
	one := atts["data"].([]any)[0].(map[string]any)
	code, att := call(t, "GET", api+"/attempts/"+one["id"].(string), key, nil)
	if code != 200 || att["response_status"] != 200.0 || att["request_url"] != rc.URL+"/in" {
		t.Fatalf("attempt: %d %v", code, att)
	}
	if code, _ := call(t, "GET", api+"/webhooks/"+id+"/attempts?outcome=maybe", key, nil); code != 422 {
		t.Fatalf("bad outcome filter: %d", code)
	}

	// A failure, then retry, resend, replay.
	failing.Store(true)
	callHeader(t, "POST", api+"/events", ingestKey, ev, nil)
	waitFor(t, func() bool { return len(deliveries("?status=failed")) == 1 })
	failed := deliveries("?status=failed")[0].(map[string]any)
	failing.Store(false)
	if code, d := call(t, "POST", api+"/deliveries/"+failed["id"].(string)+"/retry", key, nil); code != 200 || d["status"] != "pending" {
		t.Fatalf("retry: %d %v", code, d)
	}
	waitFor(t, func() bool { return len(deliveries("?status=failed")) == 0 })
	if code, d := call(t, "POST", api+"/events/"+first["id"].(string)+"/resend", key, map[string]any{"webhook_id": id}); code != 202 || d["id"] == nil {
		t.Fatalf("resend: %d %v", code, d)
	}
	waitFor(t, func() bool { return len(deliveries("?status=succeeded")) == 5 }) // 3, the retried one, the resent one
	failing.Store(true)
	callHeader(t, "POST", api+"/events", ingestKey, ev, nil)
	waitFor(t, func() bool { return len(deliveries("?status=failed")) == 1 })
	failing.Store(false)
	code, rep := call(t, "POST", api+"/webhooks/"+id+"/replay", key, map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	if code != 200 || rep["replayed"] != 1.0 {
		t.Fatalf("replay: %d %v", code, rep)
	}
	waitFor(t, func() bool { return len(deliveries("?status=failed")) == 0 })

	// Test send and secret rotation.
	code, test := call(t, "POST", api+"/webhooks/"+id+"/test", key, nil)
	if code != 200 || test["outcome"] != "success" || !strings.Contains(test["request_body"].(string), "bf428af0") {
		t.Fatalf("test: %d %v", code, test)
	}
	code, old := call(t, "GET", api+"/webhooks/"+id+"/secret", key, nil)
	code2, rot := call(t, "POST", api+"/webhooks/"+id+"/rotate-secret", key, nil)
	if code != 200 || code2 != 200 || rot["secret"] == old["secret"] || rot["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate: %d %v", code2, rot)
	}

	// Metrics.
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{"herald_events_ingested_total", `herald_deliveries_total{outcome="succeeded"}`, "herald_attempt_duration_seconds_bucket", "herald_queue_depth", "herald_queue_oldest_pending_age_seconds"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
