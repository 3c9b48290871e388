package web

import (
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/docs"
	"github.com/heraldhq/herald/internal/herald"
)

// routes is the one list of what the UI serves.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})

	// The template reference, linked from the payload help: plain text
	// from the binary, so it works offline.
	mux.HandleFunc("GET /docs/templates", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(docs.Templates)
	})

	// Before sign-in.
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /setup", s.setupPage)
	mux.HandleFunc("POST /setup", s.setup)

	in := s.signedIn
	// handle registers a signed-in route and the action it needs; allow
	// refuses the others with 403 through herald.Principal.Can, the one
	// permission check the API uses too. "" needs only a session.
	handle := func(pattern string, a herald.Action, h http.HandlerFunc) {
		s.uiRoutes = append(s.uiRoutes, uiRoute{Pattern: pattern, Action: a})
		mux.HandleFunc(pattern, in(s.allow(a, h)))
	}
	read, configure, keys := herald.ActRead, herald.ActConfigure, herald.ActManageKeys
	handle("POST /logout", "", s.logout)
	handle("GET /{$}", "", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/webhooks", http.StatusFound) })
	handle("POST /workspace/switch", "", s.switchWorkspace)

	// Settings > Webhooks: the Webhooks tab.
	handle("GET /webhooks", read, s.listWebhooks)
	handle("GET /webhooks/new", configure, s.newWebhook)
	handle("POST /webhooks", configure, s.createWebhook)
	handle("GET /webhooks/{id}", read, s.showWebhook) // ?reveal=secret needs read_secret
	handle("GET /webhooks/{id}/edit", configure, s.editWebhook)
	handle("POST /webhooks/{id}", configure, s.updateWebhook)
	handle("POST /webhooks/{id}/publish", configure, s.publishWebhook)
	handle("POST /webhooks/{id}/unpublish", configure, s.unpublishWebhook)
	handle("POST /webhooks/{id}/duplicate", configure, s.duplicateWebhook)
	handle("GET /webhooks/{id}/delete", configure, s.confirmDeleteWebhook)
	handle("POST /webhooks/{id}/delete", configure, s.deleteWebhook)
	handle("POST /webhooks/{id}/rotate-secret", configure, s.rotateSecret)
	handle("POST /webhooks/{id}/test", configure, s.sendTest)
	// The Logs tab.
	handle("GET /webhooks/{id}/logs", read, s.showLogs)
	handle("GET /webhooks/{id}/logs/{attempt}", read, s.showAttempt)
	handle("POST /webhooks/{id}/deliveries/{delivery}/retry", configure, s.retryDelivery)
	handle("GET /webhooks/{id}/events/{event}", read, s.showEvent)
	handle("POST /webhooks/{id}/events/{event}/resend", configure, s.resendEvent)
	handle("GET /webhooks/{id}/replay", configure, s.confirmReplay)
	handle("POST /webhooks/{id}/replay", configure, s.replayFailed)

	// Settings > Webhooks: the Authorizations tab.
	handle("GET /authorizations", read, s.listAuthorizations)
	handle("GET /authorizations/new", configure, s.newAuthorization)
	handle("POST /authorizations", configure, s.createAuthorization)
	handle("GET /authorizations/{id}/edit", read, s.editAuthorization) // viewers see it read-only, secrets masked
	handle("POST /authorizations/{id}", configure, s.updateAuthorization)
	handle("GET /authorizations/{id}/delete", configure, s.confirmDeleteAuthorization)
	handle("POST /authorizations/{id}/delete", configure, s.deleteAuthorization)

	// Sources: brokers and outbox tables herald reads events from.
	handle("GET /sources", read, s.listSources)
	handle("GET /sources/new", configure, s.newSource)
	handle("POST /sources", configure, s.createSource)
	handle("GET /sources/{id}", read, s.showSource)
	handle("GET /sources/{id}/edit", configure, s.editSource)
	handle("POST /sources/{id}", configure, s.updateSource)
	handle("POST /sources/{id}/pause", configure, s.pauseSource)
	handle("POST /sources/{id}/resume", configure, s.resumeSource)
	handle("GET /sources/{id}/delete", configure, s.confirmDeleteSource)
	handle("POST /sources/{id}/delete", configure, s.deleteSource)

	// Settings > API keys, audit log, workspace.
	handle("GET /settings/api-keys", keys, s.listAPIKeys)
	handle("GET /settings/audit-log", read, s.auditLog)
	handle("GET /settings/workspace", read, s.workspaceSettings)
	handle("POST /settings/workspace", herald.ActManageWorkspace, s.saveWorkspaceSettings)
	handle("POST /settings/workspace/retention", herald.ActManageWorkspace, s.saveRetention)
	handle("POST /settings/workspace/portal-origins", herald.ActManageWorkspace, s.savePortalOrigins)
	handle("POST /settings/workspace/event-types", configure, s.addEventType)
	handle("POST /settings/api-keys", keys, s.createAPIKey)
	handle("GET /settings/api-keys/{id}/revoke", keys, s.confirmRevokeAPIKey)
	handle("POST /settings/api-keys/{id}/revoke", keys, s.revokeAPIKey)

	// Settings > Members (workspace owners).
	members := herald.ActManageMembers
	handle("GET /settings/members", members, s.listMembers)
	handle("POST /settings/members", members, s.inviteMember)
	handle("POST /settings/members/{id}/role", members, s.setMemberRole)
	handle("GET /settings/members/{id}/remove", members, s.confirmRemoveMember)
	handle("POST /settings/members/{id}/remove", members, s.removeMember)

	// Workspaces (instance owners).
	instance := herald.ActManageInstance
	handle("GET /workspaces", instance, s.listWorkspaces)
	handle("POST /workspaces", instance, s.createWorkspace)
	handle("GET /workspaces/{id}/delete", instance, s.confirmDeleteWorkspace)
	handle("POST /workspaces/{id}/delete", instance, s.deleteWorkspace)

	// The page behind an invitation link (before sign-in).
	mux.HandleFunc("GET /invite/{token}", s.invitePage)
	mux.HandleFunc("POST /invite/{token}", s.acceptInvite)

	mux.HandleFunc("/", in(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, herald.ErrNotFound)
	}))
	return s.protect(mux)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// pathID reads an id path value; a malformed one is simply not found.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !herald.ValidID(id) {
		return "", herald.ErrNotFound
	}
	return id, nil
}
