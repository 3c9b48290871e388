package herald

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Member is a user's membership of a workspace, or an invitation to one
// that is not accepted yet (Status "invited", UserID empty). Only the
// SHA-256 of an invitation's token is stored.
type Member struct {
	ID            string `json:"id"`
	WorkspaceID   string `json:"workspace_id"`
	WorkspaceName string `json:"-"` // filled in by MembershipsOf
	UserID        string `json:"user_id,omitempty"`
	Email         string `json:"email"`
	Role          Role   `json:"role"`
	// Status is "active" or "invited".
	Status          string     `json:"status"`
	InviteHash      []byte     `json:"-"`
	InviteExpiresAt *time.Time `json:"invite_expires_at,omitempty"`
	// InviteURL is set once, in the answer that creates the invitation.
	InviteURL  string     `json:"invite_url,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
}

// Member states.
const (
	MemberActive  = "active"
	MemberInvited = "invited"
)

// InviteTTL is how long an invitation link works.
const InviteTTL = 7 * 24 * time.Hour

// InviteURL is the link that accepts an invitation, under base (the
// server's public URL).
func InviteURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/invite/" + token
}

// TenantStore keeps workspaces as objects of their own, memberships and
// invitations. The SQL store implements it beside Store; the conformance
// suite storetest.RunTenants checks it.
type TenantStore interface {
	// CreateWorkspace stores a new workspace; EConflict if the name is taken.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	// ListWorkspaces returns every workspace, oldest first.
	ListWorkspaces(ctx context.Context) ([]*Workspace, error)
	RenameWorkspace(ctx context.Context, id, name string) error
	SetWorkspacePortalOrigins(ctx context.Context, id string, origins []string) error
	// DeleteWorkspace removes the workspace and everything in it: webhooks,
	// authorizations, event types, sources (and their rejected messages),
	// events, deliveries, attempts, API keys,
	// audit entries, memberships, sessions acting in it, and the users
	// left with no workspace (instance owners are kept).
	DeleteWorkspace(ctx context.Context, id string) error

	// CreateMember stores a membership or invitation; EConflict if the
	// email is already a member (or invited) of the workspace.
	CreateMember(ctx context.Context, m *Member) error
	Member(ctx context.Context, workspaceID, id string) (*Member, error)
	// ListMembers returns the workspace's members and invitations, oldest first.
	ListMembers(ctx context.Context, workspaceID string) ([]*Member, error)
	// MemberByInvite returns the pending invitation with this token hash.
	MemberByInvite(ctx context.Context, hash []byte) (*Member, error)
	// MembershipsOf returns the user's active memberships with their
	// workspaces' names, ordered by workspace name.
	MembershipsOf(ctx context.Context, userID string) ([]*Member, error)
	// MembershipOf returns the user's active membership of the workspace,
	// or ENotFound.
	MembershipOf(ctx context.Context, userID, workspaceID string) (*Member, error)
	SetMemberRole(ctx context.Context, workspaceID, id string, role Role) error
	// AcceptInvite makes a pending invitation the user's membership;
	// ENotFound if it is no longer pending.
	AcceptInvite(ctx context.Context, id, userID string, at time.Time) error
	DeleteMember(ctx context.Context, workspaceID, id string) error

	// UserByID returns a user or ENotFound.
	UserByID(ctx context.Context, id string) (*User, error)
	// SetSessionWorkspace moves a session to another workspace.
	SetSessionWorkspace(ctx context.Context, tokenHash []byte, workspaceID string) error
}

func (s *Service) tenants() (TenantStore, error) {
	t, ok := s.Store.(TenantStore)
	if !ok {
		return nil, Errorf(EInternal, "this store keeps no workspaces or members")
	}
	return t, nil
}

// Tenants returns the store's TenantStore (EInternal if it has none).
func (s *Service) Tenants() (TenantStore, error) { return s.tenants() }

// ValidateWorkspaceName checks a new workspace name (field "name").
func ValidateWorkspaceName(name string) error {
	var v Validation
	switch {
	case name == "":
		v.Add("name", "is required")
	case len(name) > MaxNameLength:
		v.Add("name", "must be at most %d characters", MaxNameLength)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		v.Add("name", "must not contain control characters")
	}
	return v.Err()
}

// ValidateOrigins checks and normalizes a list of portal origins: each
// one scheme://host[:port], http or https, nothing else (field
// "portal_allowed_origins").
func ValidateOrigins(origins []string) ([]string, error) {
	var v Validation
	out := []string{}
	seen := map[string]bool{}
	for i, o := range origins {
		field := fmt.Sprintf("portal_allowed_origins[%d]", i)
		o = strings.TrimSpace(o)
		u, err := url.Parse(o)
		switch {
		case o == "":
			v.Add(field, "is empty")
			continue
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
			v.Add(field, "%q is not an origin: write scheme://host[:port], e.g. https://admin.example.com", o)
			continue
		case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
			v.Add(field, "%q must be an origin only: scheme://host[:port], no path, query or credentials", o)
			continue
		case strings.ContainsAny(u.Host, " ;,'\"*"):
			v.Add(field, "%q has characters an origin cannot have", o)
			continue
		}
		if p := u.Port(); p != "" {
			var n int
			if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
				v.Add(field, "%q has an invalid port", o)
				continue
			}
		}
		norm := strings.ToLower(u.Scheme + "://" + u.Host)
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	if len(origins) > 50 {
		v.Add("portal_allowed_origins", "at most 50 origins")
	}
	return out, v.Err()
}

// CreateWorkspace makes a new, empty workspace and records it in its
// audit log.
func (s *Service) CreateWorkspace(ctx context.Context, name string) (*Workspace, error) {
	name = strings.TrimSpace(name)
	if err := ValidateWorkspaceName(name); err != nil {
		return nil, err
	}
	t, err := s.tenants()
	if err != nil {
		return nil, err
	}
	w := &Workspace{ID: NewID(), Name: name, PortalAllowedOrigins: []string{}, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := t.CreateWorkspace(ctx, w); err != nil {
		if ErrorCodeOf(err) == EConflict {
			return nil, &Error{Code: EConflict, Message: "a workspace with this name exists", Fields: []FieldError{{Field: "name", Message: "is already used by another workspace"}}, Err: err}
		}
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	s.RecordAudit(ctx, w.ID, "workspace.create", "workspace", w.ID, name)
	return s.Store.WorkspaceByID(ctx, w.ID)
}

// ListWorkspaces returns every workspace, oldest first.
func (s *Service) ListWorkspaces(ctx context.Context) ([]*Workspace, error) {
	t, err := s.tenants()
	if err != nil {
		return nil, err
	}
	return t.ListWorkspaces(ctx)
}

// WorkspacePatch is a change of a workspace's settings; nil fields stay.
type WorkspacePatch struct {
	Name                 *string
	TimeZone             *string
	Retention            *time.Duration
	SetRetention         bool // Retention applies (nil: the server's default)
	PortalAllowedOrigins *[]string
}

// UpdateWorkspace applies p: everything is validated before anything
// changes, and each change is audit-logged.
func (s *Service) UpdateWorkspace(ctx context.Context, id string, p WorkspacePatch) (*Workspace, error) {
	if _, err := s.Store.WorkspaceByID(ctx, id); err != nil {
		return nil, err
	}
	var name string
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		if err := ValidateWorkspaceName(name); err != nil {
			return nil, err
		}
	}
	var origins []string
	if p.PortalAllowedOrigins != nil {
		var err error
		if origins, err = ValidateOrigins(*p.PortalAllowedOrigins); err != nil {
			return nil, err
		}
	}
	if p.SetRetention {
		if err := ValidateRetention(p.Retention); err != nil {
			return nil, err
		}
	}
	t, err := s.tenants()
	if err != nil && (p.Name != nil || p.PortalAllowedOrigins != nil) {
		return nil, err
	}
	if p.Name != nil {
		if err := t.RenameWorkspace(ctx, id, name); err != nil {
			if ErrorCodeOf(err) == EConflict {
				return nil, &Error{Code: EConflict, Message: "a workspace with this name exists", Fields: []FieldError{{Field: "name", Message: "is already used by another workspace"}}, Err: err}
			}
			return nil, fmt.Errorf("rename workspace: %w", err)
		}
		s.RecordAudit(ctx, id, "workspace.update", "workspace", id, "name "+fmt.Sprintf("%q", name))
	}
	if p.TimeZone != nil {
		if _, err := s.SetTimeZone(ctx, id, *p.TimeZone); err != nil {
			return nil, err
		}
	}
	if p.SetRetention {
		if _, err := s.SetRetention(ctx, id, p.Retention); err != nil {
			return nil, err
		}
	}
	if p.PortalAllowedOrigins != nil {
		if err := t.SetWorkspacePortalOrigins(ctx, id, origins); err != nil {
			return nil, fmt.Errorf("set portal origins: %w", err)
		}
		s.RecordAudit(ctx, id, "workspace.update", "workspace", id, "portal_allowed_origins "+strings.Join(origins, " "))
	}
	return s.Store.WorkspaceByID(ctx, id)
}

// DeleteWorkspace removes a workspace and everything in it. confirm must
// be the workspace's name (EInvalid on the "confirm" field otherwise);
// the last workspace cannot be deleted (EConflict). Its pending
// deliveries go with it, so none is sent after. The workspace's audit log
// goes too, so the deletion is logged by the server instead.
func (s *Service) DeleteWorkspace(ctx context.Context, id, confirm string) error {
	t, err := s.tenants()
	if err != nil {
		return err
	}
	w, err := s.Store.WorkspaceByID(ctx, id)
	if err != nil {
		return err
	}
	if confirm != w.Name {
		return &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "confirm",
			Message: fmt.Sprintf("must be the workspace's name (%q) to confirm that everything in it is deleted", w.Name)}}}
	}
	all, err := t.ListWorkspaces(ctx)
	if err != nil {
		return err
	}
	if len(all) <= 1 {
		return Errorf(EConflict, "the last workspace cannot be deleted")
	}
	if err := t.DeleteWorkspace(ctx, id); err != nil {
		return fmt.Errorf("delete workspace: %w", err)
	}
	s.zones.Delete(id)
	logAudit(ctx, "workspace.delete", id, w.Name)
	return nil
}

// CreateInstanceKey makes an instance key: bound to no workspace, scope
// instance. It is shown once; the server logs its creation (there is no
// workspace audit log to record it in).
func (s *Service) CreateInstanceKey(ctx context.Context, name string) (key string, rec *APIKey, err error) {
	name = strings.TrimSpace(name)
	var v Validation
	switch {
	case name == "":
		v.Add("name", "is required: say what uses the key")
	case len(name) > MaxNameLength:
		v.Add("name", "must be at most %d characters", MaxNameLength)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	key, rec = NewAPIKey("", name, []Scope{ScopeInstance}, s.now())
	if err := s.Store.CreateAPIKey(ctx, rec); err != nil {
		return "", nil, fmt.Errorf("create instance key: %w", err)
	}
	logAudit(ctx, "api_key.create_instance", rec.ID, name+" ("+rec.Prefix+"…)")
	return key, rec, nil
}

// InviteMember invites email to the workspace with role: the member is
// returned with the invitation's token (shown once; only its hash is
// kept). EConflict on "email" if the address is already a member or
// invited.
func (s *Service) InviteMember(ctx context.Context, workspaceID, email string, role Role) (*Member, string, error) {
	t, err := s.tenants()
	if err != nil {
		return nil, "", err
	}
	email = NormalizeEmail(email)
	var v Validation
	if err := ValidateNewUser(email, strings.Repeat("x", MinPasswordLength)); err != nil {
		for _, f := range err.(*Error).Fields {
			if f.Field == "email" {
				v.Add("email", "%s", f.Message)
			}
		}
	}
	if !role.Valid() {
		v.Add("role", "%q is not a role (owner, admin, viewer)", role)
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, err := s.Store.WorkspaceByID(ctx, workspaceID); err != nil {
		return nil, "", err
	}
	token, hash := NewSessionToken()
	now := s.now().UTC().Truncate(time.Microsecond)
	exp := now.Add(InviteTTL)
	m := &Member{ID: NewID(), WorkspaceID: workspaceID, Email: email, Role: role, Status: MemberInvited,
		InviteHash: hash, InviteExpiresAt: &exp, CreatedAt: now}
	if err := t.CreateMember(ctx, m); err != nil {
		if ErrorCodeOf(err) == EConflict {
			return nil, "", &Error{Code: EConflict, Message: "already a member", Fields: []FieldError{{Field: "email", Message: "is already a member of this workspace, or invited"}}, Err: err}
		}
		return nil, "", fmt.Errorf("invite member: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "member.invite", "member", m.ID, email+" as "+string(role))
	return m, token, nil
}

// AddMember makes an existing user an active member (herald user create,
// setup). EConflict if they already are.
func (s *Service) AddMember(ctx context.Context, workspaceID string, u *User, role Role) (*Member, error) {
	t, err := s.tenants()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	m := &Member{ID: NewID(), WorkspaceID: workspaceID, UserID: u.ID, Email: u.Email, Role: role, Status: MemberActive, CreatedAt: now, AcceptedAt: &now}
	if err := t.CreateMember(ctx, m); err != nil {
		return nil, err
	}
	s.RecordAudit(ctx, workspaceID, "member.add", "member", m.ID, u.Email+" as "+string(role))
	return m, nil
}

// PendingInvite returns the invitation of token if it is pending and not
// expired; ENotFound otherwise.
func (s *Service) PendingInvite(ctx context.Context, token string) (*Member, error) {
	t, err := s.tenants()
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, ErrNotFound
	}
	m, err := t.MemberByInvite(ctx, HashSessionToken(token))
	if err != nil {
		return nil, err
	}
	if m.InviteExpiresAt == nil || !s.now().Before(*m.InviteExpiresAt) {
		return nil, Errorf(ENotFound, "this invitation has expired; ask for a new one")
	}
	return m, nil
}

// AcceptInvite makes the invitation of token u's membership. u's email
// must be the invited one (EForbidden otherwise).
func (s *Service) AcceptInvite(ctx context.Context, token string, u *User) (*Member, error) {
	m, err := s.PendingInvite(ctx, token)
	if err != nil {
		return nil, err
	}
	if NormalizeEmail(u.Email) != m.Email {
		return nil, Errorf(EForbidden, "this invitation is for %s; sign in with that address", m.Email)
	}
	t, _ := s.tenants()
	if err := t.AcceptInvite(ctx, m.ID, u.ID, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return nil, err
	}
	s.RecordAudit(WithActor(ctx, u.Email), m.WorkspaceID, "member.accept", "member", m.ID, u.Email+" as "+string(m.Role))
	return t.Member(ctx, m.WorkspaceID, m.ID)
}

// ownersLeft counts the workspace's active owners other than exceptID.
func ownersLeft(list []*Member, exceptID string) int {
	n := 0
	for _, m := range list {
		if m.ID != exceptID && m.Role == RoleOwner && m.Status == MemberActive {
			n++
		}
	}
	return n
}

// SetMemberRole changes a member's role; the last active owner cannot
// be demoted (EConflict).
func (s *Service) SetMemberRole(ctx context.Context, workspaceID, id string, role Role) (*Member, error) {
	t, err := s.tenants()
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "role", Message: fmt.Sprintf("%q is not a role (owner, admin, viewer)", role)}}}
	}
	list, err := t.ListMembers(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	m := findMember(list, id)
	if m == nil {
		return nil, ErrNotFound
	}
	if m.Role == RoleOwner && role != RoleOwner && m.Status == MemberActive && ownersLeft(list, id) == 0 {
		return nil, &Error{Code: EConflict, Message: "the last owner cannot be demoted", Fields: []FieldError{{Field: "role", Message: "the workspace needs at least one owner: make another member owner first"}}}
	}
	if err := t.SetMemberRole(ctx, workspaceID, id, role); err != nil {
		return nil, err
	}
	s.RecordAudit(ctx, workspaceID, "member.update", "member", id, m.Email+" role "+string(role))
	return t.Member(ctx, workspaceID, id)
}

// RemoveMember removes a member or withdraws an invitation; the last
// active owner cannot be removed (EConflict).
func (s *Service) RemoveMember(ctx context.Context, workspaceID, id string) error {
	t, err := s.tenants()
	if err != nil {
		return err
	}
	list, err := t.ListMembers(ctx, workspaceID)
	if err != nil {
		return err
	}
	m := findMember(list, id)
	if m == nil {
		return ErrNotFound
	}
	if m.Role == RoleOwner && m.Status == MemberActive && ownersLeft(list, id) == 0 {
		return Errorf(EConflict, "the last owner of the workspace cannot be removed: make another member owner first")
	}
	if err := t.DeleteMember(ctx, workspaceID, id); err != nil {
		return err
	}
	s.RecordAudit(ctx, workspaceID, "member.remove", "member", id, m.Email)
	return nil
}

func findMember(list []*Member, id string) *Member {
	for _, m := range list {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// logAudit notes a change that belongs to no workspace's audit log (an
// instance key, a deleted workspace) in the server's log.
func logAudit(ctx context.Context, action, objectID, summary string) {
	slog.InfoContext(ctx, "audit", "action", action, "actor", ActorFrom(ctx), "object", objectID, "summary", summary)
}
