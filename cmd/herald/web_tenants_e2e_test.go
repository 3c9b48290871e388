package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTenantsInBrowser: in a real browser against `herald serve`, the
// owner invites a viewer by the link copied from the Members page; the
// viewer sets a password, joins, signs in and cannot change anything (no
// control is shown, a forged POST with a valid CSRF token is refused); the
// instance owner creates a second workspace and switches to it.
func TestTenantsInBrowser(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}))
	b := newBrowser(t, srv.url)

	signIn := func(email, password string) {
		t.Helper()
		b.open("/login")
		b.fill("#f-email", email)
		b.fill("#f-password", password)
		b.submit(`button[type=submit]`)
	}
	const ownerPW, viewerPW = "correct horse battery", "viewer's own password"

	// The first admin (through the link serve printed) owns the instance.
	b.open(srv.setupLink)
	b.fill("#f-email", "owner@example.com")
	b.fill("#f-password", ownerPW)
	b.fill("#f-password_confirm", ownerPW)
	b.submit(`button[type=submit]`)
	b.see("Welcome!", "owner")

	// A webhook to look at, made through the API with a key from the UI.
	b.open("/settings/api-keys")
	b.fill("#f-name", "setup script")
	b.submit(`form[action="/settings/api-keys"] button[type=submit]`)
	key := eval[string](b, `document.querySelector("#new-key").value`)
	st, wh := tenantAPI(t, "POST", srv.url+"/api/v1/webhooks", key, map[string]any{
		"name": "CRM perks", "event": "coupon.redeemed", "endpoint_url": "https://api.crm.example.com/perks", "method": "POST",
		"payload_type": "JSON", "payload": `{"coupon": "{{ coupon.id }}"}`})
	if st != http.StatusCreated {
		t.Fatalf("create a webhook: %d %v", st, wh)
	}
	whID := wh["id"].(string)
	if st, _ := tenantAPI(t, "POST", srv.url+"/api/v1/webhooks/"+whID+"/publish", key, nil); st != http.StatusOK {
		t.Fatalf("publish: %d", st)
	}

	// The owner invites a viewer and copies the link from the page.
	b.open("/settings/members")
	b.see("Members", "owner@example.com")
	b.checkA11y("members")
	b.fill("#f-email", "viewer@example.com")
	b.set("#f-role", "viewer")
	b.submit(`form[action="/settings/members"] button[type=submit]`)
	b.see("Send this link to viewer@example.com", "Invited")
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy="#invite-url"]`)))
	b.waitFor(`document.querySelector('button[data-copy="#invite-url"]').textContent === "Copied"`)
	link := eval[string](b, `document.querySelector("#invite-url").value`)
	if !strings.HasPrefix(link, srv.url+"/invite/") {
		t.Fatalf("invitation link %q", link)
	}
	b.shot("members-invite")
	b.submit(`form[action="/logout"] button`)

	// The viewer opens the link, sets a password and is in.
	b.open(link)
	b.see("Join default", "viewer", "viewer@example.com")
	b.checkA11y("invitation")
	b.fill("#f-password", viewerPW)
	b.fill("#f-password_confirm", viewerPW)
	b.submit(`button[type=submit]`)
	b.see("Welcome to default", "CRM perks", "viewer")
	b.submit(`form[action="/logout"] button`)
	// The link worked once.
	b.open(link)
	b.see("This invitation does not work")

	// Signed in again, the viewer sees configuration and changes nothing.
	signIn("viewer@example.com", viewerPW)
	b.see("CRM perks", "Published")
	b.notSee(`href="/webhooks/new"`, `/publish"`, `/unpublish"`, `/duplicate"`, `/delete"`, `/edit"`, `href="/settings/api-keys"`, `href="/settings/members"`)
	b.open("/webhooks/" + whID)
	b.see("CRM perks", "whsec_")
	b.notSee("Rotate secret", "reveal=secret", `/test"`, `/edit"`, `/delete"`, `/unpublish"`)
	b.checkA11y("webhook (viewer)")
	b.shot("viewer-webhook")
	b.open("/settings/members")
	b.see("Not allowed")
	// A forged POST with the viewer's valid CSRF token is refused.
	b.open("/webhooks/" + whID)
	status := eval[int](b, `async (id) => {
		const token = document.querySelector('input[name=csrf_token]').value;
		const res = await fetch('/webhooks/' + id + '/delete', {method: 'POST', redirect: 'manual',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf_token=' + encodeURIComponent(token)});
		return res.status }`, whID)
	if status != http.StatusForbidden {
		t.Fatalf("a viewer's forged POST: %d, want 403", status)
	}
	if st, _ := tenantAPI(t, "GET", srv.url+"/api/v1/webhooks/"+whID, key, nil); st != http.StatusOK {
		t.Fatalf("the webhook after the viewer's POST: %d", st)
	}
	b.submit(`form[action="/logout"] button`)

	// The instance owner creates a second workspace and switches to it.
	signIn("owner@example.com", ownerPW)
	b.open("/workspaces")
	b.see("Workspaces", "default")
	b.checkA11y("workspaces")
	b.fill("#f-name", "brand-b")
	b.submit(`form[action="/workspaces"] button[type=submit]`)
	b.see("Workspace “brand-b” created")
	b.shot("workspaces")
	brandB := eval[string](b, `[...document.querySelectorAll('#ws-switch option')].find(o => o.textContent.startsWith("brand-b")).value`)
	b.set("#ws-switch", brandB)
	b.submit(`form.switcher button[type=submit]`)
	b.see("No webhooks yet")
	if got := eval[string](b, `document.querySelector('#ws-switch').selectedOptions[0].textContent`); !strings.HasPrefix(got, "brand-b") {
		t.Fatalf("the switcher shows %q after switching", got)
	}
	b.notSee("CRM perks")
	b.open("/settings/workspace")
	b.see("brand-b")
	// And back.
	def := eval[string](b, `[...document.querySelectorAll('#ws-switch option')].find(o => o.textContent.startsWith("default")).value`)
	b.set("#ws-switch", def)
	b.submit(`form.switcher button[type=submit]`)
	b.see("CRM perks")
}
