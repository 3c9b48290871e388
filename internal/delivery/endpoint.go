package delivery

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// EndpointLimits isolate endpoints from each other.
type EndpointLimits struct {
	// Concurrency is the most attempts in flight to one endpoint.
	Concurrency int
	// RatePerSecond, if > 0, caps attempts per second to one endpoint.
	RatePerSecond float64
	// BreakerThreshold consecutive failures open the circuit for
	// BreakerCooldown (doubling on each failed probe, up to BreakerMax).
	BreakerThreshold int
	BreakerCooldown  time.Duration
	BreakerMax       time.Duration
}

// endpoints tracks every endpoint's in-flight count, rate tokens and
// circuit breaker. An endpoint is "scheme://host:port".
type endpoints struct {
	limits EndpointLimits
	// maxWaiting bounds the workers waiting for one endpoint's slots, so
	// one endpoint never holds all of the process's workers.
	maxWaiting int
	// lastSaturation is the latest saturatedUntil of any endpoint (Unix
	// nanoseconds), so the claim loop skips looking when none is saturated.
	lastSaturation atomic.Int64
	log            *slog.Logger
	mu             sync.Mutex
	m              map[string]*endpoint
}

type endpoint struct {
	slots     chan struct{} // one token per attempt in flight (cap Concurrency)
	waiting   int           // workers waiting for a slot
	inflight  int
	failures  int // consecutive counted failures
	openUntil time.Time
	cooldown  time.Duration
	probing   bool // a half-open probe is in flight
	// halfOpenSince is when the first claim found the circuit's cooldown
	// over (zero while closed or open).
	halfOpenSince time.Time
	// saturatedUntil: a worker waited maxSlotWait in vain; until then the
	// claim loop leaves this endpoint's deliveries in the queue.
	saturatedUntil time.Time
	// lastRelease is when an attempt to the endpoint last ended: an
	// endpoint whose slots turn over is busy, not slow.
	lastRelease time.Time
	tokens      float64
	last        time.Time
}

// admission is the answer to acquire: go (release must be called), or
// wait until deferUntil.
type admission struct {
	ok         bool
	deferUntil time.Time
	reason     string
	probe      bool
}

// maxSlotWait is how long a worker waits for a busy endpoint's free slot
// before it hands the delivery back to the queue. Waiting a little keeps a
// busy but healthy endpoint at full speed without a round trip through the
// database; the bound (and at most Concurrency waiters per endpoint) keeps
// a hanging endpoint from holding the process's worker slots.
const maxSlotWait = 2 * time.Second

func (e *endpoints) get(key string) *endpoint {
	if e.m == nil {
		e.m = make(map[string]*endpoint)
	}
	ep, ok := e.m[key]
	if !ok {
		ep = &endpoint{tokens: e.limits.RatePerSecond}
		if e.limits.Concurrency > 0 {
			ep.slots = make(chan struct{}, e.limits.Concurrency)
		}
		e.m[key] = ep
	}
	return ep
}

// acquire admits an attempt to the endpoint, waiting up to maxSlotWait
// (or until done closes) for a free slot when it is at its limit.
func (e *endpoints) acquire(key string, now time.Time, retried bool, done <-chan struct{}) admission {
	adm, ep := e.check(key, now, retried)
	if !adm.ok || ep.slots == nil {
		return adm
	}
	select {
	case ep.slots <- struct{}{}:
		return adm
	default:
	}
	e.mu.Lock()
	flowing := now.Sub(ep.lastRelease) < flowWindow
	if ep.waiting >= max(cap(ep.slots), e.maxWaiting) && !flowing {
		// Enough workers wait already for an endpoint whose slots do not
		// turn over: this delivery goes back for a second. Only a worker
		// that waited maxSlotWait in vain marks the endpoint saturated
		// (below); being at the limit is not proof of slowness.
		until := later(ep.saturatedUntil, now.Add(time.Second))
		e.mu.Unlock()
		e.undo(key, adm.probe)
		return admission{deferUntil: until, reason: "endpoint at its concurrency limit"}
	}
	ep.waiting++
	e.mu.Unlock()
	timer := time.NewTimer(maxSlotWait)
	defer timer.Stop()
	got := false
	select {
	case ep.slots <- struct{}{}:
		got = true
	case <-timer.C:
	case <-done:
	}
	e.mu.Lock()
	ep.waiting--
	if !got {
		// No slot came free in maxSlotWait: the endpoint is slow. Its
		// deliveries stay in the queue for a while instead of cycling
		// through claims and hand-backs.
		ep.saturatedUntil = later(ep.saturatedUntil, now.Add(maxSlotWait+saturatedFor))
		e.noteSaturation(ep.saturatedUntil)
	}
	until := ep.saturatedUntil
	e.mu.Unlock()
	if !got {
		e.undo(key, adm.probe)
		return admission{deferUntil: until, reason: "endpoint at its concurrency limit"}
	}
	return adm
}

// flowWindow: an endpoint one of whose attempts ended this recently is
// flowing. Its slots turn over, so a worker waits for one however many
// wait already (at most maxSlotWait, like any other): a deep queue to a
// busy but healthy endpoint is not saturation, and handing its
// deliveries back to the queue would cost a write each, for nothing.
const flowWindow = 250 * time.Millisecond

// saturatedFor is how long a slow endpoint's deliveries are left alone.
const saturatedFor = 5 * time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e *endpoints) noteSaturation(until time.Time) {
	for {
		cur := e.lastSaturation.Load()
		if cur >= until.UnixNano() || e.lastSaturation.CompareAndSwap(cur, until.UnixNano()) {
			return
		}
	}
}

// anySaturated reports whether some endpoint may still be saturated.
func (e *endpoints) anySaturated(now time.Time) bool {
	return now.UnixNano() < e.lastSaturation.Load()
}

// saturation reports until when the endpoint's deliveries should stay
// queued, if they should.
func (e *endpoints) saturation(key string, now time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep, ok := e.m[key]
	if !ok || !now.Before(ep.saturatedUntil) {
		return time.Time{}, false
	}
	return ep.saturatedUntil, true
}

// undo reverses check's bookkeeping for an attempt that did not start.
func (e *endpoints) undo(key string, probe bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	ep.inflight--
	if probe {
		ep.probing = false
	}
}

// probePreference is how long a half-open circuit waits for a delivery
// that has failed before to probe with. A receiver that rejects every
// first attempt (and accepts the retry) would otherwise fail every probe,
// since most due deliveries are new ones, and the circuit would reopen
// for ever longer.
const probePreference = 2 * time.Second

// check applies the breaker and the rate limit and counts the attempt.
// retried says whether the delivery has failed before.
func (e *endpoints) check(key string, now time.Time, retried bool) (admission, *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	probe := false
	if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
		if now.Before(ep.openUntil) {
			return admission{deferUntil: ep.openUntil, reason: fmt.Sprintf("circuit open after %d consecutive failures", ep.failures)}, ep
		}
		if ep.halfOpenSince.IsZero() {
			ep.halfOpenSince = now
			e.logger().Info("circuit half-open: probing the endpoint", "endpoint", key, "failures", ep.failures)
		}
		if ep.probing {
			return admission{deferUntil: now.Add(time.Second), reason: "circuit half-open: waiting for the probe"}, ep
		}
		if !retried && now.Sub(ep.halfOpenSince) < probePreference {
			return admission{deferUntil: now.Add(time.Second), reason: "circuit half-open: probing with a delivery that failed before"}, ep
		}
		probe = true
	}
	if r := e.limits.RatePerSecond; r > 0 {
		ep.tokens = min(r, ep.tokens+now.Sub(ep.last).Seconds()*r)
		ep.last = now
		if ep.tokens < 1 {
			wait := time.Duration((1 - ep.tokens) / r * float64(time.Second))
			return admission{deferUntil: now.Add(wait), reason: "endpoint rate limit"}, ep
		}
		ep.tokens--
	}
	ep.inflight++
	ep.probing = ep.probing || probe
	return admission{ok: true, probe: probe}, ep
}

// release ends an admitted attempt. counted says whether the outcome
// speaks about the endpoint's health (a connection failure, a timeout or
// a 5xx/429 does; a 4xx or a template error does not).
func (e *endpoints) release(key string, now time.Time, probe, success, counted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	ep.inflight--
	ep.lastRelease = later(ep.lastRelease, now)
	if ep.slots != nil {
		<-ep.slots
	}
	if probe {
		ep.probing = false
	}
	switch {
	case success:
		if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
			e.logger().Info("circuit closed: the endpoint answered again", "endpoint", key, "failures", ep.failures)
		}
		ep.failures, ep.cooldown, ep.halfOpenSince = 0, 0, time.Time{}
	case counted:
		ep.failures++
		if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
			opening := ep.cooldown == 0
			if opening {
				ep.cooldown = e.limits.BreakerCooldown
			} else if probe {
				ep.cooldown = min(2*ep.cooldown, e.limits.BreakerMax)
			}
			if opening || probe {
				ep.openUntil, ep.halfOpenSince = now.Add(ep.cooldown), time.Time{}
				e.logger().Warn("circuit open: deliveries to the endpoint wait", "endpoint", key, "failures", ep.failures, "for", ep.cooldown)
			}
		}
	}
}

func (e *endpoints) logger() *slog.Logger {
	if e.log == nil {
		return slog.Default()
	}
	return e.log
}

// health reports one endpoint's circuit (closed if herald has not seen it).
func (e *endpoints) health(key string, now time.Time) herald.EndpointHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep, ok := e.m[key]
	if !ok {
		return herald.EndpointHealth{Endpoint: key, State: herald.CircuitClosed}
	}
	return e.healthOf(key, ep, now)
}

func (e *endpoints) healthOf(key string, ep *endpoint, now time.Time) herald.EndpointHealth {
	h := herald.EndpointHealth{Endpoint: key, State: herald.CircuitClosed, Failures: ep.failures, InFlight: ep.inflight}
	if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
		if now.Before(ep.openUntil) {
			h.State, h.OpenUntil = herald.CircuitOpen, ep.openUntil
		} else {
			h.State = herald.CircuitHalfOpen
		}
	}
	return h
}

// healths reports every endpoint herald has sent to, by key.
func (e *endpoints) healths(now time.Time) []herald.EndpointHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]herald.EndpointHealth, 0, len(e.m))
	for k, ep := range e.m {
		out = append(out, e.healthOf(k, ep, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}
