package delivery

// Ingest: validate events and store them with their routed deliveries.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
)

// MaxBatchEvents bounds one ingest call.
const MaxBatchEvents = 1000

// Ingest validates events and stores them with their deliveries; when it
// returns nil they are on disk. herald's own event types (herald.…) are
// refused: only herald raises them.
func (e *Engine) Ingest(ctx context.Context, workspaceID string, inputs []herald.EventInput) ([]herald.IngestResult, error) {
	return e.ingest(ctx, workspaceID, inputs, false)
}

func (e *Engine) ingest(ctx context.Context, workspaceID string, inputs []herald.EventInput, internal bool) ([]herald.IngestResult, error) {
	var v herald.Validation
	if len(inputs) > MaxBatchEvents {
		v.Add("events", "at most %d events per batch", MaxBatchEvents)
		return nil, v.Err()
	}
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	reqs := make([]*herald.IngestRequest, len(inputs))
	for i, in := range inputs {
		prefix := ""
		if len(inputs) > 1 {
			prefix = fmt.Sprintf("events[%d].", i)
		}
		ev := &herald.Event{ID: herald.NewID(), WorkspaceID: workspaceID, Type: strings.TrimSpace(in.Type), OccurredAt: now, ReceivedAt: now}
		switch known, err := e.svc.KnownEventType(ctx, workspaceID, ev.Type); {
		case err != nil:
			return nil, err
		case ev.Type == "":
			v.Add(prefix+"type", "is required")
		case !known:
			known := e.knownTypes(ctx, workspaceID)
			if near := herald.Closest(ev.Type, known); near != "" {
				v.Add(prefix+"type", "unknown event type %q — did you mean %q? Known types: %s", ev.Type, near, strings.Join(known, ", "))
			} else {
				v.Add(prefix+"type", "unknown event type %q; known types: %s", ev.Type, strings.Join(known, ", "))
			}
		case strings.HasPrefix(ev.Type, "herald.") && !internal:
			v.Add(prefix+"type", "%q is one of herald's own alerts; only herald raises them", ev.Type)
		}
		data := bytes.TrimSpace(in.Data)
		switch {
		case len(data) == 0: // data left out: an event without variables
			ev.RawData = []byte("{}")
		case bytes.Equal(data, []byte("null")):
			// Refused rather than stored as {}: a null is more often a bug
			// in the sender than a deliberate "no variables".
			v.Add(prefix+"data", "must be a JSON object of the event's variables, not null; send {} (or leave data out) for an event without variables")
		case data[0] != '{':
			v.Add(prefix+"data", "must be a JSON object of the event's variables, e.g. {\"member\": {…}}")
		case !utf8.Valid(data):
			v.Add(prefix+"data", "is not valid UTF-8; send text as UTF-8")
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil {
				v.Add(prefix+"data", "is not valid JSON: %v", err)
			}
			ev.RawData = buf.Bytes()
		}
		if in.OccurredAt != nil {
			ev.OccurredAt = in.OccurredAt.UTC().Truncate(time.Microsecond)
		}
		key := in.IdempotencyKey
		if key == "" {
			key = in.ID
		}
		if len(key) > 255 {
			v.Add(prefix+"idempotency_key", "must be at most 255 characters")
		}
		ev.IdempotencyKey = key
		reqs[i] = &herald.IngestRequest{Event: ev}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	router := &ingestRouter{conds: &e.conds, loc: e.svc.Location(ctx, workspaceID)}
	lease := e.ingestLease(len(reqs))
	for _, r := range reqs {
		r.Router, r.ClaimLease = router, lease
	}
	// As for the claim loop's claims, the lease runs from before the
	// statement that takes it, on this process's clock.
	leaseEnd := time.Now().Add(lease)
	if err := e.queue.Ingest(ctx, reqs); err != nil {
		return nil, fmt.Errorf("store events: %w", err)
	}
	allClaimed := e.dispatchIngested(reqs, leaseEnd)
	e.countRouting(reqs)
	out := make([]herald.IngestResult, len(reqs))
	fresh := 0
	for i, r := range reqs {
		out[i] = r.Result
		if !r.Result.Duplicate {
			fresh++
		}
	}
	e.metrics.EventsIngested.Add(float64(fresh))
	if !allClaimed {
		e.Wake()
	}
	return out, nil
}

// maxIngestClaim bounds the events of one ingest call whose deliveries
// are claimed in the ingest transaction: single events and small
// batches, the shape of a steady trickle. Larger batches go through the
// claim loop, which takes them 256 at a time.
const maxIngestClaim = 16

// ingestClaimInFlight: an ingest claims its own deliveries only while
// fewer deliveries than this are in flight — a trickle. Under load the
// claim loop's batches (one claim and two queries for up to 256
// deliveries) cost less per delivery than a dispatch per small group.
const ingestClaimInFlight = 32

// ingestLease decides whether an ingest claims its own deliveries (see
// herald.IngestRequest.ClaimLease): only while the claim loop is idle —
// its last claim found nothing more due, so nothing older waits in the
// queue and fairness is kept — and few deliveries are in flight.
// Events arriving one by one then cost one write transaction and no
// wake-up of the claim loop instead of two transactions and a hand-off:
// the claim would have followed within microseconds anyway, under the
// same lease.
func (e *Engine) ingestLease(events int) time.Duration {
	if events > maxIngestClaim || !e.started.Load() || !e.claimIdle.Load() || int(e.inflight.Load()) >= ingestClaimInFlight {
		return 0
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	if e.claimsStopped {
		return 0
	}
	return e.cfg.Lease
}

// dispatchIngested hands the deliveries an ingest claimed to workers,
// with the events already in memory (no query for them). It reports
// whether the ingest left nothing for the claim loop.
func (e *Engine) dispatchIngested(reqs []*herald.IngestRequest, leaseEnd time.Time) bool {
	all := true
	var claims []*herald.Claim
	var events map[string]*herald.Event
	for _, r := range reqs {
		if r.ClaimLease <= 0 || len(r.Claims) < r.Result.Deliveries {
			all = false
		}
		if len(r.Claims) == 0 {
			continue
		}
		if events == nil {
			events = map[string]*herald.Event{}
		}
		ev := r.Event
		if ev.Data == nil {
			if err := herald.DecodeJSON(ev.RawData, &ev.Data); err != nil {
				all = false
				continue // the claim loop's path loads it after the lease
			}
		}
		events[ev.ID] = ev
		claims = append(claims, r.Claims...)
	}
	if len(claims) == 0 {
		return all
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	if e.claimsStopped {
		// Stop began between the decision and the commit: give the
		// deliveries back, due now, for the next process or start.
		recs := make([]*herald.OutcomeRecord, len(claims))
		now := e.clock.Now()
		for i, c := range claims {
			recs[i] = deferral(c, nil, now)
		}
		if err := e.queue.RecordOutcomes(context.Background(), recs); err != nil {
			e.log.Warn("hand back deliveries claimed at ingest during shutdown; they go out after their lease", "err", err, "count", len(recs))
		}
		return false
	}
	e.dispatchLoaded(claims, events, leaseEnd)
	return all
}

// knownTypes lists the workspace's event types, sorted.
func (e *Engine) knownTypes(ctx context.Context, workspaceID string) []string {
	types, err := e.svc.EventTypes(ctx, workspaceID)
	if err != nil {
		return []string{"(unavailable)"}
	}
	keys := make([]string, len(types))
	for i, t := range types {
		keys[i] = t.Key
	}
	sort.Strings(keys)
	return keys
}
