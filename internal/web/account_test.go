package web_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/storetest"
)

// A second browser of the same admin (its own cookie jar and User-Agent).
func (e *env) secondBrowser(ua string) *env {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	o := *e
	o.client = &http.Client{Jar: jar, CheckRedirect: e.client.CheckRedirect, Transport: uaTransport(ua)}
	o.get("/login")
	res, _ := o.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	o.status(res, http.StatusSeeOther)
	return &o
}

type uaTransport string

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", string(u))
	return http.DefaultTransport.RoundTrip(r)
}

var signOutRE = regexp.MustCompile(`action="(/account/sessions/[0-9A-Z]+/sign-out)"`)

// The account page lists the admin's sessions (browser, address, this
// one marked); one can be signed out, then every one.
func TestSessionsListAndSignOutEverywhere(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		e := signedIn(t, options{store: open})
		phone := e.secondBrowser("PhoneBrowser/2.0")
		tablet := e.secondBrowser("TabletBrowser/3.0")

		res, body := e.get("/account")
		e.status(res, http.StatusOK)
		contains(t, body, "Sessions", "PhoneBrowser/2.0", "TabletBrowser/3.0", "This session", "127.0.0.1", "Sign out everywhere")
		if n := strings.Count(body, "This session</span>"); n != 1 {
			t.Fatalf("%d sessions marked current", n)
		}
		// The phone signs out the tablet: the tablet is sent to sign in.
		res, body = phone.get("/account")
		forms := signOutRE.FindAllStringSubmatch(body, -1)
		if len(forms) != 3 {
			t.Fatalf("%d sign-out forms, want 3", len(forms))
		}
		var tabletForm string
		for _, row := range strings.Split(body, "<tr") {
			if strings.Contains(row, "TabletBrowser/3.0") {
				if m := signOutRE.FindStringSubmatch(row); m != nil {
					tabletForm = m[1]
				}
			}
		}
		if tabletForm == "" {
			t.Fatal("no sign-out form on the tablet's row")
		}
		res, _ = phone.post(tabletForm, url.Values{})
		phone.status(res, http.StatusSeeOther)
		res, _ = tablet.get("/webhooks")
		tablet.status(res, http.StatusSeeOther)
		if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Fatalf("signed-out tablet sent to %q", res.Header.Get("Location"))
		}
		res, body = e.get("/account")
		lacks(t, body, "TabletBrowser/3.0")
		// Someone else's session id is not found (and changes nothing).
		res, _ = e.post("/account/sessions/01NOSUCHSESSION00000000000/sign-out", url.Values{})
		e.status(res, http.StatusNotFound)

		// Everywhere: both remaining browsers are refused afterwards.
		e.get("/account")
		res, _ = e.post("/account/sessions/sign-out-everywhere", url.Values{})
		e.status(res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/login" {
			t.Fatalf("after sign-out everywhere: %q", loc)
		}
		for _, b := range []*env{e, phone} {
			res, _ := b.get("/webhooks")
			b.status(res, http.StatusSeeOther)
		}
	})
}
