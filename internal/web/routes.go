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
	mux.HandleFunc("POST /logout", in(s.logout))
	mux.HandleFunc("GET /{$}", in(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/webhooks", http.StatusFound) }))

	// Settings > Webhooks: the Webhooks tab.
	mux.HandleFunc("GET /webhooks", in(s.listWebhooks))
	mux.HandleFunc("GET /webhooks/new", in(s.newWebhook))
	mux.HandleFunc("POST /webhooks", in(s.createWebhook))
	mux.HandleFunc("GET /webhooks/{id}", in(s.showWebhook))
	mux.HandleFunc("GET /webhooks/{id}/edit", in(s.editWebhook))
	mux.HandleFunc("POST /webhooks/{id}", in(s.updateWebhook))
	mux.HandleFunc("POST /webhooks/{id}/publish", in(s.publishWebhook))
	mux.HandleFunc("POST /webhooks/{id}/unpublish", in(s.unpublishWebhook))
	mux.HandleFunc("POST /webhooks/{id}/duplicate", in(s.duplicateWebhook))
	mux.HandleFunc("GET /webhooks/{id}/delete", in(s.confirmDeleteWebhook))
	mux.HandleFunc("POST /webhooks/{id}/delete", in(s.deleteWebhook))
	mux.HandleFunc("POST /webhooks/{id}/rotate-secret", in(s.rotateSecret))
	mux.HandleFunc("POST /webhooks/{id}/test", in(s.sendTest))
	// The Logs tab.
	mux.HandleFunc("GET /webhooks/{id}/logs", in(s.showLogs))
	mux.HandleFunc("GET /webhooks/{id}/logs/{attempt}", in(s.showAttempt))
	mux.HandleFunc("POST /webhooks/{id}/deliveries/{delivery}/retry", in(s.retryDelivery))
	mux.HandleFunc("GET /webhooks/{id}/events/{event}", in(s.showEvent))
	mux.HandleFunc("POST /webhooks/{id}/events/{event}/resend", in(s.resendEvent))
	mux.HandleFunc("GET /webhooks/{id}/replay", in(s.confirmReplay))
	mux.HandleFunc("POST /webhooks/{id}/replay", in(s.replayFailed))

	// Settings > Webhooks: the Authorizations tab.
	mux.HandleFunc("GET /authorizations", in(s.listAuthorizations))
	mux.HandleFunc("GET /authorizations/new", in(s.newAuthorization))
	mux.HandleFunc("POST /authorizations", in(s.createAuthorization))
	mux.HandleFunc("GET /authorizations/{id}/edit", in(s.editAuthorization))
	mux.HandleFunc("POST /authorizations/{id}", in(s.updateAuthorization))
	mux.HandleFunc("GET /authorizations/{id}/delete", in(s.confirmDeleteAuthorization))
	mux.HandleFunc("POST /authorizations/{id}/delete", in(s.deleteAuthorization))

	// Sources: brokers and outbox tables herald reads events from.
	mux.HandleFunc("GET /sources", in(s.listSources))
	mux.HandleFunc("GET /sources/new", in(s.newSource))
	mux.HandleFunc("POST /sources", in(s.createSource))
	mux.HandleFunc("GET /sources/{id}", in(s.showSource))
	mux.HandleFunc("GET /sources/{id}/edit", in(s.editSource))
	mux.HandleFunc("POST /sources/{id}", in(s.updateSource))
	mux.HandleFunc("POST /sources/{id}/pause", in(s.pauseSource))
	mux.HandleFunc("POST /sources/{id}/resume", in(s.resumeSource))
	mux.HandleFunc("GET /sources/{id}/delete", in(s.confirmDeleteSource))
	mux.HandleFunc("POST /sources/{id}/delete", in(s.deleteSource))

	// Settings > API keys.
	mux.HandleFunc("GET /settings/api-keys", in(s.listAPIKeys))
	mux.HandleFunc("GET /settings/audit-log", in(s.auditLog))
	mux.HandleFunc("GET /settings/workspace", in(s.workspaceSettings))
	mux.HandleFunc("POST /settings/workspace", in(s.saveWorkspaceSettings))
	mux.HandleFunc("POST /settings/workspace/retention", in(s.saveRetention))
	mux.HandleFunc("POST /settings/workspace/event-types", in(s.addEventType))
	mux.HandleFunc("POST /settings/api-keys", in(s.createAPIKey))
	mux.HandleFunc("GET /settings/api-keys/{id}/revoke", in(s.confirmRevokeAPIKey))
	mux.HandleFunc("POST /settings/api-keys/{id}/revoke", in(s.revokeAPIKey))

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
