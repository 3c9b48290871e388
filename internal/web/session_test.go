package web_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

func TestFirstAdminSetup(t *testing.T) {
	t.Parallel()
	e := setup(t)

	// Before any admin exists, sign-in explains how to get one.
	res, body := e.get("/login")
	e.status(res, http.StatusOK)
	contains(t, body, "No admin exists yet", "herald user create")

	res, body = e.get("/setup")
	e.status(res, http.StatusForbidden)
	contains(t, body, "This setup link is not valid")
	res, _ = e.get("/setup?token=wrong")
	e.status(res, http.StatusForbidden)
	res, body = e.get("/setup?token=" + setupToken)
	e.status(res, http.StatusOK)
	contains(t, body, "Create the first admin", `name="password_confirm"`)

	cases := []struct {
		name                   string
		email, password, again string
		field, msg             string
	}{
		{"no email", "", adminPassword, adminPassword, "email", "is required"},
		{"bad email", "not-an-email", adminPassword, adminPassword, "email", "not a valid email"},
		{"no password", adminEmail, "", "", "password", "is required"},
		{"short password", adminEmail, "short", "short", "password", "at least 10"},
		{"long password", adminEmail, strings.Repeat("x", 73), strings.Repeat("x", 73), "password", "at most 72"},
		{"mismatch", adminEmail, adminPassword, adminPassword + "!", "password_confirm", "does not match"},
	}
	for _, c := range cases {
		res, body := e.post("/setup", url.Values{"token": {setupToken}, "email": {c.email}, "password": {c.password}, "password_confirm": {c.again}})
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, c.field, c.msg)
		if c.email != "" {
			contains(t, body, `value="`+c.email+`"`)
		}
		lacks(t, body, `value="`+adminPassword) // passwords are never echoed
	}
	// A wrong token on POST is refused too.
	res, _ = e.post("/setup", url.Values{"token": {"wrong"}, "email": {adminEmail}, "password": {adminPassword}, "password_confirm": {adminPassword}})
	e.status(res, http.StatusForbidden)

	res, _ = e.post("/setup", url.Values{"token": {setupToken}, "email": {" Admin@Example.com"}, "password": {adminPassword}, "password_confirm": {adminPassword}})
	e.status(res, http.StatusSeeOther)
	if res.Header.Get("Location") != "/webhooks" {
		t.Fatalf("setup redirected to %q", res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "herald_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", session)
	}
	// Signed in straight away, with a welcome.
	res, body = e.follow(res)
	e.status(res, http.StatusOK)
	contains(t, body, "Welcome!", adminEmail, "No webhooks yet")
	u, err := e.store.UserByEmail(context.Background(), adminEmail)
	if err != nil || u.WorkspaceID != e.ws || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Fatalf("first admin: %+v %v", u, err)
	}

	// The link works once.
	res, body = e.get("/setup?token=" + setupToken)
	e.status(res, http.StatusGone)
	contains(t, body, "already has an admin")
	res, _ = e.post("/setup", url.Values{"token": {setupToken}, "email": {"second@example.com"}, "password": {adminPassword}, "password_confirm": {adminPassword}})
	e.status(res, http.StatusForbidden)
	if n, _ := e.store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("%d users after a second setup", n)
	}
	res, body = e.get("/login")
	e.status(res, http.StatusSeeOther) // already signed in
	_ = body
}

// Without a setup token (serve found users, or the link was not printed),
// /setup never creates an admin.
func TestSetupWithoutToken(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	ui, err := web.New(web.Config{}, testDeps(st, herald.NewService(st, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest("GET", "/setup?token=", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("GET /setup without configured token: %d", rec.Code)
	}
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if _, err := web.CreateUser(context.Background(), e.store, e.ws, adminEmail, adminPassword, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	// Every page needs a session; the sign-in page brings the admin back.
	res, _ := e.get("/webhooks?status=published")
	e.status(res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/login?next="+url.QueryEscape("/webhooks?status=published") {
		t.Fatalf("redirect to %q", loc)
	}
	res, body := e.follow(res)
	e.status(res, http.StatusOK)
	contains(t, body, "Sign in to herald", `name="next" value="/webhooks?status=published"`)
	lacks(t, body, "No admin exists yet")

	res, body = e.post("/login", url.Values{"email": {""}, "password": {""}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "email", "is required")
	fieldError(t, body, "password", "is required")
	for _, creds := range [][2]string{{adminEmail, "wrong password"}, {"nobody@example.com", adminPassword}} {
		res, body = e.post("/login", url.Values{"email": {creds[0]}, "password": {creds[1]}})
		e.status(res, http.StatusUnauthorized)
		contains(t, body, "The email or the password is not right.", `value="`+creds[0]+`"`)
	}
	res, _ = e.post("/login", url.Values{"email": {"ADMIN@example.com"}, "password": {adminPassword}, "next": {"/webhooks?status=published"}})
	e.status(res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/webhooks?status=published" {
		t.Fatalf("after sign-in: %q", loc)
	}
	res, body = e.get("/webhooks")
	e.status(res, http.StatusOK)
	contains(t, body, adminEmail, "Sign out")

	// Sign out ends the session in the database, not only in the browser.
	sessionCookie := cookieOf(e, "herald_session")
	res, _ = e.post("/logout", url.Values{})
	e.status(res, http.StatusSeeOther)
	res, body = e.follow(res)
	e.status(res, http.StatusOK)
	contains(t, body, "You are signed out.")
	if _, err := e.store.Session(context.Background(), herald.HashSessionToken(sessionCookie)); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("session still stored after sign-out: %v", err)
	}
	// Replaying the old cookie does not work.
	req, _ := http.NewRequest("GET", e.srv.URL+"/webhooks", nil)
	req.AddCookie(&http.Cookie{Name: "herald_session", Value: sessionCookie})
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("old session cookie after sign-out: %d", res.StatusCode)
	}
}

func cookieOf(e *env, name string) string {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range e.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestOpenRedirectRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	web.CreateUser(context.Background(), e.store, e.ws, adminEmail, adminPassword, bcrypt.MinCost)
	for _, next := range []string{"//evil.example.com/x", "https://evil.example.com", "/\\evil.example.com", "javascript:alert(1)"} {
		e.get("/login")
		res, _ := e.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {next}})
		e.status(res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/webhooks" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
		e.get("/webhooks")
		res, _ = e.post("/logout", url.Values{})
		e.status(res, http.StatusSeeOther)
	}
}

func TestExpiredSession(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	token := cookieOf(e, "herald_session")
	sess, err := e.store.Session(context.Background(), herald.HashSessionToken(token))
	if err != nil {
		t.Fatal(err)
	}
	// Replace it by an expired one under the same token.
	e.store.DeleteSession(context.Background(), sess.TokenHash)
	sess.CreatedAt = sess.CreatedAt.Add(-48 * 3600 * 1e9)
	sess.ExpiresAt = sess.CreatedAt.Add(3600 * 1e9)
	if err := e.store.CreateSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	res, _ := e.get("/webhooks")
	e.status(res, http.StatusSeeOther)
	if _, err := e.store.Session(context.Background(), sess.TokenHash); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("expired session kept: %v", err)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	// A signed-in POST without the token, or with a wrong one, is refused
	// and changes nothing.
	for _, token := range []string{"", "forged", strings.Repeat("A", 43)} {
		res, body := e.post("/authorizations", url.Values{"csrf_token": {token}, "endpoint": {"https://api.example.com"}, "type": {"basic"},
			"basic.username": {"u"}, "basic.password": {"p"}})
		e.status(res, http.StatusForbidden)
		contains(t, body, "This form expired or was sent from another site")
	}
	list, _, _ := e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{})
	if len(list) != 0 {
		t.Fatalf("a forged form created %d authorizations", len(list))
	}
	// Sign-out needs the token too (no logout CSRF).
	res, _ := e.post("/logout", url.Values{"csrf_token": {""}})
	e.status(res, http.StatusForbidden)
	res, _ = e.get("/webhooks")
	e.status(res, http.StatusOK)

	// A token from another browser's session does not work here.
	other := signedInAs(t, e, "other@example.com")
	res, _ = e.post("/authorizations", url.Values{"csrf_token": {other.csrf}, "endpoint": {"https://api.example.com"}, "type": {"basic"},
		"basic.username": {"u"}, "basic.password": {"p"}})
	e.status(res, http.StatusForbidden)

	// The sign-in form is protected as well: no cookie, no sign-in.
	fresh := &http.Client{CheckRedirect: e.client.CheckRedirect}
	res, err := fresh.PostForm(e.srv.URL+"/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without CSRF: %d", res.StatusCode)
	}
}

// signedInAs signs a second browser in to the same server.
func signedInAs(t *testing.T, e *env, email string) *env {
	if _, err := web.CreateUser(context.Background(), e.store, e.ws, email, adminPassword, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	o := *e
	o.client = &http.Client{CheckRedirect: e.client.CheckRedirect}
	o.client.Jar, _ = newJar()
	o.get("/login")
	res, _ := o.post("/login", url.Values{"email": {email}, "password": {adminPassword}})
	o.status(res, http.StatusSeeOther)
	o.get("/webhooks")
	return &o
}

func TestSecureCookiesOverTLS(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	ws, _ := st.EnsureWorkspace(context.Background(), herald.DefaultWorkspace)
	web.CreateUser(context.Background(), st, ws.ID, adminEmail, adminPassword, bcrypt.MinCost)
	ui, err := web.New(web.Config{BcryptCost: bcrypt.MinCost}, testDeps(st, herald.NewService(st, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://herald.example.com/login", nil)
	req.TLS = &tls.ConnectionState{}
	ui.ServeHTTP(rec, req)
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "herald_csrf" {
			csrf = c
		}
	}
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly {
		t.Fatalf("csrf cookie over TLS: %+v", csrf)
	}
	token := csrfRE.FindStringSubmatch(rec.Body.String())[1]
	req = httptest.NewRequest("POST", "https://herald.example.com/login", strings.NewReader(url.Values{"email": {adminEmail}, "password": {adminPassword}, "csrf_token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	req.AddCookie(csrf)
	rec = httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-in over TLS: %d", rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "herald_session" && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
			t.Fatalf("session cookie over TLS: %+v", c)
		}
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	t.Parallel()
	e := setup(t)
	res, _ := e.get("/login")
	for h, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("%s = %q", h, res.Header.Get(h))
		}
	}
	for _, p := range []string{"/static/style.css", "/static/app.js", "/static/favicon.svg"} {
		res, body := e.get(p)
		e.status(res, http.StatusOK)
		if len(body) < 100 {
			t.Errorf("%s is %d bytes", p, len(body))
		}
	}
	res, _ = e.get("/static/nope.css")
	e.status(res, http.StatusNotFound)
}

func TestTooLargeForm(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.post("/authorizations", url.Values{"name": {strings.Repeat("x", 2<<20)}})
	e.status(res, http.StatusRequestEntityTooLarge)
	contains(t, body, "larger than")
}

// Password guessing is throttled: after 5 failures in 15 minutes, even the
// right password waits.
func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if _, err := web.CreateUser(context.Background(), e.store, e.ws, adminEmail, adminPassword, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	e.get("/login")
	for i := 0; i < 5; i++ {
		res, _ := e.post("/login", url.Values{"email": {adminEmail}, "password": {"guess"}})
		e.status(res, http.StatusUnauthorized)
	}
	res, body := e.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	e.status(res, http.StatusTooManyRequests)
	contains(t, body, "Too many failed sign-ins. Try again in 15 minutes.")
	// The address is throttled too, whatever the email.
	res, _ = e.post("/login", url.Values{"email": {"other@example.com"}, "password": {"x"}})
	e.status(res, http.StatusTooManyRequests)
}
