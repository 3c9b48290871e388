package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httperr"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []herald.FieldError `json:"errors,omitempty"`
}

var titleOf = map[herald.ErrorCode]string{
	herald.EBadRequest:   "Malformed request",
	herald.EUnauthorized: "Authentication required",
	herald.EForbidden:    "Not allowed",
	herald.ENotFound:     "Not found",
	herald.EConflict:     "Conflict",
	herald.ETooLarge:     "Request too large",
	herald.EInvalid:      "Validation failed",
	herald.EInternal:     "Internal error",
	herald.EUnavailable:  "Service unavailable",
}

// writeError answers err as problem+json. Internal errors are logged with
// their cause and shown only as a generic message. An unavailable database
// is not logged per request (the store logs each change of its state once,
// see sqlstore's availability): the answer is 503 with Retry-After.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := herald.ErrorCodeOf(err)
	p := problem{Type: "urn:herald:problem:" + string(code), Title: titleOf[code], Status: httperr.Status(code)}
	var e *herald.Error
	if code == herald.EUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(herald.UnavailableRetrySeconds))
		s.log.DebugContext(r.Context(), "request refused: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Detail = "the database is unavailable, so nothing was changed; try again in " + strconv.Itoa(herald.UnavailableRetrySeconds) + " seconds"
	} else if code == herald.EInternal || !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Detail = "an internal error occurred; it has been logged"
	} else {
		p.Detail = e.Message
		p.Errors = e.Fields
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Default().Debug("write response", "err", err)
	}
}
