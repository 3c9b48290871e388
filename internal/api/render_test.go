package api

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

func setupWithTemplates(t *testing.T) *env {
	e := setup(t, openSQLite(t), Config{})
	e.svc.Templates = payload.Checker{}
	srv := newServer(t, Config{}, e.svc, payload.Previewer{}, fakeDelivery(), slogTo(e.logs))
	e.srv.Config.Handler = srv
	return e
}

// Every spec vector renders through the API exactly as expected.
func TestRenderTemplateVectors(t *testing.T) {
	e := setupWithTemplates(t)
	files, _ := filepath.Glob("../template/testdata/vectors/*.json")
	if len(files) < 10 {
		t.Fatalf("found %d vectors", len(files))
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		var v struct {
			PayloadType string         `json:"payload_type"`
			EventType   string         `json:"event_type"`
			Template    string         `json:"template"`
			Context     map[string]any `json:"context"`
			Expected    string         `json:"expected"`
			Compare     string         `json:"compare"`
		}
		json.Unmarshal(data, &v)
		ev := v.Context["event"]
		delete(v.Context, "event")
		res := e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": v.PayloadType, "template": v.Template,
			"event_type": v.EventType, "data": v.Context, "event": ev}).must(t, http.StatusOK).json(t)
		if v.Compare == "bytes" && res["body"] != v.Expected {
			t.Errorf("%s: body %q\nwant %q", filepath.Base(f), res["body"], v.Expected)
		}
		if res["content_type"] == "" {
			t.Errorf("%s: no content type", f)
		}
	}
}

func TestRenderTemplateErrorsAndSample(t *testing.T) {
	e := setupWithTemplates(t)
	// No data: the event type's sample.
	res := e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "template": `{"v": "{{ venue.name }}", "x": "{{ member.nope }}"}`, "event_type": "coupon.redeemed"}).
		must(t, http.StatusOK).json(t)
	if res["body"] != `{"v": "Frog Riverside", "x": ""}` || res["content_type"] != "application/json" {
		t.Fatalf("sample render %v", res)
	}
	warnings := res["warnings"].([]any)
	if len(warnings) != 1 || warnings[0].(map[string]any)["line"] != 1.0 {
		t.Fatalf("warnings %v", warnings)
	}
	bad := e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "template": "{\n  \"a\": {{ coupon.name | dat('U') }}\n}", "event_type": "coupon.redeemed"}).
		must(t, http.StatusUnprocessableEntity)
	var p problem
	json.Unmarshal(bad.body, &p)
	if len(p.Errors) == 0 || p.Errors[0].Field != "template" || p.Errors[0].Line != 2 || p.Errors[0].Column == 0 || !strings.Contains(p.Errors[0].Message, "date") {
		t.Fatalf("problem %s", bad.body)
	}
	e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "template": `{"a": 1,}`, "event_type": "coupon.redeemed"}).must(t, http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "YAML", "template": `x`, "event_type": "coupon.redeemed"}).must(t, http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "template": `x`}).must(t, http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "template": `x`, "event_type": "no.such"}).must(t, http.StatusUnprocessableEntity)
}

// The save path refuses a broken template with line and column and keeps
// warnings on a saved one.
func TestWebhookTemplatesCheckedOnSave(t *testing.T) {
	e := setupWithTemplates(t)
	b := validWebhook()
	b["payload"] = "{\n\"perk\": \"{{ coupon.id }}\",\n\"ts\": {{ event.created_at | dat('U') }}\n}"
	res := e.do("POST", "/api/v1/webhooks", b).must(t, http.StatusUnprocessableEntity)
	var p problem
	json.Unmarshal(res.body, &p)
	if len(p.Errors) != 1 || p.Errors[0].Field != "payload" || p.Errors[0].Line != 3 || p.Errors[0].Column != 29 {
		t.Fatalf("problem %s", res.body)
	}
	b["payload"] = `{"perk": "{{ coupon.id }}", "x": "{{ coupon.colour }}"}`
	wh := e.createWebhook(b)
	w := wh["warnings"].([]any)
	if len(w) != 1 || !strings.Contains(w[0].(map[string]any)["message"].(string), "coupon.colour") {
		t.Fatalf("warnings %v", wh["warnings"])
	}
	b["payload"] = `{"a": 1,}`
	e.do("POST", "/api/v1/webhooks", b).must(t, http.StatusUnprocessableEntity)
	b["payload"] = `{}`
	b["custom_headers"] = []map[string]string{{"name": "X-Id", "value": "{{ member.id"}}
	res = e.do("POST", "/api/v1/webhooks", b).must(t, http.StatusUnprocessableEntity)
	if _, ok := res.fieldErrors(t)["custom_headers[0].value"]; !ok {
		t.Fatalf("header template error: %s", res.body)
	}
	_ = herald.PayloadJSON
}

// A workspace's time zone decides where date-only values are read.
func TestWorkspaceTimeZone(t *testing.T) {
	e := setupWithTemplates(t)
	e.svc.Audit = e.store.(herald.AuditLog)
	ws := e.do("GET", "/api/v1/workspace", nil).must(t, http.StatusOK).json(t)
	if ws["name"] != "default" || ws["time_zone"] != "" {
		t.Fatalf("workspace %v", ws)
	}
	render := func() string {
		t.Helper()
		return e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "PLAIN", "template": "{{ d | date('U') }}",
			"data": map[string]any{"d": "1990-04-15"}}).must(t, http.StatusOK).json(t)["body"].(string)
	}
	if got := render(); got != "640137600" {
		t.Fatalf("UTC: %s", got)
	}
	res := e.do("PATCH", "/api/v1/workspace", map[string]any{"time_zone": "Mars/Olympus"}).must(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.fieldErrors(t)["time_zone"], "IANA") {
		t.Fatalf("bad zone: %s", res.body)
	}
	got := e.do("PATCH", "/api/v1/workspace", map[string]any{"time_zone": "Europe/Ljubljana"}).must(t, http.StatusOK).json(t)
	if got["time_zone"] != "Europe/Ljubljana" {
		t.Fatalf("after PATCH %v", got)
	}
	if got := render(); got != "640130400" { // midnight CEST = 22:00 UTC the day before
		t.Fatalf("Europe/Ljubljana: %s", got)
	}
	e.do("PATCH", "/api/v1/workspace", map[string]any{"time_zone": ""}).must(t, http.StatusOK)
	if got := render(); got != "640137600" {
		t.Fatalf("back to the default: %s", got)
	}
	read := e.newKey(herald.DefaultWorkspace, herald.ScopeRead)
	e.doKey(read, "PATCH", "/api/v1/workspace", map[string]any{"time_zone": "UTC"}).must(t, http.StatusForbidden)
	log := string(e.do("GET", "/api/v1/audit-log", nil).must(t, http.StatusOK).body)
	if !strings.Contains(log, `workspace.update`) || !strings.Contains(log, `Europe/Ljubljana`) {
		t.Fatalf("audit: %s", log)
	}
}
