package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

type ctxKey int

const keyCtx ctxKey = iota

// apiKeyFrom returns the API key that authenticated the request.
func apiKeyFrom(ctx context.Context) *herald.APIKey {
	k, _ := ctx.Value(keyCtx).(*herald.APIKey)
	return k
}

func workspaceOf(r *http.Request) string { return apiKeyFrom(r.Context()).WorkspaceID }

// authenticate requires "Authorization: Bearer <key>" naming a live key
// whose principal may perform the route's action (herald.Principal.Can,
// the one permission check the UI uses too). The key is never logged.
func (s *Server) authenticate(need herald.Action, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			s.writeError(w, r, herald.Errorf(herald.EUnauthorized, "send an API key as Authorization: Bearer <key> (create one with `herald apikey create`)"))
			return
		}
		key, err := s.store.APIKeyByHash(r.Context(), herald.HashAPIKey(token))
		if err != nil {
			if herald.ErrorCodeOf(err) == herald.ENotFound {
				w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
				s.writeError(w, r, herald.Errorf(herald.EUnauthorized, "the API key is unknown or revoked"))
				return
			}
			s.writeError(w, r, fmt.Errorf("look up api key: %w", err))
			return
		}
		if err := herald.KeyPrincipal(key).Authorize(need); err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := herald.WithActor(context.WithValue(r.Context(), keyCtx, key), "API key “"+key.Name+"”")
		next(w, r.WithContext(ctx))
	}
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs one line per request (method, path, status, duration and a
// request id — never headers or bodies, which may carry secrets) and turns
// a panic into a 500 problem instead of a dropped connection.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "request_id", id, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, problem{Type: "urn:herald:problem:internal", Title: titleOf[herald.EInternal], Status: 500, Detail: "an internal error occurred; it has been logged"})
				}
			}
			s.log.InfoContext(r.Context(), "http request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		next.ServeHTTP(rec, r)
	})
}
