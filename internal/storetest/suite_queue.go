package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// QueueStore is a store that is also the delivery queue.
type QueueStore interface {
	herald.Store
	herald.Queue
}

// RunQueue runs the conformance suite of herald.Queue; each subtest gets a
// fresh store. openTwo, if not nil, opens two stores on one database (two
// processes sharing PostgreSQL) for the concurrent-claim test.
func RunQueue(t *testing.T, open func(t testing.TB) QueueStore, openTwo func(t testing.TB) (QueueStore, QueueStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s QueueStore)
	}{
		{"IngestFansOutToPublishedWebhooks", testIngestFanOut},
		{"IngestIdempotency", testIngestIdempotency},
		{"IngestConcurrentGroupCommit", testIngestConcurrent},
		{"IngestFanOutTen", testIngestFanOutTen},
		{"ClaimLeaseAndTakeOver", testClaimLease},
		{"IngestClaimsItsOwnDeliveries", testIngestClaims},
		{"OutcomesAndAttempts", testOutcomes},
		{"StatsCountSuccessesNotLogged", testStatsUnloggedSuccesses},
		{"OrderedWebhookHoldsLaterDeliveries", testOrdered},
		{"ManualControls", testManualControls},
		{"StatsAndPurge", testStatsAndPurge},
		{"ListEvents", testListEvents},
		{"PostponeDue", testPostponeDue},
		{"BatchedPurgeRemovesOnlyWhatItShould", testBatchedPurge},
		{"PendingByWebhookAndSize", testPendingByWebhook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
	if openTwo != nil {
		t.Run("TwoProcessesNeverClaimTheSameDelivery", func(t *testing.T) {
			t.Parallel()
			a, b := openTwo(t)
			testDisjointClaims(t, a, b)
		})
		t.Run("OrderedWebhookAcrossProcesses", func(t *testing.T) {
			t.Parallel()
			a, b := openTwo(t)
			testOrderedAcrossProcesses(t, a, b)
		})
		t.Run("TwoProcessesRaceOnAnIdempotencyKey", func(t *testing.T) {
			t.Parallel()
			a, b := openTwo(t)
			testIdempotencyRace(t, a, b)
		})
	}
}

// publishedWebhook creates and publishes a webhook for event.
func publishedWebhook(t testing.TB, s herald.Store, ws, event string, ordered bool) *herald.Webhook {
	t.Helper()
	w := newWebhook(ws, "w "+event, event)
	w.Ordered = ordered
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetWebhookStatus(ctx, ws, w.ID, herald.Published, ""); err != nil {
		t.Fatal(err)
	}
	return w
}

func newEvent(ws, typ, key string, at time.Time) *herald.Event {
	data := map[string]any{"member": map[string]any{"id": "m-1", "points": json.Number("12")}}
	raw, _ := json.Marshal(data)
	return &herald.Event{ID: herald.NewID(), WorkspaceID: ws, Type: typ, OccurredAt: at, ReceivedAt: at, Data: data, RawData: raw, IdempotencyKey: key}
}

func ingest(t testing.TB, s QueueStore, evs ...*herald.Event) []herald.IngestResult {
	t.Helper()
	reqs := make([]*herald.IngestRequest, len(evs))
	for i, ev := range evs {
		reqs[i] = &herald.IngestRequest{Event: ev}
	}
	if err := s.Ingest(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	out := make([]herald.IngestResult, len(reqs))
	for i, r := range reqs {
		out[i] = r.Result
	}
	return out
}

func claimAll(t testing.TB, s QueueStore, at time.Time) []*herald.Claim {
	t.Helper()
	claims, err := s.ClaimDeliveries(ctx, at, time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

func testIngestFanOut(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	a := publishedWebhook(t, s, ws, "member.verified", false)
	b := publishedWebhook(t, s, ws, "member.verified", false)
	publishedWebhook(t, s, ws, "coupon.redeemed", false)
	publishedWebhook(t, s, other, "member.verified", false)
	draft := newWebhook(ws, "draft", "member.verified")
	if err := s.CreateWebhook(ctx, draft); err != nil {
		t.Fatal(err)
	}
	at := now()
	ev := newEvent(ws, "member.verified", "", at)
	res := ingest(t, s, ev, newEvent(ws, "member.app_opened", "", at))
	if res[0].EventID != ev.ID || res[0].Deliveries != 2 || res[0].Duplicate || res[1].Deliveries != 0 {
		t.Fatalf("results %+v", res)
	}
	got, err := s.Event(ctx, ws, ev.ID)
	if err != nil || got.Type != "member.verified" || got.Data["member"].(map[string]any)["points"] != json.Number("12") || !got.OccurredAt.Equal(at) {
		t.Fatalf("event read back %+v, %v", got, err)
	}
	if _, err := s.Event(ctx, other, ev.ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("event visible from another workspace: %v", err)
	}
	claims := claimAll(t, s, at)
	hooks := map[string]bool{}
	for _, c := range claims {
		hooks[c.WebhookID] = true
		if c.EventID != ev.ID || c.Status != herald.DeliveryPending || c.Attempts != 0 || c.EventType != "member.verified" {
			t.Fatalf("claim %+v", c)
		}
	}
	if len(claims) != 2 || !hooks[a.ID] || !hooks[b.ID] {
		t.Fatalf("claimed %d deliveries for %v, want one for each published member.verified webhook", len(claims), hooks)
	}
}

func testIngestIdempotency(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	publishedWebhook(t, s, ws, "member.verified", false)
	at := now()
	first := newEvent(ws, "member.verified", "order-42", at)
	r1 := ingest(t, s, first)[0]
	// The same key again, within a batch and later: the first answer, nothing new.
	again := ingest(t, s, newEvent(ws, "member.verified", "order-42", at.Add(time.Hour)), newEvent(ws, "member.verified", "k2", at), newEvent(ws, "member.verified", "k2", at))
	if again[0].EventID != first.ID || !again[0].Duplicate || again[0].Deliveries != 1 || !again[2].Duplicate || again[2].EventID != again[1].EventID || again[1].Duplicate {
		t.Fatalf("first %+v, repeats %+v", r1, again)
	}
	// Another workspace may use the same key.
	other := workspace(t, s, "other")
	if r := ingest(t, s, newEvent(other, "member.verified", "order-42", at))[0]; r.Duplicate {
		t.Fatal("a key of one workspace blocked another workspace")
	}
	// After the window the key is new again.
	late := ingest(t, s, newEvent(ws, "member.verified", "order-42", at.Add(herald.IdempotencyWindow+time.Minute)))[0]
	if late.Duplicate || late.EventID == first.ID {
		t.Fatalf("after 24 h: %+v", late)
	}
	if n := len(claimAll(t, s, at.Add(48*time.Hour))); n != 3 {
		t.Fatalf("%d deliveries, want 3 (first, k2, late)", n)
	}
}

func testIngestConcurrent(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	publishedWebhook(t, s, ws, "member.verified", false)
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	at := now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req := &herald.IngestRequest{Event: newEvent(ws, "member.verified", fmt.Sprintf("w%d-%d", w, i%20), at)}
				if err := s.Ingest(ctx, []*herald.IngestRequest{req}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Keys repeat after 20 per worker: 16×20 distinct events.
	if n := len(claimAll(t, s, at)); n != workers*20 {
		t.Fatalf("%d deliveries, want %d", n, workers*20)
	}
}

func testClaimLease(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	publishedWebhook(t, s, ws, "member.verified", false)
	at := now()
	ingest(t, s, newEvent(ws, "member.verified", "", at))
	if n := len(claimAll(t, s, at.Add(-time.Second))); n != 0 {
		t.Fatalf("claimed %d deliveries before they were due", n)
	}
	first, err := s.ClaimDeliveries(ctx, at, 30*time.Second, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %d, %v", len(first), err)
	}
	if n := len(claimAll(t, s, at.Add(29*time.Second))); n != 0 {
		t.Fatal("a leased delivery was claimed again before the lease expired")
	}
	// The worker "crashed": after the lease, another worker takes over.
	second := claimAll(t, s, at.Add(31*time.Second))
	if len(second) != 1 || second[0].ID != first[0].ID || second[0].Token == first[0].Token {
		t.Fatalf("take-over claim %+v", second)
	}
	// The stale worker's report logs its attempt but does not change the delivery.
	stale := &herald.OutcomeRecord{DeliveryID: first[0].ID, WebhookID: first[0].WebhookID, Token: first[0].Token, Status: herald.DeliverySucceeded,
		Counted: true, LastStatus: 200, At: at.Add(32 * time.Second), Attempt: attemptFor(first[0], herald.OutcomeSuccess, at)}
	if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{stale}); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Delivery(ctx, ws, first[0].ID)
	if d.Status != herald.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("stale report changed the delivery: %+v", d)
	}
	fresh := *stale
	fresh.Token = second[0].Token
	fresh.Attempt = attemptFor(second[0], herald.OutcomeSuccess, at)
	if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{&fresh}); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Delivery(ctx, ws, first[0].ID)
	if d.Status != herald.DeliverySucceeded || d.Attempts != 1 || d.NextAttemptAt != nil {
		t.Fatalf("after the owner's report: %+v", d)
	}
	attempts, _, _ := s.ListAttempts(ctx, ws, first[0].WebhookID, herald.AttemptFilter{})
	if len(attempts) != 2 {
		t.Fatalf("%d attempts logged, want both calls", len(attempts))
	}
}

// An ingest with ClaimLease leases its due deliveries in the same
// transaction: they come back as claims, no claim takes them until the
// lease ends, the claim token records their outcome, and an ordered
// webhook's held delivery is not claimed.
func testIngestClaims(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	a := publishedWebhook(t, s, ws, "member.verified", false)
	publishedWebhook(t, s, ws, "member.verified", false)
	ordered := publishedWebhook(t, s, ws, "member.verified", true)
	at := now()
	lease := time.Minute
	reqs := []*herald.IngestRequest{{Event: newEvent(ws, "member.verified", "", at), ClaimLease: lease},
		{Event: newEvent(ws, "member.verified", "", at), ClaimLease: lease}}
	if err := s.Ingest(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	// Event 1: three deliveries claimed. Event 2: two claimed; its
	// delivery to the ordered webhook is held behind event 1's.
	if len(reqs[0].Claims) != 3 || len(reqs[1].Claims) != 2 || reqs[0].Result.Deliveries != 3 || reqs[1].Result.Deliveries != 3 {
		t.Fatalf("claims %d and %d, deliveries %d and %d", len(reqs[0].Claims), len(reqs[1].Claims), reqs[0].Result.Deliveries, reqs[1].Result.Deliveries)
	}
	for _, c := range reqs[1].Claims {
		if c.WebhookID == ordered.ID {
			t.Fatal("the held delivery of an ordered webhook was claimed at ingest")
		}
	}
	if n := len(claimAll(t, s, at.Add(lease-time.Second))); n != 0 {
		t.Fatalf("a claim took %d deliveries leased at ingest", n)
	}
	var mine *herald.Claim
	for _, c := range reqs[0].Claims {
		if c.WebhookID == a.ID {
			mine = c
		}
		if c.EventID != reqs[0].Event.ID || c.Status != herald.DeliveryPending || c.Token == "" || c.NextAttemptAt == nil || !c.NextAttemptAt.Equal(at.Add(lease)) {
			t.Fatalf("claim %+v", c)
		}
	}
	rec := &herald.OutcomeRecord{DeliveryID: mine.ID, WebhookID: a.ID, Token: mine.Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 200, At: at}
	if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{rec}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Delivery(ctx, ws, mine.ID); err != nil || d.Status != herald.DeliverySucceeded || d.Attempts != 1 {
		t.Fatalf("outcome under the ingest's claim token: %+v, %v", d, err)
	}
	// After the lease the others are due again (a process that died
	// after ingest loses nothing).
	if n := len(claimAll(t, s, at.Add(lease))); n != 4 {
		t.Fatalf("%d due after the lease, want 4", n)
	}
}

func attemptFor(c *herald.Claim, outcome herald.Outcome, at time.Time) *herald.Attempt {
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: c.Attempts + 1, StartedAt: at, DurationMS: 12.5, Outcome: outcome, RequestMethod: "POST", RequestURL: "https://x.example.com/",
		RequestHeaders: []herald.Header{{Name: "Content-Type", Value: "application/json"}}, RequestBody: `{"a":1}`}
	if outcome == herald.OutcomeSuccess {
		a.ResponseStatus = 200
	} else {
		a.ResponseStatus, a.ErrorClass, a.Error = 503, herald.ErrClassHTTP, "503 Service Unavailable"
	}
	a.ResponseHeaders = []herald.Header{{Name: "X-R", Value: "1"}}
	a.ResponseBody = "ok"
	return a
}

func testOutcomes(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	w := publishedWebhook(t, s, ws, "member.verified", false)
	at := now()
	ingest(t, s, newEvent(ws, "member.verified", "", at), newEvent(ws, "member.verified", "", at))
	claims := claimAll(t, s, at)
	if len(claims) != 2 {
		t.Fatal(len(claims))
	}
	retryAt := at.Add(5 * time.Second)
	recs := []*herald.OutcomeRecord{
		{DeliveryID: claims[0].ID, WebhookID: w.ID, Token: claims[0].Token, Status: herald.DeliveryPending, NextAttemptAt: retryAt, Counted: true,
			LastStatus: 503, LastError: "503 Service Unavailable", At: at, Attempt: attemptFor(claims[0], herald.OutcomeFailure, at)},
		// A deferral: no request, no attempt counted or logged.
		{DeliveryID: claims[1].ID, WebhookID: w.ID, Token: claims[1].Token, Status: herald.DeliveryPending, NextAttemptAt: retryAt, At: at},
	}
	if err := s.RecordOutcomes(ctx, recs); err != nil {
		t.Fatal(err)
	}
	d0, _ := s.Delivery(ctx, ws, claims[0].ID)
	d1, _ := s.Delivery(ctx, ws, claims[1].ID)
	if d0.Attempts != 1 || d0.LastStatus != 503 || d0.NextAttemptAt == nil || !d0.NextAttemptAt.Equal(retryAt) || d1.Attempts != 0 {
		t.Fatalf("after retry/deferral: %+v / %+v", d0, d1)
	}
	hook, _ := s.Webhook(ctx, ws, w.ID)
	if hook.FailingSince == nil {
		t.Fatal("a failure did not mark the webhook failing")
	}
	if n := len(claimAll(t, s, at.Add(4*time.Second))); n != 0 {
		t.Fatal("claimed before the retry time")
	}
	again := claimAll(t, s, retryAt)
	if len(again) != 2 {
		t.Fatalf("%d due at retry time", len(again))
	}
	var final []*herald.OutcomeRecord
	for _, c := range again {
		final = append(final, &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: w.ID, Token: c.Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 204, At: retryAt,
			Attempt: attemptFor(c, herald.OutcomeSuccess, retryAt)})
	}
	if err := s.RecordOutcomes(ctx, final); err != nil {
		t.Fatal(err)
	}
	hook, _ = s.Webhook(ctx, ws, w.ID)
	if hook.FailingSince != nil {
		t.Fatal("a success did not clear failing_since")
	}
	atts, _, err := s.ListAttempts(ctx, ws, w.ID, herald.AttemptFilter{})
	if err != nil || len(atts) != 3 {
		t.Fatalf("%d attempts, %v", len(atts), err)
	}
	fail, _, _ := s.ListAttempts(ctx, ws, w.ID, herald.AttemptFilter{Outcome: herald.OutcomeFailure})
	if len(fail) != 1 || fail[0].ResponseStatus != 503 || fail[0].ErrorClass != herald.ErrClassHTTP || fail[0].RequestHeaders[0].Name != "Content-Type" || fail[0].DurationMS != 12.5 {
		t.Fatalf("failure attempt %+v", fail)
	}
	one, err := s.Attempt(ctx, ws, fail[0].ID)
	if err != nil || one.ResponseBody != "ok" || one.RequestBody != `{"a":1}` {
		t.Fatalf("attempt %+v %v", one, err)
	}
	if _, err := s.Attempt(ctx, workspace(t, s, "other"), fail[0].ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("attempt visible from another workspace: %v", err)
	}
	if late, _, _ := s.ListAttempts(ctx, ws, w.ID, herald.AttemptFilter{Since: retryAt}); len(late) != 2 {
		t.Fatalf("since filter: %d", len(late))
	}
	if early, _, _ := s.ListAttempts(ctx, ws, w.ID, herald.AttemptFilter{Until: retryAt}); len(early) != 1 {
		t.Fatalf("until filter: %d", len(early))
	}
	stats, err := s.AttemptStats(ctx, ws, w.ID, at.Add(-time.Hour))
	if err != nil || len(stats) == 0 {
		t.Fatalf("stats %v %v", stats, err)
	}
	var succ, failN int
	for _, st := range stats {
		succ += st.Successes
		failN += st.Failures
	}
	if succ != 2 || failN != 1 {
		t.Fatalf("stats count %d/%d, want 2/1", succ, failN)
	}
	ds, _, _ := s.ListDeliveries(ctx, ws, w.ID, herald.DeliveryFilter{Status: herald.DeliverySucceeded})
	if len(ds) != 2 {
		t.Fatalf("%d succeeded deliveries", len(ds))
	}
}

// testStatsUnloggedSuccesses: a webhook that logs only errors stores no
// attempt for a success, yet the hourly stats count it (from the delivery).
func testStatsUnloggedSuccesses(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	w := publishedWebhook(t, s, ws, "member.verified", false)
	at := now()
	ingest(t, s, newEvent(ws, "member.verified", "", at), newEvent(ws, "member.verified", "", at), newEvent(ws, "member.verified", "", at))
	claims := claimAll(t, s, at)
	if len(claims) != 3 {
		t.Fatal(len(claims))
	}
	recs := []*herald.OutcomeRecord{
		{DeliveryID: claims[0].ID, WebhookID: w.ID, Token: claims[0].Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 204, At: at},
		{DeliveryID: claims[1].ID, WebhookID: w.ID, Token: claims[1].Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 204, At: at},
		{DeliveryID: claims[2].ID, WebhookID: w.ID, Token: claims[2].Token, Status: herald.DeliveryFailed, Counted: true, LastStatus: 503,
			LastError: "503 Service Unavailable", At: at, Attempt: attemptFor(claims[2], herald.OutcomeFailure, at)},
	}
	if err := s.RecordOutcomes(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if atts, _, _ := s.ListAttempts(ctx, ws, w.ID, herald.AttemptFilter{}); len(atts) != 1 {
		t.Fatalf("%d attempts stored, want only the failure", len(atts))
	}
	stats, err := s.AttemptStats(ctx, ws, w.ID, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var succ, failN int
	for _, st := range stats {
		succ += st.Successes
		failN += st.Failures
		if st.Hour.After(at) || st.Hour.Before(at.Add(-time.Hour)) {
			t.Fatalf("hour %v for a delivery at %v", st.Hour, at)
		}
	}
	if succ != 2 || failN != 1 {
		t.Fatalf("stats count %d/%d, want 2/1", succ, failN)
	}
	if later, _ := s.AttemptStats(ctx, ws, w.ID, at.Add(time.Hour)); len(later) != 0 {
		t.Fatalf("stats since an hour later: %+v", later)
	}
}

func testOrdered(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	w := publishedWebhook(t, s, ws, "member.verified", true)
	at := now()
	evs := []*herald.Event{newEvent(ws, "member.verified", "", at), newEvent(ws, "member.verified", "", at)}
	ingest(t, s, evs...)
	ingest(t, s, newEvent(ws, "member.verified", "", at))
	var order []string
	for step := 0; step < 3; step++ {
		claims := claimAll(t, s, at.Add(time.Duration(step)*time.Second))
		if len(claims) != 1 {
			t.Fatalf("step %d: %d claimable deliveries of an ordered webhook, want 1", step, len(claims))
		}
		order = append(order, claims[0].EventID)
		status := herald.DeliverySucceeded
		if step == 1 {
			status = herald.DeliveryFailed // failed for good also releases the next
		}
		if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: claims[0].ID, WebhookID: w.ID, Token: claims[0].Token, Status: status,
			Counted: true, LastStatus: 200, Ordered: true, At: at.Add(time.Duration(step) * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
	if order[0] != evs[0].ID || order[1] != evs[1].ID {
		t.Fatalf("delivered out of event order: %v", order)
	}
}

func testManualControls(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	w := publishedWebhook(t, s, ws, "member.verified", false)
	other := newWebhook(ws, "other", "member.verified")
	if err := s.CreateWebhook(ctx, other); err != nil {
		t.Fatal(err)
	}
	at := now()
	ev := newEvent(ws, "member.verified", "", at)
	ingest(t, s, ev, newEvent(ws, "member.verified", "", at))
	claims := claimAll(t, s, at)
	fail := func(c *herald.Claim) {
		if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: c.ID, WebhookID: w.ID, Token: c.Token, Status: herald.DeliveryFailed, Counted: true, LastStatus: 500, At: at}}); err != nil {
			t.Fatal(err)
		}
	}
	fail(claims[0])
	// (claims[1] stays leased until at+1m)
	d, err := s.RetryDelivery(ctx, ws, claims[0].ID, at.Add(30*time.Second))
	if err != nil || d.Status != herald.DeliveryPending || !d.NextAttemptAt.Equal(at.Add(30*time.Second)) {
		t.Fatalf("retry: %+v %v", d, err)
	}
	if _, err := s.RetryDelivery(ctx, workspace(t, s, "other"), claims[0].ID, at); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("retry from another workspace: %v", err)
	}
	re := claimAll(t, s, at.Add(30*time.Second))
	if len(re) != 1 || re[0].ID != claims[0].ID {
		t.Fatalf("after retry claimed %+v", re)
	}
	if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: re[0].ID, WebhookID: w.ID, Token: re[0].Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 200, At: at}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetryDelivery(ctx, ws, re[0].ID, at); herald.ErrorCodeOf(err) != herald.EConflict {
		t.Fatalf("retry of a succeeded delivery: %v", err)
	}
	nd, err := s.CreateDelivery(ctx, ws, ev.ID, other.ID, at)
	if err != nil || nd.WebhookID != other.ID || nd.Status != herald.DeliveryPending || nd.EventID != ev.ID {
		t.Fatalf("resend: %+v %v", nd, err)
	}
	if _, err := s.CreateDelivery(ctx, ws, ev.ID, herald.NewID(), at); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("resend to a missing webhook: %v", err)
	}
	fail(claims[1])
	n, err := s.ReplayFailed(ctx, ws, w.ID, at.Add(-time.Minute), at.Add(time.Minute), at)
	if err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	n, err = s.CancelPending(ctx, w.ID, "webhook unpublished", at)
	if err != nil || n != 1 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	c, _ := s.Delivery(ctx, ws, claims[1].ID)
	if c.Status != herald.DeliveryCanceled || c.StatusReason != "webhook unpublished" {
		t.Fatalf("canceled: %+v", c)
	}
	if err := s.SetSigningSecrets(ctx, ws, w.ID, "whsec_bmV3", "whsec_b2xk", at.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	hook, _ := s.Webhook(ctx, ws, w.ID)
	if hook.SigningSecret != "whsec_bmV3" || hook.PreviousSigningSecret != "whsec_b2xk" || !hook.PreviousSecretExpiresAt.Equal(at.Add(24*time.Hour)) {
		t.Fatalf("rotated secrets: %+v", hook)
	}
}

func testStatsAndPurge(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	publishedWebhook(t, s, ws, "member.verified", false)
	old := now().Add(-40 * 24 * time.Hour)
	ingest(t, s, newEvent(ws, "member.verified", "", old), newEvent(ws, "member.verified", "", now()))
	n, oldest, err := s.QueueStats(ctx)
	if err != nil || n != 2 || !oldest.Equal(old) {
		t.Fatalf("stats %d %v %v", n, oldest, err)
	}
	// A pending delivery keeps its event however old.
	cut := herald.PurgeCutoffs{Default: now().Add(-30 * 24 * time.Hour)}
	if _, err := s.Purge(ctx, cut, 100); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.QueueStats(ctx); n != 2 {
		t.Fatalf("purge removed pending work: %d left", n)
	}
	claims := claimAll(t, s, now())
	for _, c := range claims {
		if err := s.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: herald.DeliverySucceeded,
			Counted: true, LastStatus: 200, At: now(), Attempt: attemptFor(c, herald.OutcomeSuccess, c.CreatedAt)}}); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := s.Purge(ctx, cut, 100)
	if err != nil || gone != (herald.PurgeResult{Attempts: 1, Events: 1, Deliveries: 1}) { // the old attempt, the old event and its delivery
		t.Fatalf("purged %+v, %v; want 1 of each", gone, err)
	}
	if n, _, _ := s.QueueStats(ctx); n != 0 {
		t.Fatalf("%d pending", n)
	}
}

// testDisjointClaims: two stores on one database claim concurrently; no
// delivery is handed to both.
func testDisjointClaims(t *testing.T, a, b QueueStore) {
	ws := workspace(t, a, "default")
	publishedWebhook(t, a, ws, "member.verified", false)
	at := now()
	var evs []*herald.Event
	for i := 0; i < 400; i++ {
		evs = append(evs, newEvent(ws, "member.verified", "", at))
	}
	ingest(t, a, evs...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range []QueueStore{a, b, a, b} {
		wg.Add(1)
		go func(s QueueStore) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				claims, err := s.ClaimDeliveries(ctx, at, time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, c := range claims {
					seen[c.ID]++
				}
				mu.Unlock()
				if len(claims) == 0 {
					return
				}
			}
		}(s)
	}
	wg.Wait()
	if len(seen) != 400 {
		t.Fatalf("claimed %d distinct deliveries, want 400", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}

// testIngestFanOutTen ingests a batch whose deliveries outnumber its
// events (ten webhooks): every delivery lands and refers to its event.
func testIngestFanOutTen(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	for i := 0; i < 10; i++ {
		publishedWebhook(t, s, ws, "member.verified", false)
	}
	at := now()
	var evs []*herald.Event
	for i := 0; i < 150; i++ {
		evs = append(evs, newEvent(ws, "member.verified", "", at))
	}
	for _, r := range ingest(t, s, evs...) {
		if r.Deliveries != 10 {
			t.Fatalf("result %+v", r)
		}
	}
	claims, err := s.ClaimDeliveries(ctx, at, time.Minute, 2000)
	if err != nil || len(claims) != 1500 {
		t.Fatalf("claimed %d, %v; want 1500", len(claims), err)
	}
}

func testListEvents(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	at := now()
	ingest(t, s, newEvent(ws, "member.verified", "", at.Add(-48*time.Hour)), newEvent(ws, "herald.webhook.disabled", "", at.Add(-48*time.Hour)))
	recent := newEvent(ws, "herald.delivery.exhausted", "", at)
	ingest(t, s, recent, newEvent(other, "herald.webhook.disabled", "", at), newEvent(ws, "heraldXwebhook", "", at))
	list, err := s.ListEvents(ctx, ws, herald.EventFilter{TypePrefix: "herald.", Since: at.Add(-time.Hour)})
	if err != nil || len(list) != 1 || list[0].ID != recent.ID {
		t.Fatalf("recent alerts: %v %v", list, err)
	}
	all, _ := s.ListEvents(ctx, ws, herald.EventFilter{TypePrefix: "herald."})
	if len(all) != 2 || all[0].ID != recent.ID {
		t.Fatalf("alerts newest first: %d", len(all))
	}
}

func testPostponeDue(t *testing.T, s QueueStore) {
	ws := workspace(t, s, "default")
	slow := publishedWebhook(t, s, ws, "member.verified", false)
	fast := publishedWebhook(t, s, ws, "member.verified", false)
	at := now()
	ingest(t, s, newEvent(ws, "member.verified", "", at), newEvent(ws, "member.verified", "", at))
	// One of the slow webhook's deliveries is in flight: it stays with its worker.
	inFlight, err := s.ClaimDeliveries(ctx, at, time.Minute, 1)
	if err != nil || len(inFlight) != 1 {
		t.Fatal(err)
	}
	n, err := s.PostponeDue(ctx, []string{slow.ID}, at, at.Add(7*time.Second), 100)
	wantMoved := 2
	if inFlight[0].WebhookID == slow.ID {
		wantMoved = 1
	}
	if err != nil || n != wantMoved {
		t.Fatalf("postponed %d, %v; want %d", n, err, wantMoved)
	}
	claims := claimAll(t, s, at)
	for _, c := range claims {
		if c.WebhookID == slow.ID {
			t.Fatal("a postponed delivery was claimed before its time")
		}
	}
	if len(claims) != 2-boolInt(inFlight[0].WebhookID == fast.ID) {
		t.Fatalf("claimed %d of the fast webhook's deliveries", len(claims))
	}
	if later := claimAll(t, s, at.Add(7*time.Second)); len(later) != wantMoved {
		t.Fatalf("after the postponement %d claimable, want %d", len(later), wantMoved)
	}
	// A bounded slice: the soonest due first, never the whole queue.
	var evs []*herald.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, newEvent(ws, "member.verified", "", at.Add(time.Duration(i)*time.Second)))
	}
	ingest(t, s, evs...)
	late := at.Add(10 * time.Second)
	if n, err := s.PostponeDue(ctx, []string{slow.ID}, late, late.Add(time.Minute), 2); err != nil || n != 2 {
		t.Fatalf("a slice of 2 postponed %d, %v", n, err)
	}
	for _, c := range claimAll(t, s, late) {
		if c.WebhookID == slow.ID && c.CreatedAt.Before(at.Add(2*time.Second)) {
			t.Fatalf("the soonest due were not the ones postponed: %v claimed", c.CreatedAt)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// testIdempotencyRace: two processes ingest the same key at once; both
// answer with one event, and nothing fails.
func testIdempotencyRace(t *testing.T, a, b QueueStore) {
	ws := workspace(t, a, "default")
	publishedWebhook(t, a, ws, "member.verified", false)
	for round := 0; round < 20; round++ {
		key := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		results := make([]herald.IngestResult, 2)
		errs := make([]error, 2)
		for i, s := range []QueueStore{a, b} {
			wg.Add(1)
			go func(i int, s QueueStore) {
				defer wg.Done()
				req := &herald.IngestRequest{Event: newEvent(ws, "member.verified", key, now())}
				errs[i] = s.Ingest(ctx, []*herald.IngestRequest{req})
				results[i] = req.Result
			}(i, s)
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v / %v", round, errs[0], errs[1])
		}
		if results[0].EventID != results[1].EventID || results[0].Duplicate == results[1].Duplicate {
			t.Fatalf("round %d: %+v / %+v", round, results[0], results[1])
		}
	}
}

// testOrderedAcrossProcesses: two processes ingest into one ordered
// webhook while its deliveries complete; at every moment at most one of
// its deliveries is claimable, and all arrive in the end.
func testOrderedAcrossProcesses(t *testing.T, a, b QueueStore) {
	ws := workspace(t, a, "default")
	w := publishedWebhook(t, a, ws, "member.verified", true)
	const perProcess = 30
	var wg sync.WaitGroup
	for _, s := range []QueueStore{a, b} {
		wg.Add(1)
		go func(s QueueStore) {
			defer wg.Done()
			for i := 0; i < perProcess; i++ {
				if err := s.Ingest(ctx, []*herald.IngestRequest{{Event: newEvent(ws, "member.verified", "", now())}}); err != nil {
					t.Error(err)
					return
				}
			}
		}(s)
	}
	defer wg.Wait()
	done := 0
	deadline := time.Now().Add(30 * time.Second)
	for done < 2*perProcess {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d deliveries of the ordered webhook finished: one is stuck held", done, 2*perProcess)
		}
		claims, err := a.ClaimDeliveries(ctx, now().Add(time.Hour), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) > 1 {
			t.Fatalf("%d deliveries of an ordered webhook claimable at once", len(claims))
		}
		for _, c := range claims {
			rec := &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: w.ID, Token: c.Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 200, Ordered: true, At: now()}
			if err := b.RecordOutcomes(ctx, []*herald.OutcomeRecord{rec}); err != nil {
				t.Fatal(err)
			}
			done++
		}
		if len(claims) == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
