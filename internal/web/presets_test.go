package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// "Start from a preset": the Add-new webhook form lists the presets,
// fills itself from one for the chosen event type and says what is left to
// fill; the authorization form fills itself from the same preset; and the
// filled webhook saves through the service.
func TestStartFromPreset(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/webhooks/new")
	e.status(res, http.StatusOK)
	contains(t, body, "Start from a preset", `value="klaviyo"`, `value="salesforce-marketing-cloud"`, `value="microsoft-teams"`)

	res, body = e.get("/authorizations/new?preset=salesforce-marketing-cloud")
	e.status(res, http.StatusOK)
	contains(t, body, `id="f-type-oauth2" name="type" value="oauth2_client_credentials" checked`,
		`value="https://YOUR_SUBDOMAIN.auth.marketingcloudapis.com/v2/token"`, `id="f-oauth2-auth-body" name="oauth2.client_auth" value="body" checked`,
		"Filled from the preset")

	// The authorization the Klaviyo preset needs, then the form from the preset.
	res, _ = e.post("/authorizations", url.Values{"name": {"Klaviyo"}, "endpoint": {"https://a.klaviyo.com/api"}, "type": {"header"},
		"header.key": {"Authorization"}, "header.value": {"Klaviyo-API-Key pk_0123456789abcdef"}, "header.visibility": {"SECRET"}})
	e.status(res, http.StatusSeeOther)
	auths, _, _ := e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{})
	res, body = e.get("/webhooks/new?preset=klaviyo&event=coupon.redeemed")
	e.status(res, http.StatusOK)
	body = html.UnescapeString(body)
	contains(t, body, "https://a.klaviyo.com/api/events", `value="revision"`, `value="2024-10-15"`, `"type": "metric"`,
		"Still to fill before publishing", "authorization.header.value", "https://developers.klaviyo.com/en/reference/create_event",
		`<option value="`+auths[0].ID+`" selected`)

	p, _ := herald.PresetByKey("klaviyo")
	spec := p.WebhookSpec("coupon.redeemed")
	f := url.Values{"name": {spec.Name}, "event": {spec.Event}, "authorization_enabled": {"on"}, "authorization_id": {auths[0].ID},
		"endpoint_url": {spec.EndpointURL}, "method": {spec.Method}, "payload_type": {string(spec.PayloadType)}, "payload": {spec.Payload}}
	for i, h := range spec.CustomHeaders {
		f.Set("custom_headers["+string(rune('0'+i))+"].name", h.Name)
		f.Set("custom_headers["+string(rune('0'+i))+"].value", h.Value)
	}
	res, body = e.post("/webhooks", f)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the preset's webhook: %d\n%s", res.StatusCode, excerpt(body))
	}
	hooks, _, _ := e.store.ListWebhooks(context.Background(), e.ws, herald.WebhookFilter{})
	if len(hooks) != 1 || hooks[0].EndpointURL != "https://a.klaviyo.com/api/events" || len(hooks[0].CustomHeaders) != 3 {
		t.Fatalf("saved: %+v", hooks)
	}
	res, _ = e.get("/webhooks/new?preset=nope")
	e.status(res, http.StatusNotFound)
}
