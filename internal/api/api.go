// Package api is herald's JSON REST API under /api/v1: handlers that
// decode strictly, call herald.Service, and answer errors as
// application/problem+json (RFC 9457) naming the field at fault.
package api

import (
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// Config holds the API's settings; zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds every request body (default 1 MiB).
	MaxBodyBytes int64
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

// New returns the API. renderer may be nil until templates are wired in,
// in which case POST /templates/render answers 501.
func New(cfg Config, svc *herald.Service, renderer Renderer, log *slog.Logger) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	s := &Server{cfg: cfg, svc: svc, store: svc.Store, render: renderer, log: log}
	s.handler = s.routes()
	return s
}

// ServeHTTP serves /api/v1/…, /healthz and /readyz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
