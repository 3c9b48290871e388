package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// Every API route answers 401 without a key, or with an unknown one.
func TestEveryRouteNeedsAKey(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	id := herald.NewID()
	for _, rt := range apiRoutes {
		path := "/api/v1" + strings.NewReplacer("{id}", id, "{key}", "member.verified").Replace(rt.path)
		for _, key := range []string{"", "hrld_not-a-real-key"} {
			res := e.doKey(key, rt.method, path, nil)
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s %s with key %q: status %d, want 401", rt.method, path, key, res.status)
			}
			if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: no WWW-Authenticate challenge", rt.method, path)
			}
		}
	}
	e.doKey("", "GET", "/api/v1/openapi.json", nil).must(t, http.StatusOK)
	e.doKey("", "GET", "/healthz", nil).must(t, http.StatusOK)
	e.doKey("", "GET", "/readyz", nil).must(t, http.StatusOK)
}

func TestScopes(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	read := e.newKey(herald.DefaultWorkspace, herald.ScopeRead)
	ingest := e.newKey(herald.DefaultWorkspace, herald.ScopeIngest)
	e.doKey(read, "GET", "/api/v1/webhooks", nil).must(t, http.StatusOK)
	e.doKey(read, "POST", "/api/v1/webhooks", validWebhook()).must(t, http.StatusForbidden)
	e.doKey(ingest, "GET", "/api/v1/webhooks", nil).must(t, http.StatusForbidden)
	wh := e.createWebhook(validWebhook())
	// Reading the signing secret is an admin action.
	e.doKey(read, "GET", "/api/v1/webhooks/"+wh["id"].(string)+"/secret", nil).must(t, http.StatusForbidden)
}

func TestBadInputIsAProblemNeverACrash(t *testing.T) {
	e := setup(t, openSQLite(t), Config{MaxBodyBytes: 4096})
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"malformed JSON", "POST", "/api/v1/webhooks", `{"name": "x",}`, 400, "body"},
		{"truncated JSON", "POST", "/api/v1/webhooks", `{"name": "x"`, 400, "body"},
		{"empty body", "POST", "/api/v1/webhooks", ``, 400, "body"},
		{"array body", "POST", "/api/v1/webhooks", `[1,2]`, 422, "body"},
		{"two values", "POST", "/api/v1/webhooks", `{} {}`, 400, "body"},
		{"string for bool", "POST", "/api/v1/webhooks", `{"authorization_enabled": "true"}`, 422, "authorization_enabled"},
		{"number for string", "POST", "/api/v1/authorizations", `{"endpoint": 1}`, 422, "endpoint"},
		{"object for string", "POST", "/api/v1/authorizations", `{"header": {"key": {}}}`, 422, "header.key"},
		{"unknown nested field", "POST", "/api/v1/authorizations", `{"header": {"secret": "x"}}`, 422, "header.secret"},
		{"null body", "POST", "/api/v1/webhooks", `null`, 422, "name"},
		{"oversized body", "POST", "/api/v1/webhooks", `{"name": "` + strings.Repeat("x", 5000) + `"}`, 413, ""},
		{"invalid id", "GET", "/api/v1/webhooks/not-an-id", ``, 404, "id"},
		{"id with dots", "GET", "/api/v1/authorizations/..%2F..%2Fetc", ``, 404, ""},
		{"unknown id", "GET", "/api/v1/webhooks/" + herald.NewID(), ``, 404, ""},
		{"unknown route", "GET", "/api/v1/nothing", ``, 404, ""},
		{"wrong method", "PUT", "/api/v1/webhooks", `{}`, 405, ""},
		{"wrong content type", "POST", "/api/v1/webhooks", `<xml/>`, 400, ""},
		{"invalid UTF-8", "POST", "/api/v1/webhooks", "{\"name\": \"\xff\xfe\"}", 422, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+e.key)
			if c.name == "wrong content type" {
				req.Header.Set("Content-Type", "application/xml")
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := response{status: res.StatusCode}
			buf := make([]byte, 1<<16)
			n, _ := res.Body.Read(buf)
			r.body = buf[:n]
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s", res.StatusCode, c.status, r.body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if c.field != "" {
				if _, ok := r.fieldErrors(t)[c.field]; !ok {
					t.Fatalf("no error for field %q in %s", c.field, r.body)
				}
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	list := e.do("GET", "/api/v1/event-types", nil).must(t, http.StatusOK).json(t)["data"].([]any)
	if len(list) != 22 {
		t.Fatalf("%d built-in event types, want 22 (18 loyalty, 4 herald alerts)", len(list))
	}
	got := e.do("GET", "/api/v1/event-types/coupon.redeemed", nil).must(t, http.StatusOK).json(t)
	if got["display_name"] != "User - User Redeemed Coupon" || got["sample"].(map[string]any)["venue"] == nil {
		t.Fatalf("coupon.redeemed = %v", got)
	}
	e.do("GET", "/api/v1/event-types/nope.nope", nil).must(t, http.StatusNotFound)
	custom := map[string]any{"key": "member.birthday", "display_name": "User - Birthday", "sample": map[string]any{"member": map[string]any{"id": "m-1"}}}
	created := e.do("POST", "/api/v1/event-types", custom).must(t, http.StatusCreated).json(t)
	if created["built_in"] != false || len(created["variables"].([]any)) != 1 {
		t.Fatalf("created %v", created)
	}
	e.do("POST", "/api/v1/event-types", custom).must(t, http.StatusConflict)
	builtin := map[string]any{"key": "member.verified", "display_name": "Mine"}
	e.do("POST", "/api/v1/event-types", builtin).must(t, http.StatusConflict)
	for key, want := range map[string]string{"Bad Key": "dot-separated", "nodot": "dot-separated", "herald.own": "reserved"} {
		res := e.do("POST", "/api/v1/event-types", map[string]any{"key": key, "display_name": "x"}).must(t, http.StatusUnprocessableEntity)
		if !strings.Contains(res.fieldErrors(t)["key"], want) {
			t.Errorf("key %q: %s", key, res.body)
		}
	}
	// A webhook may use the custom type.
	b := validWebhook()
	b["event"] = "member.birthday"
	b["payload"] = `{"id": "{{ member.id }}"}`
	e.createWebhook(b)
	if n := len(e.do("GET", "/api/v1/event-types", nil).must(t, http.StatusOK).json(t)["data"].([]any)); n != 23 {
		t.Fatalf("%d event types after adding one, want 23", n)
	}
}
