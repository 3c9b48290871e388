package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metric reads one sample from /metrics (the first whose labels contain
// every given pair), or -1 when there is none.
func metric(t *testing.T, base, name string, labels ...string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			return v
		}
	}
	return -1
}

// The steady-state features end to end on the real server: capped and
// redacted attempts, response bodies for admin keys only, retention that
// runs while herald runs, and what /metrics and the log say.
func TestSteadyStateOnTheRealServer(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "api")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	readKey, _, _ := runHerald(t, vars, "apikey", "create", "--name", "viewer", "--scopes", "read")
	readKey = strings.TrimSpace(readKey)
	const password = "correct-horse-battery-staple"
	// The receiver echoes the request's headers in a 401 body.
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"a_you_sent": r.Header, "z_pad": strings.Repeat("z", 5000)})
	}))
	defer rc.Close()
	s := startServe(t, vars, "--allow-network", "127.0.0.0/8", "--retention", "3s", "--log-body-bytes", "300")
	api := s.url + "/api/v1"
	code, auth := call(t, "POST", api+"/authorizations", key, map[string]any{"endpoint": rc.URL, "type": "basic",
		"basic": map[string]any{"username": "herald", "password": password}})
	if code != 201 {
		t.Fatalf("authorization: %d %v", code, auth)
	}
	code, wh := call(t, "POST", api+"/webhooks", key, map[string]any{"name": "crm", "event": "member.verified", "endpoint_url": rc.URL + "/in",
		"method": "POST", "payload_type": "JSON", "payload": `{"id": "{{ member.id }}"}`, "retry_schedule": []string{"0s", "1h"},
		"authorization_enabled": true, "authorization_id": auth["id"]})
	if code != 201 {
		t.Fatalf("webhook: %d %v", code, wh)
	}
	id := wh["id"].(string)
	call(t, "POST", api+"/webhooks/"+id+"/publish", key, nil)
	if code, _ := call(t, "POST", api+"/events", key, map[string]any{"type": "member.verified", "data": map[string]any{"member": map[string]any{"id": "m-1"}}}); code != 202 {
		t.Fatalf("ingest: %d", code)
	}
	var attempts []any
	for i := 0; i < 500 && len(attempts) == 0; i++ {
		_, page := call(t, "GET", api+"/webhooks/"+id+"/attempts", key, nil)
		attempts, _ = page["data"].([]any)
		time.Sleep(10 * time.Millisecond)
	}
	if len(attempts) == 0 {
		t.Fatal("no attempt logged")
	}
	a := attempts[0].(map[string]any)
	res, _ := a["response"].(map[string]any)
	body, _ := res["body"].(string)
	if a["error_class"] != "http_status" || len(body) != 300 || res["body_size"].(float64) < 5000 || !strings.Contains(body, "••••") {
		t.Fatalf("attempt as the admin sees it: %v", a)
	}
	raw, _ := json.Marshal(a)
	if strings.Contains(string(raw), password) || strings.Contains(string(raw), "aGVyYWxk") {
		t.Fatalf("the stored attempt holds the credentials: %s", raw)
	}
	_, page := call(t, "GET", api+"/webhooks/"+id+"/attempts", readKey, nil)
	ra := page["data"].([]any)[0].(map[string]any)
	if ra["response_body"] != nil || ra["response_body_withheld"] != true || ra["response"].(map[string]any)["body"] != "" {
		t.Fatalf("a read-scope key must not read response bodies: %v", ra)
	}
	// The database file holds no credential either.
	for _, f := range []string{db, db + "-wal"} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), password) {
			t.Fatalf("%s holds the password in clear", f)
		}
	}

	// /metrics: attempts by class, the webhook's queue, the database size.
	if v := metric(t, s.url, "herald_attempts_total", `error_class="http_status"`, `outcome="failure"`); v < 1 {
		t.Fatalf("herald_attempts_total{error_class=http_status} = %v", v)
	}
	if v := metric(t, s.url, "herald_webhook_pending_deliveries", `webhook="`+id+`"`); v != 1 {
		t.Fatalf("pending of the webhook = %v, want 1 (the retry in an hour)", v)
	}
	endpoint := strings.Replace(rc.URL, "http://", "http://", 1)
	if v := metric(t, s.url, "herald_endpoint_pending_deliveries", `endpoint="`+endpoint+`"`); v != 1 {
		t.Fatalf("pending of the endpoint %s = %v", endpoint, v)
	}
	if v := metric(t, s.url, "herald_webhook_oldest_pending_age_seconds", `webhook="`+id+`"`); v < 0 {
		t.Fatalf("oldest pending age %v", v)
	}
	if v := metric(t, s.url, "herald_database_size_bytes"); v <= 0 {
		t.Fatalf("database size %v", v)
	}
	if v := metric(t, s.url, "herald_endpoint_circuit_state", `endpoint="`+endpoint+`"`); v != 0 {
		t.Fatalf("circuit state %v (a 401 says nothing of the endpoint's health)", v)
	}

	// Retention (3 s) runs while herald runs: the attempt goes, the
	// event with its pending retry stays.
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, s.url, "herald_retention_purged_rows_total", `table="attempts"`) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("retention purged nothing within 20 s; log:\n%s", s.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, page = call(t, "GET", api+"/webhooks/"+id+"/attempts", key, nil)
	if n := len(page["data"].([]any)); n != 0 {
		t.Fatalf("%d attempts left after retention", n)
	}
	_, dl := call(t, "GET", api+"/webhooks/"+id+"/deliveries", key, nil)
	if n := len(dl["data"].([]any)); n != 1 {
		t.Fatalf("the pending delivery must stay: %v", dl)
	}
	if v := metric(t, s.url, "herald_retention_run_duration_seconds_count"); v < 1 {
		t.Fatalf("retention runs not counted: %v", v)
	}
	if !strings.Contains(s.logs.String(), "retention: purged old attempts and events") {
		t.Fatalf("retention run not logged:\n%s", s.logs.String())
	}
	// A workspace's own retention, through the API.
	code, ws := call(t, "PATCH", api+"/workspace", key, map[string]any{"retention_seconds": 30})
	if code != 422 || !strings.Contains(fmt.Sprint(ws["errors"]), "retention_seconds") {
		t.Fatalf("30 s retention: %d %v", code, ws)
	}
	code, ws = call(t, "PATCH", api+"/workspace", key, map[string]any{"retention_seconds": 7 * 86400})
	if code != 200 || ws["retention_seconds"] != float64(7*86400) {
		t.Fatalf("7 days: %d %v", code, ws)
	}
	code, ws = call(t, "PATCH", api+"/workspace", key, map[string]any{"retention_seconds": nil})
	if code != 200 || ws["retention_seconds"] != nil {
		t.Fatalf("back to the default: %d %v", code, ws)
	}
}

// The soak mode of herald bench: a steady rate, a row per window, the
// database flat once retention runs, nothing lost, no secret on disk.
func TestBenchSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: the soak takes ~10 s")
	}
	var out, errOut strings.Builder
	err := run(t.Context(), []string{"bench", "--soak", "8s", "--soak-every", "2s", "--rate", "100", "--fanout", "2", "--retention", "2s", "--echo-receiver"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"ingest p99", "db size", "CPU-s/10k", "lost 0, duplicates 0", "steady:", "at rest:", "the basic password is in the database file: false"} {
		if !strings.Contains(text, want) {
			t.Fatalf("soak output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n"); n < 8 {
		t.Fatalf("too few rows:\n%s", text)
	}
}

// Every bench shape prints herald's CPU per 10k deliveries, allocations
// per delivery and the load average beside its rate.
func TestBenchPrintsCPUAndLoad(t *testing.T) {
	var out, errOut strings.Builder
	err := run(t.Context(), []string{"bench", "--events", "300", "--batch", "50", "--concurrency", "4", "--fanout", "2", "--webhooks", "5", "--conditions"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	re := regexp.MustCompile(`cpu: +[0-9.]+ CPU-s per 10k deliveries .*, [0-9]+ allocations per delivery, load average [0-9.]+`)
	// 5 webhooks with conditions, 2 of them true: 600 deliveries, not 1,500.
	if !re.MatchString(out.String()) || !strings.Contains(out.String(), "receipts:   600, duplicates 0") || !strings.Contains(out.String(), "3 whose condition is false") {
		t.Fatalf("bench output:\n%s", out.String())
	}
}
