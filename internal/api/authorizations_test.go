package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

func TestAuthorizationLifecycleAndMasking(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		const secret = "sk_live_51HxTopSecretValue0042"
		id := e.createAuthorization(headerAuthorization("https://api.crm.example.com/v2", secret))

		got := e.do("GET", "/api/v1/authorizations/"+id, nil).must(t, http.StatusOK).json(t)
		h := got["header"].(map[string]any)
		if h["value"] != "••••0042" || h["value_set"] != true || got["name"] != "api.crm.example.com" {
			t.Fatalf("read back %v; want masked value and the host as default name", got)
		}

		// An update that omits the secret, or sends back the mask, keeps it.
		e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"name": "CRM"}).must(t, http.StatusOK)
		e.do("PATCH", "/api/v1/authorizations/"+id, got).must(t, http.StatusOK)
		a, err := e.store.Authorization(context.Background(), wsID(t, e), id)
		if err != nil || a.Header.Value != secret || a.Name != "api.crm.example.com" {
			// the second PATCH sent back the old name from got
			t.Fatalf("after PATCHes: %+v, %v; want the secret kept", a, err)
		}
		e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"header": map[string]any{"value": "rotated-secret-value-9999"}}).must(t, http.StatusOK)
		a, _ = e.store.Authorization(context.Background(), wsID(t, e), id)
		if a.Header.Value != "rotated-secret-value-9999" || a.Header.Key != "X-Api-Key" {
			t.Fatalf("after value change: %+v", a.Header)
		}

		// PUBLIC values are shown in clear.
		pub := e.do("POST", "/api/v1/authorizations", map[string]any{"endpoint": "https://maps.example.com", "type": "header",
			"header": map[string]any{"key": "X-Client-Id", "value": "public-client-id", "visibility": "PUBLIC"}}).must(t, http.StatusCreated).json(t)
		if pub["header"].(map[string]any)["value"] != "public-client-id" {
			t.Fatalf("PUBLIC value not shown: %v", pub)
		}

		// Basic: the password is write-only; switching type drops the header.
		e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"type": "basic", "basic": map[string]any{"username": "svc"}}).
			must(t, http.StatusUnprocessableEntity)
		sw := e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"type": "basic", "basic": map[string]any{"username": "svc", "password": "hunter2-but-longer"}}).
			must(t, http.StatusOK).json(t)
		if pw, _ := sw["basic"].(map[string]any)["password"].(string); sw["header"] != nil || !isMask(pw) {
			t.Fatalf("after type switch: %v", sw)
		}

		list := e.do("GET", "/api/v1/authorizations", nil).must(t, http.StatusOK).json(t)
		if n := len(list["data"].([]any)); n != 2 {
			t.Fatalf("list has %d authorizations, want 2", n)
		}
		list = e.do("GET", "/api/v1/authorizations?type=basic", nil).must(t, http.StatusOK).json(t)
		if n := len(list["data"].([]any)); n != 1 {
			t.Fatalf("type filter: %d, want 1", n)
		}

		// In use → 409; unused → 204, then 404.
		hook := validWebhook()
		hook["authorization_enabled"], hook["authorization_id"] = true, id
		hook["endpoint_url"] = "https://api.crm.example.com/v2/events"
		wh := e.createWebhook(hook)
		res := e.do("DELETE", "/api/v1/authorizations/"+id, nil).must(t, http.StatusConflict)
		if !strings.Contains(string(res.body), "used by 1 webhook") {
			t.Fatalf("409 does not say why: %s", res.body)
		}
		e.do("DELETE", "/api/v1/webhooks/"+wh["id"].(string), nil).must(t, http.StatusNoContent)
		e.do("DELETE", "/api/v1/authorizations/"+id, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/authorizations/"+id, nil).must(t, http.StatusNotFound)

		for _, s := range []string{secret, "rotated-secret-value-9999", "hunter2-but-longer"} {
			if strings.Contains(e.bodies.String(), s) {
				t.Errorf("a response contained the secret %q", s)
			}
			if strings.Contains(e.logs.String(), s) {
				t.Errorf("the log contained the secret %q", s)
			}
		}
	})
}

func wsID(t *testing.T, e *env) string {
	t.Helper()
	ws, err := e.store.WorkspaceByName(context.Background(), herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID
}

func TestAuthorizationValidation(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	header := func(key, value, vis string) map[string]any {
		return map[string]any{"key": key, "value": value, "visibility": vis}
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
		want  string
	}{
		{"no endpoint", map[string]any{"type": "basic", "basic": map[string]any{"username": "u", "password": "p"}}, "endpoint", "is required"},
		{"ftp endpoint", map[string]any{"endpoint": "ftp://x.example.com", "type": "basic", "basic": map[string]any{"username": "u", "password": "p"}}, "endpoint", "http:// or https://"},
		{"endpoint with user", map[string]any{"endpoint": "https://u:p@x.example.com", "type": "basic", "basic": map[string]any{"username": "u", "password": "p"}}, "endpoint", "user or password"},
		{"relative endpoint", map[string]any{"endpoint": "/api", "type": "basic", "basic": map[string]any{"username": "u", "password": "p"}}, "endpoint", "http:// or https://"},
		{"no type", map[string]any{"endpoint": "https://x.example.com"}, "type", "is required"},
		{"bad type", map[string]any{"endpoint": "https://x.example.com", "type": "oauth"}, "type", "oauth2_client_credentials"},
		{"header missing", map[string]any{"endpoint": "https://x.example.com", "type": "header"}, "header", "is required"},
		{"header key missing", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("", "v", "SECRET")}, "header.key", "is required"},
		{"header key invalid", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("X Api", "v", "SECRET")}, "header.key", "not a valid header name"},
		{"header key framing", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("Content-Length", "v", "SECRET")}, "header.key", "set by herald"},
		{"header value missing", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("X-Key", "", "SECRET")}, "header.value", "is required"},
		{"header value newline", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("X-Key", "a\r\nInjected: 1", "SECRET")}, "header.value", "line breaks"},
		{"bad visibility", map[string]any{"endpoint": "https://x.example.com", "type": "header", "header": header("X-Key", "v", "HIDDEN")}, "header.visibility", "SECRET or PUBLIC"},
		{"basic missing", map[string]any{"endpoint": "https://x.example.com", "type": "basic"}, "basic", "is required"},
		{"basic no username", map[string]any{"endpoint": "https://x.example.com", "type": "basic", "basic": map[string]any{"password": "p"}}, "basic.username", "is required"},
		{"basic colon username", map[string]any{"endpoint": "https://x.example.com", "type": "basic", "basic": map[string]any{"username": "a:b", "password": "p"}}, "basic.username", "colon"},
		{"basic no password", map[string]any{"endpoint": "https://x.example.com", "type": "basic", "basic": map[string]any{"username": "u"}}, "basic.password", "is required"},
		{"long name", map[string]any{"name": strings.Repeat("n", 201), "endpoint": "https://x.example.com", "type": "basic", "basic": map[string]any{"username": "u", "password": "p"}}, "name", "at most 200"},
		{"wrong type for field", map[string]any{"endpoint": 42, "type": "basic"}, "endpoint", "must be a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/authorizations", c.body).must(t, http.StatusUnprocessableEntity)
			msg, ok := res.fieldErrors(t)[c.field]
			if !ok || !strings.Contains(msg, c.want) {
				t.Fatalf("errors %s; want %s containing %q", res.body, c.field, c.want)
			}
		})
	}
}

func TestAuthorizationEndpointChangeKeepsWebhooksInScope(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	id := e.createAuthorization(headerAuthorization("https://api.crm.example.com/v2", "secret-value-123456"))
	hook := validWebhook()
	hook["authorization_enabled"], hook["authorization_id"], hook["endpoint_url"] = true, id, "https://api.crm.example.com/v2/contacts"
	e.createWebhook(hook)
	res := e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"endpoint": "https://other.example.com"}).must(t, http.StatusUnprocessableEntity)
	if msg := res.fieldErrors(t)["endpoint"]; !strings.Contains(msg, "would no longer cover") {
		t.Fatalf("errors: %s", res.body)
	}
	e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"endpoint": "https://API.crm.example.com:443/"}).must(t, http.StatusOK)
}
