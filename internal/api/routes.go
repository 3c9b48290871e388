package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// route is one API operation. The table is the single list of what the
// API serves; the OpenAPI test checks the document against it.
type route struct {
	method, path string // path relative to /api/v1
	// action is what the route does; herald.Principal.Can decides who may.
	action  herald.Action
	handler func(*Server, http.ResponseWriter, *http.Request)
}

// Routes lists every /api/v1 operation as "METHOD /path".
func Routes() []string {
	var out []string
	for _, rt := range apiRoutes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

var apiRoutes = []route{
	{"GET", "/authorizations", herald.ActRead, (*Server).listAuthorizations},
	{"POST", "/authorizations", herald.ActConfigure, (*Server).createAuthorization},
	{"GET", "/authorizations/{id}", herald.ActRead, (*Server).getAuthorization},
	{"PATCH", "/authorizations/{id}", herald.ActConfigure, (*Server).updateAuthorization},
	{"DELETE", "/authorizations/{id}", herald.ActConfigure, (*Server).deleteAuthorization},

	{"GET", "/webhooks", herald.ActRead, (*Server).listWebhooks},
	{"POST", "/webhooks", herald.ActConfigure, (*Server).createWebhook},
	{"GET", "/webhooks/{id}", herald.ActRead, (*Server).getWebhook},
	{"PATCH", "/webhooks/{id}", herald.ActConfigure, (*Server).updateWebhook},
	{"DELETE", "/webhooks/{id}", herald.ActConfigure, (*Server).deleteWebhook},
	{"POST", "/webhooks/{id}/publish", herald.ActConfigure, (*Server).publishWebhook},
	{"POST", "/webhooks/{id}/unpublish", herald.ActConfigure, (*Server).unpublishWebhook},
	{"POST", "/webhooks/{id}/duplicate", herald.ActConfigure, (*Server).duplicateWebhook},
	{"GET", "/webhooks/{id}/secret", herald.ActReadSecret, (*Server).webhookSecret},
	{"POST", "/webhooks/{id}/match", herald.ActRead, (*Server).matchWebhook},

	{"GET", "/event-types", herald.ActRead, (*Server).listEventTypes},
	{"POST", "/event-types", herald.ActConfigure, (*Server).createEventType},
	{"GET", "/event-types/{key}", herald.ActRead, (*Server).getEventType},
	{"GET", "/presets", herald.ActRead, (*Server).listPresets},
	{"GET", "/presets/{key}", herald.ActRead, (*Server).getPreset},

	{"POST", "/webhooks/{id}/test", herald.ActConfigure, (*Server).testWebhook},
	{"POST", "/webhooks/{id}/rotate-secret", herald.ActConfigure, (*Server).rotateSecret},
	{"GET", "/webhooks/{id}/attempts", herald.ActRead, (*Server).listAttempts},
	{"GET", "/webhooks/{id}/deliveries", herald.ActRead, (*Server).listDeliveries},
	{"POST", "/webhooks/{id}/replay", herald.ActConfigure, (*Server).replayWebhook},
	{"GET", "/attempts/{id}", herald.ActRead, (*Server).getAttempt},
	{"POST", "/deliveries/{id}/retry", herald.ActConfigure, (*Server).retryDelivery},

	{"POST", "/events", herald.ActIngest, (*Server).ingestEvent},
	{"POST", "/events/batch", herald.ActIngest, (*Server).ingestBatch},
	{"GET", "/events/{id}", herald.ActRead, (*Server).getEvent},
	{"POST", "/events/{id}/resend", herald.ActConfigure, (*Server).resendEvent},

	{"POST", "/templates/render", herald.ActRead, (*Server).renderTemplate},

	{"GET", "/sources", herald.ActRead, (*Server).listSources},
	{"POST", "/sources", herald.ActConfigure, (*Server).createSource},
	{"GET", "/sources/{id}", herald.ActRead, (*Server).getSource},
	{"PATCH", "/sources/{id}", herald.ActConfigure, (*Server).updateSource},
	{"DELETE", "/sources/{id}", herald.ActConfigure, (*Server).deleteSource},
	{"POST", "/sources/{id}/pause", herald.ActConfigure, (*Server).pauseSource},
	{"POST", "/sources/{id}/resume", herald.ActConfigure, (*Server).resumeSource},
	{"GET", "/sources/{id}/rejected", herald.ActRead, (*Server).listRejected},

	{"GET", "/audit-log", herald.ActRead, (*Server).listAudit},
	{"GET", "/workspace", herald.ActRead, (*Server).getWorkspace},
	{"PATCH", "/workspace", herald.ActManageWorkspace, (*Server).updateWorkspace},

	// The instance API (instance keys): workspaces, their keys and members.
	{"GET", "/workspaces", herald.ActManageInstance, (*Server).listWorkspaces},
	{"POST", "/workspaces", herald.ActManageInstance, (*Server).createWorkspace},
	{"GET", "/workspaces/{id}", herald.ActManageInstance, (*Server).getWorkspaceByID},
	{"PATCH", "/workspaces/{id}", herald.ActManageInstance, (*Server).updateWorkspaceByID},
	{"DELETE", "/workspaces/{id}", herald.ActManageInstance, (*Server).deleteWorkspace},
	{"POST", "/workspaces/{id}/api-keys", herald.ActManageInstance, (*Server).createWorkspaceKey},
	{"GET", "/workspaces/{id}/members", herald.ActManageInstance, (*Server).listMembers},
	{"POST", "/workspaces/{id}/members", herald.ActManageInstance, (*Server).inviteMember},
	{"GET", "/workspaces/{id}/members/{member}", herald.ActManageInstance, (*Server).getMember},
	{"PATCH", "/workspaces/{id}/members/{member}", herald.ActManageInstance, (*Server).updateMember},
	{"DELETE", "/workspaces/{id}/members/{member}", herald.ActManageInstance, (*Server).removeMember},
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range apiRoutes {
		mux.HandleFunc(rt.method+" /api/v1"+rt.path, s.authenticate(rt.action, s.bind(rt.handler)))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// Any other method on a known path: 405 as problem+json, with Allow.
	// (Registered per method: a method-less pattern would conflict with
	// wildcard siblings such as /events/{id} beside /events/batch.)
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(methods, m) {
				continue
			}
			mux.HandleFunc(m+" /api/v1"+path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				writeProblem(w, problem{Type: "urn:herald:problem:method_not_allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
					Detail: fmt.Sprintf("%s is not allowed here; use %s", r.Method, allow)})
			})
		}
	}
	mux.HandleFunc("GET /api/v1/openapi.json", s.openAPI)
	mux.HandleFunc("/api/v1/", s.notFound)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	return s.observe(mux)
}

// byID answers a route that is one call on the {id} path value: the
// call's result as JSON with status, or its error as a problem. A nil
// result answers 204.
func (s *Server) byID(w http.ResponseWriter, r *http.Request, status int, call func(ctx context.Context, workspaceID, id string) (any, error)) {
	id, err := pathID(r)
	if err == nil {
		var v any
		if v, err = call(r.Context(), workspaceOf(r), id); err == nil {
			if v == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, status, v)
			return
		}
	}
	s.writeError(w, r, err)
}

// bind turns a method expression into a handler on s.
func (s *Server) bind(h func(*Server, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(s, w, r) }
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, herald.Errorf(herald.ENotFound, "no API route %s %s; see /api/v1/openapi.json", r.Method, r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		// An outage is logged once by the store; a probe every second
		// must not add a line each.
		level := slog.LevelWarn
		if herald.ErrorCodeOf(err) == herald.EUnavailable {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "not ready: database does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	if s.svc.Audit == nil {
		writeProblem(w, problem{Type: "urn:herald:problem:not_implemented", Title: "Not implemented", Status: http.StatusNotImplemented,
			Detail: "this server keeps no audit log"})
		return
	}
	f := herald.AuditFilter{ObjectID: r.URL.Query().Get("object_id")}
	var err error
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.svc.Audit.ListAudit(r.Context(), workspaceOf(r), f)
	writeList(s, w, r, list, next, err)
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) {
	ws, err := s.store.WorkspaceByID(r.Context(), workspaceOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

// updateWorkspace changes the workspace's settings: its time zone, its
// retention and its portal's allowed origins.
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) {
	var body workspacePatchBody
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := body.patch(false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	got, err := s.svc.UpdateWorkspace(r.Context(), workspaceOf(r), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, got)
}
