package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// signInThrottle slows password guessing: after maxFailures failed
// sign-ins within window, for one email or from one address, further
// attempts are refused until the window has passed. In memory, per
// process: enough to turn a brute-force run into a crawl.
type signInThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	signInMaxFailures = 5
	signInWindow      = 15 * time.Minute
)

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether any of keys is over the limit, and until when.
func (t *signInThrottle) blocked(now time.Time, keys ...string) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range keys {
		recent := t.prune(k, now)
		if len(recent) >= signInMaxFailures {
			if u := recent[0].Add(signInWindow); u.After(until) {
				until = u
			}
		}
	}
	return !until.IsZero(), until
}

// fail records a failed attempt for every key.
func (t *signInThrottle) fail(now time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failures == nil {
		t.failures = map[string][]time.Time{}
	}
	if len(t.failures) > 100000 { // bound memory under a spray of addresses
		t.failures = map[string][]time.Time{}
	}
	for _, k := range keys {
		t.failures[k] = append(t.prune(k, now), now)
	}
}

// succeed forgets the failures of an email after a good sign-in.
func (t *signInThrottle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

func (t *signInThrottle) prune(k string, now time.Time) []time.Time {
	list := t.failures[k]
	i := 0
	for i < len(list) && now.Sub(list[i]) > signInWindow {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(t.failures, k)
		return nil
	}
	t.failures[k] = list
	return list
}
