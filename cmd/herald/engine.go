package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// newEngine wires the delivery engine: the SSRF-guarded transport, the
// queue in the store, and Prometheus metrics served at /metrics.
// The registry is returned too, for the source runner's metrics.
func newEngine(cfg serveConfig, svc *herald.Service, store *sqlstore.Store, log *slog.Logger) (*delivery.Engine, http.Handler, *prometheus.Registry, error) {
	allow, err := netguard.ParseAllowList(cfg.allowNetworks)
	if err != nil {
		return nil, nil, nil, usageError{"--allow-network: " + err.Error()}
	}
	guard := netguard.New(allow)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_database_available",
		Help: "1 while the database takes writes; 0 from the first error saying it cannot (unreachable, shutting down, full) until an ingest commits again (ingest answers 503 meanwhile)."},
		func() float64 {
			if store.Available() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "herald_database_outages_total", Help: "Times the database became unavailable since start."},
			func() float64 { return float64(store.Outages()) }))
	ec := cfg.engine
	ec.UserAgent = "herald/" + version
	transport := guard.Transport()
	if cfg.egressProxy != "" {
		proxy, err := netguard.ParseProxy(cfg.egressProxy)
		if err != nil {
			return nil, nil, nil, usageError{"--egress-proxy: " + err.Error()}
		}
		transport = guard.ProxyTransport(proxy)
		log.Info("deliveries go through an egress proxy", "proxy", proxy.Host)
	}
	// Keep as many idle connections per endpoint as may be in flight to
	// it, or a busy endpoint costs a new TCP (and TLS) handshake per call.
	transport.MaxIdleConnsPerHost = max(transport.MaxIdleConnsPerHost, ec.Endpoint.Concurrency)
	transport.MaxIdleConns = max(transport.MaxIdleConns, 4*ec.Endpoint.Concurrency)
	engine := delivery.New(ec, delivery.Deps{Service: svc, Queue: store, Transport: transport,
		Metrics: delivery.NewMetrics(reg, store), Log: log, Listen: store.ListenForWork})
	if len(allow) > 0 {
		log.Warn("SSRF guard opened for some networks", "allow", fmt.Sprint(cfg.allowNetworks))
	}
	// ContinueOnError: while the database is unavailable the queue gauges
	// cannot be read, and that is when the other metrics (and
	// herald_database_available) matter most; the default would answer
	// 500 with nothing.
	return engine, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}), reg, nil
}
