package herald

import (
	"fmt"
	"slices"
)

// Role is what a member may do in one workspace. A user belongs to any
// number of workspaces, with one role in each (Membership).
type Role string

const (
	// RoleOwner manages the workspace's members and settings, and does
	// everything an admin does.
	RoleOwner Role = "owner"
	// RoleAdmin changes configuration (webhooks, authorizations, event
	// types, deliveries) and manages API keys.
	RoleAdmin Role = "admin"
	// RoleViewer reads configuration and logs — secrets masked — and
	// changes nothing.
	RoleViewer Role = "viewer"
)

// Roles lists the roles, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleViewer}

// ParseRole reads a role name; EInvalid on the "role" field otherwise.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "role",
			Message: fmt.Sprintf("%q is not a role (owner, admin, viewer)", s)}}}
	}
	return r, nil
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Action is one kind of thing a request does. Every API route and every
// web route names the action it performs; Principal.Can decides.
type Action string

const (
	// ActRead reads configuration (secrets masked), logs and the audit log.
	ActRead Action = "read"
	// ActIngest sends events.
	ActIngest Action = "ingest"
	// ActConfigure changes webhooks, authorizations and event types, sends
	// tests, retries, resends and replays deliveries, rotates signing secrets.
	ActConfigure Action = "configure"
	// ActReadSecret reveals a secret in clear (a webhook's signing secret).
	ActReadSecret Action = "read_secret"
	// ActManageKeys lists, creates and revokes the workspace's API keys.
	ActManageKeys Action = "manage_keys"
	// ActManageWorkspace changes the workspace's settings (time zone,
	// retention, portal origins).
	ActManageWorkspace Action = "manage_workspace"
	// ActManageMembers invites, changes and removes members.
	ActManageMembers Action = "manage_members"
	// ActManageInstance lists, creates and deletes workspaces, and mints
	// keys and invitations in any of them: instance owners and instance keys.
	ActManageInstance Action = "manage_instance"
)

// Actions lists every action (for tests that go over all of them).
var Actions = []Action{ActRead, ActIngest, ActConfigure, ActReadSecret, ActManageKeys, ActManageWorkspace, ActManageMembers, ActManageInstance}

// Can reports whether a member with role r may perform a inside the
// workspace. This table is the whole role model.
func (r Role) Can(a Action) bool {
	switch r {
	case RoleOwner:
		return a != ActManageInstance
	case RoleAdmin:
		switch a {
		case ActRead, ActIngest, ActConfigure, ActReadSecret, ActManageKeys:
			return true
		}
	case RoleViewer:
		return a == ActRead
	}
	return false
}

// Rank orders roles: owner 3, admin 2, viewer 1, anything else 0.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// scopeRole is the role an API key's scope stands for inside the key's
// workspace: admin keys have always done everything in the workspace.
func scopeRole(sc Scope) Role {
	switch sc {
	case ScopeAdmin:
		return RoleOwner
	case ScopeRead:
		return RoleViewer
	}
	return ""
}

// Principal is who makes a request: a signed-in member (Role) or an API
// key (Scopes). It is the one place where permissions are decided, for
// the REST API and the admin UI alike.
type Principal struct {
	// WorkspaceID is the workspace the request acts in; "" for an
	// instance key, which is bound to none.
	WorkspaceID string
	// Role is a signed-in member's role in WorkspaceID.
	Role Role
	// Scopes are an API key's; nil for a signed-in member.
	Scopes []Scope
	// InstanceOwner marks a user who manages every workspace.
	InstanceOwner bool
}

// KeyPrincipal is the principal of an API key.
func KeyPrincipal(k *APIKey) Principal {
	return Principal{WorkspaceID: k.WorkspaceID, Scopes: slices.Clone(k.Scopes)}
}

// Can reports whether p may perform a.
func (p Principal) Can(a Action) bool {
	if a == ActManageInstance {
		return p.InstanceOwner || slices.Contains(p.Scopes, ScopeInstance)
	}
	if p.WorkspaceID == "" {
		return false
	}
	if p.Scopes != nil {
		for _, sc := range p.Scopes {
			if sc == ScopeIngest && a == ActIngest {
				return true
			}
			if scopeRole(sc).Can(a) {
				return true
			}
		}
		return false
	}
	if p.InstanceOwner {
		return RoleOwner.Can(a)
	}
	return p.Role.Can(a)
}

// Authorize returns nil if p may perform a, else an EForbidden error
// saying what is missing.
func (p Principal) Authorize(a Action) error {
	if p.Can(a) {
		return nil
	}
	switch {
	case a == ActManageInstance && p.Scopes != nil:
		return Errorf(EForbidden, "this needs an instance key (herald apikey create --instance)")
	case a == ActManageInstance:
		return Errorf(EForbidden, "only an instance owner may do this")
	case p.WorkspaceID == "" && p.Scopes != nil:
		return Errorf(EForbidden, "an instance key is bound to no workspace; mint a workspace key with POST /api/v1/workspaces/{id}/api-keys")
	case p.Scopes != nil:
		return Errorf(EForbidden, "this API key's scopes (%s) do not allow %s", joinScopes(p.Scopes), a)
	}
	role := p.Role
	if role == "" {
		role = "none"
	}
	return Errorf(EForbidden, "your role in this workspace (%s) does not allow this (%s)", role, a)
}

// EffectiveRole is the role p acts with in its workspace: an API key's
// most powerful scope as a role, an instance owner's owner.
func (p Principal) EffectiveRole() Role {
	if p.Scopes != nil {
		best := Role("")
		for _, sc := range p.Scopes {
			if r := scopeRole(sc); r.Rank() > best.Rank() {
				best = r
			}
		}
		return best
	}
	if p.InstanceOwner {
		return RoleOwner
	}
	return p.Role
}

// CanGrant reports whether p may hand out a key with these scopes or a
// membership with this role: never more than p has itself (an admin
// cannot make an admin key, which acts as the workspace's owner).
func (p Principal) CanGrant(scopes []Scope, role Role) bool {
	if p.Can(ActManageInstance) {
		return true
	}
	mine := p.EffectiveRole().Rank()
	for _, sc := range scopes {
		if sc == ScopeInstance || scopeRole(sc).Rank() > mine {
			return false
		}
	}
	return role == "" || role.Rank() <= mine
}

func joinScopes(scopes []Scope) string {
	s := ""
	for i, sc := range scopes {
		if i > 0 {
			s += ", "
		}
		s += string(sc)
	}
	return s
}
