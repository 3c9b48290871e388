package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/web"
)

// webUI is the admin UI mounted at "/" by serve, and the one-time link to
// create the first admin when the database has no user yet.
type webUI struct {
	http.Handler
	setupToken string
}

// newWebUI wires the admin UI to the store, the service (the same one the
// API uses) and the delivery engine: its controls (test sends, retries,
// secret rotation), its endpoints' circuit breakers, and — from ec, the
// engine's configuration — the retention and body caps the pages name as
// the server's defaults.
func newWebUI(ctx context.Context, store *sqlstore.Store, svc *herald.Service, log *slog.Logger,
	engine *delivery.Engine, ec delivery.Config, preview herald.Previewer) (*webUI, error) {
	n, err := store.CountUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("count admin users: %w", err)
	}
	ui := &webUI{}
	if n == 0 {
		ui.setupToken = web.NewSetupToken()
	}
	deps := web.Deps{Service: svc, Users: store, Deliveries: store, Previewer: preview, Events: store, Log: log,
		Control: engine, Secrets: web.RotateFunc(engine.RotateSecret), Endpoints: engine}
	cfg := web.Config{SetupToken: ui.setupToken, UserAgent: "herald/" + version,
		Retention: ec.Retention, LogBodyBytes: ec.LogBodyBytes, LogSuccessBodyBytes: ec.LogSuccessBodyBytes}
	h, err := web.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	ui.Handler = h
	return ui, nil
}

// announce prints the first-admin link once, on start, when no admin
// exists. It is a secret: whoever opens it first becomes the admin.
func (ui *webUI) announce(stdout io.Writer, baseURL string) {
	if ui.setupToken == "" {
		return
	}
	fmt.Fprintf(stdout, "first admin: %s/setup?token=%s\n", baseURL, ui.setupToken)
}
