package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// serveConfig is every setting of `herald serve`, with its default.
type serveConfig struct {
	addr          string
	store         storeFlags
	allowNetworks listFlag
	logFormat     string
	logLevel      string
	maxBodyBytes  int64
	shutdownGrace time.Duration
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	cfg.store.register(fs)
	fs.Var(&cfg.allowNetworks, "allow-network", "open the SSRF guard for this CIDR (repeatable; env is comma-separated)")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Int64Var(&cfg.maxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 15*time.Second, "how long shutdown waits for requests in flight")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	for _, cidr := range cfg.allowNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return usageError{fmt.Sprintf("--allow-network %q is not a CIDR (e.g. 127.0.0.0/8)", cidr)}
		}
	}
	log, err := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	store, err := cfg.store.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace); err != nil {
		return fmt.Errorf("create default workspace: %w", err)
	}
	svc := herald.NewService(store, payload.Checker{})
	apiServer := api.New(api.Config{MaxBodyBytes: cfg.maxBodyBytes}, svc, payload.Previewer{}, log)
	ui, err := newWebUI(ctx, store, svc, log, nil, nil)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", apiServer)
	mux.Handle("/healthz", apiServer)
	mux.Handle("/readyz", apiServer)
	mux.Handle("/", ui) // the admin UI

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	log.Info("herald serving", "url", url, "db", redactDB(cfg.store.db), "version", version)
	fmt.Fprintf(stdout, "herald listening on %s\n", url)
	ui.announce(stdout, url)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// redactDB hides a password in a database URL before it is logged.
func redactDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := parseURL(db)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: use text or json", format)}
}
