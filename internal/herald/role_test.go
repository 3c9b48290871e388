package herald

import "testing"

// TestRoleCan is the role model, written out: every role × every action.
func TestRoleCan(t *testing.T) {
	want := map[Role][]Action{
		RoleOwner:  {ActRead, ActIngest, ActConfigure, ActReadSecret, ActManageKeys, ActManageWorkspace, ActManageMembers},
		RoleAdmin:  {ActRead, ActIngest, ActConfigure, ActReadSecret, ActManageKeys},
		RoleViewer: {ActRead},
		"":         nil,
		"root":     nil,
	}
	for role, allowed := range want {
		for _, a := range Actions {
			exp := false
			for _, x := range allowed {
				exp = exp || x == a
			}
			if got := role.Can(a); got != exp {
				t.Errorf("%q.Can(%s) = %v, want %v", role, a, got, exp)
			}
			p := Principal{WorkspaceID: "W", Role: role}
			if got := p.Can(a); got != exp {
				t.Errorf("member %q: Can(%s) = %v, want %v", role, a, got, exp)
			}
			if err := p.Authorize(a); (err == nil) != exp || (err != nil && ErrorCodeOf(err) != EForbidden) {
				t.Errorf("member %q: Authorize(%s) = %v", role, a, err)
			}
		}
	}
}

// TestScopesMapOntoRoles: API keys go through the same check — admin acts
// as the workspace's owner, read as a viewer, ingest only ingests, and an
// instance key manages workspaces but acts in none.
func TestScopesMapOntoRoles(t *testing.T) {
	cases := []struct {
		scopes []Scope
		ws     string
		can    []Action
	}{
		{[]Scope{ScopeAdmin}, "W", []Action{ActRead, ActIngest, ActConfigure, ActReadSecret, ActManageKeys, ActManageWorkspace, ActManageMembers}},
		{[]Scope{ScopeRead}, "W", []Action{ActRead}},
		{[]Scope{ScopeIngest}, "W", []Action{ActIngest}},
		{[]Scope{ScopeRead, ScopeIngest}, "W", []Action{ActRead, ActIngest}},
		{[]Scope{ScopeInstance}, "", []Action{ActManageInstance}},
		{[]Scope{}, "W", nil},
	}
	for _, c := range cases {
		p := KeyPrincipal(&APIKey{WorkspaceID: c.ws, Scopes: c.scopes})
		for _, a := range Actions {
			exp := false
			for _, x := range c.can {
				exp = exp || x == a
			}
			if got := p.Can(a); got != exp {
				t.Errorf("key %v: Can(%s) = %v, want %v", c.scopes, a, got, exp)
			}
		}
	}
	// An instance owner acts as owner in any workspace and manages the instance.
	io := Principal{WorkspaceID: "W", InstanceOwner: true}
	for _, a := range Actions {
		if !io.Can(a) {
			t.Errorf("instance owner cannot %s", a)
		}
	}
}

func TestCanGrant(t *testing.T) {
	admin := Principal{WorkspaceID: "W", Role: RoleAdmin}
	if admin.CanGrant([]Scope{ScopeAdmin}, "") {
		t.Error("an admin can mint an admin key (which acts as owner)")
	}
	if !admin.CanGrant([]Scope{ScopeRead, ScopeIngest}, "") {
		t.Error("an admin cannot mint a read+ingest key")
	}
	if admin.CanGrant(nil, RoleOwner) || !admin.CanGrant(nil, RoleViewer) {
		t.Error("admin grants roles wrongly")
	}
	owner := Principal{WorkspaceID: "W", Role: RoleOwner}
	if !owner.CanGrant([]Scope{ScopeAdmin}, RoleOwner) || owner.CanGrant([]Scope{ScopeInstance}, "") {
		t.Error("owner grants wrongly")
	}
}

func TestValidateOrigins(t *testing.T) {
	good, err := ValidateOrigins([]string{"https://Admin.Example.com", "http://127.0.0.1:8080", "https://admin.example.com/"})
	if err != nil || len(good) != 2 || good[0] != "https://admin.example.com" || good[1] != "http://127.0.0.1:8080" {
		t.Fatalf("got %v, %v", good, err)
	}
	for _, bad := range []string{"", "admin.example.com", "ftp://x", "https://x/path", "https://u:p@x", "https://x?q", "https://x:99999", "https://*.x", "javascript:alert(1)"} {
		_, err := ValidateOrigins([]string{bad})
		var e *Error
		if err == nil || !asError(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != "portal_allowed_origins[0]" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}
