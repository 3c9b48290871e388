package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// Every configuration change is in the audit log: who, what, when, and
// which fields changed — never a secret's value.
func TestAuditLog(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		e.svc.Audit = e.store.(herald.AuditLog)
		authID := e.createAuthorization(headerAuthorization("https://api.bloomreach.example.com", "first-secret-value-0001"))
		e.do("PATCH", "/api/v1/authorizations/"+authID, map[string]any{"header": map[string]any{"value": "second-secret-value-0002"}}).must(t, http.StatusOK)
		id := e.createWebhook(validWebhook())["id"].(string)
		e.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"name": "Renamed", "payload": `{"v": "{{ coupon.id }}"}`}).must(t, http.StatusOK)
		e.do("POST", "/api/v1/webhooks/"+id+"/publish", nil).must(t, http.StatusOK)
		e.do("POST", "/api/v1/webhooks/"+id+"/unpublish", nil).must(t, http.StatusOK)
		e.do("DELETE", "/api/v1/webhooks/"+id, nil).must(t, http.StatusNoContent)

		res := e.do("GET", "/api/v1/audit-log", nil).must(t, http.StatusOK)
		var page struct {
			Data []herald.AuditEntry `json:"data"`
		}
		json.Unmarshal(res.body, &page)
		var actions []string
		for _, a := range page.Data {
			actions = append(actions, a.Action)
			if a.Actor != "API key “test-default”" || a.At.IsZero() {
				t.Fatalf("entry %+v", a)
			}
		}
		want := "webhook.delete webhook.unpublish webhook.publish webhook.update webhook.create authorization.update authorization.create"
		if strings.Join(actions, " ") != want {
			t.Fatalf("actions %v\nwant %s", actions, want)
		}
		if s := page.Data[3].Summary; s != "revision 2; changed name, payload" {
			t.Fatalf("update summary %q", s)
		}
		if s := page.Data[5].Summary; s != "changed header" {
			t.Fatalf("authorization update summary %q", s)
		}
		if strings.Contains(string(res.body), "secret-value") {
			t.Fatal("a secret reached the audit log")
		}
		one := e.do("GET", "/api/v1/audit-log?object_id="+id, nil).must(t, http.StatusOK).json(t)["data"].([]any)
		if len(one) != 5 {
			t.Fatalf("object filter: %d entries, want 5", len(one))
		}
		other := e.newKey("brand-b", herald.ScopeAdmin)
		if n := len(e.doKey(other, "GET", "/api/v1/audit-log", nil).must(t, http.StatusOK).json(t)["data"].([]any)); n != 0 {
			t.Fatalf("another workspace sees %d entries", n)
		}
	})
}
