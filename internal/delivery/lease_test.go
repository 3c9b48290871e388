package delivery

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/storetest"
)

// A claim that came back with too little of its lease left for a whole
// attempt (the claim or the load was slow: a cut link that came back,
// say) is handed back unsent, due at once, and not counted as an attempt:
// by then another process may already hold a lease on the delivery. With
// enough lease left, the same claim is sent.
func TestAttemptHandsBackAClaimWhoseLeaseRanOut(t *testing.T) {
	store := storetest.OpenSQLite(t)
	svc := herald.NewService(store, payload.Checker{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	const lease = 4 * time.Second
	// Not started: no claim loop competes with the test for the delivery.
	eng := New(Config{Lease: lease, DefaultTimeout: time.Second}, Deps{Service: svc, Queue: store,
		Transport: netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Transport(),
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil))})
	ws, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, svc: svc, engine: eng, ws: ws.ID}
	e.webhook(herald.WebhookSpec{EndpointURL: srv.URL})
	if _, err := eng.Ingest(ctx, ws.ID, []herald.EventInput{{Type: "member.verified", Data: []byte(`{"member": {"id": "m1", "email": "a@example.com"}}`)}}); err != nil {
		t.Fatal(err)
	}
	claimAt := time.Now()
	claims, err := store.ClaimDeliveries(ctx, claimAt, lease, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d claims", err, len(claims))
	}
	events, hooks, auths, err := eng.load(claims, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := claims[0]
	job := func(leaseEnd time.Time) *job {
		return &job{claim: c, event: events[c.EventID], vars: eventVars(events[c.EventID]), hook: hooks[c.WebhookID], auth: auths[""], leaseEnd: leaseEnd}
	}

	// 1.5 s of the 4 s lease left: less than the attempt's 1 s timeout
	// plus the quarter of the lease kept in reserve.
	rec, _ := eng.attempt(job(time.Now().Add(1500*time.Millisecond)), false)
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests from a claim whose lease had nearly run out", hits.Load())
	}
	if rec.Status != herald.DeliveryPending || rec.Counted || rec.Attempt != nil || rec.Token != c.Token || rec.NextAttemptAt.After(time.Now()) {
		t.Fatalf("handed back as %+v, want pending, due now, not counted, under the claim's token", rec)
	}

	// The whole lease ahead: sent.
	rec, _ = eng.attempt(job(claimAt.Add(lease)), false)
	if hits.Load() != 1 || rec.Status != herald.DeliverySucceeded {
		t.Fatalf("with the lease ahead: %d requests, status %s; want 1, succeeded", hits.Load(), rec.Status)
	}
}
