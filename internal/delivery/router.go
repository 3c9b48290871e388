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
	// exprs holds the conditions this call has used, so a batch of events
	// against many conditioned webhooks looks each up once.
	exprs map[routeKey]condition
}

// condition is a compiled condition (payload's cache hands them out).
type condition interface {
	Truthy(vars map[string]any) (bool, error)
}

type routeKey struct {
	id       string
	revision int
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
	k := routeKey{h.ID, h.Revision}
	x, ok := r.exprs[k]
	if !ok {
		compiled, err := r.conds.Get(h.ID, h.Revision, h.Condition, r.loc)
		if err != nil {
			return false, err
		}
		x = compiled
		if r.exprs == nil {
			r.exprs = make(map[routeKey]condition)
		}
		r.exprs[k] = x
	}
	return x.Truthy(r.lastVars)
}

// countRouting feeds the per-webhook condition counters from committed
// ingest results, one counter update per webhook per call (not per
// event: a batch against many conditioned webhooks would otherwise pay a
// label lookup per event and webhook).
func (e *Engine) countRouting(reqs []*herald.IngestRequest) {
	matched, filtered := map[string]int{}, map[string]int{}
	for _, r := range reqs {
		if r.Result.Duplicate {
			continue
		}
		for _, id := range r.Result.Matched {
			matched[id]++
		}
		for _, id := range r.Result.Filtered {
			filtered[id]++
		}
	}
	for id, n := range matched {
		e.metrics.ConditionEvents.WithLabelValues(id, "matched").Add(float64(n))
	}
	for id, n := range filtered {
		e.metrics.ConditionEvents.WithLabelValues(id, "filtered").Add(float64(n))
	}
}
