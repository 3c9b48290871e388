package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// memberCtx is who the signed-in user is in the session's workspace: the
// principal every route's permission is decided on (herald.Principal.Can,
// the check the API uses too), and the workspaces the switcher offers.
type memberCtx struct {
	principal     herald.Principal
	Role          herald.Role // as the header shows it
	InstanceOwner bool
	WorkspaceName string
	Workspaces    []wsChoice
}

type wsChoice struct {
	ID, Name string
	Role     herald.Role // "" for an instance owner who is not a member
	Current  bool
}

// principal is the signed-in member's principal (none before sign-in).
func principal(r *http.Request) herald.Principal {
	if rc := requestFrom(r); rc != nil && rc.member != nil {
		return rc.member.principal
	}
	return herald.Principal{}
}

// resolveMember finds the session user's role in the session's workspace.
// A user who is no longer a member there moves to another of their
// workspaces; one who is a member of none is refused.
func (s *Server) resolveMember(r *http.Request, sess *herald.Session) error {
	rc := requestFrom(r)
	t, ok := s.users.(herald.TenantStore)
	if !ok { // a store that keeps no memberships: everyone owns their workspace
		rc.member = &memberCtx{principal: herald.Principal{WorkspaceID: sess.WorkspaceID, Role: herald.RoleOwner}, Role: herald.RoleOwner}
		return nil
	}
	ctx := r.Context()
	u, err := t.UserByID(ctx, sess.UserID)
	if err != nil {
		return err
	}
	mine, err := t.MembershipsOf(ctx, u.ID)
	if err != nil {
		return err
	}
	var current *herald.Member
	for _, m := range mine {
		if m.WorkspaceID == sess.WorkspaceID {
			current = m
		}
	}
	if current == nil && !u.InstanceOwner {
		if len(mine) == 0 {
			return herald.Errorf(herald.EForbidden, "You are not a member of any workspace any more. Ask a workspace owner to invite you again.")
		}
		current = mine[0]
		if err := t.SetSessionWorkspace(ctx, sess.TokenHash, current.WorkspaceID); err != nil {
			return err
		}
		sess.WorkspaceID = current.WorkspaceID
	}
	mc := &memberCtx{InstanceOwner: u.InstanceOwner}
	if current != nil {
		mc.Role = current.Role
	}
	if u.InstanceOwner {
		mc.Role = herald.RoleOwner
		all, err := t.ListWorkspaces(ctx)
		if err != nil {
			return err
		}
		roles := map[string]herald.Role{}
		for _, m := range mine {
			roles[m.WorkspaceID] = m.Role
		}
		for _, w := range all {
			mc.Workspaces = append(mc.Workspaces, wsChoice{ID: w.ID, Name: w.Name, Role: roles[w.ID], Current: w.ID == sess.WorkspaceID})
		}
	} else {
		for _, m := range mine {
			mc.Workspaces = append(mc.Workspaces, wsChoice{ID: m.WorkspaceID, Name: m.WorkspaceName, Role: m.Role, Current: m.WorkspaceID == sess.WorkspaceID})
		}
	}
	for _, c := range mc.Workspaces {
		if c.Current {
			mc.WorkspaceName = c.Name
		}
	}
	mc.principal = herald.Principal{WorkspaceID: sess.WorkspaceID, Role: mc.Role, InstanceOwner: u.InstanceOwner}
	rc.member = mc
	return nil
}

// allow refuses a request whose member may not perform a (403, the page
// says why); "" needs only a signed-in user.
func (s *Server) allow(a herald.Action, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a != "" {
			if err := principal(r).Authorize(a); err != nil {
				s.log.WarnContext(r.Context(), "ui: not allowed", "method", r.Method, "path", r.URL.Path, "action", string(a))
				s.fail(w, r, err)
				return
			}
		}
		next(w, r)
	}
}

// switchWorkspace moves the session to another workspace the user is a
// member of (any, for an instance owner).
func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request) {
	to := r.PostForm.Get("workspace_id")
	mc := requestFrom(r).member
	ok := false
	for _, c := range mc.Workspaces {
		ok = ok || c.ID == to
	}
	if !ok {
		s.fail(w, r, herald.Errorf(herald.EForbidden, "You are not a member of that workspace."))
		return
	}
	t, err := s.svc.Tenants()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess := requestFrom(r).session
	if err := t.SetSessionWorkspace(r.Context(), sess.TokenHash, to); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/webhooks")
}

// Workspaces (instance owners).

type workspacesData struct {
	Workspaces []*herald.Workspace
	Name       string
}

func (s *Server) workspacesPage(w http.ResponseWriter, r *http.Request, status int, d *workspacesData, errs map[string]string, formErr string) {
	list, err := s.svc.ListWorkspaces(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Workspaces = list
	s.render(w, r, status, "workspaces", &view{Title: "Workspaces", Section: "workspaces", Errors: errs, FormError: formErr, D: d})
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) {
	s.workspacesPage(w, r, http.StatusOK, &workspacesData{}, nil, "")
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	ws, err := s.svc.CreateWorkspace(r.Context(), name)
	if err != nil {
		if errs, form, ok := fieldErrors(err); ok {
			s.workspacesPage(w, r, http.StatusUnprocessableEntity, &workspacesData{Name: name}, errs, form)
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Workspace “%s” created. Switch to it in the header to set it up, and invite its members.", ws.Name), false)
	redirect(w, r, "/workspaces")
}

type deleteWorkspaceData struct {
	W       *herald.Workspace
	Confirm string
}

func (s *Server) confirmDeleteWorkspace(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ws, err := s.store.WorkspaceByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "workspace_delete", &view{Title: "Delete " + ws.Name, Section: "workspaces", D: &deleteWorkspaceData{W: ws}})
}

func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ws, err := s.store.WorkspaceByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	confirm := r.PostForm.Get("confirm")
	if err := s.svc.DeleteWorkspace(r.Context(), id, confirm); err != nil {
		if errs, form, ok := fieldErrors(err); ok {
			s.render(w, r, http.StatusUnprocessableEntity, "workspace_delete", &view{Title: "Delete " + ws.Name, Section: "workspaces",
				Errors: errs, FormError: form, D: &deleteWorkspaceData{W: ws, Confirm: confirm}})
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Workspace “%s” and everything in it were deleted.", ws.Name), false)
	redirect(w, r, "/workspaces")
}

// Members (workspace owners).

type membersData struct {
	Members   []*herald.Member
	Email     string
	Role      string
	Roles     []herald.Role
	InviteURL string // shown once, right after the invitation
	InviteFor string
	Owners    int
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, status int, d *membersData, errs map[string]string, formErr string) {
	t, err := s.svc.Tenants()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := t.ListMembers(r.Context(), workspace(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Members, d.Roles = list, herald.Roles
	for _, m := range list {
		if m.Role == herald.RoleOwner && m.Status == herald.MemberActive {
			d.Owners++
		}
	}
	if d.Role == "" {
		d.Role = string(herald.RoleViewer)
	}
	s.render(w, r, status, "members", &view{Title: "Members", Section: "members", Errors: errs, FormError: formErr, D: d})
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	s.membersPage(w, r, http.StatusOK, &membersData{}, nil, "")
}

// baseURL is where links herald hands out point: the configured public
// URL, else the address the request came to.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// inviteMember shows the invitation link on the answer itself (never
// stored in clear, never in a cookie), so it is copied once.
func (s *Server) inviteMember(w http.ResponseWriter, r *http.Request) {
	email, role := r.PostForm.Get("email"), r.PostForm.Get("role")
	m, token, err := s.svc.InviteMember(r.Context(), workspace(r), email, herald.Role(role))
	if err != nil {
		if errs, form, ok := fieldErrors(err); ok {
			s.membersPage(w, r, http.StatusUnprocessableEntity, &membersData{Email: email, Role: role}, errs, form)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.membersPage(w, r, http.StatusOK, &membersData{InviteURL: herald.InviteURL(s.baseURL(r), token), InviteFor: m.Email}, nil, "")
}

func (s *Server) setMemberRole(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.SetMemberRole(r.Context(), workspace(r), id, herald.Role(r.PostForm.Get("role")))
	if err != nil {
		if _, _, ok := fieldErrors(err); ok {
			setFlash(w, r, shownError(asError(err)), true)
			redirect(w, r, "/settings/members")
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("%s is now %s.", m.Email, m.Role), false)
	redirect(w, r, "/settings/members")
}

func asError(err error) *herald.Error {
	e, ok := err.(*herald.Error)
	if !ok {
		return &herald.Error{Code: herald.ErrorCodeOf(err), Message: err.Error()}
	}
	return e
}

func (s *Server) confirmRemoveMember(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.svc.Tenants()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := t.Member(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Remove " + m.Email, Section: "members", D: confirmData{
		Question: "Remove " + m.Email + "?",
		Detail:   "They can no longer open this workspace; their other workspaces are not affected.",
		Action:   "/settings/members/" + m.ID + "/remove", Button: "Remove member", Cancel: "/settings/members"}})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.svc.RemoveMember(r.Context(), workspace(r), id); err != nil {
		if herald.ErrorCodeOf(err) == herald.EConflict {
			setFlash(w, r, asError(err).Message, true)
			redirect(w, r, "/settings/members")
			return
		}
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, "Member removed.", false)
	redirect(w, r, "/settings/members")
}

// Invitations: the page behind the one-time link.

type inviteData struct {
	Token, Email, Workspace string
	Role                    herald.Role
	// State: "new" (set a password), "existing" (sign in), "join" (signed
	// in as the invited address), "invalid".
	State string
}

func (s *Server) inviteState(r *http.Request, token string) (*herald.Member, *inviteData, error) {
	d := &inviteData{Token: token, State: "invalid"}
	m, err := s.svc.PendingInvite(r.Context(), token)
	if herald.ErrorCodeOf(err) == herald.ENotFound {
		return nil, d, nil
	}
	if err != nil {
		return nil, nil, err
	}
	d.Email, d.Role, d.Workspace = m.Email, m.Role, m.WorkspaceName
	if sess, _ := s.currentSession(r); sess != nil && sess.Email == m.Email {
		d.State = "join"
		return m, d, nil
	}
	_, err = s.users.UserByEmail(r.Context(), m.Email)
	switch herald.ErrorCodeOf(err) {
	case "":
		d.State = "existing"
	case herald.ENotFound:
		d.State = "new"
	default:
		return nil, nil, err
	}
	return m, d, nil
}

func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) {
	_, d, err := s.inviteState(r, r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if d.State == "invalid" {
		status = http.StatusNotFound
	}
	s.render(w, r, status, "invite", &view{Title: "Join a workspace", D: d})
}

func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	m, d, err := s.inviteState(r, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	var u *herald.User
	switch d.State {
	case "invalid":
		s.render(w, r, http.StatusNotFound, "invite", &view{Title: "Join a workspace", D: d})
		return
	case "join":
		u, err = s.users.UserByEmail(r.Context(), m.Email)
	case "existing":
		u, err = s.users.UserByEmail(r.Context(), m.Email)
		if err == nil && !checkPassword(u.PasswordHash, password) {
			s.log.WarnContext(r.Context(), "ui: invitation sign-in failed", "remote", r.RemoteAddr)
			s.render(w, r, http.StatusUnauthorized, "invite", &view{Title: "Join a workspace", FormError: "The password is not right.", D: d})
			return
		}
	case "new":
		errs := map[string]string{}
		if err := herald.ValidateNewUser(m.Email, password); err != nil {
			errs, _, _ = fieldErrors(err)
		}
		if password != confirm && errs["password"] == "" {
			errs["password_confirm"] = "does not match the password"
		}
		if len(errs) > 0 {
			s.render(w, r, http.StatusUnprocessableEntity, "invite", &view{Title: "Join a workspace", Errors: errs, FormError: "Please correct the fields marked below.", D: d})
			return
		}
		u, err = newUser(r.Context(), s.users, m.WorkspaceID, m.Email, password, s.cfg.BcryptCost, false)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.svc.AcceptInvite(r.Context(), token, u); err != nil {
		s.fail(w, r, err)
		return
	}
	start := *u
	start.WorkspaceID = m.WorkspaceID // the session opens the workspace just joined
	if err := s.startSession(w, r, &start); err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Welcome to %s. Your role: %s.", m.WorkspaceName, m.Role), false)
	redirect(w, r, "/webhooks")
}
