package web

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// signInThrottle slows password guessing without letting anyone lock the
// real user out.
//
//   - Per client address (an IPv6 client by its /64, which one machine can
//     fill at will): the first signInFreeFailures failures in a window
//     cost nothing; each further one makes the address wait before its
//     next try, doubling from 1 s; after signInMaxFailures the address is
//     refused for the whole window. A correct password from that address
//     is refused too while it waits — the address is what is being
//     limited.
//   - Per email, across addresses: failures only slow the next sign-ins
//     for that email down (a short pause, at most signInMaxEmailDelay,
//     before the password is checked), so many addresses guessing one
//     password crawl, while a correct password from an address that did
//     not fail is never refused.
//
// In memory, per process; at most signInMaxEntries entries of each kind
// (expired ones pruned first, then the stalest tenth evicted), so a spray
// of addresses cannot grow it without bound.
type signInThrottle struct {
	mu     sync.Mutex
	addrs  map[string]*failures
	emails map[string]*failures
	max    int // entries per map; 0 means signInMaxEntries
}

type failures struct {
	count int
	first time.Time // start of the current window
	last  time.Time
}

const (
	signInWindow        = 15 * time.Minute
	signInFreeFailures  = 5
	signInMaxFailures   = 10
	signInEmailFree     = 10
	signInMaxEmailDelay = time.Second
	signInMaxEntries    = 10000
)

// addrKey is the unit an address is limited by: IPv4 addresses one by
// one, IPv6 by /64.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() || a.Is4In6() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// retryAfter reports whether addr must wait before another try, and until
// when.
func (t *signInThrottle) retryAfter(now time.Time, addr string) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.live(t.addrs, addrKey(addr), now)
	if f == nil || f.count < signInFreeFailures {
		return false, time.Time{}
	}
	var until time.Time
	if f.count >= signInMaxFailures {
		until = f.first.Add(signInWindow)
	} else {
		until = f.last.Add(time.Second << (f.count - signInFreeFailures))
	}
	return now.Before(until), until
}

// emailDelay is how long to pause before checking a password for email:
// nothing until signInEmailFree failures, then 100 ms per failure, at
// most signInMaxEmailDelay.
func (t *signInThrottle) emailDelay(now time.Time, email string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.live(t.emails, email, now)
	if f == nil || f.count < signInEmailFree {
		return 0
	}
	return min(time.Duration(f.count-signInEmailFree+1)*100*time.Millisecond, signInMaxEmailDelay)
}

// fail records a failed sign-in for email from addr.
func (t *signInThrottle) fail(now time.Time, addr, email string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.addrs == nil {
		t.addrs, t.emails = map[string]*failures{}, map[string]*failures{}
	}
	t.add(t.addrs, addrKey(addr), now)
	t.add(t.emails, email, now)
}

// size is the number of entries kept, for the tests.
func (t *signInThrottle) size() (addrs, emails int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.addrs), len(t.emails)
}

// live returns k's failures if its window has not passed.
func (t *signInThrottle) live(m map[string]*failures, k string, now time.Time) *failures {
	f := m[k]
	if f != nil && now.Sub(f.first) >= signInWindow {
		delete(m, k)
		return nil
	}
	return f
}

func (t *signInThrottle) add(m map[string]*failures, k string, now time.Time) {
	f := t.live(m, k, now)
	if f == nil {
		limit := t.max
		if limit <= 0 {
			limit = signInMaxEntries
		}
		if len(m) >= limit {
			prune(m, now, limit)
		}
		f = &failures{first: now}
		m[k] = f
	}
	f.count++
	f.last = now
}

// prune drops expired entries, and if the map is still full a tenth of
// it, those whose last failure is oldest (an address that stopped trying
// matters least); evicting in bulk keeps the cost of one scan spread over
// many insertions under a spray of addresses.
func prune(m map[string]*failures, now time.Time, limit int) {
	for k, f := range m {
		if now.Sub(f.first) >= signInWindow {
			delete(m, k)
		}
	}
	if len(m) < limit {
		return
	}
	type entry struct {
		k    string
		last time.Time
	}
	all := make([]entry, 0, len(m))
	for k, f := range m {
		all = append(all, entry{k, f.last})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.last.Compare(b.last) })
	for _, e := range all[:len(m)-limit+max(limit/10, 1)] {
		delete(m, e.k)
	}
}
