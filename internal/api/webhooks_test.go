package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func openSQLite(t testing.TB) herald.Store { return storetest.OpenSQLite(t) }

func TestWebhookValidation(t *testing.T) {
	e := setup(t, openSQLite(t), Config{})
	authID := e.createAuthorization(headerAuthorization("https://api.crm.example.com/v2", "secret-value-123456"))
	with := func(changes map[string]any) map[string]any {
		b := validWebhook()
		for k, v := range changes {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
		want  string
	}{
		{"no name", with(map[string]any{"name": nil}), "name", "is required"},
		{"blank name", with(map[string]any{"name": "   "}), "name", "is required"},
		{"long name", with(map[string]any{"name": strings.Repeat("x", 201)}), "name", "at most 200"},
		{"long description", with(map[string]any{"description": strings.Repeat("x", 2001)}), "description", "at most 2000"},
		{"no event", with(map[string]any{"event": nil}), "event", "is required"},
		{"unknown event", with(map[string]any{"event": "coupon.redeemd"}), "event", `did you mean "coupon.redeemed"`},
		{"auth enabled without id", with(map[string]any{"authorization_enabled": true}), "authorization_id", "is required"},
		{"auth id malformed", with(map[string]any{"authorization_enabled": true, "authorization_id": "nope"}), "authorization_id", "not a valid id"},
		{"auth id unknown", with(map[string]any{"authorization_enabled": true, "authorization_id": herald.NewID()}), "authorization_id", "no such authorization"},
		{"endpoint outside authorization", with(map[string]any{"authorization_enabled": true, "authorization_id": authID, "endpoint_url": "https://evil.example.com/v2"}), "endpoint_url", "outside the authorization"},
		{"endpoint other path", with(map[string]any{"authorization_enabled": true, "authorization_id": authID, "endpoint_url": "https://api.crm.example.com/v2x"}), "endpoint_url", "outside the authorization"},
		{"endpoint other port", with(map[string]any{"authorization_enabled": true, "authorization_id": authID, "endpoint_url": "https://api.crm.example.com:8443/v2"}), "endpoint_url", "outside the authorization"},
		{"endpoint http vs https", with(map[string]any{"authorization_enabled": true, "authorization_id": authID, "endpoint_url": "http://api.crm.example.com/v2"}), "endpoint_url", "outside the authorization"},
		{"no endpoint", with(map[string]any{"endpoint_url": nil}), "endpoint_url", "is required"},
		{"ftp endpoint", with(map[string]any{"endpoint_url": "ftp://files.example.com"}), "endpoint_url", "http:// or https://"},
		{"no host", with(map[string]any{"endpoint_url": "https:///path"}), "endpoint_url", "host"},
		{"placeholder in host", with(map[string]any{"endpoint_url": "https://{{ member.id }}.example.com/x"}), "endpoint_url", "placeholder in the host"},
		{"fragment", with(map[string]any{"endpoint_url": "https://x.example.com/a#b"}), "endpoint_url", "fragment"},
		{"no method", with(map[string]any{"method": nil}), "method", "is required"},
		{"bad method", with(map[string]any{"method": "TRACE"}), "method", "must be one of"},
		{"no payload type", with(map[string]any{"payload_type": nil}), "payload_type", "is required"},
		{"bad payload type", with(map[string]any{"payload_type": "YAML"}), "payload_type", "must be one of"},
		{"GET with JSON", with(map[string]any{"method": "GET"}), "payload_type", "GET request carries no body"},
		{"empty payload", with(map[string]any{"payload": "  "}), "payload", "is required"},
		{"huge payload", with(map[string]any{"payload": strings.Repeat("x", 64<<10+1)}), "payload", "at most"},
		{"header name invalid", with(map[string]any{"custom_headers": []map[string]string{{"name": "Bad Header", "value": "v"}}}), "custom_headers[0].name", "not a valid header name"},
		{"header name empty", with(map[string]any{"custom_headers": []map[string]string{{"name": "", "value": "v"}}}), "custom_headers[0].name", "is required"},
		{"header Host", with(map[string]any{"custom_headers": []map[string]string{{"name": "X-Ok", "value": "v"}, {"name": "host", "value": "evil"}}}), "custom_headers[1].name", "hop-by-hop or framing"},
		{"header Transfer-Encoding", with(map[string]any{"custom_headers": []map[string]string{{"name": "Transfer-Encoding", "value": "chunked"}}}), "custom_headers[0].name", "framing"},
		{"header Content-Length", with(map[string]any{"custom_headers": []map[string]string{{"name": "Content-Length", "value": "1"}}}), "custom_headers[0].name", "framing"},
		{"header Connection", with(map[string]any{"custom_headers": []map[string]string{{"name": "Connection", "value": "close"}}}), "custom_headers[0].name", "framing"},
		{"header webhook-signature", with(map[string]any{"custom_headers": []map[string]string{{"name": "webhook-signature", "value": "v1,x"}}}), "custom_headers[0].name", "set by herald"},
		{"header value CRLF", with(map[string]any{"custom_headers": []map[string]string{{"name": "X-A", "value": "a\r\nX-Injected: 1"}}}), "custom_headers[0].value", "line breaks"},
		{"too many headers", with(map[string]any{"custom_headers": manyHeaders(51)}), "custom_headers", "at most 50"},
		{"wrong type", with(map[string]any{"log_only_errors": "yes"}), "log_only_errors", "must be true or false"},
		{"headers not a list", with(map[string]any{"custom_headers": "X-A: 1"}), "custom_headers", "must be an array"},
		{"unknown field", with(map[string]any{"retries": 3}), "retries", "not a known field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/webhooks", c.body).must(t, http.StatusUnprocessableEntity)
			msg, ok := res.fieldErrors(t)[c.field]
			if !ok || !strings.Contains(msg, c.want) {
				t.Fatalf("errors %s\nwant field %s containing %q", res.body, c.field, c.want)
			}
		})
	}
	// Several problems are reported together, each next to its field.
	res := e.do("POST", "/api/v1/webhooks", map[string]any{"method": "GET", "payload_type": "XML"}).must(t, http.StatusUnprocessableEntity)
	errs := res.fieldErrors(t)
	for _, f := range []string{"name", "event", "endpoint_url", "payload_type"} {
		if _, ok := errs[f]; !ok {
			t.Errorf("no error for %s in %s", f, res.body)
		}
	}
	// GET with FORM is fine, and needs no payload.
	ok := with(map[string]any{"method": "GET", "payload_type": "FORM", "payload": ""})
	e.do("POST", "/api/v1/webhooks", ok).must(t, http.StatusCreated)
}

func manyHeaders(n int) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"name": fmt.Sprintf("X-H%d", i), "value": "v"}
	}
	return out
}

func TestWebhookLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		authID := e.createAuthorization(headerAuthorization("https://api.bloomreach.example.com", "secret-value-123456"))
		body := validWebhook()
		body["authorization_enabled"], body["authorization_id"], body["log_only_errors"] = true, authID, true
		body["method"] = "put"
		wh := e.createWebhook(body)
		id := wh["id"].(string)
		if wh["status"] != "unpublished" || wh["revision"] != 1.0 || wh["method"] != "PUT" || wh["authorization_id"] != authID || wh["log_only_errors"] != true {
			t.Fatalf("created %v", wh)
		}
		if _, leaked := wh["signing_secret"]; leaked {
			t.Fatal("signing secret in the webhook view")
		}
		got := e.do("GET", "/api/v1/webhooks/"+id, nil).must(t, http.StatusOK).json(t)
		if got["name"] != body["name"] || got["payload"] != body["payload"] || got["description"] != body["description"] {
			t.Fatalf("read back %v", got)
		}

		// PATCH changes one field and bumps the revision; a stale revision is refused.
		up := e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"name": "Renamed", "revision": 1}).must(t, http.StatusOK).json(t)
		if up["name"] != "Renamed" || up["revision"] != 2.0 || up["event"] != "coupon.redeemed" {
			t.Fatalf("patched %v", up)
		}
		e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"name": "Stale", "revision": 1}).must(t, http.StatusConflict)
		// A GET body sent back as is is a valid PATCH.
		e.do("PATCH", "/api/v1/webhooks/"+id, up).must(t, http.StatusOK)
		// Turning authorization off clears the id.
		off := e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"authorization_enabled": false}).must(t, http.StatusOK).json(t)
		if _, ok := off["authorization_id"]; ok || off["authorization_enabled"] != false {
			t.Fatalf("authorization not cleared: %v", off)
		}
		e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"method": "GET"}).must(t, http.StatusUnprocessableEntity)

		pub := e.do("POST", "/api/v1/webhooks/"+id+"/publish", nil).must(t, http.StatusOK).json(t)
		if pub["status"] != "published" {
			t.Fatalf("publish: %v", pub)
		}
		// Editing a published webhook keeps it published.
		ed := e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"description": "live"}).must(t, http.StatusOK).json(t)
		if ed["status"] != "published" {
			t.Fatalf("edit unpublished the webhook: %v", ed)
		}
		unpub := e.do("POST", "/api/v1/webhooks/"+id+"/unpublish", nil).must(t, http.StatusOK).json(t)
		if unpub["status"] != "unpublished" || !strings.Contains(unpub["status_reason"].(string), "unpublished by") {
			t.Fatalf("unpublish: %v", unpub)
		}

		secret := e.do("GET", "/api/v1/webhooks/"+id+"/secret", nil).must(t, http.StatusOK).json(t)["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < len("whsec_")+32 {
			t.Fatalf("secret %q", secret)
		}

		dup := e.do("POST", "/api/v1/webhooks/"+id+"/duplicate", nil).must(t, http.StatusCreated).json(t)
		if dup["name"] != "Renamed (copy)" || dup["status"] != "unpublished" || dup["id"] == id || dup["payload"] != body["payload"] {
			t.Fatalf("duplicate: %v", dup)
		}
		dupSecret := e.do("GET", "/api/v1/webhooks/"+dup["id"].(string)+"/secret", nil).must(t, http.StatusOK).json(t)["secret"]
		if dupSecret == secret {
			t.Fatal("the duplicate shares the original's signing secret")
		}

		e.do("DELETE", "/api/v1/webhooks/"+id, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/webhooks/"+id, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/webhooks/"+id, nil).must(t, http.StatusNotFound)
		for _, action := range []string{"publish", "unpublish", "duplicate"} {
			e.do("POST", "/api/v1/webhooks/"+id+"/"+action, nil).must(t, http.StatusNotFound)
		}
		if strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), "secret-value-123456") {
			t.Fatal("a secret reached the log")
		}
	})
}

func TestWebhookListFiltersAndPagination(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		for i := 0; i < 5; i++ {
			b := validWebhook()
			b["name"] = fmt.Sprintf("Hook %d", i)
			if i%2 == 0 {
				b["event"] = "member.verified"
				b["payload"] = `{"id": "{{ member.id }}"}`
			}
			if i == 4 {
				b["endpoint_url"] = "https://hooks.slack.example.com/services/T0"
			}
			id := e.createWebhook(b)["id"].(string)
			if i < 2 {
				e.do("POST", "/api/v1/webhooks/"+id+"/publish", nil).must(t, http.StatusOK)
			}
		}
		count := func(query string) int {
			t.Helper()
			return len(e.do("GET", "/api/v1/webhooks"+query, nil).must(t, http.StatusOK).json(t)["data"].([]any))
		}
		for q, want := range map[string]int{
			"":                       5,
			"?event=member.verified": 3,
			"?status=published":      2,
			"?status=unpublished&event=member.verified": 2,
			"?name=hook%203":  1,
			"?endpoint=slack": 1,
			"?name=nothing":   0,
		} {
			if got := count(q); got != want {
				t.Errorf("GET /webhooks%s: %d, want %d", q, got, want)
			}
		}
		var names []string
		cursor := ""
		for page := 0; page < 5; page++ {
			res := e.do("GET", "/api/v1/webhooks?limit=2&cursor="+cursor, nil).must(t, http.StatusOK).json(t)
			for _, w := range res["data"].([]any) {
				names = append(names, w.(map[string]any)["name"].(string))
			}
			next, _ := res["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if strings.Join(names, ",") != "Hook 4,Hook 3,Hook 2,Hook 1,Hook 0" {
			t.Fatalf("pages gave %v", names)
		}
		e.do("GET", "/api/v1/webhooks?status=paused", nil).must(t, http.StatusUnprocessableEntity)
		e.do("GET", "/api/v1/webhooks?limit=0", nil).must(t, http.StatusUnprocessableEntity)
		e.do("GET", "/api/v1/webhooks?limit=201", nil).must(t, http.StatusUnprocessableEntity)
		e.do("GET", "/api/v1/webhooks?limit=-1", nil).must(t, http.StatusUnprocessableEntity)
		e.do("GET", "/api/v1/webhooks?cursor=garbage", nil).must(t, http.StatusUnprocessableEntity)
	})
}

func TestWorkspaceIsolation(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		other := e.newKey("brand-b", herald.ScopeAdmin)
		authID := e.createAuthorization(headerAuthorization("https://api.bloomreach.example.com", "secret-value-123456"))
		wh := e.createWebhook(validWebhook())
		id := wh["id"].(string)
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/webhooks/" + id},
			{"PATCH", "/api/v1/webhooks/" + id},
			{"DELETE", "/api/v1/webhooks/" + id},
			{"POST", "/api/v1/webhooks/" + id + "/publish"},
			{"POST", "/api/v1/webhooks/" + id + "/unpublish"},
			{"POST", "/api/v1/webhooks/" + id + "/duplicate"},
			{"GET", "/api/v1/webhooks/" + id + "/secret"},
			{"GET", "/api/v1/authorizations/" + authID},
			{"PATCH", "/api/v1/authorizations/" + authID},
			{"DELETE", "/api/v1/authorizations/" + authID},
		} {
			var body any
			if c.method == "PATCH" {
				body = map[string]any{"name": "stolen"}
			}
			e.doKey(other, c.method, c.path, body).must(t, http.StatusNotFound)
		}
		// B cannot attach A's authorization to its own webhook either.
		b := validWebhook()
		b["authorization_enabled"], b["authorization_id"] = true, authID
		res := e.doKey(other, "POST", "/api/v1/webhooks", b).must(t, http.StatusUnprocessableEntity)
		if _, ok := res.fieldErrors(t)["authorization_id"]; !ok {
			t.Fatalf("errors %s", res.body)
		}
		for _, path := range []string{"/api/v1/webhooks", "/api/v1/authorizations"} {
			if n := len(e.doKey(other, "GET", path, nil).must(t, http.StatusOK).json(t)["data"].([]any)); n != 0 {
				t.Fatalf("B lists %d of A's objects at %s", n, path)
			}
		}
		got := e.do("GET", "/api/v1/webhooks/"+id, nil).must(t, http.StatusOK).json(t)
		if got["name"] != wh["name"] || got["status"] != "unpublished" {
			t.Fatalf("A's webhook changed: %v", got)
		}
	})
}
