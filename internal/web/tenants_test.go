package web_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

// as is another browser (its own cookies) on the same UI, signed in as
// email.
func (e *env) as(email, password string) *env {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	o := *e
	o.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	o.csrf = ""
	o.get("/login")
	res, body := o.post("/login", url.Values{"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d\n%s", email, res.StatusCode, excerpt(body))
	}
	return &o
}

// member makes a user with role in the env's workspace.
func (e *env) member(email string, role herald.Role) {
	e.t.Helper()
	ctx := context.Background()
	m, token, err := e.svc.InviteMember(ctx, e.ws, email, role)
	if err != nil {
		e.t.Fatal(err)
	}
	hash, _ := web.HashPassword(adminPassword, bcrypt.MinCost)
	u := &herald.User{ID: herald.NewID(), WorkspaceID: e.ws, Email: m.Email, PasswordHash: hash, CreatedAt: m.CreatedAt}
	if err := e.store.CreateUser(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.AcceptInvite(ctx, token, u); err != nil {
		e.t.Fatal(err)
	}
}

// webMinimum is who may use each signed-in UI route, written out by hand.
// A route missing here fails the test, so a new one must be classified.
var webMinimum = map[string]string{
	"POST /logout":           "",
	"GET /{$}":               "",
	"POST /workspace/switch": "",

	"GET /webhooks":                                   "viewer",
	"GET /webhooks/new":                               "admin",
	"POST /webhooks":                                  "admin",
	"GET /webhooks/{id}":                              "viewer",
	"GET /webhooks/{id}/edit":                         "admin",
	"POST /webhooks/{id}":                             "admin",
	"POST /webhooks/{id}/publish":                     "admin",
	"POST /webhooks/{id}/unpublish":                   "admin",
	"POST /webhooks/{id}/duplicate":                   "admin",
	"GET /webhooks/{id}/delete":                       "admin",
	"POST /webhooks/{id}/delete":                      "admin",
	"POST /webhooks/{id}/rotate-secret":               "admin",
	"POST /webhooks/{id}/test":                        "admin",
	"GET /webhooks/{id}/logs":                         "viewer",
	"GET /webhooks/{id}/logs/{attempt}":               "viewer",
	"POST /webhooks/{id}/deliveries/{delivery}/retry": "admin",
	"GET /webhooks/{id}/events/{event}":               "viewer",
	"POST /webhooks/{id}/events/{event}/resend":       "admin",
	"GET /webhooks/{id}/replay":                       "admin",
	"POST /webhooks/{id}/replay":                      "admin",

	"GET /authorizations":              "viewer",
	"GET /authorizations/new":          "admin",
	"POST /authorizations":             "admin",
	"GET /authorizations/{id}/edit":    "viewer",
	"POST /authorizations/{id}":        "admin",
	"GET /authorizations/{id}/delete":  "admin",
	"POST /authorizations/{id}/delete": "admin",

	"GET /settings/api-keys":                  "admin",
	"POST /settings/api-keys":                 "admin",
	"GET /settings/api-keys/{id}/revoke":      "admin",
	"POST /settings/api-keys/{id}/revoke":     "admin",
	"GET /settings/audit-log":                 "viewer",
	"GET /settings/workspace":                 "viewer",
	"POST /settings/workspace":                "owner",
	"POST /settings/workspace/retention":      "owner",
	"POST /settings/workspace/portal-origins": "owner",
	"POST /settings/workspace/event-types":    "admin",

	"GET /settings/members":              "owner",
	"POST /settings/members":             "owner",
	"POST /settings/members/{id}/role":   "owner",
	"GET /settings/members/{id}/remove":  "owner",
	"POST /settings/members/{id}/remove": "owner",

	"GET /sources":              "viewer",
	"GET /sources/new":          "admin",
	"POST /sources":             "admin",
	"GET /sources/{id}":         "viewer",
	"GET /sources/{id}/edit":    "admin",
	"POST /sources/{id}":        "admin",
	"POST /sources/{id}/pause":  "admin",
	"POST /sources/{id}/resume": "admin",
	"GET /sources/{id}/delete":  "admin",
	"POST /sources/{id}/delete": "admin",

	"GET /workspaces":              "instance",
	"POST /workspaces":             "instance",
	"GET /workspaces/{id}/delete":  "instance",
	"POST /workspaces/{id}/delete": "instance",
}

func mayWeb(role, min string) bool {
	rank := map[string]int{"": 0, "viewer": 1, "admin": 2, "owner": 3, "instance": 4}
	return rank[role] >= rank[min]
}

// TestWebRolesByRoute signs in an owner, an admin and a viewer (and an
// instance owner) and sends every signed-in route of the UI's table as
// each: refused with 403 exactly where the table says. A viewer's POST
// carries a valid CSRF token, so the refusal is the role's.
func TestWebRolesByRoute(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		e := signedIn(t, options{store: open}) // the first user: instance owner
		e.member("owner@example.com", herald.RoleOwner)
		e.member("admin2@example.com", herald.RoleAdmin)
		e.member("viewer@example.com", herald.RoleViewer)
		routes := e.ui.UIRoutes()
		for pattern := range routes {
			if _, ok := webMinimum[pattern]; !ok {
				t.Errorf("UI route %s is not in the table of minimum roles; classify it", pattern)
			}
		}
		for pattern, a := range routes {
			// The route's action agrees with the table for every role.
			for _, role := range herald.Roles {
				if got, want := (herald.Principal{WorkspaceID: "W", Role: role}).Can(herald.Action(a)) || a == "", mayWeb(string(role), webMinimum[pattern]); got != want {
					t.Errorf("%s (action %q): role %s allowed %v, want %v", pattern, a, role, got, want)
				}
			}
		}
		ctx := context.Background()
		wh := e.webhook("roles")
		auth, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Name: "crm", Endpoint: "https://api.crm.example.com", Type: herald.AuthHeader,
			Header: &herald.HeaderAuth{Key: "X-Api-Key", Value: "sk_live_roles_secret", Visibility: herald.Secret}})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.svc.CreateAPIKey(ctx, e.ws, "k", []herald.Scope{herald.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.svc.CreateWorkspace(ctx, "brand-other")
		if err != nil {
			t.Fatal(err)
		}
		t2, _ := e.svc.Tenants()
		ms, _ := t2.ListMembers(ctx, e.ws)
		memberID := ms[len(ms)-1].ID // the viewer
		fill := func(pattern string) (method, path string) {
			method, path, _ = strings.Cut(pattern, " ")
			path = strings.TrimSuffix(path, "{$}")
			switch {
			case strings.HasPrefix(path, "/webhooks/{id}"):
				path = strings.Replace(path, "{id}", wh.ID, 1)
			case strings.HasPrefix(path, "/authorizations/{id}"):
				path = strings.Replace(path, "{id}", auth.ID, 1)
			case strings.HasPrefix(path, "/settings/api-keys/{id}"):
				path = strings.Replace(path, "{id}", key.ID, 1)
			case strings.HasPrefix(path, "/settings/members/{id}"):
				path = strings.Replace(path, "{id}", memberID, 1)
			case strings.HasPrefix(path, "/workspaces/{id}"):
				path = strings.Replace(path, "{id}", other.ID, 1)
			case strings.HasPrefix(path, "/sources/{id}"):
				path = strings.Replace(path, "{id}", herald.NewID(), 1) // allowed: 404; refused: 403
			}
			for _, p := range []string{"{attempt}", "{delivery}", "{event}"} {
				path = strings.Replace(path, p, herald.NewID(), 1)
			}
			if strings.Contains(path, "{") {
				t.Fatalf("%s: no object to fill its path; add it to the test", pattern)
			}
			return method, path
		}
		// Changes that remove things come last, and never the viewer's
		// own membership before the viewer's turn.
		patterns := make([]string, 0, len(routes))
		for p := range routes {
			if p != "POST /logout" {
				patterns = append(patterns, p)
			}
		}
		sort.Slice(patterns, func(i, j int) bool {
			di, dj := strings.Contains(patterns[i], "delete") || strings.Contains(patterns[i], "remove") || strings.Contains(patterns[i], "revoke"),
				strings.Contains(patterns[j], "delete") || strings.Contains(patterns[j], "remove") || strings.Contains(patterns[j], "revoke")
			if di != dj {
				return dj
			}
			return patterns[i] < patterns[j]
		})
		forms := map[string]url.Values{
			"POST /workspace/switch":           {"workspace_id": {e.ws}},
			"POST /settings/members/{id}/role": {"role": {"viewer"}},
			"POST /workspaces/{id}/delete":     {"confirm": {"wrong name"}},
			"POST /settings/members":           {"email": {"new@example.com"}, "role": {"viewer"}},
		}
		for _, who := range []struct{ email, role string }{
			{"viewer@example.com", "viewer"}, {"admin2@example.com", "admin"}, {"owner@example.com", "owner"}, {adminEmail, "instance"},
		} {
			b := e.as(who.email, adminPassword)
			b.get("/webhooks") // a CSRF token of this session
			for _, p := range patterns {
				method, path := fill(p)
				var res *http.Response
				var body string
				if method == "GET" {
					res, body = b.get(path)
				} else {
					form := url.Values{}
					for k, v := range forms[p] {
						form[k] = v
					}
					res, body = b.post(path, form)
				}
				want := mayWeb(who.role, webMinimum[p])
				if (res.StatusCode == http.StatusForbidden) == want {
					t.Errorf("%s %s as %s: %d (allowed: %v)\n%s", method, path, who.role, res.StatusCode, want, excerpt(body))
				}
				if res.StatusCode == http.StatusForbidden && !strings.Contains(body, "does not allow") && !strings.Contains(body, "instance owner") {
					t.Errorf("%s %s as %s: a 403 that is not the role's (CSRF?)\n%s", method, path, who.role, excerpt(body))
				}
			}
		}
	})
}

var revealRE = regexp.MustCompile(`reveal=secret`)

// TestViewerMode: a viewer sees configuration and logs with no control
// that changes anything, and no path to a secret.
func TestViewerMode(t *testing.T) {
	e := signedIn(t)
	wh := e.webhook("shown")
	ctx := context.Background()
	auth, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Name: "crm", Endpoint: "https://api.crm.example.com", Type: herald.AuthHeader,
		Header: &herald.HeaderAuth{Key: "X-Api-Key", Value: "sk_live_viewer_secret", Visibility: herald.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	e.member("viewer@example.com", herald.RoleViewer)
	v := e.as("viewer@example.com", adminPassword)

	_, body := v.get("/webhooks")
	contains(t, body, "shown", "viewer")
	lacks(t, body, `href="/webhooks/new"`, "/publish", "/unpublish", "/duplicate", "/delete", "/edit", `href="/settings/api-keys"`, `href="/settings/members"`, `href="/workspaces"`)
	_, body = v.get("/webhooks/" + wh.ID)
	contains(t, body, "whsec_")
	lacks(t, body, "/rotate-secret", "/test\"", "/edit", "/delete", "/publish")
	if revealRE.MatchString(body) {
		t.Error("a viewer is offered to reveal the signing secret")
	}
	res, _ := v.get("/webhooks/" + wh.ID + "?reveal=secret")
	v.status(res, http.StatusForbidden)
	_, body = v.get("/webhooks/" + wh.ID + "/logs")
	lacks(t, body, "/replay")
	_, body = v.get("/authorizations/" + auth.ID + "/edit")
	contains(t, body, "secrets stay masked", "disabled")
	lacks(t, body, "sk_live_viewer_secret", ">Save<", "/delete")
	_, body = v.get("/settings/workspace")
	lacks(t, body, ">Save<", ">Save retention<", "Add event type")
	res, _ = v.get("/settings/api-keys")
	v.status(res, http.StatusForbidden)

	// A forged POST with the viewer's own valid CSRF token is refused too.
	res, body = v.post("/webhooks/"+wh.ID+"/delete", url.Values{})
	v.status(res, http.StatusForbidden)
	contains(t, body, "does not allow")
	if _, err := e.store.Webhook(ctx, e.ws, wh.ID); err != nil {
		t.Fatalf("the webhook is gone after a viewer's POST: %v", err)
	}
}

// TestMembersAndInvitation: an owner invites by a link shown once; the
// invited person sets a password and joins with the role; an existing
// user signs in to join a second workspace; the link works once.
func TestMembersAndInvitation(t *testing.T) {
	e := signedIn(t)
	_, body := e.get("/settings/members")
	contains(t, body, adminEmail, "owner")
	res, body := e.post("/settings/members", url.Values{"email": {"not an email"}, "role": {"viewer"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "email", "valid email")
	res, body = e.post("/settings/members", url.Values{"email": {"New.Viewer@example.com"}, "role": {"viewer"}})
	e.status(res, http.StatusOK)
	m := regexp.MustCompile(`id="invite-url" class="code" readonly value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no invitation link on the page:\n%s", excerpt(body))
	}
	link := m[1]
	if !strings.HasPrefix(link, e.srv.URL+"/invite/") {
		t.Fatalf("link %q", link)
	}
	_, body = e.get("/settings/members")
	contains(t, body, "new.viewer@example.com", "Invited")
	lacks(t, body, strings.TrimPrefix(link, e.srv.URL)) // shown once

	// The invited person, in another browser.
	jar, _ := cookiejar.New(nil)
	p := *e
	p.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	path := strings.TrimPrefix(link, e.srv.URL)
	_, body = p.get(path)
	contains(t, body, "Join default", "viewer", "new.viewer@example.com", "Choose a password")
	res, body = p.post(path, url.Values{"password": {"short"}, "password_confirm": {"short"}})
	p.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "password", "at least 10")
	res, _ = p.post(path, url.Values{"password": {"a good long password"}, "password_confirm": {"a good long password"}})
	p.status(res, http.StatusSeeOther)
	_, body = p.follow(res)
	contains(t, body, "Welcome to default", "viewer")
	lacks(t, body, `href="/webhooks/new"`)
	// Used: the link no longer works.
	jar2, _ := cookiejar.New(nil)
	p.client.Jar = jar2
	res, body = p.get(path)
	p.status(res, http.StatusNotFound)
	contains(t, body, "does not work")

	// The owner changes the role; the last owner cannot be demoted.
	t2, _ := e.svc.Tenants()
	ms, _ := t2.ListMembers(context.Background(), e.ws)
	var viewerID, ownerID string
	for _, x := range ms {
		if x.Email == "new.viewer@example.com" {
			viewerID = x.ID
		} else {
			ownerID = x.ID
		}
	}
	_, _ = e.get("/settings/members")
	res, _ = e.post("/settings/members/"+viewerID+"/role", url.Values{"role": {"admin"}})
	e.status(res, http.StatusSeeOther)
	res, _ = e.post("/settings/members/"+ownerID+"/role", url.Values{"role": {"viewer"}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "at least one owner")
	if got, _ := t2.Member(context.Background(), e.ws, ownerID); got.Role != herald.RoleOwner {
		t.Fatalf("the last owner was demoted: %v", got.Role)
	}
	// Remove the member.
	res, _ = e.post("/settings/members/"+viewerID+"/remove", url.Values{})
	e.status(res, http.StatusSeeOther)
	if _, err := t2.Member(context.Background(), e.ws, viewerID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("removed member still there: %v", err)
	}

	// An existing user joins a second workspace by signing in.
	ws2, err := e.svc.CreateWorkspace(context.Background(), "brand-two")
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := e.svc.InviteMember(context.Background(), ws2.ID, adminEmail, herald.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	jar3, _ := cookiejar.New(nil)
	p.client.Jar = jar3
	_, body = p.get("/invite/" + token)
	contains(t, body, "Join brand-two", "Your password")
	res, _ = p.post("/invite/"+token, url.Values{"password": {"wrong password!"}})
	p.status(res, http.StatusUnauthorized)
	res, _ = p.post("/invite/"+token, url.Values{"password": {adminPassword}})
	p.status(res, http.StatusSeeOther)
	_, body = p.follow(res)
	contains(t, body, "Welcome to brand-two")
	// The switcher offers both workspaces.
	contains(t, body, `name="workspace_id"`, "default", "brand-two")
}

// TestWorkspacesPage: an instance owner creates a workspace, switches to
// it (the session carries it; switching checks membership), and deletes
// one only with its name typed.
func TestWorkspacesPage(t *testing.T) {
	e := signedIn(t)
	_, body := e.get("/workspaces")
	contains(t, body, "Workspaces", "default")
	res, body := e.post("/workspaces", url.Values{"name": {"default"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "name", "already used")
	res, _ = e.post("/workspaces", url.Values{"name": {"brand-b"}})
	e.status(res, http.StatusSeeOther)
	b, err := e.store.WorkspaceByName(context.Background(), "brand-b")
	if err != nil {
		t.Fatal(err)
	}
	_, body = e.get("/webhooks")
	contains(t, body, "brand-b")
	res, _ = e.post("/workspace/switch", url.Values{"workspace_id": {b.ID}})
	e.status(res, http.StatusSeeOther)
	_, body = e.get("/settings/workspace")
	contains(t, body, "brand-b")
	// A member of one workspace cannot switch into another.
	e.member("solo@example.com", herald.RoleAdmin) // of default
	s := e.as("solo@example.com", adminPassword)
	s.get("/webhooks")
	res, _ = s.post("/workspace/switch", url.Values{"workspace_id": {b.ID}})
	s.status(res, http.StatusForbidden)

	// Delete: the name must be typed.
	res, body = e.post("/workspaces/"+b.ID+"/delete", url.Values{"confirm": {"brand"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "confirm", "workspace's name")
	res, _ = e.post("/workspaces/"+b.ID+"/delete", url.Values{"confirm": {"brand-b"}})
	e.status(res, http.StatusSeeOther)
	if _, err := e.store.WorkspaceByID(context.Background(), b.ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("workspace still there: %v", err)
	}
	// The instance owner's session was in it: signed in again elsewhere.
	res, _ = e.get("/webhooks")
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusOK {
		t.Fatalf("after deleting the current workspace: %d", res.StatusCode)
	}
}

// TestPortalOriginsForm: an owner sets the portal's origins on Settings ›
// Workspace; a wrong entry is named by its place; the API reads them back.
func TestPortalOriginsForm(t *testing.T) {
	e := signedIn(t)
	_, body := e.get("/settings/workspace")
	contains(t, body, "Portal origins")
	res, body := e.post("/settings/workspace/portal-origins", url.Values{"portal_allowed_origins": {"https://ok.example\nhttps://bad.example/path"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "portal_allowed_origins", "entry 2")
	contains(t, body, "https://bad.example/path") // as typed
	res, _ = e.post("/settings/workspace/portal-origins", url.Values{"portal_allowed_origins": {"https://Admin.Example.com\n\nhttp://127.0.0.1:9000"}})
	e.status(res, http.StatusSeeOther)
	ws, err := e.store.WorkspaceByID(context.Background(), e.ws)
	if err != nil || strings.Join(ws.PortalAllowedOrigins, " ") != "https://admin.example.com http://127.0.0.1:9000" {
		t.Fatalf("stored %v, %v", ws.PortalAllowedOrigins, err)
	}
	e.member("v@example.com", herald.RoleViewer)
	v := e.as("v@example.com", adminPassword)
	_, body = v.get("/settings/workspace")
	contains(t, body, "https://admin.example.com", "readonly")
	lacks(t, body, "Save origins")
}
