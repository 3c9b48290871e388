package delivery

import (
	"testing"
	"time"
)

// Attempts beyond an endpoint's concurrency wait in its queue without a
// goroutine: each release hands its slot to the oldest, the queue is
// bounded while the slots do not turn over, a wait that lasts
// maxSlotWait goes back to the queue and marks the endpoint saturated,
// and a stopping engine gets every waiter back.
func TestEndpointQueue(t *testing.T) {
	back := make(chan *waiter, 16)
	eps := endpoints{limits: EndpointLimits{Concurrency: 1}, maxWaiting: 2,
		handBack: func(w *waiter, until time.Time, reason string) {
			if reason == "" {
				t.Error("a waiter handed back without a reason")
			}
			back <- w
		}}
	key := "http://127.0.0.1:1"
	now := time.Now()
	inflight := func() int { return eps.health(key, now).InFlight }

	first, parked := eps.admit(key, now, false, &waiter{})
	if !first.ok || parked {
		t.Fatalf("a free slot not taken at once: %+v parked=%v", first, parked)
	}
	w1, w2, w3 := &waiter{}, &waiter{}, &waiter{}
	for _, w := range []*waiter{w1, w2} {
		if a, parked := eps.admit(key, now, false, w); !a.ok || !parked {
			t.Fatalf("not parked at the limit: %+v parked=%v", a, parked)
		}
	}
	// Two wait (maxWaiting) for slots that have not turned over: the
	// third goes back at once, without counting as in flight.
	if a, parked := eps.admit(key, now, false, w3); a.ok || parked || a.deferUntil.IsZero() {
		t.Fatalf("a third waiter of a stuck endpoint: %+v parked=%v", a, parked)
	}
	if n := inflight(); n != 3 {
		t.Fatalf("in flight %d, want 3 (one attempt, two waiting)", n)
	}
	// Releases hand the slot on, oldest waiter first.
	if next := eps.release(key, now, first.probe, true, true); next != w1 {
		t.Fatalf("first release handed its slot to %p, want w1 %p", next, w1)
	}
	// The slots turn over now (a release just happened): beyond
	// maxWaiting, attempts wait rather than go back.
	w4 := &waiter{}
	if _, parked := eps.admit(key, now, false, w4); !parked {
		t.Fatal("a flowing endpoint's attempt not parked")
	}
	if next := eps.release(key, now, false, true, true); next != w2 {
		t.Fatal("second release skipped w2")
	}
	if next := eps.release(key, now, false, true, true); next != w4 {
		t.Fatal("third release skipped w4")
	}
	if next := eps.release(key, now, false, true, true); next != nil {
		t.Fatalf("a release with nobody waiting handed its slot to %p", next)
	}
	if n := inflight(); n != 0 {
		t.Fatalf("in flight %d after every release, want 0", n)
	}

	// A caller blocked in acquire gets the slot a release frees.
	held, _ := eps.admit(key, now, false, &waiter{})
	got := make(chan admission, 1)
	go func() { got <- eps.acquire(key, now, false, nil) }()
	waitFor(t, func() bool { eps.mu.Lock(); defer eps.mu.Unlock(); return len(eps.m[key].queue) == 1 })
	if next := eps.release(key, now, held.probe, true, true); next != nil {
		t.Fatal("the release returned a blocked caller as a job to run")
	}
	if a := <-got; !a.ok {
		t.Fatalf("blocked caller not handed the slot: %+v", a)
	}
	eps.release(key, now, false, true, true)

	// A wait that lasts maxSlotWait goes back; the endpoint is saturated.
	held, _ = eps.admit(key, now, false, &waiter{})
	late := time.Now()
	w5 := &waiter{}
	if _, parked := eps.admit(key, late, false, w5); !parked {
		t.Fatal("not parked")
	}
	select {
	case w := <-back:
		if w != w5 {
			t.Fatal("another waiter handed back")
		}
		if waited := time.Since(late); waited < maxSlotWait {
			t.Fatalf("handed back after %v, before maxSlotWait", waited)
		}
	case <-time.After(maxSlotWait + 5*time.Second):
		t.Fatal("a waiter that got no slot was never handed back")
	}
	if _, ok := eps.saturation(key, late.Add(maxSlotWait)); !ok {
		t.Fatal("the endpoint not saturated after a wait in vain")
	}
	if n := inflight(); n != 1 {
		t.Fatalf("in flight %d after the hand-back, want 1", n)
	}

	// Stopping: every waiter back, and none parks afterwards.
	w6 := &waiter{}
	if _, parked := eps.admit(key, time.Now(), false, w6); !parked {
		t.Fatal("not parked")
	}
	eps.flush()
	if w := <-back; w != w6 {
		t.Fatal("flush handed back another waiter")
	}
	if a, parked := eps.admit(key, time.Now(), false, &waiter{}); parked || a.ok {
		t.Fatalf("an attempt parked or admitted after the flush: %+v parked=%v", a, parked)
	}
	if next := eps.release(key, now, held.probe, true, true); next != nil {
		t.Fatal("a flushed waiter still in the queue")
	}
	if n := inflight(); n != 0 {
		t.Fatalf("in flight %d at the end, want 0", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
	}
}
