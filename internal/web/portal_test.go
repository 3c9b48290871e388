package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// portalBrowser is a browser inside the portal's iframe: it keeps the
// portal cookie by hand (Go's cookie jar sends Secure cookies to https
// only; browsers also to http://127.0.0.1, see docs/embedding.md).
type portalBrowser struct {
	e      *env
	cookie string
	csrf   string
}

func (b *portalBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	var body *strings.Reader
	if form != nil {
		if _, ok := form["csrf_token"]; !ok {
			form.Set("csrf_token", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, b.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "herald_portal", Value: b.cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		if c.Name == "herald_portal" {
			b.cookie = c.Value
			if c.MaxAge < 0 {
				b.cookie = ""
			}
		}
	}
	res, page := b.e.read(res)
	if m := csrfRE.FindStringSubmatch(page); m != nil {
		b.csrf = m[1]
	}
	return res, page
}

func (e *env) portalLink(spec herald.PortalSessionSpec) (*herald.PortalSession, string) {
	e.t.Helper()
	if spec.WorkspaceID == "" {
		spec.WorkspaceID = e.ws
	}
	p, token, err := e.svc.CreatePortalSession(herald.WithActor(context.Background(), "API key “platform”"), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return p, "/portal/open?token=" + url.QueryEscape(token)
}

// The portal on both stores: the link works once, opens the webhooks of
// its workspace only, without herald's navigation, behind the portal's
// cookie (SameSite=None; Secure; Partitioned — the admin's stay Lax);
// only the portal's routes answer; allowed_events limits the form and
// the save; the audit log names the portal session; the session ends at
// its expiry.
func TestPortalSession(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
		e := setup(t, options{store: open, clock: clock.now})
		e.svc.Audit = e.store.(herald.AuditLog)
		ctx := context.Background()
		mine, _, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: "Ours", Events: []string{"member.verified"},
			EndpointURL: "https://crm.example.com/hook", Method: "POST", PayloadType: herald.PayloadJSON, Payload: `{"id": "{{ member.id }}"}`})
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.store.EnsureWorkspace(ctx, "brand-b")
		if err != nil {
			t.Fatal(err)
		}
		theirs, _, err := e.svc.CreateWebhook(ctx, other.ID, herald.WebhookSpec{Name: "Brand B's hook", Events: []string{"member.verified"},
			EndpointURL: "https://b.example.com/hook", Method: "POST", PayloadType: herald.PayloadJSON, Payload: `{}`})
		if err != nil {
			t.Fatal(err)
		}

		if err := e.store.(herald.TenantStore).SetWorkspacePortalOrigins(ctx, e.ws, []string{"https://admin.platform.example", "http://localhost:3000"}); err != nil {
			t.Fatal(err)
		}
		p, link := e.portalLink(herald.PortalSessionSpec{Role: "admin", ExpiresIn: 600, ReturnURL: "https://platform.example/brands/1",
			AllowedEvents: []string{"coupon.redeemed"}})
		b := &portalBrowser{e: e}
		res, _ := b.do("GET", link, nil)
		e.status(res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/webhooks" {
			t.Fatalf("redeemed link goes to %q", loc)
		}
		var pc *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "herald_portal" {
				pc = c
			}
		}
		if pc == nil || !pc.Secure || !pc.HttpOnly || pc.SameSite != http.SameSiteNoneMode || !pc.Partitioned || pc.MaxAge < 590 || pc.MaxAge > 601 {
			t.Fatalf("portal cookie %+v: want Secure, HttpOnly, SameSite=None, Partitioned, until the expiry", pc)
		}
		// Single use: the same link again, from another browser, is gone.
		again := &portalBrowser{e: e}
		res, body := again.do("GET", link, nil)
		e.status(res, http.StatusGone)
		contains(t, body, "This portal link no longer works")
		if again.cookie != "" {
			t.Fatal("a used link set a portal cookie")
		}

		res, body = b.do("GET", "/webhooks", nil)
		e.status(res, http.StatusOK)
		contains(t, body, "Ours", `href="https://platform.example/brands/1"`, "Webhooks by herald")
		lacks(t, body, "Brand B's hook", "API keys", "Audit log", "/settings/workspace", "Sign out", "/account", "openapi.json")
		if xfo := res.Header.Get("X-Frame-Options"); xfo != "" {
			t.Fatalf("portal page sends X-Frame-Options %q", xfo)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://admin.platform.example http://localhost:3000;") ||
			strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("portal CSP %q", csp)
		}
		// Only the portal's pages answer; another workspace's objects are not found.
		for _, path := range []string{"/settings/api-keys", "/settings/audit-log", "/settings/workspace", "/account", "/webhooks/" + theirs.ID} {
			res, _ := b.do("GET", path, nil)
			e.status(res, http.StatusNotFound)
		}
		res, _ = b.do("POST", "/settings/api-keys", url.Values{"name": {"sneaky"}, "scopes": {"admin"}})
		e.status(res, http.StatusNotFound)

		// The form offers only the allowed events, and the save refuses others.
		res, body = b.do("GET", "/webhooks/new", nil)
		e.status(res, http.StatusOK)
		contains(t, body, `value="coupon.redeemed"`)
		lacks(t, body, `value="member.verified"`, `value="*"`)
		form := url.Values{"name": {"Tenant hook"}, "events": {"member.verified"}, "endpoint_url": {"https://tenant.example.com/in"},
			"method": {"POST"}, "payload_type": {"JSON"}, "payload": {`{"ok": true}`}}
		res, body = b.do("POST", "/webhooks", form)
		e.status(res, http.StatusUnprocessableEntity)
		contains(t, body, "is not among the event types this portal may subscribe to")
		form.Set("events", "coupon.redeemed")
		res, _ = b.do("POST", "/webhooks", form)
		e.status(res, http.StatusSeeOther)
		list, _, err := e.store.ListWebhooks(ctx, e.ws, herald.WebhookFilter{Name: "Tenant hook"})
		if err != nil || len(list) != 1 {
			t.Fatalf("tenant's webhook: %v, %v", list, err)
		}
		entries, _, err := e.svc.Audit.ListAudit(ctx, e.ws, herald.AuditFilter{ObjectID: list[0].ID})
		if err != nil || len(entries) == 0 || entries[0].Actor != "portal session "+p.ID {
			t.Fatalf("audit of the portal's change: %+v, %v", entries, err)
		}
		// The admin's own pages still refuse to be framed.
		res, _ = e.get("/login")
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("sign-in page framing: CSP %q, XFO %q", csp, res.Header.Get("X-Frame-Options"))
		}
		_ = mine

		// Expiry: the session ends, saying so (in the platform's frame),
		// the cookie is cleared, and then it is a stranger.
		clock.add(601 * time.Second)
		res, body = b.do("GET", "/webhooks", nil)
		e.status(res, http.StatusUnauthorized)
		contains(t, body, "This portal session has ended")
		if b.cookie != "" || res.Header.Get("X-Frame-Options") != "" {
			t.Fatalf("after expiry: cookie %q, XFO %q", b.cookie, res.Header.Get("X-Frame-Options"))
		}
		res, _ = b.do("GET", "/webhooks", nil)
		e.status(res, http.StatusSeeOther)
		// An unused link past its expiry does not open either.
		_, late := e.portalLink(herald.PortalSessionSpec{Role: "admin", ExpiresIn: 60})
		clock.add(61 * time.Second)
		res, _ = (&portalBrowser{e: e}).do("GET", late, nil)
		e.status(res, http.StatusGone)
		res, _ = (&portalBrowser{e: e}).do("GET", "/portal/open?token=nonsense", nil)
		e.status(res, http.StatusGone)
	})
}

// A viewer's portal reads and changes nothing; leaving it ends it.
func TestPortalViewerIsReadOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	hook, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "Ours", Events: []string{"member.verified"},
		EndpointURL: "https://crm.example.com/hook", Method: "POST", PayloadType: herald.PayloadJSON, Payload: `{}`})
	if err != nil {
		t.Fatal(err)
	}
	_, link := e.portalLink(herald.PortalSessionSpec{Role: "viewer", ExpiresIn: 600})
	b := &portalBrowser{e: e}
	res, _ := b.do("GET", link, nil)
	e.status(res, http.StatusSeeOther)
	res, body := b.do("GET", "/webhooks/"+hook.ID, nil)
	e.status(res, http.StatusOK)
	contains(t, body, "Ours", "Read only")
	lacks(t, body, `action="/webhooks/`+hook.ID+`/publish"`, `href="/webhooks/`+hook.ID+`/edit"`) // viewer mode: no controls
	if b.csrf == "" {
		t.Fatal("no CSRF token on the portal's page (the Leave form)")
	}
	for _, path := range []string{"/webhooks/" + hook.ID + "/publish", "/webhooks/" + hook.ID + "/delete", "/webhooks/" + hook.ID + "/duplicate"} {
		res, body := b.do("POST", path, url.Values{}) // with a valid CSRF token: the role refuses
		e.status(res, http.StatusForbidden)
		contains(t, body, "your role in this workspace (viewer) does not allow this")
	}
	if got, err := e.store.Webhook(context.Background(), e.ws, hook.ID); err != nil || got.Status != herald.Unpublished {
		t.Fatalf("after the viewer's tries: %+v, %v", got, err)
	}
	res, body = b.do("POST", "/portal/leave", url.Values{})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("leave: %d\n%s", res.StatusCode, body)
	}
	contains(t, body, "You left the portal")
	if b.cookie != "" {
		t.Fatal("leaving kept the cookie")
	}
	res, _ = b.do("GET", "/webhooks", nil)
	e.status(res, http.StatusSeeOther)
}
