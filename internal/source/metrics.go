package source

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
)

// metrics are the runner's Prometheus series, labelled by source id.
type metrics struct {
	messages    *prometheus.CounterVec
	state       *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	lastMessage *prometheus.GaugeVec
	info        *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_source_messages_total",
			Help: "Messages this process took from a source, by outcome: ingested (new events; redeliveries of committed ones not counted) or rejected."}, []string{"source", "outcome"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_source_state",
			Help: "1 for the state a source is in in this process (connecting, connected, paused, error), 0 for the others."}, []string{"source", "state"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_source_lag",
			Help: "Messages waiting in the broker for a source, where the broker reports it (NATS: the consumer's pending count)."}, []string{"source"}),
		lastMessage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_source_last_message_timestamp_seconds",
			Help: "When the broker took the last message this process accepted from a source (Unix time)."}, []string{"source"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_source_info",
			Help: "1 for each source this process knows, with its name and type."}, []string{"source", "name", "type"}),
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.state, m.lag, m.lastMessage, m.info)
	}
	return m
}

func (m *metrics) setState(id string, state herald.SourceState) {
	for _, s := range []herald.SourceState{herald.SourceConnecting, herald.SourceConnected, herald.SourcePaused, herald.SourceError} {
		v := 0.0
		if s == state {
			v = 1
		}
		m.state.WithLabelValues(id, string(s)).Set(v)
	}
}

func (m *metrics) forget(id string) {
	m.state.DeletePartialMatch(prometheus.Labels{"source": id})
	m.lag.DeletePartialMatch(prometheus.Labels{"source": id})
	m.lastMessage.DeletePartialMatch(prometheus.Labels{"source": id})
	m.info.DeletePartialMatch(prometheus.Labels{"source": id})
}
