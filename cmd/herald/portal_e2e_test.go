package main

import (
	"database/sql"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// platformSite is the loyalty platform's admin: a local server whose page
// shows herald's portal in an iframe. Its backend mints a portal link
// with an admin key for every page view, as docs/embedding.md says to.
type platformSite struct {
	origin string // http://localhost:PORT — another site than herald's 127.0.0.1
	links  chan string
}

func startPlatform(t *testing.T, heraldURL, key string) *platformSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &platformSite{origin: fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port), links: make(chan string, 16)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		link := r.URL.Query().Get("src") // a link given by the test (a used or expired one)
		if link == "" {
			status, body := call(t, "POST", heraldURL+"/api/v1/portal-sessions", key, map[string]any{
				"role": "admin", "expires_in": 900, "return_url": p.origin + "/brands/aurora",
				"allowed_events": []string{"coupon.redeemed", "member.verified"}})
			if status != http.StatusCreated {
				http.Error(w, fmt.Sprintf("portal session: %d %v", status, body), http.StatusBadGateway)
				return
			}
			link = body["url"].(string)
			p.links <- link
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Aurora Rewards — Integrations</title>
<style>body{font-family:sans-serif;margin:0;background:#fff8ef} header{background:#7a2e0e;color:#fff;padding:14px 24px;font-size:20px}
main{padding:18px 24px} iframe{width:100%%;height:720px;border:1px solid #e2c9b0;border-radius:8px;background:#fff}</style></head>
<body><header>Aurora Rewards · Brand admin</header><main><h1>Integrations</h1>
<iframe id="portal" title="Webhooks" src="%s"></iframe></main></body></html>`, html.EscapeString(link))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// portalFrame waits for the iframe showing herald (a cross-site frame is
// its own target in Chromium) and returns a browser driving it.
func (b *browser) portalFrame(heraldURL string) *browser { return b.frameOf(heraldURL, false) }

func (b *browser) frameOf(heraldURL string, anyURL bool) *browser {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		infos, err := chromedp.Targets(b.ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		for _, info := range infos {
			// Past the link's redirect, unless the frame stays on it
			// (refused, or showing why the link no longer works).
			if info.Type == "iframe" && strings.HasPrefix(info.URL, heraldURL) && (anyURL || !strings.Contains(info.URL, "/portal/open")) {
				ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID))
				b.t.Cleanup(cancel)
				// The first Run attaches to the target for the context's
				// life: it must not run under a timeout of its own.
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("true")); err != nil {
					b.t.Fatalf("attach to the iframe: %v", err)
				}
				f := &browser{t: b.t, ctx: ctx, base: heraldURL, axe: b.axe}
				if !anyURL {
					f.waitLoaded()
				}
				return f
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no iframe of %s within 15 s; targets: %+v", heraldURL, infos)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// framedHref is what the iframe shows: its document's URL, or
// chrome-error://chromewebdata/ when the browser refused to frame it.
func (b *browser) framedHref(heraldURL string) string {
	b.t.Helper()
	f := b.frameOf(heraldURL, true)
	f.waitFor(`location.href.startsWith("chrome-error:") || document.querySelector(".portalbar")`)
	return eval[string](f, `location.href + (document.querySelector(".portalbar") ? " (herald's portal)" : "")`)
}

// expire moves portal sessions' expiry into the past in the database, as
// the clock would after expires_in (at least 60 s, too long to wait for).
func expire(t *testing.T, db, where string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	past := time.Now().Add(-time.Second).UnixMicro()
	res, err := conn.Exec(`UPDATE portal_sessions SET expires_at = ?, created_at = ? WHERE `+where, past, past-1)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("no portal session where %s", where)
	}
}

// The browser test of the embeddable portal: a page on an
// allowed origin (another local server) shows the portal in an iframe,
// and the tenant creates a webhook in it; a page on an origin that is not
// allowed gets no portal (the browser refuses the frame); a used link
// and an expired one no longer open it; a session that ends says so.
// Chromium keeps the portal's SameSite=None; Secure; Partitioned cookie
// for herald on plain http://127.0.0.1 (a potentially trustworthy
// origin); without Partitioned it is blocked as a third-party cookie (see
// docs/embedding.md).
func TestPortalInIframe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	out, stderr, err := runHerald(t, vars, "apikey", "create", "--name", "platform")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr)
	}
	key := strings.TrimSpace(out)
	srv := startServeUI(t, vars, "--allow-network", "127.0.0.0/8")
	allowed := startPlatform(t, srv.url, key)
	stranger := startPlatform(t, srv.url, key)
	if status, body := call(t, "PATCH", srv.url+"/api/v1/workspace", key, map[string]any{"portal_allowed_origins": []string{allowed.origin}}); status != http.StatusOK {
		t.Fatalf("PATCH /workspace portal_allowed_origins: %d %v", status, body)
	}
	b := newBrowser(t, srv.url)

	// 1. The allowed origin: herald's webhooks screen inside the frame,
	// without herald's navigation.
	b.open(allowed.origin + "/")
	first := <-allowed.links
	f := b.portalFrame(srv.url)
	f.waitFor(`location.pathname === "/webhooks" && document.querySelector(".portalbar")`)
	f.see("No webhooks yet", "Back", "Webhooks by herald")
	f.notSee("API keys", "Audit log", "Sign out", "REST API (OpenAPI)")
	f.checkA11y("portal: webhooks (empty)")

	// The tenant adds a webhook there: the form offers the allowed events only.
	f.open("/webhooks/new")
	f.see("Events")
	if opts := eval[[]string](f, `[...document.querySelectorAll("#f-event option")].map(o => o.value).sort()`); strings.Join(opts, ",") != "coupon.redeemed,member.verified" {
		t.Fatalf("the portal's form offers %v; want the allowed events only", opts)
	}
	f.fill("#f-name", "Aurora CRM — coupon redeemed")
	if !eval[bool](f, `() => { const s = document.querySelector("#f-event"); [...s.options].forEach(o => o.selected = o.value === "coupon.redeemed"); s.dispatchEvent(new Event("change", {bubbles: true})); return s.selectedOptions.length === 1 }`) {
		t.Fatal("cannot choose coupon.redeemed")
	}
	f.fill("#f-endpoint_url", "https://crm.aurora.example/hooks/coupons")
	f.set("#f-payload", `{"coupon": "{{ coupon.code }}"}`)
	f.submit(`button[name=action][value=save]`)
	f.see("Aurora CRM — coupon redeemed")
	f.notSee("API keys")
	status, list := call(t, "GET", srv.url+"/api/v1/webhooks?name=Aurora", key, nil)
	if data, _ := list["data"].([]any); status != http.StatusOK || len(data) != 1 {
		t.Fatalf("the tenant's webhook through the API: %d %v", status, list)
	}
	status, audit := call(t, "GET", srv.url+"/api/v1/audit-log?object_type=webhook", key, nil)
	entries, _ := audit["data"].([]any)
	if status != http.StatusOK || len(entries) == 0 || !strings.HasPrefix(entries[0].(map[string]any)["actor"].(string), "portal session ") {
		t.Fatalf("audit of the portal's change: %d %v", status, audit)
	}
	f.open("/webhooks")
	f.see("Aurora CRM — coupon redeemed")
	b.waitLoaded()
	b.shot("portal-iframe")

	// 2. The link the frame used cannot be used again.
	b.open(allowed.origin + "/?src=" + url.QueryEscape(first))
	f = b.frameOf(srv.url, true)
	f.waitLoaded()
	f.see("This portal link no longer works")

	// 3. Another origin: the browser refuses to show herald in its frame.
	b.open(stranger.origin + "/")
	<-stranger.links
	if href := b.framedHref(srv.url); !strings.HasPrefix(href, "chrome-error:") {
		t.Fatalf("a page on %s framed herald's portal (%s)", stranger.origin, href)
	}

	// 4. Expiry: a link not opened in time does not work; a session that
	// ends says so in the frame.
	status, minted := call(t, "POST", srv.url+"/api/v1/portal-sessions", key, map[string]any{"role": "viewer", "expires_in": 60})
	if status != http.StatusCreated {
		t.Fatalf("mint: %d %v", status, minted)
	}
	expire(t, db, "redeemed_at IS NULL AND role = 'viewer'")
	b.open(allowed.origin + "/?src=" + url.QueryEscape(minted["url"].(string)))
	f = b.frameOf(srv.url, true)
	f.waitLoaded()
	f.see("This portal link no longer works")

	b.open(allowed.origin + "/")
	<-allowed.links
	f = b.portalFrame(srv.url)
	f.waitFor(`location.pathname === "/webhooks"`)
	f.see("Aurora CRM — coupon redeemed")
	expire(t, db, "redeemed_at IS NOT NULL")
	f.open("/authorizations")
	f.see("This portal session has ended")
}
