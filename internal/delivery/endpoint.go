package delivery

import (
	"fmt"
	"sync"
	"time"
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
	mu     sync.Mutex
	m      map[string]*endpoint
}

type endpoint struct {
	inflight  int
	failures  int // consecutive counted failures
	openUntil time.Time
	cooldown  time.Duration
	probing   bool // a half-open probe is in flight
	tokens    float64
	last      time.Time
}

// admission is the answer to acquire: go (release must be called), or
// wait until deferUntil.
type admission struct {
	ok         bool
	deferUntil time.Time
	reason     string
	probe      bool
}

func (e *endpoints) get(key string) *endpoint {
	if e.m == nil {
		e.m = make(map[string]*endpoint)
	}
	ep, ok := e.m[key]
	if !ok {
		ep = &endpoint{tokens: e.limits.RatePerSecond}
		e.m[key] = ep
	}
	return ep
}

func (e *endpoints) acquire(key string, now time.Time) admission {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	probe := false
	if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
		if now.Before(ep.openUntil) {
			return admission{deferUntil: ep.openUntil, reason: fmt.Sprintf("circuit open after %d consecutive failures", ep.failures)}
		}
		if ep.probing {
			return admission{deferUntil: now.Add(time.Second), reason: "circuit half-open: waiting for the probe"}
		}
		probe = true
	}
	if e.limits.Concurrency > 0 && ep.inflight >= e.limits.Concurrency {
		return admission{deferUntil: now.Add(500 * time.Millisecond), reason: "endpoint at its concurrency limit"}
	}
	if r := e.limits.RatePerSecond; r > 0 {
		ep.tokens = min(r, ep.tokens+now.Sub(ep.last).Seconds()*r)
		ep.last = now
		if ep.tokens < 1 {
			wait := time.Duration((1 - ep.tokens) / r * float64(time.Second))
			return admission{deferUntil: now.Add(wait), reason: "endpoint rate limit"}
		}
		ep.tokens--
	}
	ep.inflight++
	ep.probing = ep.probing || probe
	return admission{ok: true, probe: probe}
}

// release ends an admitted attempt. counted says whether the outcome
// speaks about the endpoint's health (a connection failure, a timeout or
// a 5xx/429 does; a 4xx or a template error does not).
func (e *endpoints) release(key string, now time.Time, probe, success, counted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	ep.inflight--
	if probe {
		ep.probing = false
	}
	switch {
	case success:
		ep.failures, ep.cooldown = 0, 0
	case counted:
		ep.failures++
		if e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold {
			if ep.cooldown == 0 {
				ep.cooldown = e.limits.BreakerCooldown
			} else if probe {
				ep.cooldown = min(2*ep.cooldown, e.limits.BreakerMax)
			}
			ep.openUntil = now.Add(ep.cooldown)
		}
	}
}

// open reports whether the endpoint's circuit is open (for metrics/tests).
func (e *endpoints) open(key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(key)
	return e.limits.BreakerThreshold > 0 && ep.failures >= e.limits.BreakerThreshold && now.Before(ep.openUntil)
}
