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
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// serveConfig is every setting of `herald serve`, with its default.
type serveConfig struct {
	addr          string
	store         storeFlags
	allowNetworks listFlag
	egressProxy   string
	logFormat     string
	logLevel      string
	maxBodyBytes  int64
	shutdownGrace time.Duration
	engine        delivery.Config
	noDeliver     bool
	debugAddr     string
	timeZone      string
	sourcePoll    time.Duration
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	cfg.store.register(fs)
	fs.Var(&cfg.allowNetworks, "allow-network", "open the SSRF guard for this CIDR (repeatable; env is comma-separated)")
	fs.StringVar(&cfg.egressProxy, "egress-proxy", "", "send every delivery through this HTTP CONNECT proxy (http://host:port); the SSRF guard still checks each destination first, and naming the proxy is what allows herald to reach it")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Int64Var(&cfg.maxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 15*time.Second, "how long shutdown waits for requests and attempts in flight")
	fs.DurationVar(&cfg.engine.DefaultTimeout, "attempt-timeout", 15*time.Second, "timeout of one delivery attempt (a webhook may set its own)")
	fs.StringVar(&cfg.timeZone, "time-zone", "UTC", "IANA time zone in which templates read date-only values such as 1990-04-15 (e.g. Europe/Ljubljana)")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	fs.BoolVar(&cfg.noDeliver, "no-deliver", false, "accept events but deliver nothing (an ingest-only process beside delivering ones on PostgreSQL)")
	fs.DurationVar(&cfg.engine.Lease, "lease", 3*time.Minute, "how long a claimed delivery stays with this process before another may take it over (must exceed every attempt timeout)")
	fs.IntVar(&cfg.engine.MaxInFlight, "max-in-flight", 2048, "deliveries in hand at once in this process (in flight, or waiting for a busy endpoint)")
	fs.IntVar(&cfg.engine.Endpoint.Concurrency, "endpoint-concurrency", 256, "delivery attempts in flight at once to one endpoint (scheme, host, port)")
	fs.Float64Var(&cfg.engine.Endpoint.RatePerSecond, "endpoint-rate", 0, "most attempts per second to one endpoint (0: no limit)")
	fs.DurationVar(&cfg.engine.DisableAfter, "disable-after", 5*24*time.Hour, "unpublish a webhook whose deliveries have failed this long without a success")
	fs.DurationVar(&cfg.engine.Retention, "retention", 30*24*time.Hour, "purge attempts and finished events older than this, continuously in small batches (a workspace may set its own); pending deliveries are kept")
	fs.IntVar(&cfg.engine.PurgeBatch, "purge-batch", 64, "retention: rows per table deleted in one transaction (smaller: shorter pauses for ingest on SQLite)")
	fs.DurationVar(&cfg.engine.PurgePause, "purge-pause", 10*time.Millisecond, "retention: pause between purge transactions")
	fs.IntVar(&cfg.engine.LogBodyBytes, "log-body-bytes", 4096, "most bytes of each request and response body an attempt keeps in the log (a webhook may set its own; 0 keeps none)")
	fs.IntVar(&cfg.engine.LogSuccessBodyBytes, "log-success-body-bytes", 1024, "most bytes of the bodies a successful attempt keeps (0 keeps none)")
	fs.DurationVar(&cfg.engine.BodyTimeout, "body-timeout", 5*time.Second, "a response body must end this soon after its headers, or the attempt is a timeout")
	fs.DurationVar(&cfg.sourcePoll, "source-poll", 2*time.Second, "how often to read the event sources' configuration again (changes made in this process apply at once)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	for _, n := range []*int{&cfg.engine.LogBodyBytes, &cfg.engine.LogSuccessBodyBytes} {
		switch {
		case *n < 0 || *n > herald.MaxLogBodyBytes:
			return usageError{fmt.Sprintf("--log-body-bytes and --log-success-body-bytes must be from 0 to %d", herald.MaxLogBodyBytes)}
		case *n == 0:
			*n = delivery.NoBodies
		}
	}
	if cfg.engine.Lease <= cfg.engine.DefaultTimeout {
		return usageError{fmt.Sprintf("--lease %s must be longer than --attempt-timeout %s", cfg.engine.Lease, cfg.engine.DefaultTimeout)}
	}
	if _, err := netguard.ParseAllowList(cfg.allowNetworks); err != nil {
		return usageError{fmt.Sprintf("--allow-network: %v (e.g. 127.0.0.0/8)", err)}
	}
	if cfg.egressProxy != "" {
		if _, err := netguard.ParseProxy(cfg.egressProxy); err != nil {
			return usageError{fmt.Sprintf("--egress-proxy: %v", err)}
		}
	}
	loc, err := time.LoadLocation(cfg.timeZone)
	if err != nil {
		return usageError{fmt.Sprintf("--time-zone %q is not an IANA time zone name (e.g. UTC, Europe/Ljubljana)", cfg.timeZone)}
	}
	cfg.engine.Location = loc
	log, err := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	// Listen first: an address in use must not leave a new database and
	// key file behind.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	var storeOpts []sqlstore.Option
	if cfg.noDeliver {
		storeOpts = append(storeOpts, sqlstore.WithIngestOnly())
	}
	store, err := cfg.store.open(ctx, log, storeOpts...)
	if err != nil {
		return err
	}
	defer store.Close()
	if !isPostgres(cfg.store.db) {
		shared, release := holdSQLiteFile(cfg.store.db)
		defer release()
		if shared {
			log.Warn("another herald serve has this SQLite file open: SQLite has one writer, so the two slow each other down and each keeps its own circuit breakers; run one serve per SQLite file, or several on PostgreSQL", "db", cfg.store.db)
		}
	}
	if _, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace); err != nil {
		return fmt.Errorf("create default workspace: %w", err)
	}
	svc := herald.NewService(store, payload.Checker{Location: loc})
	preview := payload.Previewer{Location: loc}
	svc.Canceler = store
	svc.Audit = store
	svc.DefaultLocation = loc
	engine, metrics, reg, err := newEngine(cfg, svc, store, log)
	if err != nil {
		return err
	}
	sources := newSourceRunner(cfg, svc, store, engine, reg, log)
	apiServer, err := api.New(api.Config{MaxBodyBytes: cfg.maxBodyBytes}, svc, preview,
		api.Delivery{Ingester: engine, Control: engine, Reader: store, Rotate: engine.RotateSecret}, log)
	if err != nil {
		return err
	}
	ui, err := newWebUI(ctx, store, svc, log, engine, cfg.engine, preview)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", apiServer)
	mux.Handle("/healthz", apiServer)
	mux.Handle("/readyz", apiServer)
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", ui) // the admin UI

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

	if !cfg.noDeliver {
		engine.Start()
	}
	sources.Start() // after the engine: what it ingests is delivered
	if cfg.debugAddr != "" {
		go serveDebug(cfg.debugAddr, log)
	}
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
	// First stop taking requests, then let attempts in flight finish (or
	// hand them back) and write every outcome, then close the database.
	serr := srv.Shutdown(sctx)
	sources.Stop(sctx) // before the engine: no ingest after it stops
	engine.Stop(sctx)
	if serr != nil && !errors.Is(serr, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", serr)
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
