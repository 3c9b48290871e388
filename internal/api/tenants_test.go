package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// tenantEnv is the API over a real store and a real (not started)
// delivery engine, with an instance key.
type tenantEnv struct {
	*env
	qs       *sqlstore.Store
	instance string
}

func setupTenants(t *testing.T, store *sqlstore.Store) *tenantEnv {
	t.Helper()
	logs := &syncBuffer{}
	svc := herald.NewService(store, nil)
	svc.Audit = store
	engine := delivery.New(delivery.Config{}, delivery.Deps{Service: svc, Queue: store, Log: slogTo(io.Discard)})
	srv := httptest.NewServer(newServer(t, Config{PublicURL: "https://herald.example.com"}, svc, payload.Previewer{},
		Delivery{Ingester: engine, Control: engine, Reader: store, Rotate: engine.RotateSecret}, slogTo(logs)))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store, svc: svc, logs: logs, bodies: &syncBuffer{}}
	e.key = e.newKey(herald.DefaultWorkspace, herald.ScopeAdmin)
	key, _, err := svc.CreateInstanceKey(context.Background(), "platform")
	if err != nil {
		t.Fatal(err)
	}
	return &tenantEnv{env: e, qs: store, instance: key}
}

func tenantStores(t *testing.T, fn func(t *testing.T, te *tenantEnv)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, setupTenants(t, storetest.OpenSQLite(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, setupTenants(t, storetest.OpenPostgres(t)))
	})
}

func TestWorkspaceLifecycle(t *testing.T) {
	tenantStores(t, func(t *testing.T, te *tenantEnv) {
		in := te.instance
		// Only an instance key manages workspaces; an instance key acts in none.
		te.do("GET", "/api/v1/workspaces", nil).must(t, http.StatusForbidden)
		te.doKey(in, "GET", "/api/v1/webhooks", nil).must(t, http.StatusForbidden)

		res := te.doKey(in, "POST", "/api/v1/workspaces", map[string]any{"name": "brand-a", "portal_allowed_origins": []string{"https://Admin.Brand-A.example"}}).must(t, http.StatusCreated)
		ws := res.json(t)
		id := ws["id"].(string)
		if res.header.Get("Location") != "/api/v1/workspaces/"+id || ws["name"] != "brand-a" || fmt.Sprint(ws["portal_allowed_origins"]) != "[https://admin.brand-a.example]" {
			t.Fatalf("created %v (Location %q)", ws, res.header.Get("Location"))
		}
		if f := te.doKey(in, "POST", "/api/v1/workspaces", map[string]any{"name": "brand-a"}).must(t, http.StatusConflict).fieldErrors(t); f["name"] == "" {
			t.Fatalf("a taken name: %v", f)
		}
		if f := te.doKey(in, "POST", "/api/v1/workspaces", map[string]any{"name": ""}).must(t, http.StatusUnprocessableEntity).fieldErrors(t); f["name"] == "" {
			t.Fatalf("an empty name: %v", f)
		}
		list := te.doKey(in, "GET", "/api/v1/workspaces", nil).must(t, http.StatusOK).json(t)["data"].([]any)
		if len(list) != 2 {
			t.Fatalf("list = %v", list)
		}
		te.doKey(in, "GET", "/api/v1/workspaces/"+id, nil).must(t, http.StatusOK)
		te.doKey(in, "GET", "/api/v1/workspaces/"+herald.NewID(), nil).must(t, http.StatusNotFound)

		// PATCH: rename, origins (validated, the field named), time zone.
		f := te.doKey(in, "PATCH", "/api/v1/workspaces/"+id, map[string]any{"portal_allowed_origins": []string{"https://ok.example", "https://x.example/path"}}).
			must(t, http.StatusUnprocessableEntity).fieldErrors(t)
		if f["portal_allowed_origins[1]"] == "" {
			t.Fatalf("a bad origin: %v", f)
		}
		got := te.doKey(in, "PATCH", "/api/v1/workspaces/"+id, map[string]any{"name": "brand-a2", "time_zone": "Europe/Ljubljana", "portal_allowed_origins": []string{"http://127.0.0.1:9000"}}).
			must(t, http.StatusOK).json(t)
		if got["name"] != "brand-a2" || got["time_zone"] != "Europe/Ljubljana" || fmt.Sprint(got["portal_allowed_origins"]) != "[http://127.0.0.1:9000]" {
			t.Fatalf("patched %v", got)
		}

		// Mint a workspace key; it acts in that workspace only.
		k := te.doKey(in, "POST", "/api/v1/workspaces/"+id+"/api-keys", map[string]any{"name": "brand-a ci", "scopes": []string{"admin"}}).must(t, http.StatusCreated).json(t)
		key, _ := k["key"].(string)
		if !strings.HasPrefix(key, herald.APIKeyPrefix) || k["workspace_id"] != id {
			t.Fatalf("minted %v", k)
		}
		if f := te.doKey(in, "POST", "/api/v1/workspaces/"+id+"/api-keys", map[string]any{"name": "x", "scopes": []string{"instance"}}).must(t, http.StatusUnprocessableEntity).fieldErrors(t); f["scopes"] == "" {
			t.Fatalf("an instance scope minted into a workspace: %v", f)
		}
		mine := te.doKey(key, "GET", "/api/v1/workspace", nil).must(t, http.StatusOK).json(t)
		if mine["id"] != id {
			t.Fatalf("the minted key acts in %v", mine["id"])
		}
		// The workspace's own PATCH sets the origins too (the name stays).
		mine = te.doKey(key, "PATCH", "/api/v1/workspace", map[string]any{"name": "ignored", "portal_allowed_origins": []string{"https://b.example:8443"}}).must(t, http.StatusOK).json(t)
		if mine["name"] != "brand-a2" || fmt.Sprint(mine["portal_allowed_origins"]) != "[https://b.example:8443]" {
			t.Fatalf("PATCH /workspace: %v", mine)
		}
		auth := headerAuthorization("https://api.crm.example.com", "sk_live_brand_a_secret")
		auth["name"] = "crm"
		te.doKey(key, "POST", "/api/v1/authorizations", auth).must(t, http.StatusCreated)
		wh := te.doKey(key, "POST", "/api/v1/webhooks", validWebhook()).must(t, http.StatusCreated).json(t)
		te.doKey(key, "POST", "/api/v1/webhooks/"+wh["id"].(string)+"/publish", nil).must(t, http.StatusOK)
		ev := te.doKey(key, "POST", "/api/v1/events", map[string]any{"type": "coupon.redeemed", "data": map[string]any{"coupon": map[string]any{"id": "c1"}, "member": map[string]any{"id": "m1"}}}).must(t, http.StatusAccepted).json(t)
		if ev["deliveries"] != float64(1) {
			t.Fatalf("ingest: %v", ev)
		}

		te.doKey(key, "POST", "/api/v1/sources", natsSourceBody("pw")).must(t, http.StatusCreated)

		// Members: an invitation with a one-time link.
		m := te.doKey(in, "POST", "/api/v1/workspaces/"+id+"/members", map[string]any{"email": "Ops@Brand-A.example", "role": "viewer"}).must(t, http.StatusCreated).json(t)
		if m["status"] != "invited" || m["email"] != "ops@brand-a.example" || !strings.HasPrefix(m["invite_url"].(string), "https://herald.example.com/invite/") {
			t.Fatalf("invited %v", m)
		}
		if f := te.doKey(in, "POST", "/api/v1/workspaces/"+id+"/members", map[string]any{"email": "ops@brand-a.example", "role": "viewer"}).must(t, http.StatusConflict).fieldErrors(t); f["email"] == "" {
			t.Fatalf("invited twice: %v", f)
		}
		if f := te.doKey(in, "POST", "/api/v1/workspaces/"+id+"/members", map[string]any{"email": "x@brand-a.example", "role": "root"}).must(t, http.StatusUnprocessableEntity).fieldErrors(t); f["role"] == "" {
			t.Fatalf("a bad role: %v", f)
		}
		members := te.doKey(in, "GET", "/api/v1/workspaces/"+id+"/members", nil).must(t, http.StatusOK)
		if strings.Contains(string(members.body), "invite_url") || strings.Contains(string(members.body), strings.TrimPrefix(m["invite_url"].(string), "https://herald.example.com/invite/")) {
			t.Fatalf("the list shows the invitation link: %s", members.body)
		}
		mid := m["id"].(string)
		if got := te.doKey(in, "PATCH", "/api/v1/workspaces/"+id+"/members/"+mid, map[string]any{"role": "admin"}).must(t, http.StatusOK).json(t); got["role"] != "admin" {
			t.Fatalf("role change: %v", got)
		}
		te.doKey(in, "DELETE", "/api/v1/workspaces/"+id+"/members/"+mid, nil).must(t, http.StatusNoContent)
		te.doKey(in, "GET", "/api/v1/workspaces/"+id+"/members/"+mid, nil).must(t, http.StatusNotFound)

		// Delete: the name confirms, the field is named when it does not.
		for _, q := range []string{"", "?confirm=brand-a", "?confirm=BRAND-A2"} {
			if f := te.doKey(in, "DELETE", "/api/v1/workspaces/"+id+q, nil).must(t, http.StatusUnprocessableEntity).fieldErrors(t); f["confirm"] == "" {
				t.Fatalf("DELETE%s: %v", q, f)
			}
		}
		te.doKey(key, "GET", "/api/v1/webhooks/"+wh["id"].(string), nil).must(t, http.StatusOK) // still there
		te.doKey(in, "DELETE", "/api/v1/workspaces/"+id+"?confirm=brand-a2", nil).must(t, http.StatusNoContent)
		te.doKey(in, "GET", "/api/v1/workspaces/"+id, nil).must(t, http.StatusNotFound)
		te.doKey(key, "GET", "/api/v1/webhooks", nil).must(t, http.StatusUnauthorized) // its keys are gone
		// Nothing of it is left to deliver.
		claims, err := te.qs.ClaimDeliveries(context.Background(), time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil || len(claims) != 0 {
			t.Fatalf("claims after delete: %d, %v", len(claims), err)
		}
		// The last workspace cannot go.
		def := te.doKey(te.key, "GET", "/api/v1/workspace", nil).must(t, http.StatusOK).json(t)
		te.doKey(in, "DELETE", "/api/v1/workspaces/"+def["id"].(string)+"?confirm=default", nil).must(t, http.StatusConflict)
	})
}

// fixture is one workspace with one object of each kind.
type fixture struct {
	ws, key                                            string
	auth, webhook, event, delivery, attempt, eventType string
	source                                             string
	names                                              []string // strings only this workspace's answers may contain
}

func (te *tenantEnv) fill(t *testing.T, name string) *fixture {
	t.Helper()
	ctx := context.Background()
	w := te.doKey(te.instance, "POST", "/api/v1/workspaces", map[string]any{"name": name}).must(t, http.StatusCreated).json(t)
	f := &fixture{ws: w["id"].(string)}
	f.key = te.doKey(te.instance, "POST", "/api/v1/workspaces/"+f.ws+"/api-keys", map[string]any{"name": name + " admin", "scopes": []string{"admin"}}).
		must(t, http.StatusCreated).json(t)["key"].(string)
	auth := headerAuthorization("https://api."+name+".example.com", "sk_"+name+"_secret")
	auth["name"] = name + "-auth"
	f.auth = te.doKey(f.key, "POST", "/api/v1/authorizations", auth).must(t, http.StatusCreated).json(t)["id"].(string)
	body := validWebhook()
	body["name"] = name + "-webhook"
	body["endpoint_url"] = "https://hooks." + name + ".example.com/in"
	f.webhook = te.doKey(f.key, "POST", "/api/v1/webhooks", body).must(t, http.StatusCreated).json(t)["id"].(string)
	te.doKey(f.key, "POST", "/api/v1/webhooks/"+f.webhook+"/publish", nil).must(t, http.StatusOK)
	f.eventType = strings.ReplaceAll(name, "-", "") + ".custom"
	te.doKey(f.key, "POST", "/api/v1/event-types", map[string]any{"key": f.eventType, "display_name": name + " custom", "sample": map[string]any{"x": name + "-sample"}}).must(t, http.StatusCreated)
	ev := te.doKey(f.key, "POST", "/api/v1/events", map[string]any{"type": "coupon.redeemed", "data": map[string]any{"coupon": map[string]any{"id": name + "-coupon"}, "member": map[string]any{"id": "m"}}}).
		must(t, http.StatusAccepted).json(t)
	f.event = ev["id"].(string)
	// One attempt, failed for good, logged as the engine logs it.
	claims, err := te.qs.ClaimDeliveries(ctx, time.Now(), time.Minute, 100)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	c := claims[0]
	at := time.Now().UTC()
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: 1, StartedAt: at, DurationMS: 3, Outcome: herald.OutcomeFailure, ErrorClass: herald.ErrClassHTTP, Error: "503",
		RequestMethod: "POST", RequestURL: "https://hooks." + name + ".example.com/in", ResponseStatus: 503}
	if err := te.qs.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: herald.DeliveryFailed,
		Reason: "test", Counted: true, LastStatus: 503, LastError: "503", Attempt: a, At: at}}); err != nil {
		t.Fatal(err)
	}
	f.delivery, f.attempt = c.ID, a.ID
	src := natsSourceBody(name + "-natspw")
	src["name"] = name + "-source"
	f.source = te.doKey(f.key, "POST", "/api/v1/sources", src).must(t, http.StatusCreated).json(t)["id"].(string)
	f.names = []string{f.source, name + "-source", name + "-natspw", f.ws, f.auth, f.webhook, f.event, f.delivery, f.attempt, f.eventType, name + " custom", name + "-sample", name + "-auth", name + "-webhook", "hooks." + name, "api." + name}
	return f
}

// pathFor fills a route's path with b's objects; ok is false for a
// route whose objects are not a workspace's (presets are the catalog).
func pathFor(t *testing.T, rt route, b *fixture) (path string, own bool) {
	t.Helper()
	p := rt.path
	switch {
	case strings.HasPrefix(p, "/presets/"):
		return strings.Replace(p, "{key}", "bloomreach", 1), false
	case strings.HasPrefix(p, "/authorizations/{id}"):
		p = strings.Replace(p, "{id}", b.auth, 1)
	case strings.HasPrefix(p, "/webhooks/{id}"):
		p = strings.Replace(p, "{id}", b.webhook, 1)
	case strings.HasPrefix(p, "/events/{id}"):
		p = strings.Replace(p, "{id}", b.event, 1)
	case strings.HasPrefix(p, "/deliveries/{id}"):
		p = strings.Replace(p, "{id}", b.delivery, 1)
	case strings.HasPrefix(p, "/sources/{id}"):
		p = strings.Replace(p, "{id}", b.source, 1)
	case strings.HasPrefix(p, "/attempts/{id}"):
		p = strings.Replace(p, "{id}", b.attempt, 1)
	case strings.HasPrefix(p, "/event-types/{key}"):
		p = strings.Replace(p, "{key}", b.eventType, 1)
	case strings.HasPrefix(p, "/workspaces/{id}"):
		p = strings.Replace(strings.Replace(p, "{id}", b.ws, 1), "{member}", herald.NewID(), 1)
	}
	if strings.Contains(p, "{") {
		t.Fatalf("route %s %s: the isolation test has no object of B for its path; add it to pathFor", rt.method, rt.path)
	}
	return p, true
}

// bodyFor is a plausible body for a route, so that a refusal is about the
// object, not the body.
func bodyFor(rt route, b, own *fixture) any {
	switch rt.method + " " + rt.path {
	case "PATCH /authorizations/{id}":
		return map[string]any{"name": "renamed by A"}
	case "POST /authorizations":
		a := headerAuthorization("https://api.a-made.example.com", "sk_x")
		a["name"] = "made by A"
		return a
	case "POST /webhooks", "PATCH /webhooks/{id}":
		w := validWebhook()
		w["name"] = "made by A"
		if rt.method == "PATCH" {
			return map[string]any{"name": "renamed by A"}
		}
		return w
	case "POST /sources":
		src := natsSourceBody("made-by-a")
		src["name"] = "made by A"
		return src
	case "PATCH /sources/{id}":
		return map[string]any{"name": "renamed by A"}
	case "POST /webhooks/{id}/match":
		return map[string]any{"event": map[string]any{"type": "coupon.redeemed", "data": map[string]any{}}}
	case "POST /webhooks/{id}/replay":
		return map[string]any{}
	case "POST /events/{id}/resend":
		return map[string]any{"webhook_id": own.webhook} // the caller's own: only the event is B's
	case "POST /events":
		return map[string]any{"type": "coupon.redeemed", "data": map[string]any{"coupon": map[string]any{"id": "from-a"}}}
	case "POST /events/batch":
		return map[string]any{"events": []any{map[string]any{"type": "coupon.redeemed", "data": map[string]any{}}}}
	case "POST /event-types":
		return map[string]any{"key": "a.made", "display_name": "A", "sample": map[string]any{}}
	case "POST /templates/render":
		return map[string]any{"payload_type": "JSON", "template": `{"a": "{{ x }}"}`, "event_type": b.eventType}
	case "PATCH /workspace":
		return map[string]any{"time_zone": "Asia/Tokyo"}
	case "POST /workspaces":
		return map[string]any{"name": "made-by-a"}
	case "PATCH /workspaces/{id}":
		return map[string]any{"name": "renamed-by-a"}
	case "POST /workspaces/{id}/api-keys":
		return map[string]any{"name": "x", "scopes": []string{"admin"}}
	case "POST /workspaces/{id}/members":
		return map[string]any{"email": "x@example.com", "role": "viewer"}
	case "PATCH /workspaces/{id}/members/{member}":
		return map[string]any{"role": "viewer"}
	}
	return nil
}

// snapshot is what B's own key reads of B: it must not change while A's
// key tries every route.
func (te *tenantEnv) snapshot(t *testing.T, b *fixture) string {
	t.Helper()
	var sb strings.Builder
	for _, p := range []string{"/workspace", "/authorizations/" + b.auth, "/webhooks/" + b.webhook, "/webhooks", "/authorizations", "/event-types",
		"/events/" + b.event, "/webhooks/" + b.webhook + "/deliveries", "/webhooks/" + b.webhook + "/attempts", "/attempts/" + b.attempt, "/sources/" + b.source, "/sources"} {
		res := te.doKey(b.key, "GET", "/api/v1"+p, nil).must(t, http.StatusOK)
		sb.WriteString(p + " " + string(res.body) + "\n")
	}
	return sb.String()
}

// TestWorkspaceIsolationByRoute: a key of workspace A can neither read
// nor change anything in B, on every route of the table — B's ids are
// 404, A's lists show none of B's items, and B reads the same afterwards.
func TestWorkspaceIsolationByRoute(t *testing.T) {
	tenantStores(t, func(t *testing.T, te *tenantEnv) {
		a := te.fill(t, "brand-a")
		b := te.fill(t, "brand-b")
		before := te.snapshot(t, b)
		tried := 0
		for _, rt := range apiRoutes {
			path, own := pathFor(t, rt, b)
			name := rt.method + " " + rt.path
			body := bodyFor(rt, b, a)
			res := te.doKey(a.key, rt.method, "/api/v1"+path, body)
			tried++
			switch {
			case rt.action == herald.ActManageInstance:
				// A workspace key never reaches the instance API.
				if res.status != http.StatusForbidden {
					t.Errorf("%s with A's key: %d, want 403\n%s", name, res.status, res.body)
				}
			case own && strings.Contains(rt.path, "{"):
				if res.status != http.StatusNotFound {
					t.Errorf("%s on B's object with A's key: %d, want 404\n%s", name, res.status, res.body)
				}
			default:
				if res.status >= 400 && res.status != http.StatusNotFound {
					t.Logf("%s with A's key: %d %s", name, res.status, res.body)
				}
			}
			sent := path + fmt.Sprint(body)
			for _, s := range b.names {
				// An answer may repeat what the request said (a 404 naming
				// the key asked for), nothing else of B.
				if strings.Contains(string(res.body), s) && !strings.Contains(sent, s) {
					t.Errorf("%s with A's key shows B's %q:\n%s", name, s, res.body)
				}
			}
		}
		if tried != len(apiRoutes) {
			t.Fatalf("tried %d of %d routes", tried, len(apiRoutes))
		}
		if after := te.snapshot(t, b); after != before {
			t.Errorf("B changed while A's key went over every route:\nbefore %s\nafter  %s", before, after)
		}
		// A's own objects are all there for A (the routes work at all).
		te.doKey(a.key, "GET", "/api/v1/webhooks/"+a.webhook, nil).must(t, http.StatusOK)
		te.doKey(a.key, "GET", "/api/v1/attempts/"+a.attempt, nil).must(t, http.StatusOK)
	})
}

// minimum is who may use each API route, written out by hand: the role
// model as the API shows it. A route missing here fails the test, so a
// new route must be classified.
var minimum = map[string]string{
	"GET /authorizations":                      "viewer",
	"POST /authorizations":                     "admin",
	"GET /authorizations/{id}":                 "viewer",
	"PATCH /authorizations/{id}":               "admin",
	"DELETE /authorizations/{id}":              "admin",
	"GET /webhooks":                            "viewer",
	"POST /webhooks":                           "admin",
	"GET /webhooks/{id}":                       "viewer",
	"PATCH /webhooks/{id}":                     "admin",
	"DELETE /webhooks/{id}":                    "admin",
	"POST /webhooks/{id}/publish":              "admin",
	"POST /webhooks/{id}/unpublish":            "admin",
	"POST /webhooks/{id}/duplicate":            "admin",
	"GET /webhooks/{id}/secret":                "admin",
	"POST /webhooks/{id}/match":                "viewer",
	"GET /event-types":                         "viewer",
	"POST /event-types":                        "admin",
	"GET /event-types/{key}":                   "viewer",
	"GET /presets":                             "viewer",
	"GET /presets/{key}":                       "viewer",
	"POST /webhooks/{id}/test":                 "admin",
	"POST /webhooks/{id}/rotate-secret":        "admin",
	"GET /webhooks/{id}/attempts":              "viewer",
	"GET /webhooks/{id}/deliveries":            "viewer",
	"POST /webhooks/{id}/replay":               "admin",
	"GET /attempts/{id}":                       "viewer",
	"POST /deliveries/{id}/retry":              "admin",
	"POST /events":                             "ingest",
	"POST /events/batch":                       "ingest",
	"GET /events/{id}":                         "viewer",
	"POST /events/{id}/resend":                 "admin",
	"POST /templates/render":                   "viewer",
	"GET /audit-log":                           "viewer",
	"GET /workspace":                           "viewer",
	"PATCH /workspace":                         "owner",
	"GET /sources":                             "viewer",
	"POST /sources":                            "admin",
	"GET /sources/{id}":                        "viewer",
	"PATCH /sources/{id}":                      "admin",
	"DELETE /sources/{id}":                     "admin",
	"POST /sources/{id}/pause":                 "admin",
	"POST /sources/{id}/resume":                "admin",
	"GET /sources/{id}/rejected":               "viewer",
	"GET /workspaces":                          "instance",
	"POST /workspaces":                         "instance",
	"GET /workspaces/{id}":                     "instance",
	"PATCH /workspaces/{id}":                   "instance",
	"DELETE /workspaces/{id}":                  "instance",
	"POST /workspaces/{id}/api-keys":           "instance",
	"GET /workspaces/{id}/members":             "instance",
	"POST /workspaces/{id}/members":            "instance",
	"GET /workspaces/{id}/members/{member}":    "instance",
	"PATCH /workspaces/{id}/members/{member}":  "instance",
	"DELETE /workspaces/{id}/members/{member}": "instance",
}

// allowedFor says whether a member of role may use a route of minimum m.
func allowedFor(role herald.Role, m string) bool {
	switch m {
	case "viewer":
		return true
	case "admin":
		return role == herald.RoleAdmin || role == herald.RoleOwner
	case "owner":
		return role == herald.RoleOwner
	case "ingest":
		return role == herald.RoleAdmin || role == herald.RoleOwner
	}
	return false
}

// TestRolesByRoute goes over every API route with every kind of key —
// admin (the workspace's owner), read (a viewer), ingest, instance — and
// checks each is refused (403) exactly where the table says, and that the
// route table's action agrees with the role model for owner, admin and
// viewer.
func TestRolesByRoute(t *testing.T) {
	for _, rt := range apiRoutes {
		name := rt.method + " " + rt.path
		m, ok := minimum[name]
		if !ok {
			t.Errorf("%s: not in the table of minimum roles; classify it", name)
			continue
		}
		for _, role := range herald.Roles {
			p := herald.Principal{WorkspaceID: "W", Role: role}
			if got, want := p.Can(rt.action), allowedFor(role, m); got != want {
				t.Errorf("%s: a member with role %s: allowed %v, want %v (route action %s)", name, role, got, want, rt.action)
			}
		}
	}
	if len(minimum) != len(apiRoutes) {
		t.Errorf("the table has %d rows, the API %d routes", len(minimum), len(apiRoutes))
	}
	tenantStores(t, func(t *testing.T, te *tenantEnv) {
		f := te.fill(t, "brand-r")
		keys := map[string]string{"admin": f.key, "instance": te.instance}
		for _, sc := range []herald.Scope{herald.ScopeRead, herald.ScopeIngest} {
			keys[string(sc)] = te.doKey(te.instance, "POST", "/api/v1/workspaces/"+f.ws+"/api-keys", map[string]any{"name": string(sc), "scopes": []string{string(sc)}}).
				must(t, http.StatusCreated).json(t)["key"].(string)
		}
		may := func(kind, m string) bool {
			switch kind {
			case "admin":
				return m != "instance"
			case "read":
				return m == "viewer"
			case "ingest":
				return m == "ingest"
			case "instance":
				return m == "instance"
			}
			return false
		}
		kinds := []string{"read", "ingest", "instance", "admin"} // admin last: its changes (deletes) come after the others' tries
		routes := append([]route(nil), apiRoutes...)
		// Deletions last, so the other routes find their objects.
		sort.SliceStable(routes, func(i, j int) bool { return routes[i].method != "DELETE" && routes[j].method == "DELETE" })
		for _, kind := range kinds {
			for _, rt := range routes {
				name := rt.method + " " + rt.path
				path, _ := pathFor(t, rt, f)
				if rt.action == herald.ActManageInstance && rt.method == "DELETE" && rt.path == "/workspaces/{id}" {
					path += "?confirm=wrong" // never really delete the fixture's workspace
				}
				res := te.doKey(keys[kind], rt.method, "/api/v1"+path, bodyFor(rt, f, f))
				if want := may(kind, minimum[name]); (res.status == http.StatusForbidden) == want {
					t.Errorf("%s with a %s key: %d (allowed: %v)\n%s", name, kind, res.status, want, res.body)
				}
			}
		}
	})
}
