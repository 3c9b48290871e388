package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// TenantsStore is a store that also keeps users, workspaces as objects,
// memberships and the delivery queue (a deleted workspace takes its
// events and deliveries with it).
type TenantsStore interface {
	herald.Store
	herald.UserStore
	herald.TenantStore
	herald.Queue
	herald.SourceStore
}

// RunTenants runs the conformance suite of herald.TenantStore; each
// subtest gets a fresh store.
func RunTenants(t *testing.T, open func(t testing.TB) TenantsStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s TenantsStore)
	}{
		{"Workspaces", testTenantWorkspaces},
		{"InstanceKey", testInstanceKey},
		{"Members", testMembers},
		{"DeleteWorkspace", testDeleteWorkspace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func testTenantWorkspaces(t *testing.T, s TenantsStore) {
	a := &herald.Workspace{ID: herald.NewID(), Name: "brand-a", CreatedAt: now()}
	if err := s.CreateWorkspace(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateWorkspace(ctx, &herald.Workspace{ID: herald.NewID(), Name: "brand-a", CreatedAt: now()}), herald.EConflict)
	b := &herald.Workspace{ID: herald.NewID(), Name: "brand-b", CreatedAt: now().Add(time.Millisecond)}
	if err := s.CreateWorkspace(ctx, b); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWorkspaces(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListWorkspaces = %v, %v", list, err)
	}
	wantCode(t, s.RenameWorkspace(ctx, b.ID, "brand-a"), herald.EConflict)
	if err := s.RenameWorkspace(ctx, b.ID, "brand-c"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RenameWorkspace(ctx, herald.NewID(), "x"), herald.ENotFound)
	if err := s.SetWorkspacePortalOrigins(ctx, b.ID, []string{"https://admin.example.com", "http://127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.WorkspaceByID(ctx, b.ID)
	if err != nil || got.Name != "brand-c" || len(got.PortalAllowedOrigins) != 2 || got.PortalAllowedOrigins[1] != "http://127.0.0.1:9000" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if got, _ := s.WorkspaceByID(ctx, a.ID); got.PortalAllowedOrigins == nil || len(got.PortalAllowedOrigins) != 0 {
		t.Fatalf("a workspace without origins reads %v, want an empty list", got.PortalAllowedOrigins)
	}
}

func testInstanceKey(t *testing.T, s TenantsStore) {
	key, rec := herald.NewAPIKey("", "platform", []herald.Scope{herald.ScopeInstance}, now())
	if err := s.CreateAPIKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, herald.HashAPIKey(key))
	if err != nil || got.WorkspaceID != "" || len(got.Scopes) != 1 || got.Scopes[0] != herald.ScopeInstance {
		t.Fatalf("instance key read back %+v, %v", got, err)
	}
	// The schema refuses a workspace key without a workspace, and an
	// instance key bound to one.
	_, bad := herald.NewAPIKey("", "x", []herald.Scope{herald.ScopeAdmin}, now())
	if err := s.CreateAPIKey(ctx, bad); err == nil {
		t.Fatal("an admin key without a workspace was stored")
	}
	ws := workspace(t, s, "default")
	_, bad = herald.NewAPIKey(ws, "x", []herald.Scope{herald.ScopeInstance}, now())
	if err := s.CreateAPIKey(ctx, bad); err == nil {
		t.Fatal("an instance key bound to a workspace was stored")
	}
}

func testMembers(t *testing.T, s TenantsStore) {
	a := workspace(t, s, "brand-a")
	b := workspace(t, s, "brand-b")
	u := newUser(a, "owner@example.com")
	u.InstanceOwner = true
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(ctx, u.ID); err != nil || !got.InstanceOwner || got.Email != u.Email {
		t.Fatalf("UserByID = %+v, %v", got, err)
	}
	at := now()
	own := &herald.Member{ID: herald.NewID(), WorkspaceID: a, UserID: u.ID, Email: u.Email, Role: herald.RoleOwner, CreatedAt: at, AcceptedAt: &at}
	if err := s.CreateMember(ctx, own); err != nil {
		t.Fatal(err)
	}
	_, hash := herald.NewSessionToken()
	exp := at.Add(herald.InviteTTL)
	inv := &herald.Member{ID: herald.NewID(), WorkspaceID: a, Email: "Viewer@Example.com", Role: herald.RoleViewer, InviteHash: hash, InviteExpiresAt: &exp, CreatedAt: at.Add(time.Millisecond)}
	if err := s.CreateMember(ctx, inv); err != nil {
		t.Fatal(err)
	}
	// One email once per workspace, but in any number of workspaces.
	wantCode(t, s.CreateMember(ctx, &herald.Member{ID: herald.NewID(), WorkspaceID: a, Email: "viewer@example.com", Role: herald.RoleAdmin, InviteHash: []byte("other"), CreatedAt: at}), herald.EConflict)
	_, hash2 := herald.NewSessionToken()
	if err := s.CreateMember(ctx, &herald.Member{ID: herald.NewID(), WorkspaceID: b, Email: "viewer@example.com", Role: herald.RoleAdmin, InviteHash: hash2, InviteExpiresAt: &exp, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}

	list, err := s.ListMembers(ctx, a)
	if err != nil || len(list) != 2 || list[0].Status != herald.MemberActive || list[1].Status != herald.MemberInvited || list[1].Email != "viewer@example.com" || list[1].InviteExpiresAt == nil {
		t.Fatalf("ListMembers = %+v, %v", list, err)
	}
	got, err := s.MemberByInvite(ctx, hash)
	if err != nil || got.ID != inv.ID || got.WorkspaceName != "brand-a" {
		t.Fatalf("MemberByInvite = %+v, %v", got, err)
	}
	_, err = s.MemberByInvite(ctx, bytes.Repeat([]byte{1}, 32))
	wantCode(t, err, herald.ENotFound)

	v := newUser(a, "viewer@example.com")
	if err := s.CreateUser(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.AcceptInvite(ctx, inv.ID, v.ID, now()); err != nil {
		t.Fatal(err)
	}
	// The link works once.
	_, err = s.MemberByInvite(ctx, hash)
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.AcceptInvite(ctx, inv.ID, v.ID, now()), herald.ENotFound)
	m, err := s.MembershipOf(ctx, v.ID, a)
	if err != nil || m.Role != herald.RoleViewer || m.Status != herald.MemberActive || m.UserID != v.ID {
		t.Fatalf("MembershipOf = %+v, %v", m, err)
	}
	_, err = s.MembershipOf(ctx, v.ID, b)
	wantCode(t, err, herald.ENotFound) // invited there, not a member yet

	if err := s.SetMemberRole(ctx, a, inv.ID, herald.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.SetMemberRole(ctx, b, inv.ID, herald.RoleAdmin), herald.ENotFound) // another workspace's id
	mine, err := s.MembershipsOf(ctx, v.ID)
	if err != nil || len(mine) != 1 || mine[0].Role != herald.RoleAdmin || mine[0].WorkspaceName != "brand-a" {
		t.Fatalf("MembershipsOf = %+v, %v", mine, err)
	}

	// Switching a session's workspace; removing a member ends their
	// sessions in that workspace.
	tok := bytes.Repeat([]byte{7}, 32)
	if err := s.CreateSession(ctx, &herald.Session{TokenHash: tok, UserID: v.ID, WorkspaceID: b, CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionWorkspace(ctx, tok, a); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.Session(ctx, tok); err != nil || sess.WorkspaceID != a {
		t.Fatalf("session after switch: %+v, %v", sess, err)
	}
	wantCode(t, s.DeleteMember(ctx, b, inv.ID), herald.ENotFound)
	if err := s.DeleteMember(ctx, a, inv.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, tok)
	wantCode(t, err, herald.ENotFound)
	_, err = s.Member(ctx, a, inv.ID)
	wantCode(t, err, herald.ENotFound)
}

func testDeleteWorkspace(t *testing.T, s TenantsStore) {
	a := workspace(t, s, "brand-a")
	b := workspace(t, s, "brand-b")
	fill := func(ws string) (*herald.User, *herald.Webhook) {
		auth := newAuthorization(ws, herald.AuthHeader)
		if err := s.CreateAuthorization(ctx, auth); err != nil {
			t.Fatal(err)
		}
		w := publishedWebhook(t, s, ws, "coupon.redeemed", false)
		ingest(t, s, newEvent(ws, "coupon.redeemed", "", now()))
		_, k := herald.NewAPIKey(ws, "k", []herald.Scope{herald.ScopeAdmin}, now())
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateEventType(ctx, &herald.EventType{WorkspaceID: ws, Key: "x.custom", DisplayName: "Custom", Sample: map[string]any{}, CreatedAt: now()}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSource(ctx, newSource(ws, "orders")); err != nil {
			t.Fatal(err)
		}
		u := newUser(ws, "only-"+ws+"@example.com")
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		at := now()
		if err := s.CreateMember(ctx, &herald.Member{ID: herald.NewID(), WorkspaceID: ws, UserID: u.ID, Email: u.Email, Role: herald.RoleOwner, CreatedAt: at, AcceptedAt: &at}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, &herald.Session{TokenHash: []byte("tok-" + ws), UserID: u.ID, WorkspaceID: ws, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return u, w
	}
	ua, wa := fill(a)
	ub, wb := fill(b)
	// An instance owner who starts in a, and a user of both workspaces.
	io := newUser(a, "io@example.com")
	io.InstanceOwner = true
	both := newUser(a, "both@example.com")
	for _, u := range []*herald.User{io, both} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	at := now()
	for _, ws := range []string{a, b} {
		if err := s.CreateMember(ctx, &herald.Member{ID: herald.NewID(), WorkspaceID: ws, UserID: both.ID, Email: both.Email, Role: herald.RoleAdmin, CreatedAt: at, AcceptedAt: &at}); err != nil {
			t.Fatal(err)
		}
	}

	wantCode(t, s.DeleteWorkspace(ctx, herald.NewID()), herald.ENotFound)
	if err := s.DeleteWorkspace(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, err := s.WorkspaceByID(ctx, a)
	wantCode(t, err, herald.ENotFound)
	_, err = s.Webhook(ctx, a, wa.ID)
	wantCode(t, err, herald.ENotFound)
	_, err = s.UserByID(ctx, ua.ID)
	wantCode(t, err, herald.ENotFound) // left with no workspace
	if u, err := s.UserByID(ctx, io.ID); err != nil || u.WorkspaceID != b {
		t.Fatalf("instance owner after delete: %+v, %v", u, err)
	}
	if u, err := s.UserByID(ctx, both.ID); err != nil || u.WorkspaceID != b {
		t.Fatalf("member of both after delete: %+v, %v", u, err)
	}
	if m, _ := s.ListMembers(ctx, a); len(m) != 0 {
		t.Fatalf("members of the deleted workspace: %v", m)
	}
	if keys, _ := s.ListAPIKeys(ctx, a); len(keys) != 0 {
		t.Fatalf("keys of the deleted workspace: %v", keys)
	}
	if srcs, _, _ := s.ListSources(ctx, a, herald.SourceFilter{}); len(srcs) != 0 {
		t.Fatalf("sources of the deleted workspace: %v", srcs)
	}
	if srcs, _, _ := s.ListSources(ctx, b, herald.SourceFilter{}); len(srcs) != 1 {
		t.Fatalf("sources of the other workspace: %v", srcs)
	}
	if ts, _ := s.ListEventTypes(ctx, a); len(ts) != 0 {
		t.Fatalf("event types of the deleted workspace: %v", ts)
	}
	if evs, _ := s.ListEvents(ctx, a, herald.EventFilter{}); len(evs) != 0 {
		t.Fatalf("events of the deleted workspace: %v", evs)
	}
	// Nothing is left to deliver for a; b's delivery is untouched.
	claims := claimAll(t, s, now().Add(time.Minute))
	if len(claims) != 1 || claims[0].WebhookID != wb.ID {
		t.Fatalf("claims after delete: %d", len(claims))
	}
	// b is whole.
	if _, err := s.Webhook(ctx, b, wb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, ub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, []byte("tok-"+b)); err != nil {
		t.Fatal(err)
	}
}
