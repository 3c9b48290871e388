package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// route is one API operation. The table is the single list of what the
// API serves; the OpenAPI test checks the document against it.
type route struct {
	method, path string // path relative to /api/v1
	scope        herald.Scope
	handler      func(*Server, http.ResponseWriter, *http.Request)
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
	{"GET", "/authorizations", herald.ScopeRead, (*Server).listAuthorizations},
	{"POST", "/authorizations", herald.ScopeAdmin, (*Server).createAuthorization},
	{"GET", "/authorizations/{id}", herald.ScopeRead, (*Server).getAuthorization},
	{"PATCH", "/authorizations/{id}", herald.ScopeAdmin, (*Server).updateAuthorization},
	{"DELETE", "/authorizations/{id}", herald.ScopeAdmin, (*Server).deleteAuthorization},

	{"GET", "/webhooks", herald.ScopeRead, (*Server).listWebhooks},
	{"POST", "/webhooks", herald.ScopeAdmin, (*Server).createWebhook},
	{"GET", "/webhooks/{id}", herald.ScopeRead, (*Server).getWebhook},
	{"PATCH", "/webhooks/{id}", herald.ScopeAdmin, (*Server).updateWebhook},
	{"DELETE", "/webhooks/{id}", herald.ScopeAdmin, (*Server).deleteWebhook},
	{"POST", "/webhooks/{id}/publish", herald.ScopeAdmin, (*Server).publishWebhook},
	{"POST", "/webhooks/{id}/unpublish", herald.ScopeAdmin, (*Server).unpublishWebhook},
	{"POST", "/webhooks/{id}/duplicate", herald.ScopeAdmin, (*Server).duplicateWebhook},
	{"GET", "/webhooks/{id}/secret", herald.ScopeAdmin, (*Server).webhookSecret},
	{"POST", "/webhooks/{id}/match", herald.ScopeRead, (*Server).matchWebhook},

	{"GET", "/event-types", herald.ScopeRead, (*Server).listEventTypes},
	{"POST", "/event-types", herald.ScopeAdmin, (*Server).createEventType},
	{"GET", "/event-types/{key}", herald.ScopeRead, (*Server).getEventType},
	{"GET", "/presets", herald.ScopeRead, (*Server).listPresets},
	{"GET", "/presets/{key}", herald.ScopeRead, (*Server).getPreset},

	{"POST", "/webhooks/{id}/test", herald.ScopeAdmin, (*Server).testWebhook},
	{"POST", "/webhooks/{id}/rotate-secret", herald.ScopeAdmin, (*Server).rotateSecret},
	{"GET", "/webhooks/{id}/attempts", herald.ScopeRead, (*Server).listAttempts},
	{"GET", "/webhooks/{id}/deliveries", herald.ScopeRead, (*Server).listDeliveries},
	{"POST", "/webhooks/{id}/replay", herald.ScopeAdmin, (*Server).replayWebhook},
	{"GET", "/attempts/{id}", herald.ScopeRead, (*Server).getAttempt},
	{"POST", "/deliveries/{id}/retry", herald.ScopeAdmin, (*Server).retryDelivery},

	{"POST", "/events", herald.ScopeIngest, (*Server).ingestEvent},
	{"POST", "/events/batch", herald.ScopeIngest, (*Server).ingestBatch},
	{"GET", "/events/{id}", herald.ScopeRead, (*Server).getEvent},
	{"POST", "/events/{id}/resend", herald.ScopeAdmin, (*Server).resendEvent},

	{"POST", "/templates/render", herald.ScopeRead, (*Server).renderTemplate},

	{"GET", "/sources", herald.ScopeRead, (*Server).listSources},
	{"POST", "/sources", herald.ScopeAdmin, (*Server).createSource},
	{"GET", "/sources/{id}", herald.ScopeRead, (*Server).getSource},
	{"PATCH", "/sources/{id}", herald.ScopeAdmin, (*Server).updateSource},
	{"DELETE", "/sources/{id}", herald.ScopeAdmin, (*Server).deleteSource},
	{"POST", "/sources/{id}/pause", herald.ScopeAdmin, (*Server).pauseSource},
	{"POST", "/sources/{id}/resume", herald.ScopeAdmin, (*Server).resumeSource},
	{"GET", "/sources/{id}/rejected", herald.ScopeRead, (*Server).listRejected},

	{"GET", "/audit-log", herald.ScopeRead, (*Server).listAudit},
	{"GET", "/workspace", herald.ScopeRead, (*Server).getWorkspace},
	{"PATCH", "/workspace", herald.ScopeAdmin, (*Server).updateWorkspace},
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range apiRoutes {
		mux.HandleFunc(rt.method+" /api/v1"+rt.path, s.authenticate(rt.scope, s.bind(rt.handler)))
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

// updateWorkspace changes the workspace's settings: its time zone and
// its retention.
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TimeZone *string `json:"time_zone"`
		// absent: unchanged; null: the server's default
		RetentionSeconds json.RawMessage `json:"retention_seconds"`
		// read-only fields a client may send back from GET
		ID        any `json:"id"`
		Name      any `json:"name"`
		CreatedAt any `json:"created_at"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	var retention *time.Duration
	if len(body.RetentionSeconds) > 0 && string(body.RetentionSeconds) != "null" {
		var secs int64
		if err := json.Unmarshal(body.RetentionSeconds, &secs); err != nil {
			s.writeError(w, r, fieldError(herald.EInvalid, "retention_seconds", "must be a whole number of seconds, or null for the server's default"))
			return
		}
		d := time.Duration(secs) * time.Second
		if secs > int64(herald.MaxRetention/time.Second) {
			d = herald.MaxRetention + time.Second // refused below, with the bounds
		}
		retention = &d
	}
	if err := herald.ValidateRetention(retention); err != nil {
		s.writeError(w, r, err) // before anything changes
		return
	}
	ctx, ws := r.Context(), workspaceOf(r)
	if body.TimeZone != nil {
		if _, err := s.svc.SetTimeZone(ctx, ws, *body.TimeZone); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if len(body.RetentionSeconds) > 0 {
		if _, err := s.svc.SetRetention(ctx, ws, retention); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	got, err := s.store.WorkspaceByID(ctx, ws)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, got)
}
