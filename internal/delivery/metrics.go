package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
)

// Metrics are the engine's Prometheus series. Labels stay low-cardinality
// (no webhook or workspace ids).
type Metrics struct {
	EventsIngested prometheus.Counter
	Deliveries     *prometheus.CounterVec   // outcome: succeeded, retried, failed, canceled, deferred
	AttemptSeconds *prometheus.HistogramVec // outcome: success, failure
	InFlight       prometheus.Gauge
}

// NewMetrics registers the engine's series, and queue depth and age
// gauges read from queue at each scrape, on reg.
func NewMetrics(reg prometheus.Registerer, queue herald.Queue) *Metrics {
	m := &Metrics{
		EventsIngested: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_events_ingested_total", Help: "Events accepted (answered 202), duplicates excluded."}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_deliveries_total",
			Help: "Delivery outcomes: succeeded, retried (an attempt failed, another is scheduled), failed (attempts exhausted), canceled, deferred (not attempted: endpoint busy or circuit open)."}, []string{"outcome"}),
		AttemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herald_attempt_duration_seconds", Help: "Duration of HTTP attempts.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"outcome"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_attempts_in_flight", Help: "HTTP attempts in progress."}),
	}
	depth := prometheus.NewDesc("herald_queue_depth", "Pending deliveries (held ones of ordered webhooks included).", nil, nil)
	age := prometheus.NewDesc("herald_queue_oldest_pending_age_seconds", "How long the oldest due delivery has been due (0 if none).", nil, nil)
	reg.MustRegister(m.EventsIngested, m.Deliveries, m.AttemptSeconds, m.InFlight, queueCollector{queue: queue, depth: depth, age: age})
	return m
}

type queueCollector struct {
	queue      herald.Queue
	depth, age *prometheus.Desc
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.age }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, oldest, err := c.queue.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	var secs float64
	if !oldest.IsZero() && time.Since(oldest) > 0 {
		secs = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, secs)
}
