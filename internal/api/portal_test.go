package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func portalEnv(t *testing.T, open func(testing.TB) herald.Store, cfg Config) *env {
	st := open(t)
	e := setup(t, st, cfg)
	e.svc.Portals = st.(herald.PortalStore)
	e.svc.Audit = st.(herald.AuditLog)
	return e
}

func (e *env) workspaceID(name string) string {
	e.t.Helper()
	ws, err := e.store.EnsureWorkspace(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return ws.ID
}

// POST /portal-sessions on both stores: each field checked and named,
// the link under the server's (or the public) URL with a one-time token
// whose hash alone is stored, the expiry as asked, the audit entry; a
// key acts for its own workspace only, and needs the admin scope.
func TestPortalSessionsAPI(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := portalEnv(t, open, Config{})
		ws := e.workspaceID(herald.DefaultWorkspace)

		for _, c := range []struct {
			body  map[string]any
			field string
			want  string
		}{
			{map[string]any{"expires_in": 600}, "role", `"admin"`},
			{map[string]any{"role": "owner", "expires_in": 600}, "role", `"viewer"`},
			{map[string]any{"role": "admin"}, "expires_in", "from 60 to 86400"},
			{map[string]any{"role": "admin", "expires_in": 59}, "expires_in", "from 60 to 86400"},
			{map[string]any{"role": "admin", "expires_in": 86401}, "expires_in", "from 60 to 86400"},
			{map[string]any{"role": "admin", "expires_in": 600, "return_url": "javascript:alert(1)"}, "return_url", "absolute http"},
			{map[string]any{"role": "admin", "expires_in": 600, "return_url": "/relative"}, "return_url", "absolute http"},
			{map[string]any{"role": "admin", "expires_in": 600, "allowed_events": []string{"member.verifed"}}, "allowed_events[0]", `did you mean "member.verified"`},
			{map[string]any{"role": "admin", "expires_in": 600, "allowed_events": []string{"coupon.redeemed", ""}}, "allowed_events[1]", "is empty"},
		} {
			res := e.do("POST", "/api/v1/portal-sessions", c.body).must(t, http.StatusUnprocessableEntity)
			if got := res.fieldErrors(t)[c.field]; !strings.Contains(got, c.want) {
				t.Errorf("%v: %s says %q, want %q\n%s", c.body, c.field, got, c.want, res.body)
			}
		}
		if r := e.do("POST", "/api/v1/portal-sessions", map[string]any{"role": "admin", "expires_in": 600, "ttl": 5}).must(t, http.StatusUnprocessableEntity); r.fieldErrors(t)["ttl"] == "" {
			t.Fatalf("unknown field not named: %s", r.body)
		}

		before := time.Now().UTC().Truncate(time.Second)
		res := e.do("POST", "/api/v1/portal-sessions", map[string]any{"workspace_id": ws, "role": "viewer", "expires_in": 900,
			"return_url": "https://platform.example/brands/7", "allowed_events": []string{"coupon.redeemed", "member.*"}}).must(t, http.StatusCreated).json(t)
		link, _ := res["url"].(string)
		if !strings.HasPrefix(link, e.srv.URL+"/portal/open?token=") || len(link) < len(e.srv.URL)+60 {
			t.Fatalf("url %q", link)
		}
		exp, err := time.Parse(time.RFC3339, res["expires_at"].(string))
		if err != nil || exp.Before(before.Add(900*time.Second)) || exp.After(time.Now().Add(901*time.Second)) {
			t.Fatalf("expires_at %v (%v), want 15 minutes from now", res["expires_at"], err)
		}
		if res["workspace_id"] != ws || res["role"] != "viewer" || res["return_url"] != "https://platform.example/brands/7" {
			t.Fatalf("answer %v", res)
		}
		if ev, _ := res["allowed_events"].([]any); len(ev) != 2 || ev[0] != "coupon.redeemed" || ev[1] != "member.*" {
			t.Fatalf("allowed_events %v", res["allowed_events"])
		}
		// Only the token's hash is stored: the link is redeemed by hash.
		token := strings.TrimPrefix(link, e.srv.URL+"/portal/open?token=")
		p, err := e.store.(herald.PortalStore).RedeemPortalLink(context.Background(), herald.HashSessionToken(token), herald.HashSessionToken("cookie"), time.Now())
		if err != nil || p.ID != res["id"] || p.Role != herald.PortalViewer {
			t.Fatalf("redeem the link's token: %+v, %v", p, err)
		}
		// workspace_id defaults to the key's; allowed_events left out is null (all).
		res = e.do("POST", "/api/v1/portal-sessions", map[string]any{"role": "admin", "expires_in": 60}).must(t, http.StatusCreated).json(t)
		if res["workspace_id"] != ws || res["allowed_events"] != nil {
			t.Fatalf("defaults: %v", res)
		}
		// The audit log names the creation, and who did it.
		entries, _, err := e.store.(herald.AuditLog).ListAudit(context.Background(), ws, herald.AuditFilter{ObjectType: "portal_session"})
		if err != nil || len(entries) != 2 || entries[1].Action != "portal_session.create" || entries[1].Actor != "API key “test-default”" ||
			!strings.Contains(entries[1].Summary, "viewer") || strings.Contains(entries[1].Summary, token) {
			t.Fatalf("audit %+v, %v", entries, err)
		}

		// Isolation: another workspace's admin key cannot mint a link here,
		// nor can a key without the admin scope.
		other := e.newKey("brand-b", herald.ScopeAdmin)
		r := e.doKey(other, "POST", "/api/v1/portal-sessions", map[string]any{"workspace_id": ws, "role": "viewer", "expires_in": 600}).must(t, http.StatusForbidden)
		if r.fieldErrors(t)["workspace_id"] == "" {
			t.Fatalf("403 does not name workspace_id: %s", r.body)
		}
		for _, sc := range []herald.Scope{herald.ScopeRead, herald.ScopeIngest} {
			e.doKey(e.newKey(herald.DefaultWorkspace, sc), "POST", "/api/v1/portal-sessions", map[string]any{"role": "viewer", "expires_in": 600}).must(t, http.StatusForbidden)
		}
		// Brand B's key mints for brand B.
		res = e.doKey(other, "POST", "/api/v1/portal-sessions", map[string]any{"role": "viewer", "expires_in": 600}).must(t, http.StatusCreated).json(t)
		if res["workspace_id"] != e.workspaceID("brand-b") {
			t.Fatalf("brand B's link is for %v", res["workspace_id"])
		}
		e.doKey("hrld_nonsense", "POST", "/api/v1/portal-sessions", map[string]any{"role": "viewer", "expires_in": 600}).must(t, http.StatusUnauthorized)

		// An instance key mints for any workspace it names, and must name one.
		inst, rec := herald.NewAPIKey("", "platform", []herald.Scope{herald.ScopeInstance}, time.Now())
		if err := e.store.CreateAPIKey(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		r = e.doKey(inst, "POST", "/api/v1/portal-sessions", map[string]any{"role": "admin", "expires_in": 600}).must(t, http.StatusUnprocessableEntity)
		if r.fieldErrors(t)["workspace_id"] == "" {
			t.Fatalf("instance key without workspace_id: %s", r.body)
		}
		e.doKey(inst, "POST", "/api/v1/portal-sessions", map[string]any{"workspace_id": herald.NewID(), "role": "admin", "expires_in": 600}).must(t, http.StatusNotFound)
		res = e.doKey(inst, "POST", "/api/v1/portal-sessions", map[string]any{"workspace_id": e.workspaceID("brand-b"), "role": "admin", "expires_in": 600}).must(t, http.StatusCreated).json(t)
		if res["workspace_id"] != e.workspaceID("brand-b") {
			t.Fatalf("instance key's link is for %v", res["workspace_id"])
		}
	})
}

// With --public-url the link is under it, whatever Host the API was called on.
func TestPortalLinkUsesPublicURL(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, func(tb testing.TB) herald.Store { return storetest.OpenSQLite(tb) }, Config{PublicURL: "https://herald.example.com/hooks"})
	res := e.do("POST", "/api/v1/portal-sessions", map[string]any{"role": "admin", "expires_in": 600}).must(t, http.StatusCreated).json(t)
	if link := res["url"].(string); !strings.HasPrefix(link, "https://herald.example.com/hooks/portal/open?token=") {
		t.Fatalf("url %q", link)
	}
}
