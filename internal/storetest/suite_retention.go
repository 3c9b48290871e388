package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// testBatchedPurge: retention deletes in batches of at most limit rows per
// table, by each workspace's own cutoff, and never an event that still
// has a pending delivery.
func testBatchedPurge(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	short := workspace(t, s, "short")
	day := 24 * time.Hour
	if err := s.SetWorkspaceRetention(ctx, short, ptr(time.Hour)); err != nil {
		t.Fatal(err)
	}
	over, err := s.RetentionOverrides(ctx)
	if err != nil || len(over) != 1 || over[short] != time.Hour {
		t.Fatalf("overrides %v %v", over, err)
	}
	got, _ := s.WorkspaceByID(ctx, short)
	if got.RetentionSeconds == nil || *got.RetentionSeconds != 3600 {
		t.Fatalf("workspace %+v", got)
	}
	publishedWebhook(t, s, ws, "member.verified", false)
	publishedWebhook(t, s, short, "member.verified", false)
	var evs []*herald.Event
	add := func(w string, n int, at time.Time) {
		for i := 0; i < n; i++ {
			ev := newEvent(w, "member.verified", "", at.Add(time.Duration(i)*time.Second))
			evs = append(evs, ev)
		}
	}
	add(ws, 10, now().Add(-40*day))           // old: purged, but for the 2 left pending
	add(ws, 3, now().Add(-2*time.Hour))       // recent for the server's 30 days: kept
	add(short, 5, now().Add(-2*time.Hour))    // old for its workspace's hour: purged
	add(short, 2, now().Add(-10*time.Minute)) // recent: kept
	ingest(t, s, evs...)
	claims := claimAll(t, s, now())
	if len(claims) != len(evs) {
		t.Fatalf("%d claims of %d", len(claims), len(evs))
	}
	byEvent := map[string]*herald.Event{}
	for _, ev := range evs {
		byEvent[ev.ID] = ev
	}
	var pending []string
	var recs []*herald.OutcomeRecord
	for _, c := range claims {
		ev := byEvent[c.EventID]
		rec := &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: herald.DeliverySucceeded,
			Counted: true, LastStatus: 200, At: now(), Attempt: attemptFor(c, herald.OutcomeSuccess, ev.ReceivedAt)}
		if ev == evs[0] || ev == evs[1] { // two old ones still have retries to go
			rec.Status, rec.NextAttemptAt, rec.LastStatus = herald.DeliveryPending, now().Add(time.Hour), 503
			rec.Attempt = attemptFor(c, herald.OutcomeFailure, ev.ReceivedAt)
			pending = append(pending, c.ID)
		}
		recs = append(recs, rec)
	}
	if err := s.RecordOutcomes(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cut := herald.PurgeCutoffs{Default: now().Add(-30 * day), Workspaces: map[string]time.Time{short: now().Add(-time.Hour)}}
	var total herald.PurgeResult
	batches := 0
	for ; batches < 50; batches++ {
		r, err := s.Purge(ctx, cut, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attempts > 3 || r.Events > 3 {
			t.Fatalf("a batch of limit 3 purged %+v", r)
		}
		total.Attempts += r.Attempts
		total.Events += r.Events
		total.Deliveries += r.Deliveries
		if r.Attempts == 0 && r.Events == 0 {
			break
		}
	}
	// 10 old attempts (the pending ones' too) + 5 of the short workspace;
	// 8 + 5 finished old events, each with its one delivery.
	if want := (herald.PurgeResult{Attempts: 15, Events: 13, Deliveries: 13}); total != want {
		t.Fatalf("purged %+v, want %+v", total, want)
	}
	if batches < 5 {
		t.Fatalf("15 attempts in batches of 3 took %d batches", batches)
	}
	for i, ev := range evs {
		_, err := s.Event(ctx, ev.WorkspaceID, ev.ID)
		kept := i < 2 || (i >= 10 && i < 13) || i >= 18
		if kept && err != nil {
			t.Errorf("event %d purged: %v", i, err)
		}
		if !kept && herald.ErrorCodeOf(err) != herald.ENotFound {
			t.Errorf("event %d kept: %v", i, err)
		}
	}
	for _, id := range pending {
		d, err := s.Delivery(ctx, ws, id)
		if err != nil || d.Status != herald.DeliveryPending {
			t.Fatalf("pending delivery %s: %+v %v", id, d, err)
		}
	}
	// Back to the default: the short workspace's recent events stay.
	if err := s.SetWorkspaceRetention(ctx, short, nil); err != nil {
		t.Fatal(err)
	}
	if over, _ := s.RetentionOverrides(ctx); len(over) != 0 {
		t.Fatalf("overrides after reset: %v", over)
	}
	wantCode(t, s.SetWorkspaceRetention(ctx, herald.NewID(), nil), herald.ENotFound)
}

func testPendingByWebhook(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	a := publishedWebhook(t, s, ws, "member.verified", false)
	b := publishedWebhook(t, s, ws, "coupon.redeemed", true)
	old := now().Add(-time.Hour)
	ingest(t, s, newEvent(ws, "member.verified", "", old), newEvent(ws, "member.verified", "", now()),
		newEvent(ws, "coupon.redeemed", "", old), newEvent(ws, "coupon.redeemed", "", now()), newEvent(ws, "coupon.redeemed", "", now()))
	stats, err := s.PendingByWebhook(ctx)
	if err != nil || len(stats) != 2 {
		t.Fatalf("stats %+v %v", stats, err)
	}
	for _, p := range stats {
		switch p.WebhookID {
		case a.ID:
			if p.Pending != 2 || p.Held != 0 || !p.OldestCreatedAt.Equal(old) || p.EndpointURL != a.EndpointURL || p.WorkspaceID != ws {
				t.Fatalf("webhook a: %+v", p)
			}
		case b.ID:
			if p.Pending != 3 || p.Held != 2 || !p.OldestCreatedAt.Equal(old) {
				t.Fatalf("ordered webhook b: %+v", p)
			}
		default:
			t.Fatalf("stray %+v", p)
		}
	}
	size, err := s.DatabaseSize(ctx)
	if err != nil || size.Bytes <= 0 || size.FreeBytes < 0 || size.FreeBytes > size.Bytes {
		t.Fatalf("size %+v %v", size, err)
	}
	if _, err := s.ReclaimSpace(ctx); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
