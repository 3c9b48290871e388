package delivery

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// ingestRouter evaluates webhook conditions for one ingest call (one
// workspace, so one time zone). The store calls it inside the ingest
// transaction; it reads nothing from the database.
type ingestRouter struct {
	conds *payload.Conditions
	loc   *time.Location
	// The variables of the last event asked about: every conditioned
	// webhook of an event reads the same ones (the store asks one event
	// at a time, from one goroutine).
	last     *herald.Event
	lastVars map[string]any
}

var _ herald.Router = (*ingestRouter)(nil)

// Match implements herald.Router.
func (r *ingestRouter) Match(h *herald.RouteHook, ev *herald.Event) (bool, error) {
	if ev.Data == nil {
		var data map[string]any
		if err := herald.DecodeJSON(ev.RawData, &data); err != nil {
			return false, fmt.Errorf("decode the event's data: %w", err)
		}
		if data == nil {
			data = map[string]any{}
		}
		ev.Data = data
	}
	if r.last != ev {
		r.last, r.lastVars = ev, eventVars(ev)
	}
	return r.conds.Match(h.ID, h.Revision, h.Condition, r.loc, r.lastVars)
}

// countRouting feeds the per-webhook condition counters from committed
// ingest results.
func (e *Engine) countRouting(reqs []*herald.IngestRequest) {
	for _, r := range reqs {
		if r.Result.Duplicate {
			continue
		}
		for _, id := range r.Result.Matched {
			e.metrics.ConditionEvents.WithLabelValues(id, "matched").Inc()
		}
		for _, id := range r.Result.Filtered {
			e.metrics.ConditionEvents.WithLabelValues(id, "filtered").Inc()
		}
	}
}
