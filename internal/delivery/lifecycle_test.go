package delivery

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// engineGoroutines returns the stacks of goroutines running engine code,
// waiting up to within for them to end. The tests that call it do not
// run in parallel, so any such goroutine is the one engine's under test.
func engineGoroutines(within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		left := goroutinesIn("internal/delivery.(*Engine)")
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutinesIn returns the stacks of the goroutines whose stack names
// fn (a function, with its package).
func goroutinesIn(fn string) []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var in []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			in = append(in, g)
		}
	}
	return in
}

func TestStopLeavesNoEngineGoroutine(t *testing.T) {
	if left := engineGoroutines(2 * time.Second); len(left) > 0 {
		t.Fatalf("engine goroutines before the test:\n%s", strings.Join(left, "\n\n"))
	}
	e := setup(t, envOpts{})
	ok := newReceiver(t, nil)
	w := e.webhook(herald.WebhookSpec{EndpointURL: ok.URL})
	e.send("member.verified", memberData)
	e.waitDelivery(w.ID, herald.DeliverySucceeded, 10*time.Second)
	if len(engineGoroutines(0)) == 0 {
		t.Fatal("no engine goroutine while running: the check would not see a leak")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e.engine.Stop(sctx) // an idle worker waits 10 s for its next job
	if left := engineGoroutines(200 * time.Millisecond); len(left) > 0 {
		t.Fatalf("engine goroutines after Stop:\n%s", strings.Join(left, "\n\n"))
	}
}

// alertBlockingStore holds every ingest of one of herald's own alerts
// until its context ends, as a database that stopped answering would.
type alertBlockingStore struct {
	storetest.QueueStore
	blocked chan struct{} // one per alert ingest that started waiting
}

func (s *alertBlockingStore) Ingest(ctx context.Context, reqs []*herald.IngestRequest) error {
	if len(reqs) > 0 && strings.HasPrefix(reqs[0].Event.Type, herald.AlertPrefix) {
		s.blocked <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	return s.QueueStore.Ingest(ctx, reqs)
}

func TestAlertDuringShutdownDoesNotOutliveStop(t *testing.T) {
	store := &alertBlockingStore{QueueStore: storetest.OpenSQLite(t), blocked: make(chan struct{}, 8)}
	e := setup(t, envOpts{store: store})
	failing := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	w := e.webhook(herald.WebhookSpec{EndpointURL: failing.URL, RetrySchedule: []string{"0s"}})
	e.webhook(herald.WebhookSpec{Event: "herald.delivery.exhausted", EndpointURL: failing.URL})
	e.send("member.verified", memberData)
	e.waitDelivery(w.ID, herald.DeliveryFailed, 10*time.Second)
	select {
	case <-store.blocked: // herald.delivery.exhausted is being raised, and hangs
	case <-time.After(10 * time.Second):
		t.Fatal("no alert raised")
	}
	const grace = 200 * time.Millisecond
	if took := stopWithin(t, e.engine, grace, "a hanging alert"); took < grace {
		t.Errorf("Stop returned after %v, before its grace of %v: the alert was not given the time", took, grace)
	}
	if left := engineGoroutines(200 * time.Millisecond); len(left) > 0 {
		t.Fatalf("engine goroutines after Stop:\n%s", strings.Join(left, "\n\n"))
	}
}

// Deliveries parked for a busy endpoint hold no goroutine that would see
// the shutdown: when Stop's grace runs out they go back to the queue, due
// now and not counted as attempts, and Stop does not wait for them.
func TestStopHandsBackParkedDeliveries(t *testing.T) {
	release := make(chan struct{})
	hanging := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	e := setup(t, envOpts{cfg: Config{Endpoint: EndpointLimits{Concurrency: 1}}})
	w := e.webhook(herald.WebhookSpec{EndpointURL: hanging.URL})
	const events = 4
	for i := 0; i < events; i++ {
		e.send("member.verified", memberData)
	}
	key := endpointKey(hanging.URL)
	waitFor(t, func() bool {
		e.engine.eps.mu.Lock()
		defer e.engine.eps.mu.Unlock()
		ep := e.engine.eps.m[key]
		return ep != nil && len(ep.queue) == events-1
	})
	const grace = 300 * time.Millisecond
	if took := stopWithin(t, e.engine, grace, "parked deliveries"); took > grace+2*time.Second {
		t.Errorf("Stop took %v with a grace of %v", took, grace)
	}
	if left := engineGoroutines(200 * time.Millisecond); len(left) > 0 {
		t.Fatalf("engine goroutines after Stop:\n%s", strings.Join(left, "\n\n"))
	}
	if n := countStatus(t, e, w.ID, herald.DeliveryPending); n != events {
		t.Fatalf("%d of %d deliveries back in the queue after Stop", n, events)
	}
	ds, _, err := e.store.ListDeliveries(ctx, e.ws, w.ID, herald.DeliveryFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Attempts != 0 {
			t.Fatalf("delivery %s counts %d attempts after a shutdown that aborted it", d.ID, d.Attempts)
		}
	}
}

// stopWithin stops the engine with a grace of grace and says how long
// Stop took; it fails if Stop still waits (for what) 5 s later.
func stopWithin(t *testing.T, e *Engine, grace time.Duration, what string) time.Duration {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	began := time.Now()
	done := make(chan struct{})
	go func() { e.Stop(sctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("Stop waits for %s beyond its grace", what)
	}
	return time.Since(began)
}
