package api

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/storetest"
)

func TestPresetsAPI(t *testing.T) {
	e := setup(t, storetest.OpenSQLite(t), Config{})
	list := e.do("GET", "/api/v1/presets", nil).must(t, http.StatusOK).json(t)["data"].([]any)
	if len(list) < 9 {
		t.Fatalf("%d presets, want at least 9", len(list))
	}
	p := e.do("GET", "/api/v1/presets/salesforce-marketing-cloud", nil).must(t, http.StatusOK).json(t)
	for _, k := range []string{"key", "name", "vendor_docs_url", "authorization_type", "method", "endpoint_url", "custom_headers", "payload_type", "payload", "event_types", "fields_to_fill"} {
		if _, ok := p[k]; !ok {
			t.Errorf("preset lacks %s", k)
		}
	}
	if p["authorization_type"] != "oauth2_client_credentials" || p["authorization"].(map[string]any)["token_url"] == "" {
		t.Fatalf("Salesforce preset: %v", p)
	}
	e.do("GET", "/api/v1/presets/nope", nil).must(t, http.StatusNotFound)
}
