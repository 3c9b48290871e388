package delivery

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
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

// endpoints tracks every endpoint's in-flight count, rate tokens,
// circuit breaker and the attempts waiting for its slots. An endpoint is
// "scheme://host:port".
type endpoints struct {
	limits EndpointLimits
	// maxWaiting bounds the attempts waiting for one endpoint's slots
	// while they do not turn over, so one slow endpoint never holds all
	// of the process's deliveries.
	maxWaiting int
	// handBack returns a parked job whose wait ended without a slot (it
	// waited maxSlotWait, or the engine stopped) to the queue, due at
	// until (zero: now).
	handBack func(w *waiter, until time.Time, reason string)
	// lastSaturation is the latest saturatedUntil of any endpoint (Unix
	// nanoseconds), so the claim loop skips looking when none is saturated.
	lastSaturation atomic.Int64
	log            *slog.Logger
	mu             sync.Mutex
	m              map[string]*endpoint
	// flushed: the engine has stopped, no attempt waits any more.
	flushed bool
}

type endpoint struct {
	slots chan struct{} // one token per attempt in flight (cap Concurrency)
	// queue holds the admitted attempts waiting for a slot, oldest
	// first; a release hands its slot to the first. expiry fires when
	// the first has waited maxSlotWait.
	queue     []*waiter
	expiry    *time.Timer
	inflight  int
	failures  int // consecutive counted failures
	openUntil time.Time
	cooldown  time.Duration
	probing   bool // a half-open probe is in flight
	// halfOpenSince is when the first claim found the circuit's cooldown
	// over (zero while closed or open).
	halfOpenSince time.Time
	// saturatedUntil: an attempt waited maxSlotWait in vain; until then
	// the claim loop leaves this endpoint's deliveries in the queue.
	saturatedUntil time.Time
	// lastRelease is when an attempt to the endpoint last ended: an
	// endpoint whose slots turn over is busy, not slow.
	lastRelease time.Time
	tokens      float64
	last        time.Time
}

// admission is the answer to admit and acquire: go (release must be
// called), or wait until deferUntil.
type admission struct {
	ok         bool
	deferUntil time.Time
	reason     string
	probe      bool
}

// A waiter is an admitted attempt waiting for a slot of its endpoint:
// either a worker's job, parked without its goroutine (the release that
// frees a slot hands the job to the worker that released it, so a deep
// queue to one endpoint costs memory for its jobs, not a stack per
// waiting delivery), or a caller blocked in acquire, answered on ready.
type waiter struct {
	key      string
	since    time.Time // on the engine's clock, when it was admitted
	parkedAt time.Time // on the wall clock, for maxSlotWait
	probe    bool
	// A parked job and its rendered request (ready is nil).
	j   *job
	req *payload.Request
	// ready (buffered) receives the admission of a blocked caller.
	ready chan admission
}

// maxSlotWait is how long an attempt waits for a busy endpoint's free
// slot before its delivery goes back to the queue. Waiting a little
// keeps a busy but healthy endpoint at full speed without a round trip
// through the database; the bound (and at most max(Concurrency,
// maxWaiting) waiters per endpoint whose slots do not turn over) keeps a
// hanging endpoint from holding the process's deliveries.
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

// admit admits an attempt to the endpoint. With a slot free it goes at
// once (ok); at the endpoint's limit it either goes back (deferUntil) or
// waits in the endpoint's queue as w (parked: true), until a release
// hands it a slot or it has waited maxSlotWait.
func (e *endpoints) admit(key string, now time.Time, retried bool, w *waiter) (adm admission, parked bool) {
	adm, ep := e.check(key, now, retried)
	if !adm.ok || ep.slots == nil {
		return adm, false
	}
	select {
	case ep.slots <- struct{}{}:
		return adm, false
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Again under the lock: a release between the first try and the lock
	// freed a slot (with no waiter to hand it to), and nothing would hand
	// this waiter one if it queued now.
	select {
	case ep.slots <- struct{}{}:
		return adm, false
	default:
	}
	if e.flushed {
		e.undoLocked(ep, adm.probe)
		return admission{deferUntil: now, reason: "herald is stopping"}, false
	}
	flowing := now.Sub(ep.lastRelease) < flowWindow
	if len(ep.queue) >= max(cap(ep.slots), e.maxWaiting) && !flowing {
		// Enough attempts wait already for an endpoint whose slots do not
		// turn over: this delivery goes back for a second. Only an
		// attempt that waited maxSlotWait in vain marks the endpoint
		// saturated (expire); being at the limit is not proof of slowness.
		e.undoLocked(ep, adm.probe)
		return admission{deferUntil: later(ep.saturatedUntil, now.Add(time.Second)), reason: "endpoint at its concurrency limit"}, false
	}
	w.key, w.since, w.parkedAt, w.probe = key, now, time.Now(), adm.probe
	ep.queue = append(ep.queue, w)
	if len(ep.queue) == 1 {
		e.armExpiry(key, ep, maxSlotWait)
	}
	return adm, true
}

// acquire is admit for a caller that waits itself, until a slot comes
// free, maxSlotWait passes or done closes.
func (e *endpoints) acquire(key string, now time.Time, retried bool, done <-chan struct{}) admission {
	w := &waiter{ready: make(chan admission, 1)}
	adm, parked := e.admit(key, now, retried, w)
	if !parked {
		return adm
	}
	select {
	case a := <-w.ready:
		return a
	case <-done:
	}
	if e.unpark(w) {
		return admission{deferUntil: now, reason: "endpoint at its concurrency limit"}
	}
	return <-w.ready // handed a slot, or expired, as done closed
}

// armExpiry starts (or moves) the endpoint's expiry timer. e.mu is held.
func (e *endpoints) armExpiry(key string, ep *endpoint, d time.Duration) {
	if ep.expiry == nil {
		ep.expiry = time.AfterFunc(d, func() { e.expire(key) })
		return
	}
	ep.expiry.Reset(d)
}

// expire ends the waits that have lasted maxSlotWait: the endpoint is
// slow, and its deliveries stay in the queue for a while instead of
// cycling through claims and hand-backs.
func (e *endpoints) expire(key string) {
	e.mu.Lock()
	ep := e.m[key]
	if ep == nil {
		e.mu.Unlock()
		return
	}
	var out []*waiter
	for len(ep.queue) > 0 {
		w := ep.queue[0]
		if left := maxSlotWait - time.Since(w.parkedAt); left > 0 {
			e.armExpiry(key, ep, left)
			break
		}
		ep.queue[0] = nil
		ep.queue = ep.queue[1:]
		e.undoLocked(ep, w.probe)
		ep.saturatedUntil = later(ep.saturatedUntil, w.since.Add(maxSlotWait+saturatedFor))
		e.noteSaturation(ep.saturatedUntil)
		out = append(out, w)
	}
	until := ep.saturatedUntil
	e.mu.Unlock()
	for _, w := range out {
		e.answer(w, admission{deferUntil: until, reason: "endpoint at its concurrency limit"})
	}
}

// answer ends a wait without a slot.
func (e *endpoints) answer(w *waiter, adm admission) {
	if w.ready != nil {
		w.ready <- adm
		return
	}
	e.handBack(w, adm.deferUntil, adm.reason)
}

// unpark takes w out of its endpoint's queue, undoing its admission; false
// if it was no longer there (a release or expire answered it).
func (e *endpoints) unpark(w *waiter) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.m[w.key]
	if ep == nil {
		return false
	}
	for i, q := range ep.queue {
		if q == w {
			ep.queue = append(ep.queue[:i], ep.queue[i+1:]...)
			e.undoLocked(ep, w.probe)
			return true
		}
	}
	return false
}

// flush ends every wait without a slot, due now: the engine is stopping.
func (e *endpoints) flush() {
	e.mu.Lock()
	e.flushed = true
	var out []*waiter
	for _, ep := range e.m {
		for _, w := range ep.queue {
			e.undoLocked(ep, w.probe)
			out = append(out, w)
		}
		ep.queue = nil
		if ep.expiry != nil {
			ep.expiry.Stop()
		}
	}
	e.mu.Unlock()
	for _, w := range out {
		e.answer(w, admission{deferUntil: w.since, reason: "herald is stopping"})
	}
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

// undoLocked reverses check's bookkeeping for an attempt that did not
// start. e.mu is held.
func (e *endpoints) undoLocked(ep *endpoint, probe bool) {
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
// a 5xx/429 does; a 4xx or a template error does not). The slot goes to
// the endpoint's first waiter, if one waits: a parked job is returned for
// the caller to run (its admission is ok), a blocked caller is answered.
func (e *endpoints) release(key string, now time.Time, probe, success, counted bool) (next *waiter) {
	e.mu.Lock()
	defer func() {
		e.mu.Unlock()
		if next != nil && next.ready != nil {
			next.ready <- admission{ok: true, probe: next.probe}
			next = nil
		}
	}()
	ep := e.get(key)
	ep.inflight--
	ep.lastRelease = later(ep.lastRelease, now)
	if ep.slots != nil {
		if len(ep.queue) > 0 {
			next = ep.queue[0] // the slot passes on
			ep.queue[0] = nil
			ep.queue = ep.queue[1:]
			if len(ep.queue) == 0 {
				ep.expiry.Stop()
			}
		} else {
			<-ep.slots
		}
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
	return next
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
