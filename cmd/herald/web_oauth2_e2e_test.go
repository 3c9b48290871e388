package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// In the browser: an OAuth 2.0 client-credentials authorization, a
// webhook started from the Klaviyo preset that uses it, a test send — and
// the logged request shows the bearer token only as ••••.
func TestOAuth2AndPresetInBrowser(t *testing.T) {
	const (
		clientSecret = "cs-0b7e3f9a1d2c4e5f"
		token        = "at-9c8b7a6f5e4d3c2b1a"
	)
	var fetches atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" || id != "herald-client" || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
	}))
	defer tokens.Close()
	recv := newReceiver(t)
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}), "--allow-network", "127.0.0.0/8")
	b := newBrowser(t, srv.url)
	b.firstAdmin(srv.setupLink)

	// The authorization, created in the form.
	b.open("/authorizations/new")
	b.fill("#f-endpoint", recv.URL)
	b.fill("#f-name", "Klaviyo over OAuth")
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-oauth2"]`)))
	b.fill("#f-oauth2-token_url", tokens.URL+"/oauth/token")
	b.fill("#f-oauth2-client_id", "herald-client")
	b.fill("#f-oauth2-client_secret", clientSecret)
	b.submit(`.form-actions button[type=submit]`)
	b.see("Klaviyo over OAuth", "saved")
	b.notSee(clientSecret)

	// The webhook, from the preset: its payload and headers come filled in.
	b.open("/webhooks/new?preset=klaviyo&event=member.verified")
	b.see("Still to fill before publishing")
	if p := eval[string](b, `document.querySelector("#f-payload").value`); !strings.Contains(p, `"type": "event"`) && !strings.Contains(p, `"metric"`) {
		t.Fatalf("the preset did not fill the payload: %s", p)
	}
	b.fill("#f-name", "Klaviyo — member verified")
	b.fill("#f-endpoint_url", recv.URL+"/api/events")
	if !eval[bool](b, `document.querySelector("#f-authorization_enabled").checked`) {
		b.do(chromedp.Click(chromedp.CSS("#f-authorization_enabled")))
	}
	id := eval[string](b, `[...document.querySelectorAll("#f-authorization_id option")].find(o => o.textContent.includes("Klaviyo over OAuth")).value`)
	b.set("#f-authorization_id", id)
	b.submit(`button[value=save]`)
	b.see("Webhook “Klaviyo — member verified” created")

	// A test send: the receiver gets the token, the log shows it masked.
	b.submit(`form[action$="/test"] button`)
	b.see("Test result", "Success", "HTTP 200", "Bearer ••••")
	b.notSee(token, clientSecret)
	b.checkA11y("test result of an OAuth 2.0 webhook")
	reqs := recv.requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+token || reqs[0].Path != "/api/events" ||
		!strings.Contains(reqs[0].Header.Get("Content-Type"), "application/vnd.api+json") {
		t.Fatalf("receiver got %+v", reqs)
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d token fetches for one send", fetches.Load())
	}
}

// firstAdmin creates the first admin through serve's setup link.
func (b *browser) firstAdmin(setupLink string) {
	b.t.Helper()
	b.open(setupLink)
	b.fill("#f-email", "admin@example.com")
	b.fill("#f-password", "correct horse battery")
	b.fill("#f-password_confirm", "correct horse battery")
	b.submit(`button[type=submit]`)
	b.see("Welcome!")
}

// In the browser: a webhook with two event types and a condition, the
// live "would be sent / skipped" as the condition is typed, saved, and
// the list saying both types and that a condition is set.
func TestRoutingInBrowser(t *testing.T) {
	recv := newReceiver(t)
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}), "--allow-network", "127.0.0.0/8")
	b := newBrowser(t, srv.url)
	b.firstAdmin(srv.setupLink)
	b.open("/webhooks/new")
	b.fill("#f-name", "VIP CRM")
	if !eval[bool](b, `(() => { const el = document.querySelector("#f-event"); let n = 0;
		for (const o of el.options) { o.selected = o.value === "coupon.redeemed" || o.value === "member.verified"; if (o.selected) n++ }
		el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return n === 2 })()`) {
		t.Fatal("cannot choose coupon.redeemed and member.verified")
	}
	b.fill("#f-endpoint_url", recv.URL+"/vip")
	b.set("#f-payload", `{"member": "{{ member.id }}"}`)
	b.fill("#f-condition", "member.tier == 'gold'")
	b.waitFor(`(document.querySelector("#preview-route") || {innerText: ""}).innerText.includes("The sample would be sent")`)
	b.fill("#f-condition", "member.tier == 'bronze'")
	b.waitFor(`(document.querySelector("#preview-route") || {innerText: ""}).innerText.includes("The sample would be skipped")`)
	b.checkA11y("webhook form with a condition")
	b.fill("#f-condition", "member.tier == 'gold'")
	b.submit(`button[value=save]`)
	b.see("Webhook “VIP CRM” created", "member.tier == 'gold'")
	b.open("/webhooks")
	row := eval[string](b, `[...document.querySelectorAll("tr")].find(r => r.innerText.includes("VIP CRM")).innerText`)
	for _, want := range []string{"User - User Redeemed Coupon", "User - User Was Verified", "condition"} { // display names, as admins know them
		if !strings.Contains(strings.ToLower(row), strings.ToLower(want)) {
			t.Errorf("the list's row lacks %q: %q", want, row)
		}
	}
	b.checkA11y("webhooks list with event types and a condition")
}
