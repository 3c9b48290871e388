package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Run runs the conformance suite against stores made by open; each
// subtest gets a fresh, empty store.
func Run(t *testing.T, open func(t testing.TB) herald.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s herald.Store)
	}{
		{"Workspaces", testWorkspaces},
		{"AuditFilters", testAuditFilters},
		{"APIKeys", testAPIKeys},
		{"Authorizations", testAuthorizations},
		{"AuthorizationSecretsSealed", testSecretsSealed},
		{"AuthorizationInUse", testAuthorizationInUse},
		{"AuthorizationTypes", testAuthorizationTypes},
		{"Webhooks", testWebhooks},
		{"WebhookRevisionConflict", testWebhookRevisionConflict},
		{"WebhookFiltersAndPages", testWebhookFiltersAndPages},
		{"WorkspaceIsolation", testWorkspaceIsolation},
		{"EventTypes", testEventTypes},
		{"ReadCachesFollowWrites", testReadCachesFollowWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func workspace(t *testing.T, s herald.Store, name string) string {
	t.Helper()
	w, err := s.EnsureWorkspace(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func wantCode(t *testing.T, err error, code herald.ErrorCode) {
	t.Helper()
	if got := herald.ErrorCodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func newAuthorization(ws string, typ herald.AuthType) *herald.Authorization {
	a := &herald.Authorization{ID: herald.NewID(), WorkspaceID: ws, CreatedAt: now(), UpdatedAt: now(),
		AuthorizationSpec: herald.AuthorizationSpec{Name: "crm", Endpoint: "https://api.crm.example.com/v2", Type: typ}}
	if typ == herald.AuthHeader {
		a.Header = &herald.HeaderAuth{Key: "X-Api-Key", Value: "sk_live_0123456789abcdef", Visibility: herald.Secret}
	} else {
		a.Basic = &herald.BasicAuth{Username: "herald", Password: "correct horse battery staple"}
	}
	return a
}

func newWebhook(ws, name, event string) *herald.Webhook {
	return &herald.Webhook{ID: herald.NewID(), WorkspaceID: ws, Status: herald.Unpublished, Revision: 1,
		SigningSecret: herald.NewSigningSecret(), CreatedAt: now(), UpdatedAt: now(),
		WebhookSpec: herald.WebhookSpec{Name: name, Event: event, EndpointURL: "https://hooks.example.com/in",
			Method: "POST", PayloadType: herald.PayloadJSON, Payload: `{"id": "{{ member.id }}"}`,
			CustomHeaders: []herald.Header{{Name: "X-Source", Value: "herald"}, {Name: "X-Member", Value: "{{ member.id }}"}}}}
}

func testWorkspaces(t *testing.T, s herald.Store) {
	a, err := s.EnsureWorkspace(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.EnsureWorkspace(ctx, "default")
	if err != nil || a.ID != b.ID {
		t.Fatalf("second EnsureWorkspace = %v, %v; want the same id %s", b, err, a.ID)
	}
	_, err = s.WorkspaceByName(ctx, "nope")
	wantCode(t, err, herald.ENotFound)
	if err := s.SetWorkspaceTimeZone(ctx, a.ID, "Europe/Ljubljana"); err != nil {
		t.Fatal(err)
	}
	got, err := s.WorkspaceByID(ctx, a.ID)
	if err != nil || got.TimeZone != "Europe/Ljubljana" || got.Name != "default" {
		t.Fatalf("by id: %+v %v", got, err)
	}
	_, err = s.WorkspaceByID(ctx, herald.NewID())
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.SetWorkspaceTimeZone(ctx, herald.NewID(), "UTC"), herald.ENotFound)
}

func testAPIKeys(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	key, rec := herald.NewAPIKey(ws, "ci", []herald.Scope{herald.ScopeAdmin, herald.ScopeRead}, now())
	if err := s.CreateAPIKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, herald.HashAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || got.WorkspaceID != ws || len(got.Scopes) != 2 || !got.Allows(herald.ScopeIngest) {
		t.Fatalf("got %+v", got)
	}
	_, err = s.APIKeyByHash(ctx, herald.HashAPIKey(key+"x"))
	wantCode(t, err, herald.ENotFound)
}

func testAuthorizations(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	h := newAuthorization(ws, herald.AuthHeader)
	b := newAuthorization(ws, herald.AuthBasic)
	for _, a := range []*herald.Authorization{h, b} {
		if err := s.CreateAuthorization(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Authorization(ctx, ws, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header == nil || got.Header.Value != "sk_live_0123456789abcdef" || got.Header.Visibility != herald.Secret || got.Basic != nil {
		t.Fatalf("header authorization read back as %+v", got)
	}
	if !got.CreatedAt.Equal(h.CreatedAt) {
		t.Fatalf("created_at %v, want %v", got.CreatedAt, h.CreatedAt)
	}
	got, err = s.Authorization(ctx, ws, b.ID)
	if err != nil || got.Basic == nil || got.Basic.Password != "correct horse battery staple" || got.Header != nil {
		t.Fatalf("basic authorization read back as %+v, %v", got, err)
	}
	// Switch the header one to basic: the header columns go away.
	h.Type, h.Header, h.Basic = herald.AuthBasic, nil, &herald.BasicAuth{Username: "u", Password: "p"}
	h.Name = "renamed"
	if err := s.UpdateAuthorization(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Authorization(ctx, ws, h.ID)
	if got.Name != "renamed" || got.Basic == nil || got.Basic.Password != "p" || got.Header != nil {
		t.Fatalf("updated authorization = %+v", got)
	}
	list, next, err := s.ListAuthorizations(ctx, ws, herald.AuthorizationFilter{})
	if err != nil || len(list) != 2 || next != "" || list[0].ID != b.ID {
		t.Fatalf("list = %d items (first %v), next %q, %v; want 2, newest first", len(list), list, next, err)
	}
	list, _, _ = s.ListAuthorizations(ctx, ws, herald.AuthorizationFilter{Name: "RENAM"})
	if len(list) != 1 || list[0].ID != h.ID {
		t.Fatalf("name filter: %d items", len(list))
	}
	list, _, _ = s.ListAuthorizations(ctx, ws, herald.AuthorizationFilter{Name: "%"})
	if len(list) != 0 {
		t.Fatalf("name filter %%: LIKE wildcard not escaped, %d items", len(list))
	}
	if err := s.DeleteAuthorization(ctx, ws, h.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authorization(ctx, ws, h.ID)
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.DeleteAuthorization(ctx, ws, h.ID), herald.ENotFound)
	missing := newAuthorization(ws, herald.AuthBasic)
	wantCode(t, s.UpdateAuthorization(ctx, missing), herald.ENotFound)
}

// testSecretsSealed reads the raw rows: no secret may be stored in clear.
func testSecretsSealed(t *testing.T, s herald.Store) {
	raw, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Skip("SKIP: store does not expose its database")
	}
	ws := workspace(t, s, "default")
	a := newAuthorization(ws, herald.AuthHeader)
	b := newAuthorization(ws, herald.AuthBasic)
	w := newWebhook(ws, "w", "member.verified")
	for _, err := range []error{s.CreateAuthorization(ctx, a), s.CreateAuthorization(ctx, b), s.CreateWebhook(ctx, w)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var blobs [][]byte
	rows, err := raw.DB().QueryContext(ctx, `SELECT secret FROM authorizations`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		blobs = append(blobs, b)
	}
	rows.Close()
	var sig []byte
	if err := raw.DB().QueryRowContext(ctx, `SELECT signing_secret FROM webhooks`).Scan(&sig); err != nil {
		t.Fatal(err)
	}
	blobs = append(blobs, sig)
	for _, blob := range blobs {
		for _, plain := range []string{a.Header.Value, b.Basic.Password, w.SigningSecret, w.SigningSecret[6:]} {
			if len(blob) == 0 || bytes.Contains(blob, []byte(plain)) {
				t.Fatalf("stored secret %q holds the plaintext %q", blob, plain)
			}
		}
	}
}

func testAuthorizationInUse(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	a := newAuthorization(ws, herald.AuthHeader)
	if err := s.CreateAuthorization(ctx, a); err != nil {
		t.Fatal(err)
	}
	w := newWebhook(ws, "uses auth", "member.verified")
	w.AuthorizationEnabled, w.AuthorizationID = true, a.ID
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteAuthorization(ctx, ws, a.ID), herald.EConflict)
	list, _, err := s.ListWebhooks(ctx, ws, herald.WebhookFilter{AuthorizationID: a.ID})
	if err != nil || len(list) != 1 {
		t.Fatalf("webhooks of authorization: %d, %v", len(list), err)
	}
	if err := s.DeleteWebhook(ctx, ws, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAuthorization(ctx, ws, a.ID); err != nil {
		t.Fatalf("delete unused authorization: %v", err)
	}
}

func testWebhooks(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	w := newWebhook(ws, "Bloomreach", "coupon.redeemed")
	w.Description, w.LogOnlyErrors, w.Method, w.PayloadType = "perks", true, "PUT", herald.PayloadXML
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, err := s.Webhook(ctx, ws, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != w.Name || got.Description != "perks" || !got.LogOnlyErrors || got.Method != "PUT" ||
		got.PayloadType != herald.PayloadXML || got.Payload != w.Payload || got.Status != herald.Unpublished ||
		got.Revision != 1 || got.SigningSecret != w.SigningSecret || got.AuthorizationEnabled ||
		len(got.CustomHeaders) != 2 || got.CustomHeaders[1] != w.CustomHeaders[1] {
		t.Fatalf("read back %+v\nwant %+v", got, w)
	}
	got.Name, got.Revision = "Bloomreach v2", 2
	if err := s.UpdateWebhook(ctx, got); err != nil {
		t.Fatal(err)
	}
	pub, err := s.SetWebhookStatus(ctx, ws, w.ID, herald.Published, "")
	if err != nil || pub.Status != herald.Published || pub.Name != "Bloomreach v2" || pub.Revision != 2 {
		t.Fatalf("publish: %+v, %v", pub, err)
	}
	unpub, err := s.SetWebhookStatus(ctx, ws, w.ID, herald.Unpublished, "receiver answered 410 Gone")
	if err != nil || unpub.StatusReason != "receiver answered 410 Gone" {
		t.Fatalf("unpublish: %+v, %v", unpub, err)
	}
	if err := s.DeleteWebhook(ctx, ws, w.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Webhook(ctx, ws, w.ID)
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.DeleteWebhook(ctx, ws, w.ID), herald.ENotFound)
	_, err = s.SetWebhookStatus(ctx, ws, w.ID, herald.Published, "")
	wantCode(t, err, herald.ENotFound)
}

func testWebhookRevisionConflict(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	w := newWebhook(ws, "w", "member.verified")
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Webhook(ctx, ws, w.ID)
	b, _ := s.Webhook(ctx, ws, w.ID)
	a.Revision, b.Revision = 2, 2
	a.Name, b.Name = "first", "second"
	if err := s.UpdateWebhook(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateWebhook(ctx, b), herald.EConflict)
	got, _ := s.Webhook(ctx, ws, w.ID)
	if got.Name != "first" {
		t.Fatalf("name = %q: the stale update overwrote the first", got.Name)
	}
}

func testWebhookFiltersAndPages(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	var ids []string
	for i := 0; i < 7; i++ {
		event := "member.verified"
		if i%2 == 1 {
			event = "coupon.redeemed"
		}
		w := newWebhook(ws, fmt.Sprintf("hook %d", i), event)
		if i == 3 {
			w.EndpointURL = "https://api.bloomreach.example.com/track"
		}
		if err := s.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if _, err := s.SetWebhookStatus(ctx, ws, w.ID, herald.Published, ""); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, w.ID)
	}
	var seen []string
	f := herald.WebhookFilter{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		list, next, err := s.ListWebhooks(ctx, ws, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range list {
			seen = append(seen, w.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("pages returned %d webhooks, want 7", len(seen))
	}
	for i := range seen {
		if seen[i] != ids[6-i] {
			t.Fatalf("page order: got %v, want newest first %v", seen, ids)
		}
	}
	count := func(f herald.WebhookFilter) int {
		t.Helper()
		list, _, err := s.ListWebhooks(ctx, ws, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, c := range []struct {
		f    herald.WebhookFilter
		want int
	}{
		{herald.WebhookFilter{Event: "coupon.redeemed"}, 3},
		{herald.WebhookFilter{Status: herald.Published}, 2},
		{herald.WebhookFilter{Status: herald.Published, Event: "coupon.redeemed"}, 1},
		{herald.WebhookFilter{Name: "HOOK 4"}, 1},
		{herald.WebhookFilter{Endpoint: "bloomreach"}, 1},
		{herald.WebhookFilter{Name: "_"}, 0},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("filter %+v: %d webhooks, want %d", c.f, got, c.want)
		}
	}
}

func testWorkspaceIsolation(t *testing.T, s herald.Store) {
	a := workspace(t, s, "brand-a")
	b := workspace(t, s, "brand-b")
	auth := newAuthorization(a, herald.AuthHeader)
	hook := newWebhook(a, "a's hook", "member.verified")
	if err := s.CreateAuthorization(ctx, auth); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	_, err := s.Authorization(ctx, b, auth.ID)
	wantCode(t, err, herald.ENotFound)
	_, err = s.Webhook(ctx, b, hook.ID)
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.DeleteAuthorization(ctx, b, auth.ID), herald.ENotFound)
	wantCode(t, s.DeleteWebhook(ctx, b, hook.ID), herald.ENotFound)
	_, err = s.SetWebhookStatus(ctx, b, hook.ID, herald.Published, "")
	wantCode(t, err, herald.ENotFound)
	stolen := *hook
	stolen.WorkspaceID, stolen.Revision, stolen.Name = b, 2, "stolen"
	wantCode(t, s.UpdateWebhook(ctx, &stolen), herald.ENotFound)
	stolenAuth := *auth
	stolenAuth.WorkspaceID = b
	wantCode(t, s.UpdateAuthorization(ctx, &stolenAuth), herald.ENotFound)
	if list, _, _ := s.ListWebhooks(ctx, b, herald.WebhookFilter{}); len(list) != 0 {
		t.Fatalf("workspace b lists %d of a's webhooks", len(list))
	}
	if list, _, _ := s.ListAuthorizations(ctx, b, herald.AuthorizationFilter{}); len(list) != 0 {
		t.Fatalf("workspace b lists %d of a's authorizations", len(list))
	}
	got, _ := s.Webhook(ctx, a, hook.ID)
	if got.Name != "a's hook" {
		t.Fatalf("a's webhook changed to %q", got.Name)
	}
}

func testEventTypes(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	et := &herald.EventType{Key: "member.birthday", DisplayName: "User - Birthday", WorkspaceID: ws, Variables: []string{"member"},
		Sample: map[string]any{"member": map[string]any{"id": "m1", "points": 12}}, CreatedAt: now()}
	if err := s.CreateEventType(ctx, et); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateEventType(ctx, et), herald.EConflict)
	list, err := s.ListEventTypes(ctx, ws)
	if err != nil || len(list) != 1 || list[0].Key != "member.birthday" || list[0].Sample["member"] == nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if list, _ := s.ListEventTypes(ctx, other); len(list) != 0 {
		t.Fatalf("other workspace sees %d custom types", len(list))
	}
}

// testAuditFilters: the audit log narrows by object, object type and actor,
// within the workspace.
func testAuditFilters(t *testing.T, s herald.Store) {
	al, ok := s.(herald.AuditLog)
	if !ok {
		t.Skip("no audit log")
	}
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	hook, auth := herald.NewID(), herald.NewID()
	at := time.Now().UTC()
	for i, e := range []herald.AuditEntry{
		{WorkspaceID: ws, Actor: "ada@example.com", Action: "webhook.create", ObjectType: "webhook", ObjectID: hook},
		{WorkspaceID: ws, Actor: "bob@example.com", Action: "webhook.update", ObjectType: "webhook", ObjectID: hook},
		{WorkspaceID: ws, Actor: "ada@example.com", Action: "authorization.create", ObjectType: "authorization", ObjectID: auth},
		{WorkspaceID: other, Actor: "ada@example.com", Action: "webhook.create", ObjectType: "webhook", ObjectID: herald.NewID()},
	} {
		e.ID, e.At = herald.NewID(), at.Add(time.Duration(i)*time.Second)
		if err := al.RecordAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		f    herald.AuditFilter
		want []string
	}{
		{herald.AuditFilter{}, []string{"authorization.create", "webhook.update", "webhook.create"}},
		{herald.AuditFilter{ObjectType: "webhook"}, []string{"webhook.update", "webhook.create"}},
		{herald.AuditFilter{Actor: "ada@example.com"}, []string{"authorization.create", "webhook.create"}},
		{herald.AuditFilter{ObjectType: "webhook", Actor: "ada@example.com"}, []string{"webhook.create"}},
		{herald.AuditFilter{ObjectID: auth}, []string{"authorization.create"}},
		{herald.AuditFilter{Actor: "nobody@example.com"}, nil},
	} {
		list, _, err := al.ListAudit(ctx, ws, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			got = append(got, e.Action)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("ListAudit(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}
