package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/natssource"
	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// sourceConsumers names the consumer of each source type.
func sourceConsumers() map[herald.SourceType]source.Consumer {
	return map[herald.SourceType]source.Consumer{
		herald.SourceNATS: &natssource.Consumer{},
	}
}

// newSourceRunner wires the event sources: the runner ingests through
// the engine (the HTTP batch path) and reloads whenever the service
// changes a source.
func newSourceRunner(cfg serveConfig, svc *herald.Service, store *sqlstore.Store, engine *delivery.Engine, reg prometheus.Registerer, log *slog.Logger) *source.Runner {
	r := source.New(source.Config{Poll: cfg.sourcePoll}, source.Deps{Store: store, Ingester: engine, Consumers: sourceConsumers(), Log: log, Registerer: reg})
	svc.SourcesChanged = r.Reload
	return r
}
