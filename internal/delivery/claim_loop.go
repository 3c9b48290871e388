package delivery

// The claim loop: claim due deliveries, load what they need, hand them to workers.

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

func (e *Engine) claimLoop(ctx context.Context) {
	timer := time.NewTimer(e.cfg.PollInterval)
	defer timer.Stop()
	for ctx.Err() == nil {
		e.slotBound.Store(false)
		e.claimIdle.Store(false)
		free := e.cfg.MaxInFlight - int(e.inflight.Load())
		want := min(free, e.cfg.ClaimBatch)
		if want <= 0 {
			// Every slot is taken: a finishing worker wakes the loop.
			e.slotBound.Store(true)
			if free := e.cfg.MaxInFlight - int(e.inflight.Load()); free > 0 {
				continue // a worker finished before the flag was up
			}
		}
		if want > 0 {
			e.postponeSaturated(ctx)
			// The lease runs from before the claim is sent, on this
			// process's own clock: a claim that took long to come back
			// (a slow or cut network) has less of it left.
			leaseEnd := time.Now().Add(e.cfg.Lease)
			claims, err := e.queue.ClaimDeliveries(ctx, e.clock.Now(), e.cfg.Lease, want)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				e.logStoreError("claim deliveries", err)
				sleep(ctx, time.Second)
				continue
			}
			if len(claims) > 0 {
				e.dispatch(claims, leaseEnd)
			}
			if len(claims) == want {
				continue // there may be more due
			}
		}
		if want > 0 {
			// The last claim found nothing more due: ingests may claim
			// their own deliveries until the loop runs again.
			e.claimIdle.Store(true)
		}
		timer.Reset(e.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// postponeSaturated moves the queued deliveries of webhooks whose
// endpoint is saturated past the saturation, in one statement per newly
// saturated endpoint, so claims stop picking deliveries that would only
// wait and be handed back — a hanging receiver then costs almost nothing.
func (e *Engine) postponeSaturated(ctx context.Context) {
	now := e.clock.Now()
	if !e.eps.anySaturated(now) {
		return // the common case: no walk over every webhook per claim
	}
	var hooks []string
	var until time.Time
	e.hookEndpoint.Range(func(k, v any) bool {
		u, ok := e.eps.saturation(v.(string), now)
		if !ok {
			return true
		}
		if done, seen := e.postponed.Load(k); seen && !done.(time.Time).Before(u) {
			return true // already postponed for this saturation
		}
		e.postponed.Store(k, u)
		hooks = append(hooks, k.(string))
		until = later(until, u)
		return len(hooks) < 500
	})
	if len(hooks) == 0 {
		return
	}
	// A bounded slice, the soonest due: what the claims would pick next.
	n, err := e.queue.PostponeDue(ctx, hooks, now, until, postponeSlice)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("postpone deliveries of a saturated endpoint", "err", err)
		}
		return
	}
	e.metrics.Deliveries.WithLabelValues("deferred").Add(float64(n))
}

// postponeSlice bounds one postponement: enough to keep the next claims
// off a saturated endpoint, never a rewrite of a deep queue.
const postponeSlice = 1024

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// job is one claim with what it needs.
type job struct {
	claim *herald.Claim
	event *herald.Event
	vars  map[string]any
	hook  *herald.Webhook
	auth  *herald.Authorization
	// leaseEnd is when the claim's lease ends on this process's wall
	// clock (zero: a claim made for a test send, held by nobody else).
	leaseEnd time.Time
}

// dispatch loads the events, webhooks and authorizations of a batch of
// claims in three queries and starts one worker per claim. If the batch
// cannot be loaded (say, one webhook's secret does not decrypt), each
// claim is loaded alone, so one broken row holds back only its own
// deliveries: they wait a minute, with the reason on the delivery.
func (e *Engine) dispatch(claims []*herald.Claim, leaseEnd time.Time) {
	e.dispatchLoaded(claims, nil, leaseEnd)
}

// dispatchLoaded is dispatch with the events already known (nil: load
// them too).
func (e *Engine) dispatchLoaded(claims []*herald.Claim, known map[string]*herald.Event, leaseEnd time.Time) {
	events, hooks, auths, err := e.load(claims, known)
	if err != nil {
		if len(claims) == 1 {
			e.log.Error("load claimed delivery; it waits a minute", "delivery", claims[0].ID, "err", err)
			rec := deferral(claims[0], nil, e.clock.Now().Add(time.Minute))
			rec.LastError = "cannot load the delivery: " + err.Error()
			e.emit(rec)
			return
		}
		for _, c := range claims {
			e.dispatchLoaded([]*herald.Claim{c}, known, leaseEnd)
		}
		return
	}
	e.start(claims, events, hooks, auths, leaseEnd)
}

func (e *Engine) load(claims []*herald.Claim, known map[string]*herald.Event) (map[string]*herald.Event, map[string]*herald.Webhook, map[string]*herald.Authorization, error) {
	ctx := e.ctx
	evIDs, hookIDs := make([]string, 0, len(claims)), make([]string, 0, 4)
	seenEv, seenHook := map[string]bool{}, map[string]bool{}
	for _, c := range claims {
		if !seenEv[c.EventID] {
			seenEv[c.EventID] = true
			evIDs = append(evIDs, c.EventID)
		}
		if !seenHook[c.WebhookID] {
			seenHook[c.WebhookID] = true
			hookIDs = append(hookIDs, c.WebhookID)
		}
	}
	events := known
	if events == nil {
		var err error
		if events, err = e.queue.EventsByID(ctx, evIDs); err != nil {
			return nil, nil, nil, err
		}
	}
	hooks, err := e.queue.WebhooksByID(ctx, hookIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	var authIDs []string
	for _, w := range hooks {
		if w.AuthorizationEnabled {
			authIDs = append(authIDs, w.AuthorizationID)
		}
	}
	auths, err := e.queue.AuthorizationsByID(ctx, authIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	return events, hooks, auths, nil
}

// start hands each claim to a worker.
func (e *Engine) start(claims []*herald.Claim, events map[string]*herald.Event, hooks map[string]*herald.Webhook, auths map[string]*herald.Authorization, leaseEnd time.Time) {
	varsOf := make(map[string]map[string]any, len(events))
	for _, c := range claims {
		j := &job{claim: c, event: events[c.EventID], hook: hooks[c.WebhookID], leaseEnd: leaseEnd}
		if j.event != nil {
			if j.vars = varsOf[c.EventID]; j.vars == nil {
				j.vars = eventVars(j.event)
				varsOf[c.EventID] = j.vars
			}
		}
		if j.hook != nil && j.hook.AuthorizationEnabled {
			j.auth = auths[j.hook.AuthorizationID]
		}
		e.inflight.Add(1)
		e.workers.Add(1)
		e.hand(j)
	}
}

// hand gives a job to a worker: to the queue of jobs, from which idle
// workers take them, starting one more worker unless enough are idle to
// take every queued job. A job that has to wait for a busy endpoint is
// parked at once and its worker free again, so however deep the queue
// to one endpoint, the workers are about as many as the attempts in
// flight plus a claim's worth idle.
func (e *Engine) hand(j *job) {
	select {
	case e.jobs <- j:
	default: // the queue is full (more in hand than MaxInFlight)
		e.spawn(j, nil)
		return
	}
	e.growIfBehind()
}

// growIfBehind starts one more worker when more jobs are queued than
// workers are idle, unless one it started has not run yet: that one
// looks again when it runs. Workers so grow at the pace they are
// scheduled — on a busy machine, jobs a claim loop queues faster than
// workers wake do not start a goroutine each. The new worker counts as
// idle from now.
func (e *Engine) growIfBehind() {
	if len(e.jobs) > int(e.idleWorkers.Load()) && e.starting.CompareAndSwap(false, true) {
		e.idleWorkers.Add(1)
		e.goroutines.Add(1)
		go func() {
			defer e.goroutines.Done()
			e.starting.Store(false)
			e.growIfBehind()
			e.worker(nil, nil, true)
		}()
	}
}

func (e *Engine) spawn(j *job, w *waiter) {
	e.goroutines.Add(1)
	go func() { defer e.goroutines.Done(); e.worker(j, w, false) }()
}

// worker runs jobs until it has been idle for a while: j or w first,
// then jobs from the queue, and the parked jobs its own attempts'
// releases hand their slots to. Reusing goroutines keeps their grown
// stacks: a fresh goroutine per delivery spends measurable time growing
// its stack for the HTTP call. counted: the worker was already counted
// idle when it was started (see growIfBehind).
func (e *Engine) worker(j *job, w *waiter, counted bool) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		if j == nil && w == nil {
			if j = e.nextJob(idle, counted); j == nil {
				return
			}
			counted = false
		}
		var rec *herald.OutcomeRecord
		if w != nil {
			rec, w = e.resume(w)
		} else {
			rec, w = e.attempt(j, false)
		}
		j = nil
		if rec != nil { // nil: parked, still in hand
			e.emit(rec)
			e.finished()
		}
	}
}

// nextJob waits for a job from the queue; nil: the worker should end (it
// was idle for workerIdle, enough others are idle, or the engine
// stopped). A worker that stops being idle looks at the queue once more,
// so a job queued as it left (hand saw it idle) is not stranded.
func (e *Engine) nextJob(idle *time.Timer, counted bool) *job {
	if !counted && e.idleWorkers.Add(1) > int64(e.cfg.ClaimBatch) {
		e.idleWorkers.Add(-1)
		return e.queuedJob()
	}
	idle.Reset(workerIdle)
	select {
	case j := <-e.jobs:
		e.idleWorkers.Add(-1)
		return j
	case <-idle.C:
		e.idleWorkers.Add(-1)
		return e.queuedJob()
	case <-e.ctx.Done(): // stopped: what is queued goes back, due now
		e.idleWorkers.Add(-1)
		for j := e.queuedJob(); j != nil; j = e.queuedJob() {
			e.emit(deferral(j.claim, j.hook, e.clock.Now()))
			e.finished()
		}
		return nil
	}
}

func (e *Engine) queuedJob() *job {
	select {
	case j := <-e.jobs:
		return j
	default:
		return nil
	}
}

const workerIdle = 10 * time.Second

// finished frees a worker slot. It wakes the claim loop only when the
// loop waits for slots (every one was taken), and then once a good share
// of them is free again: not after every single completion, which would
// be one claim query per delivery. A claim loop that waits because the
// queue had nothing more due needs no wake-up from a finishing worker —
// at a steady rate that used to be an empty claim transaction per
// delivery.
func (e *Engine) finished() {
	n := e.inflight.Add(-1)
	e.workers.Done()
	if !e.slotBound.Load() {
		return
	}
	free := e.cfg.MaxInFlight - int(n)
	if free >= max(1, min(e.cfg.ClaimBatch, e.cfg.MaxInFlight)/4) || n == 0 {
		e.Wake()
	}
}
