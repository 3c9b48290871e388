package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin UI in a real browser: headless Chromium (Debian's chromium
// package) driven by chromedp against the real `herald serve`, with a
// receiver on 127.0.0.1. axe-core (testdata/, from the npm registry) checks
// the main pages for accessibility. Set HERALD_SCREENSHOTS=1 to refresh
// docs/screenshots/.

const chromiumPath = "/usr/bin/chromium"

// axeSource is axe-core's axe.min.js, vendored from npm (axe-core@4.14.1,
// MPL-2.0) so the test downloads nothing.
const axeFile = "testdata/axe-4.14.1.min.js"

// uiServer is a running `herald serve` and the first-admin link it printed.
type uiServer struct {
	url, setupLink string
	done           chan error
	cancel         context.CancelFunc
}

func startServeUI(t *testing.T, getenv func(string) string, args ...string) *uiServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	s := &uiServer{done: make(chan error, 1), cancel: cancel}
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), pw, &lockedWriter{w: &stderr})
		pw.CloseWithError(io.EOF)
		s.done <- err
	}()
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for s.url == "" || s.setupLink == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited: %v\n%s", <-s.done, stderr.String())
			}
			if u, ok := strings.CutPrefix(l, "herald listening on "); ok {
				s.url = u
			}
			if u, ok := strings.CutPrefix(l, "first admin: "); ok {
				s.setupLink = u
			}
		case <-deadline:
			t.Fatalf("serve did not print its URL and first-admin link within 20 s (url %q, link %q)", s.url, s.setupLink)
		}
	}
	go func() {
		for range lines {
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20 s")
		}
	})
	return s
}

// receiver is a third-party service on 127.0.0.1 that records requests.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, Path string
	Header       http.Header
	Body         string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Clone(), string(body)})
		r.mu.Unlock()
		w.Header().Set("X-Receiver", "crm")
		if strings.HasSuffix(req.URL.Path, "/m-fail") { // a member whose deliveries fail
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"received": true}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// apiCall makes one REST call with key and fails the test unless it
// answers want.
func apiCall(t *testing.T, method, url, key, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, res.StatusCode, got, want)
	}
}

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// browser drives one tab.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string // directory for screenshots, "" for none
	axe      string
	a11yMu   sync.Mutex
	a11yRuns []string
	axeTime  time.Duration
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HERALD_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("HERALD_REQUIRE_CHROMIUM is set but %s is missing (%v): install Debian's chromium package", chromiumPath, err)
		}
		t.Skipf("SKIP: %s not found, so the browser tests do not run; install it with `apt-get install chromium` (CI sets HERALD_REQUIRE_CHROMIUM=1 to fail instead)", chromiumPath)
	}
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, axe: string(axe)}
	if os.Getenv("HERALD_SCREENSHOTS") != "" {
		b.shots = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Start the browser (the first Run allocates it; no timeout on it).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser at %s: %v", b.location(), err)
	}
}

func eval[T any](b *browser, js string, args ...any) T {
	b.t.Helper()
	if len(args) > 0 || strings.HasPrefix(js, "() =>") {
		enc := make([]string, len(args))
		for i, a := range args {
			j, _ := json.Marshal(a)
			enc[i] = string(j)
		}
		js = "(" + js + ")(" + strings.Join(enc, ",") + ")"
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.120s: %v", js, err)
	}
	return v
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Location())
	return l
}

// open navigates to a path of herald (or an absolute URL).
func (b *browser) open(path string) {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.base + path
	}
	b.do(chromedp.Navigate(path))
	b.waitLoaded()
}

func (b *browser) waitLoaded() {
	b.t.Helper()
	b.waitFor(`document.readyState === "complete" && document.documentElement.dataset.old === undefined`)
}

// waitFor polls a JavaScript condition for up to 10 s. Each poll has its
// own short timeout and errors count as "not yet": an evaluation that
// meets a navigation may never answer.
func (b *browser) waitFor(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 10 s at %s for %s (last error %v)\n%s", b.location(), cond, lastErr, b.mainText())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// submit clicks a button or link that loads a new page and waits for it.
func (b *browser) submit(sel string) {
	b.t.Helper()
	eval[bool](b, `() => { document.documentElement.dataset.old = "1"; return true }`)
	b.do(chromedp.Click(chromedp.CSS(sel)))
	b.waitLoaded()
}

// fill types into an input the way a user does (focus, keys), after
// clearing it.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	if !eval[bool](b, `(sel) => { const el = document.querySelector(sel); if (!el) return false; el.value = ""; el.focus(); return true }`, sel) {
		b.t.Fatalf("no %s at %s", sel, b.location())
	}
	b.do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// set sets a value directly (selects, long text) and fires input/change.
func (b *browser) set(sel, value string) {
	b.t.Helper()
	ok := eval[bool](b, `(sel, v) => { const el = document.querySelector(sel); if (!el) return false; el.value = v;
		el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return el.value === v }`, sel, value)
	if !ok {
		b.t.Fatalf("cannot set %s to %q at %s", sel, value, b.location())
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, `(sel) => { const el = document.querySelector(sel); return el ? el.innerText : "" }`, sel)
}

func (b *browser) mainText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

func (b *browser) html() string { return eval[string](b, `document.documentElement.outerHTML`) }

func (b *browser) see(want ...string) {
	b.t.Helper()
	txt := b.mainText()
	for _, w := range want {
		if !strings.Contains(txt, w) {
			b.t.Errorf("at %s the page does not say %q", b.location(), w)
		}
	}
	if b.t.Failed() {
		b.t.Fatalf("page text:\n%s", txt)
	}
}

func (b *browser) notSee(bad ...string) {
	b.t.Helper()
	h := b.html()
	for _, s := range bad {
		if strings.Contains(h, s) {
			b.t.Fatalf("at %s the page contains %q", b.location(), s)
		}
	}
}

// shot saves a screenshot as docs/screenshots/name.png when asked to.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkA11y runs axe-core on the page and fails on serious or critical
// violations.
func (b *browser) checkA11y(page string) {
	b.t.Helper()
	t0 := time.Now()
	defer func() { b.axeTime += time.Since(t0) }()
	if !eval[bool](b, `typeof window.axe === "object"`) {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](b.axe))
		cancel()
		if err != nil {
			b.t.Fatalf("inject axe-core: %v", err)
		}
	}
	vs := eval[[]axeViolation](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
		ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 200))})))`)
	var bad []string
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, fmt.Sprintf("%s (%s): %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n    ")))
		}
	}
	if len(bad) > 0 {
		b.t.Errorf("axe-core: %d serious or critical violation(s) on %s:\n%s", len(bad), page, strings.Join(bad, "\n"))
	}
	b.a11yMu.Lock()
	b.a11yRuns = append(b.a11yRuns, page)
	b.a11yMu.Unlock()
}

// viewport switches between desktop and phone widths.
func (b *browser) viewport(w, h int64, mobile bool) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	b.do(chromedp.EmulateViewport(w, h, opts...))
}

func TestAdminUIInBrowser(t *testing.T) {
	start := time.Now()
	recv := newReceiver(t)
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}), "--allow-network", "127.0.0.0/8")
	t.Logf("herald started after %v", time.Since(start).Round(time.Millisecond))
	b := newBrowser(t, srv.url)
	t.Logf("browser started after %v", time.Since(start).Round(time.Millisecond))
	lapStart := time.Now()
	lap := func(step string) {
		t.Logf("%-28s %v", step, time.Since(lapStart).Round(time.Millisecond))
		lapStart = time.Now()
	}

	// Before any admin exists, sign-in says how to get one.
	b.open("/webhooks")
	if !strings.Contains(b.location(), "/login") {
		t.Fatalf("unauthenticated visit went to %s", b.location())
	}
	b.see("No admin exists yet")
	b.checkA11y("sign-in")

	// The skip link is the first thing the keyboard reaches.
	b.do(chromedp.KeyEvent("\t"))
	if got := eval[string](b, `document.activeElement.className`); got != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}

	lap("before step 1")
	// 1. First admin through the link serve printed.
	b.open(srv.setupLink)
	b.see("Create the first admin")
	b.checkA11y("first-admin setup")
	b.fill("#f-email", "admin@example.com")
	b.fill("#f-password", "short")
	b.fill("#f-password_confirm", "short")
	b.submit(`button[type=submit]`)
	if got := b.text("#f-password-error"); !strings.Contains(got, "at least 10 characters") {
		t.Fatalf("short password: error %q", got)
	}
	b.fill("#f-password", "correct horse battery")
	b.fill("#f-password_confirm", "correct horse battery")
	b.submit(`button[type=submit]`)
	b.see("Welcome!", "No webhooks yet", "admin@example.com")
	b.checkA11y("webhooks (empty)")
	b.shot("webhooks-empty")

	lap("before step 2")
	// 2. Sign out and in again.
	b.submit(`form[action="/logout"] button`)
	b.see("You are signed out.", "Sign in to herald")
	b.shot("sign-in")
	b.fill("#f-email", "admin@example.com")
	b.fill("#f-password", "wrong password!")
	b.submit(`button[type=submit]`)
	b.see("The email or the password is not right.")
	b.fill("#f-password", "correct horse battery")
	b.submit(`button[type=submit]`)
	b.see("Webhooks", "Authorizations", "Add new")

	lap("before step 3")
	// 3. An authorization with a SECRET header; after save it is only masked.
	const secret = "Token crm-secret-value-9876"
	b.open("/authorizations")
	b.see("No authorizations yet")
	b.submit(`a[href="/authorizations/new"].button.primary`)
	b.fill("#f-endpoint", recv.URL)
	b.fill("#f-name", "CRM")
	// The Header/Basic switch shows only the chosen credential.
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-basic"]`)))
	if eval[bool](b, `document.querySelector("#f-header-key").offsetParent !== null`) || !eval[bool](b, `document.querySelector("#f-basic-username").offsetParent !== null`) {
		t.Fatal("type switch to Basic did not swap the fields")
	}
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-header"]`)))
	b.fill("#f-header-key", "X-Api-Key")
	b.fill("#f-header-value", secret)
	b.checkA11y("authorization form")
	b.shot("authorization-form")
	b.submit(`.form-actions button[type=submit]`)
	b.see("Authorization “CRM” saved", "CRM", "••••9876", "Secret · set")
	b.notSee(secret, "crm-secret")
	b.checkA11y("authorizations list")
	b.shot("authorizations")
	b.submit(`td a[href$="/edit"]`)
	b.see("A secret value is set (••••9876)")
	b.notSee(secret, "crm-secret")

	// 3b. The OAuth 2.0 type shows its own fields only; a preset fills the
	// webhook form and says what is left to fill.
	b.open("/authorizations/new")
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-oauth2"]`)))
	if eval[bool](b, `document.querySelector("#f-header-key").offsetParent !== null`) || !eval[bool](b, `document.querySelector("#f-oauth2-token_url").offsetParent !== null`) ||
		!eval[bool](b, `document.querySelector("#f-tls_client-certificate_pem").offsetParent !== null`) {
		t.Fatal("type switch to OAuth 2.0 did not show its fields (and the client certificate) only")
	}
	b.checkA11y("authorization form (OAuth 2.0)")
	b.open("/webhooks/new?preset=salesforce-marketing-cloud&event=coupon.redeemed")
	b.see("Still to fill before publishing", "YOUR_EVENT_DEFINITION_KEY", "oauth2_client_credentials")
	b.checkA11y("webhook form from a preset")

	lap("before step 4")
	// 4. A webhook with every field, a field error first.
	b.open("/webhooks")
	b.submit(`a[href="/webhooks/new"].button.primary`)
	b.fill("#f-name", "CRM — member verified")
	b.fill("#f-description", "Tells the CRM that a member verified their email.")
	b.set("#f-event", "member.verified")
	if !eval[bool](b, `!document.querySelector('.vars[data-event="member.verified"]').hidden`) {
		t.Error("the chosen event's variables are not shown")
	}
	b.see("member.email")
	b.do(chromedp.Click(chromedp.CSS("#f-authorization_enabled")))
	b.set("#f-authorization_id", eval[string](b, `document.querySelector("#f-authorization_id option:nth-child(2)").value`))
	b.fill("#f-endpoint_url", recv.URL+"/hooks/{{ member.id }}")
	b.set("#f-method", "PUT")
	b.fill("#f-custom_headers-0-name", "Content-Length") // refused: herald sets it
	b.fill("#f-custom_headers-0-value", "herald")
	b.do(chromedp.Click(chromedp.CSS("#add-header")))
	b.fill("#f-custom_headers-3-name", "X-Member")
	b.fill("#f-custom_headers-3-value", "{{ member.id }}")
	b.set("#f-payload_type", "JSON")
	b.set("#f-payload", "{\n  \"email\": \"{{ member.email }}\",\n  \"tier\": \"{{ member.tier }}\"\n}")
	b.see("successes keep at most 1,024. Empty: the server's default (4,096).")
	b.fill("#f-log_body_bytes", "70000") // refused: at most 64 KiB
	b.submit(`button[value=save]`)
	b.see("Please correct the fields marked below.")
	if got := b.text("#f-custom_headers-0-name-error"); !strings.Contains(got, "hop-by-hop or framing header") {
		t.Fatalf("error next to the header name: %q", got)
	}
	if eval[string](b, `document.querySelector("#f-custom_headers-0-name").getAttribute("aria-invalid")`) != "true" {
		t.Error("the header name input is not marked invalid")
	}
	if got := b.text("#f-log_body_bytes-error"); !strings.Contains(got, "must be from 0 to 65536") {
		t.Fatalf("error next to log_body_bytes: %q", got)
	}
	if v := eval[string](b, `document.querySelector("#f-log_body_bytes").value`); v != "70000" {
		t.Errorf("log_body_bytes came back as %q, not as typed", v)
	}
	// The summary words each error as a sentence and links to its field.
	if got := b.text(`#form-error a[href="#f-log_body_bytes"]`); !strings.HasPrefix(got, "Log body bytes must be from 0 to 65536") {
		t.Errorf("summary entry for log_body_bytes: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`#form-error a[href="#f-custom_headers-0-name"]`)))
	if id := eval[string](b, `document.activeElement.id`); id != "f-custom_headers-0-name" {
		t.Errorf("the summary link focused %q, not the header name", id)
	}
	b.checkA11y("webhook form with errors")
	b.shot("webhook-form-error")
	b.fill("#f-custom_headers-0-name", "X-Source")
	// Attempts keep the first 32 bytes of each body: the first line of the
	// payload and a bit.
	b.fill("#f-log_body_bytes", "32")
	// The live preview renders the sample event as you type.
	b.waitFor(`document.querySelector("#preview-body").innerText.includes("ana.novak@example.com")`)
	b.waitFor(`document.querySelector("#preview-body").innerText.includes("X-Source")`)
	preview := b.text("#preview-body")
	for _, want := range []string{"PUT", recv.URL + "/hooks/bf428af0-bf06-4bc4-a91b-91b5bda6e211", `"tier": "gold"`, "X-Member", "X-Api-Key", "••••9876", "webhook-signature"} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	b.checkA11y("webhook form")
	b.submit(`button[value=save]`)
	b.see("Webhook “CRM — member verified” created", "Unpublished", "User - User Was Verified", "X-Member", "Signing secret",
		"The first 32 bytes of each request and response body.")
	webhookURL := b.location()
	// The edit form comes back filled in, and previews at once.
	b.open(webhookURL + "/edit")
	b.waitFor(`document.querySelector("#preview-body").innerText.includes("ana.novak@example.com")`)
	if v := eval[string](b, `document.querySelector("#f-custom_headers-1-value").value`); v != "{{ member.id }}" {
		t.Errorf("edit form: second header value %q", v)
	}
	if v := eval[string](b, `document.querySelector("#f-log_body_bytes").value`); v != "32" {
		t.Errorf("edit form: log_body_bytes %q", v)
	}
	b.shot("webhook-form")
	b.open(webhookURL)

	lap("before step 5")
	// 5. Publish, then send a test event to the receiver.
	b.submit(`form[action$="/publish"] button`)
	b.see("is published", "Published", "Unpublish")
	b.submit(`form[action$="/test"] button`)
	b.see("Test result", "Success", "HTTP 200", `{"received": true}`, "X-Receiver")
	b.checkA11y("webhook detail with test result")
	b.shot("webhook-detail")
	reqs := recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want the test", len(reqs))
	}
	got := reqs[0]
	if got.Method != "PUT" || got.Path != "/hooks/bf428af0-bf06-4bc4-a91b-91b5bda6e211" || got.Header.Get("X-Api-Key") != secret ||
		got.Header.Get("X-Source") != "herald" || got.Header.Get("X-Member") != "bf428af0-bf06-4bc4-a91b-91b5bda6e211" ||
		!strings.HasPrefix(got.Header.Get("Webhook-Signature"), "v1,") || !strings.Contains(got.Body, `"email": "ana.novak@example.com"`) {
		t.Fatalf("receiver got %+v", got)
	}
	b.notSee(secret) // the request as logged has the secret redacted

	lap("before step 6")
	// 6. A real event through the API, with a key made on the API keys page.
	b.open("/settings/api-keys")
	b.fill("#f-name", "Loyalty platform")
	b.do(chromedp.Click(chromedp.CSS(`input[name=scopes][value=ingest]`)))
	b.submit(`form[action="/settings/api-keys"] button[type=submit]`)
	b.see("Copy the key for “Loyalty platform” now")
	key := eval[string](b, `document.querySelector("#new-key").value`)
	b.checkA11y("API keys")
	b.shot("api-keys")
	// The audit log names who made each change.
	b.open("/settings/audit-log")
	b.see("Audit log", "api_key.create", "Loyalty platform", "webhook.publish", "authorization.create")
	b.notSee(secret)
	b.checkA11y("audit log")
	b.shot("audit-log")
	// Filter by object type: only the authorization's changes remain,
	// each named.
	b.set("#q-object-type", "authorization")
	b.submit(`form.filters button[type=submit]`)
	b.see("authorization.create", "CRM")
	b.notSee("api_key.create", "webhook.publish")
	b.checkA11y("audit log filtered")
	b.open("/settings/workspace")
	b.see("Time zone", "date-only values", "Log retention", "Deliveries still pending are kept whatever their age.",
		"Empty: the server's default, for 30 days.")
	b.checkA11y("workspace settings")
	// Retention: a number and a unit; too short is refused next to the field.
	b.fill("#f-retention_seconds", "30")
	b.set("#f-retention_unit", "second")
	b.submit(`form[action="/settings/workspace/retention"] button[type=submit]`)
	if got := b.text("#f-retention_seconds-error"); !strings.Contains(got, "from 60 (a minute) to 315360000 (ten years)") {
		t.Fatalf("error next to the retention: %q", got)
	}
	if eval[string](b, `document.querySelector("#f-retention_seconds").getAttribute("aria-invalid")`) != "true" {
		t.Error("the retention input is not marked invalid")
	}
	b.checkA11y("workspace settings with an error")
	b.fill("#f-retention_seconds", "14")
	b.set("#f-retention_unit", "day")
	b.submit(`form[action="/settings/workspace/retention"] button[type=submit]`)
	b.see("Retention saved: this workspace keeps logs for 14 days.")
	if v := eval[string](b, `document.querySelector("#f-retention_seconds").value + " " + document.querySelector("#f-retention_unit").value`); v != "14 day" {
		t.Errorf("retention form after saving: %q", v)
	}
	b.shot("workspace")
	event := `{"type": "member.verified", "data": {"member": {"id": "m-42", "email": "eva@example.com", "tier": "silver"}}}`
	req, _ := http.NewRequest("POST", srv.url+"/api/v1/events", strings.NewReader(event))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %d", res.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(recv.requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := recv.requests(); len(r) < 2 || r[1].Path != "/hooks/m-42" {
		t.Fatalf("the event was not delivered: %+v", r)
	}

	lap("before step 7")
	// 7. Logs: both attempts, a chart, the detail view, Retry.
	b.open(webhookURL + "/logs")
	b.waitFor(`document.querySelectorAll("table.list tbody tr").length >= 2`)
	b.see("Last 24 hours", "2 succeeded", "HTTP 200", "member eva@example.com")
	b.checkA11y("logs")
	b.shot("logs")
	// Each row names its event and links to the event's data.
	b.submit(`table.list tbody tr:first-child a[href*="/events/"]`)
	b.see("Event member.verified", "member eva@example.com", `"tier": "silver"`)
	b.checkA11y("event data")
	b.open(webhookURL + "/logs")
	// Nothing failed: Replay is not offered, and its page says why.
	if eval[bool](b, `document.querySelector("form.replay") !== null`) {
		t.Error("Replay offered with no failed delivery")
	}
	b.open(webhookURL + "/replay")
	b.see("There is no failed delivery to replay between")
	b.submit(`table.list tbody tr:first-child a[href*="/logs/"]`)
	b.see("Attempt #1", "Request", "Response", "/hooks/m-42", "eva@example.com", "Resend",
		fmt.Sprintf("Showing the first 32 of %d bytes (log_body_bytes).", len(recv.requests()[1].Body)))
	b.notSee(secret)
	b.checkA11y("attempt detail")
	b.shot("attempt")
	// It succeeded, so it is resent (a new delivery), not retried.
	if eval[bool](b, `document.querySelector('form[action$="/retry"]') !== null`) {
		t.Error("Retry offered for a delivery that succeeded")
	}
	b.submit(`form[action$="/resend"] button`)
	b.see("sent again as a new delivery")
	deadline = time.Now().Add(10 * time.Second)
	for len(recv.requests()) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := recv.requests(); len(r) < 3 || r[2].Path != "/hooks/m-42" || r[2].Header.Get("Webhook-Id") == r[1].Header.Get("Webhook-Id") {
		t.Fatalf("resend did not deliver the event as a new delivery: %d requests", len(r))
	}
	// Filter the logs by outcome.
	b.set("#q-outcome", "failure")
	b.submit(`form.filters button[type=submit]`)
	b.see("No attempt matches these filters")
	// A delivery that fails for good (one retry, a second apart): Replay
	// is offered, asks first, and queues it again.
	webhookID := webhookURL[strings.LastIndex(webhookURL, "/")+1:]
	apiCall(t, "PATCH", srv.url+"/api/v1/webhooks/"+webhookID, key, `{"retry_schedule": ["0s", "1s"]}`, http.StatusOK)
	apiCall(t, "POST", srv.url+"/api/v1/events", key,
		`{"type": "member.verified", "data": {"member": {"id": "m-fail", "email": "fay@example.com", "tier": "gold"}}}`, http.StatusAccepted)
	failedSeen := func() int {
		n := 0
		for _, r := range recv.requests() {
			if r.Path == "/hooks/m-fail" {
				n++
			}
		}
		return n
	}
	deadline = time.Now().Add(15 * time.Second)
	for failedSeen() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := failedSeen(); n != 2 {
		t.Fatalf("the failing delivery was attempted %d times, want 2 (first try and one retry)", n)
	}
	// The outcome is written just after the receiver answers.
	for deadline = time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b.open(webhookURL + "/logs")
		if eval[bool](b, `document.querySelector("form.replay") !== null`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Replay not offered for a delivery that failed for good")
		}
	}
	b.submit(`form.replay button[type=submit]`)
	b.see("Replay the failed deliveries of", "1 failed delivery created between")
	b.checkA11y("replay confirmation")
	b.submit(`form[action$="/replay"] button[type=submit]`)
	b.see("1 failed delivery between", "queued again.")
	deadline = time.Now().Add(10 * time.Second)
	for failedSeen() < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := failedSeen(); n < 3 {
		t.Fatalf("replay did not attempt the failed delivery again (%d attempts)", n)
	}

	lap("before step 8")
	// 8. Duplicate, unpublish, delete with confirmation.
	b.open(webhookURL)
	b.submit(`form[action$="/duplicate"] button`)
	b.see("CRM — member verified (copy)", "Unpublished")
	b.open(webhookURL)
	b.submit(`form[action$="/unpublish"] button`)
	b.see("is unpublished", "unpublished by admin@example.com")
	b.open("/webhooks")
	b.see("CRM — member verified (copy)")
	b.checkA11y("webhooks list")
	// The row actions: the copy (newest first) is published and
	// unpublished from the list, which stays in view.
	b.submit(`table.list tbody tr:first-child form[action$="/publish"] button`)
	b.see("CRM — member verified (copy)” is published")
	if loc := b.location(); !strings.HasSuffix(loc, "/webhooks") {
		t.Fatalf("publish on the list went to %s", loc)
	}
	b.checkA11y("webhooks list with row actions")
	b.submit(`table.list tbody tr:first-child form[action$="/unpublish"] button`)
	b.see("CRM — member verified (copy)” is unpublished")
	b.submit(`table.list a[href^="/webhooks/"]`) // newest first: the copy
	b.see("(copy)")
	b.submit(`a[href$="/delete"]`)
	b.see("Delete the webhook “CRM — member verified (copy)”?", "cannot be undone")
	b.checkA11y("delete confirmation")
	b.submit(`form button.danger`)
	b.see("Webhook “CRM — member verified (copy)” deleted.")

	lap("before step 9")
	// 9. Filter the list.
	b.open("/webhooks")
	b.fill("#q-name", "nothing like it")
	b.submit(`form.filters button[type=submit]`)
	b.see("No webhook matches these filters")
	b.fill("#q-name", "crm")
	b.set("#q-status", "unpublished")
	b.submit(`form.filters button[type=submit]`)
	if n := eval[int](b, `document.querySelectorAll("table.list tbody tr").length`); n != 1 {
		t.Fatalf("filtered list has %d rows", n)
	}

	lap("before step 9b")
	// 9b. A receiver that fails every call: after 20 failures in a row
	// the endpoint's circuit opens, and the Webhooks tab and the
	// webhook's page say so in words.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	b.open("/webhooks/new")
	b.fill("#f-name", "Backup CRM")
	b.set("#f-event", "member.verified")
	b.fill("#f-endpoint_url", down.URL+"/in/")
	// A click on a variable inserts {{ path }} at the cursor of the field
	// last typed in.
	if !eval[bool](b, `(() => { const c = [...document.querySelectorAll('.vars:not([hidden]) .var-insert code')].find(c => c.textContent === 'member.id');
		if (!c) return false; c.parentNode.click(); return true })()`) {
		t.Fatal("no clickable member.id variable")
	}
	if v := eval[string](b, `document.querySelector("#f-endpoint_url").value`); v != down.URL+"/in/{{ member.id }}" {
		t.Fatalf("endpoint after clicking member.id: %q", v)
	}
	b.checkA11y("webhook form with clickable variables")
	// The payload editor numbers its lines and marks the line of a
	// template error.
	b.set("#f-payload", "{\n  \"id\": \"{{ member.id \"\n}")
	if n := eval[int](b, `document.querySelector(".editor .gutter").textContent.trim().split("\n").length`); n != 3 {
		t.Errorf("the payload editor shows %d line numbers for 3 lines", n)
	}
	b.submit(`button[value=save]`)
	b.see("Please correct the fields marked below.")
	if got := b.text(".editor .gutter .bad"); got != "2" {
		t.Errorf("invalid mark on line %q, want 2 (error: %q)", got, b.text("#f-payload-error"))
	}
	b.checkA11y("payload editor with an error")
	b.shot("payload-editor-error")
	b.set("#f-payload", "{}")
	b.submit(`button[value=save]`)
	b.see("Webhook “Backup CRM” created")
	downURL := b.location()
	b.submit(`form[action$="/publish"] button`)
	b.see("is published")
	for i := range 20 {
		ev := fmt.Sprintf(`{"type": "member.verified", "data": {"member": {"id": "m-%d", "email": "m%d@example.com"}}}`, i, i)
		req, _ := http.NewRequest("POST", srv.url+"/api/v1/events", strings.NewReader(ev))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("ingest: %d", res.StatusCode)
		}
	}
	b.open("/webhooks")
	for i := 0; !strings.Contains(b.mainText(), "Circuit open") && i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		b.open("/webhooks")
	}
	// 20 or a few more: attempts already in flight when it opened count.
	b.see("Circuit open", "failures in a row, deliveries wait until")
	b.checkA11y("webhooks with an open circuit")
	b.shot("webhooks")
	b.open(downURL)
	b.see("Circuit open", "failures in a row, deliveries wait until", "holds back deliveries to "+down.URL)
	b.checkA11y("webhook with an open circuit")
	b.shot("webhook-circuit")

	lap("before step 10")
	// 10. At phone width nothing overflows sideways.
	b.viewport(390, 844, true)
	for _, p := range []string{"/webhooks", "/webhooks/new", webhookURL, webhookURL + "/logs", "/authorizations"} {
		b.open(p)
		if !eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth + 1`) {
			t.Errorf("%s scrolls sideways at 390 px: %v > %v", p, eval[float64](b, `document.documentElement.scrollWidth`), eval[float64](b, `window.innerWidth`))
		}
	}
	b.open("/webhooks")
	b.shot("webhooks-phone")
	b.viewport(1280, 900, false)

	lap("before step 11")
	// 11. CSRF: a form whose token was tampered with is refused.
	b.open("/authorizations/new")
	eval[bool](b, `() => { document.querySelector('main form input[name=csrf_token]').value = "forged"; return true }`)
	b.fill("#f-endpoint", "https://forged.example.com")
	b.fill("#f-header-key", "X-Forged")
	b.fill("#f-header-value", "forged")
	b.submit(`.form-actions button[type=submit]`)
	b.see("This form expired or was sent from another site")
	b.open("/authorizations")
	b.notSee("forged.example.com")
	// The CRM authorization names the webhook that uses it, with a link.
	b.submit(`table.list a.strong[href$="/edit"]`)
	b.see("In use by", "CRM — member verified")
	if eval[int](b, `document.querySelectorAll('ul.used-by a[href^="/webhooks/"]').length`) == 0 {
		t.Error("In use by lists no webhook link")
	}
	b.checkA11y("authorization in use")

	lap("before step 12")
	// 12. Sign out: the pages need a session again.
	b.submit(`form[action="/logout"] button`)
	b.see("You are signed out.")
	b.open("/webhooks")
	if !strings.Contains(b.location(), "/login") {
		t.Fatalf("after sign-out /webhooks showed %s", b.location())
	}
	lap("step 12")
	t.Logf("axe-core checked %d pages in %v: %s", len(b.a11yRuns), b.axeTime.Round(time.Millisecond), strings.Join(b.a11yRuns, ", "))
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
