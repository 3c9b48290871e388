package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// runHeraldWithStdin is runHerald with stdin.
func runHeraldWithStdin(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// sentRequest is one request the test receiver got.
type sentRequest struct {
	header http.Header
	body   string
}

// The whole path: `herald send` → the API (through the client package) →
// the queue → a published webhook → a receiver on 127.0.0.1.
func TestSendEndToEnd(t *testing.T) {
	got := make(chan sentRequest, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- sentRequest{r.Header.Clone(), string(body)}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	key, stderr, err := runHerald(t, env(map[string]string{"HERALD_DB": db}), "apikey", "create", "--name", "send-test")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr)
	}
	key = strings.TrimSpace(key)
	s := startServe(t, env(map[string]string{"HERALD_DB": db}), "--allow-network", "127.0.0.0/8")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client.New(s.url, key)
	hook, err := c.CreateWebhook(ctx, client.WebhookInput{Name: "Receiver", Event: "member.verified", EndpointURL: rcv.URL + "/hook",
		Method: "POST", PayloadType: client.PayloadJSON, Payload: `{"email": "{{ member.email }}", "tier": "{{ member.tier }}"}`,
		CustomHeaders: []client.Header{{Name: "X-Source", Value: "herald-send-test"}}})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	if hook.Status != client.StatusUnpublished {
		t.Fatalf("new webhook is %q", hook.Status)
	}
	if hook, err = c.PublishWebhook(ctx, hook.ID); err != nil || hook.Status != client.StatusPublished {
		t.Fatalf("publish: %v", err)
	}
	secret, err := c.WebhookSecret(ctx, hook.ID)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q: %v", secret, err)
	}

	// Flags from the environment; the data from a file and a second --data
	// merged over it.
	event := filepath.Join(dir, "event.json")
	os.WriteFile(event, []byte(`{"member": {"id": "m1", "email": "ana@example.com", "tier": "silver"}}`+"\n"), 0o600)
	vars := env(map[string]string{"HERALD_URL": s.url, "HERALD_API_KEY": key})
	out, stderr, err := runHerald(t, vars, "send", "--type", "member.verified", "--data", "@"+event,
		"--data", `{"member": {"id": "m1", "email": "ana@example.com", "tier": "gold"}}`, "--occurred-at", "2025-05-12T12:34:56Z")
	if err != nil {
		t.Fatalf("send: %v\n%s", err, stderr)
	}
	var res client.IngestResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.ID == "" || res.Deliveries != 1 || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout %q: %v", out, err)
	}

	var req sentRequest
	select {
	case req = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the receiver got nothing within 20 s")
	}
	if req.header.Get("webhook-id") == "" || req.header.Get("webhook-signature") == "" || req.header.Get("X-Source") != "herald-send-test" {
		t.Fatalf("receiver headers %v", req.header)
	}
	if req.body != `{"email": "ana@example.com", "tier": "gold"}` {
		t.Fatalf("receiver body %s", req.body)
	}

	// The client reads back what the command stored and what was delivered.
	ev, err := c.GetEvent(ctx, res.ID)
	if err != nil || ev.Type != "member.verified" || !ev.OccurredAt.Equal(time.Date(2025, 5, 12, 12, 34, 56, 0, time.UTC)) {
		t.Fatalf("GetEvent: %+v %v", ev, err)
	}
	var deliveries *client.Page[client.Delivery]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		deliveries, err = c.ListDeliveries(ctx, hook.ID, client.DeliveryFilter{Status: client.DeliverySucceeded})
		if err != nil {
			t.Fatal(err)
		}
		if len(deliveries.Data) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if len(deliveries.Data) != 1 || deliveries.Data[0].ID != req.header.Get("webhook-id") || deliveries.Data[0].EventID != res.ID {
		t.Fatalf("deliveries %+v, webhook-id %q", deliveries, req.header.Get("webhook-id"))
	}

	// --data @- reads stdin; the same --idempotency-key sends once.
	args := []string{"send", "--type", "member.verified", "--data", "@-", "--idempotency-key", "signup-42"}
	out1, stderr, err := runHeraldWithStdin(t, vars, `{"member": {"email": "bo@example.com"}}`, args...)
	if err != nil {
		t.Fatalf("send from stdin: %v\n%s", err, stderr)
	}
	out2, stderr, err := runHeraldWithStdin(t, vars, `{"member": {"email": "bo@example.com"}}`, args...)
	if err != nil {
		t.Fatalf("send again: %v\n%s", err, stderr)
	}
	var first, again client.IngestResult
	json.Unmarshal([]byte(out1), &first)
	json.Unmarshal([]byte(out2), &again)
	if first.ID == "" || first.Duplicate || again.ID != first.ID || !again.Duplicate {
		t.Fatalf("idempotency: %s then %s", out1, out2)
	}
	select {
	case req = <-got:
		if !strings.Contains(req.body, "bo@example.com") {
			t.Fatalf("stdin event body %s", req.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stdin event was not delivered within 20 s")
	}

	// A problem answer: its detail and field errors on stderr, exit 1.
	out, stderr, err = runHerald(t, vars, "send", "--type", "member.nonexistent", "--data", `{}`)
	if err == nil || exitCode(err) != 1 || out != "" {
		t.Fatalf("unknown type: %v (exit %d), stdout %q", err, exitCode(err), out)
	}
	if !strings.Contains(stderr, "validation failed") || !strings.Contains(stderr, `type unknown event type "member.nonexistent"`) ||
		!strings.Contains(stderr, "member.verified") {
		t.Fatalf("unknown type stderr: %s", stderr)
	}
	_, stderr, err = runHerald(t, env(map[string]string{"HERALD_URL": s.url, "HERALD_API_KEY": "hrld_wrong"}), "send", "--type", "member.verified")
	if err == nil || exitCode(err) != 1 || !strings.Contains(stderr, "401") {
		t.Fatalf("wrong key: %v\n%s", err, stderr)
	}
	select {
	case req = <-got:
		t.Fatalf("a refused event was delivered: %s", req.body)
	default:
	}
}

func TestSendUsage(t *testing.T) {
	// Nothing listens here: usage errors must come before any request.
	vars := env(map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_API_KEY": "hrld_x"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--data", "{}"}, "--type is required"},
		{[]string{"send", "--type", "a.b", "--data", `{"a": 1,}`}, "line 1, column"},
		{[]string{"send", "--type", "a.b", "--data", `[1, 2]`}, "must be a JSON object"},
		{[]string{"send", "--type", "a.b", "--data", `{} {}`}, "more than one JSON value"},
		{[]string{"send", "--type", "a.b", "--occurred-at", "yesterday"}, "RFC 3339"},
		{[]string{"send", "--type", "a.b", "--url", "127.0.0.1:8080"}, "http://"},
		{[]string{"send", "--type", "a.b", "--data", "@-", "--data", "@-"}, "only once"},
		{[]string{"send", "--type", "a.b", "--data", "{\"member\": {\n \"name\": \"Ana \xff\"}}"}, "not valid UTF-8: byte 0xff at line 2, column 15"},
		{[]string{"send", "--type", "a.b", "--data", "null"}, "must be a JSON object"},
	} {
		_, _, err := runHerald(t, vars, tc.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v (exit %d), want %q", tc.args, err, exitCode(err), tc.want)
		}
	}
	_, _, err := runHerald(t, env(map[string]string{"HERALD_URL": "http://127.0.0.1:1"}), "send", "--type", "a.b")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "HERALD_API_KEY") {
		t.Errorf("no key: %v", err)
	}
	_, _, err = runHerald(t, vars, "send", "--type", "a.b", "--data", "@"+filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	// A server that does not answer: the retries are bounded by --timeout.
	start := time.Now()
	_, _, err = runHerald(t, vars, "send", "--type", "a.b", "--timeout", "2s")
	if err == nil || exitCode(err) != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("no server: %v after %v", err, time.Since(start))
	}
	out, _, err := runHerald(t, env(nil), "help")
	if err != nil || !strings.Contains(out, "herald send") {
		t.Errorf("usage does not list send: %q", out)
	}
}
