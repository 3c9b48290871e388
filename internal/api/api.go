// Package api is herald's JSON REST API under /api/v1: handlers that
// decode strictly, call herald.Service, and answer errors as
// application/problem+json (RFC 9457) naming the field at fault.
package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// Config holds the API's settings; zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds every request body (default 1 MiB).
	MaxBodyBytes int64
	// PublicURL is where links herald hands out (invitations) point; if
	// empty, the scheme and Host of the request.
	PublicURL string
}

// Server serves the REST API.
type Server struct {
	cfg      Config
	svc      *herald.Service
	store    herald.Store
	render   Renderer
	delivery Delivery
	log      *slog.Logger
	handler  http.Handler
}

// New returns the API. Everything serve wires is required — the
// service, the template renderer, every field of the delivery engine's
// Delivery and the logger — so no handler checks for a missing one; New
// fails naming what is missing. (Tests that need only part of the API
// pass fakes.)
func New(cfg Config, svc *herald.Service, renderer Renderer, d Delivery, log *slog.Logger) (*Server, error) {
	var missing []string
	if svc == nil {
		missing = append(missing, "the service")
	}
	if renderer == nil {
		missing = append(missing, "the template renderer")
	}
	for _, f := range d.missing() {
		missing = append(missing, "Delivery."+f)
	}
	if log == nil {
		missing = append(missing, "the logger")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("api: %s required", strings.Join(missing, ", "))
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	s := &Server{cfg: cfg, svc: svc, store: svc.Store, render: renderer, delivery: d, log: log}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves /api/v1/…, /healthz and /readyz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
