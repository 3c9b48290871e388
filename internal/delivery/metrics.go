package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
)

// Metrics are the engine's Prometheus series. Per-webhook and
// per-endpoint series carry the webhook id and the endpoint
// (scheme://host:port), which an installation has tens or hundreds of,
// never event or delivery ids.
type Metrics struct {
	EventsIngested prometheus.Counter
	// ConditionEvents counts, per webhook with a condition, the events
	// its types covered that the condition let through (matched) or not
	// (filtered).
	ConditionEvents *prometheus.CounterVec   // webhook, result: matched, filtered
	Deliveries      *prometheus.CounterVec   // outcome: succeeded, retried, failed, canceled, deferred
	Attempts        *prometheus.CounterVec   // outcome, error_class
	AttemptSeconds  *prometheus.HistogramVec // outcome: success, failure
	InFlight        prometheus.Gauge
	PurgedRows      *prometheus.CounterVec // table
	PurgeSeconds    prometheus.Histogram
	TokenFetches    *prometheus.CounterVec // outcome: ok, failed
	reg             prometheus.Registerer
}

// NewMetrics registers the engine's series on reg, with gauges read at
// each scrape: the queue (in total, per webhook and per endpoint) and
// the database's size.
func NewMetrics(reg prometheus.Registerer, queue herald.Queue) *Metrics {
	m := &Metrics{
		EventsIngested: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_events_ingested_total", Help: "Events accepted (answered 202), duplicates excluded."}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_deliveries_total",
			Help: "Delivery outcomes: succeeded, retried (an attempt failed, another is scheduled), failed (attempts exhausted), canceled, deferred (not attempted: endpoint busy or circuit open)."}, []string{"outcome"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_attempts_total",
			Help: "Delivery attempts by outcome and error class (dns, connect, tls, timeout, http_status, rejected, template, blocked, auth, network; empty for a success)."}, []string{"outcome", "error_class"}),
		AttemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herald_attempt_duration_seconds", Help: "Duration of HTTP attempts.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"outcome"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_attempts_in_flight", Help: "HTTP attempts in progress."}),
		PurgedRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_retention_purged_rows_total",
			Help: "Rows deleted by retention, by table (attempts, events, deliveries)."}, []string{"table"}),
		PurgeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_retention_run_duration_seconds",
			Help: "Duration of retention runs (every batch of one run, pauses included).", Buckets: []float64{.001, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300}}),
		TokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_oauth2_token_fetches_total",
			Help: "OAuth2 access tokens requested from token endpoints, by outcome (ok, failed)."}, []string{"outcome"}),
		ConditionEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_webhook_condition_events_total",
			Help: "Events of a webhook's types checked against its condition, by result: matched (a delivery was created; a condition that failed to evaluate counts here, its delivery failed) or filtered (no delivery)."}, []string{"webhook", "result"}),
		reg: reg,
	}
	reg.MustRegister(m.EventsIngested, m.Deliveries, m.Attempts, m.AttemptSeconds, m.InFlight, m.PurgedRows, m.PurgeSeconds, m.TokenFetches, m.ConditionEvents, newQueueCollector(queue))
	return m
}

// queueCollector reads the queue and the database size at each scrape.
type queueCollector struct {
	queue                          herald.Queue
	depth, dueAge, age             *prometheus.Desc
	hookPending, hookHeld, hookAge *prometheus.Desc
	endpointPending                *prometheus.Desc
	dbBytes, dbFree                *prometheus.Desc
}

func newQueueCollector(q herald.Queue) queueCollector {
	d := prometheus.NewDesc
	return queueCollector{queue: q,
		depth:           d("herald_queue_depth", "Pending deliveries (held and postponed ones included).", nil, nil),
		dueAge:          d("herald_queue_oldest_due_age_seconds", "How long the oldest due delivery has been due (0 if none): herald falling behind.", nil, nil),
		age:             d("herald_queue_oldest_pending_age_seconds", "Age of the oldest pending delivery since it was created, whether due, waiting for a retry, held behind an earlier one or behind an open circuit (0 if none).", nil, nil),
		hookPending:     d("herald_webhook_pending_deliveries", "Pending deliveries of a webhook (held and postponed ones included).", []string{"webhook"}, nil),
		hookHeld:        d("herald_webhook_held_deliveries", "Deliveries of an ordered webhook held behind an earlier one.", []string{"webhook"}, nil),
		hookAge:         d("herald_webhook_oldest_pending_age_seconds", "Age of a webhook's oldest pending delivery since it was created.", []string{"webhook"}, nil),
		endpointPending: d("herald_endpoint_pending_deliveries", "Pending deliveries to an endpoint (scheme://host:port), over every webhook that sends there.", []string{"endpoint"}, nil),
		dbBytes:         d("herald_database_size_bytes", "Space herald's database takes (SQLite: the file's pages; PostgreSQL: herald's tables with their indexes).", nil, nil),
		dbFree:          d("herald_database_free_bytes", "Of that, space free for reuse (SQLite's free pages; 0 on PostgreSQL).", nil, nil),
	}
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.dueAge, c.age, c.hookPending, c.hookHeld, c.hookAge, c.endpointPending, c.dbBytes, c.dbFree} {
		ch <- d
	}
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	since := func(t time.Time) float64 {
		if t.IsZero() || time.Since(t) < 0 {
			return 0
		}
		return time.Since(t).Seconds()
	}
	if _, oldestDue, err := c.queue.QueueStats(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.dueAge, err)
	} else {
		gauge(c.dueAge, since(oldestDue))
	}
	stats, err := c.queue.PendingByWebhook(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
	} else {
		var total int
		var oldest time.Time
		byEndpoint := map[string]int{}
		for _, p := range stats {
			total += p.Pending
			if oldest.IsZero() || p.OldestCreatedAt.Before(oldest) {
				oldest = p.OldestCreatedAt
			}
			gauge(c.hookPending, float64(p.Pending), p.WebhookID)
			gauge(c.hookHeld, float64(p.Held), p.WebhookID)
			gauge(c.hookAge, since(p.OldestCreatedAt), p.WebhookID)
			if p.EndpointURL != "" {
				byEndpoint[herald.EndpointKey(p.EndpointURL)] += p.Pending
			}
		}
		gauge(c.depth, float64(total))
		gauge(c.age, since(oldest))
		for ep, n := range byEndpoint {
			gauge(c.endpointPending, float64(n), ep)
		}
	}
	if size, err := c.queue.DatabaseSize(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.dbBytes, err)
	} else {
		gauge(c.dbBytes, float64(size.Bytes))
		gauge(c.dbFree, float64(size.FreeBytes))
	}
}

// endpointCollector reports each endpoint's circuit breaker in this process.
type endpointCollector struct {
	e               *Engine
	state, failures *prometheus.Desc
}

func (c endpointCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.state; ch <- c.failures }

func (c endpointCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.e.eps.healths(c.e.clock.Now()) {
		v := map[herald.CircuitState]float64{herald.CircuitClosed: 0, herald.CircuitHalfOpen: 1, herald.CircuitOpen: 2}[h.State]
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, h.Endpoint)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(h.Failures), h.Endpoint)
	}
}

// registerEndpoints adds the engine's circuit breakers to the registry.
func (m *Metrics) registerEndpoints(e *Engine) {
	m.reg.MustRegister(endpointCollector{e: e,
		state:    prometheus.NewDesc("herald_endpoint_circuit_state", "Circuit breaker of an endpoint in this process: 0 closed, 1 half-open (probing), 2 open (deliveries wait).", []string{"endpoint"}, nil),
		failures: prometheus.NewDesc("herald_endpoint_consecutive_failures", "Consecutive failed attempts to an endpoint (timeouts, connection errors, 5xx, 429).", []string{"endpoint"}, nil),
	})
}
