package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/storetest"
)

const memberData = `{"member": {"id": "bf428af0/x y", "email": "ana+vip@example.com", "points": 1250, "param": {"first_name": "Ana \"A\""}}}`

// Every header a receiver gets, and a signature that a third-party
// Standard Webhooks verifier accepts.
func TestRequestHeadersAuthAndSignature(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			o := envOpts{}
			if name == "postgres" {
				o.store = storetest.OpenPostgres(t)
			}
			e := setup(t, o)
			rc := newReceiver(t, nil)
			auth, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL, Type: herald.AuthHeader,
				Header: &herald.HeaderAuth{Key: "X-Api-Key", Value: "sk_live_secret_value_0042", Visibility: herald.Secret}})
			if err != nil {
				t.Fatal(err)
			}
			w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: auth.ID, EndpointURL: rc.URL + "/members/{{ member.id }}",
				CustomHeaders: []herald.Header{{Name: "X-Source", Value: "herald"}, {Name: "X-Member", Value: "{{ member.param.first_name }}"}}})
			res := e.send("member.verified", memberData)
			if res.Deliveries != 1 {
				t.Fatalf("ingest %+v", res)
			}
			r := rc.next(t, 10*time.Second)
			want := map[string]string{"Content-Type": "application/json", "X-Source": "herald", "X-Member": `Ana "A"`, "X-Api-Key": "sk_live_secret_value_0042"}
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if !strings.HasPrefix(r.header.Get("User-Agent"), "herald") {
				t.Errorf("User-Agent %q", r.header.Get("User-Agent"))
			}
			if r.method != "POST" || r.path != "/members/bf428af0/x y" || string(r.body) != `{"member": "bf428af0/x y", "email": "ana+vip@example.com"}` {
				t.Errorf("request %s %s %s", r.method, r.path, r.body)
			}
			hook, _ := e.store.Webhook(ctx, e.ws, w.ID)
			verifier, err := standardwebhooks.NewWebhook(hook.SigningSecret)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifier.Verify(r.body, r.header); err != nil {
				t.Fatalf("the Standard Webhooks verifier rejects the signature: %v", err)
			}
			d := e.waitDelivery(w.ID, herald.DeliverySucceeded, 10*time.Second)
			if r.header.Get("webhook-id") != d.ID {
				t.Fatalf("webhook-id %q, delivery %s", r.header.Get("webhook-id"), d.ID)
			}
			atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
			if len(atts) != 1 || atts[0].ResponseStatus != 204 || atts[0].Outcome != herald.OutcomeSuccess {
				t.Fatalf("attempts %+v", atts)
			}
			logged, _ := json.Marshal(atts[0])
			if strings.Contains(string(logged), "sk_live_secret_value_0042") {
				t.Fatal("the attempt log holds the SECRET header value")
			}
			if !strings.Contains(string(logged), "X-Api-Key") || !strings.Contains(string(logged), "••••") {
				t.Fatalf("the attempt log should show the header, redacted: %s", logged)
			}
		})
	}
}

func TestPayloadTypesAndMethods(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, nil)
	cases := []struct {
		method   string
		pt       herald.PayloadType
		payload  string
		wantCT   string
		wantBody string
		wantQ    string
	}{
		{"POST", herald.PayloadJSON, `{"e": "{{ member.email }}", "p": {{ member.points }}}`, "application/json", `{"e": "ana+vip@example.com", "p": 1250}`, ""},
		{"PUT", herald.PayloadXML, `<m email="{{ member.email }}">{{ member.param.first_name }}</m>`, "application/xml", `<m email="ana+vip@example.com">Ana &quot;A&quot;</m>`, ""},
		{"PATCH", herald.PayloadPlain, `hello {{ member.param.first_name }}`, "text/plain; charset=utf-8", `hello Ana "A"`, ""},
		{"POST", herald.PayloadForm, `email={{ member.email }}&n={{ member.param.first_name }}`, "application/x-www-form-urlencoded", `email=ana%2Bvip%40example.com&n=Ana+%22A%22`, ""},
		{"DELETE", herald.PayloadJSON, `{"id": "{{ member.id }}"}`, "application/json", `{"id": "bf428af0/x y"}`, ""},
		{"GET", herald.PayloadForm, `email={{ member.email }}`, "", "", "v=1&email=ana%2Bvip%40example.com"},
	}
	for i, c := range cases {
		w := e.webhook(herald.WebhookSpec{Method: c.method, PayloadType: c.pt, Payload: c.payload, EndpointURL: rc.URL + "/c" + itoa(i) + "?v=1"})
		_ = w
	}
	e.send("member.verified", memberData)
	got := map[string]*recorded{}
	for range cases {
		r := rc.next(t, 10*time.Second)
		got[r.path] = r
	}
	for i, c := range cases {
		r := got["/c"+itoa(i)]
		if r == nil {
			t.Fatalf("case %d: no request", i)
		}
		if r.method != c.method || r.header.Get("Content-Type") != c.wantCT || string(r.body) != c.wantBody {
			t.Errorf("case %d: %s %q %q", i, r.method, r.header.Get("Content-Type"), r.body)
		}
		if c.wantQ != "" && r.query != c.wantQ {
			t.Errorf("case %d: query %q, want %q", i, r.query, c.wantQ)
		}
		if c.wantQ == "" && r.query != "v=1" {
			t.Errorf("case %d: query %q", i, r.query)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestBasicAuthIsSentAndRedacted(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, nil)
	auth, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL, Type: herald.AuthBasic,
		Basic: &herald.BasicAuth{Username: "herald", Password: "correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: auth.ID, EndpointURL: rc.URL + "/in"})
	e.send("member.verified", memberData)
	r := rc.next(t, 10*time.Second)
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("herald:correct horse battery"))
	if r.header.Get("Authorization") != wantAuth {
		t.Fatalf("Authorization %q", r.header.Get("Authorization"))
	}
	e.waitDelivery(w.ID, herald.DeliverySucceeded, 5*time.Second)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	logged, _ := json.Marshal(atts)
	if strings.Contains(string(logged), base64.StdEncoding.EncodeToString([]byte("herald:correct horse battery"))) || !strings.Contains(string(logged), "Basic ••••") {
		t.Fatalf("basic credentials not redacted in the log: %s", logged)
	}
}

// Retries follow the schedule on a fake clock: 503, 503, then 200.
func TestRetryScheduleOnFakeClock(t *testing.T) {
	e := setup(t, envOpts{fakeClock: true})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL})
	start := e.clock.Now()
	e.send("member.verified", memberData)
	rc.next(t, 5*time.Second)
	d := waitAttempts(t, e, w.ID, 1)
	if d.Status != herald.DeliveryPending || !d.NextAttemptAt.Equal(start.Add(5*time.Second)) {
		t.Fatalf("after the first failure: %+v (want next attempt at start+5s)", d)
	}
	e.advance(4 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if rc.count() != 1 {
		t.Fatal("retried before the schedule said")
	}
	e.advance(time.Second)
	rc.next(t, 5*time.Second)
	d = waitAttempts(t, e, w.ID, 2)
	if !d.NextAttemptAt.Equal(start.Add(5*time.Second + 5*time.Minute)) {
		t.Fatalf("second retry at %v, want start+5m5s", d.NextAttemptAt)
	}
	e.advance(5 * time.Minute)
	rc.next(t, 5*time.Second)
	d = e.waitDelivery(w.ID, herald.DeliverySucceeded, 5*time.Second)
	if d.Attempts != 3 {
		t.Fatalf("attempts %d", d.Attempts)
	}
	first, _ := rc.requests[0], rc.requests[2]
	if first.header.Get("webhook-id") != rc.requests[2].header.Get("webhook-id") {
		t.Fatal("webhook-id changed between attempts")
	}
}

func waitAttempts(t *testing.T, e *env, hookID string, n int) *herald.Delivery {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, _, _ := e.store.ListDeliveries(ctx, e.ws, hookID, herald.DeliveryFilter{})
		if len(list) == 1 && list[0].Attempts >= n {
			return list[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("delivery did not reach %d attempts", n)
	return nil
}

func TestRetryAfterIsHonoured(t *testing.T) {
	e := setup(t, envOpts{fakeClock: true})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL})
	start := e.clock.Now()
	e.send("member.verified", memberData)
	d := waitAttempts(t, e, w.ID, 1)
	if !d.NextAttemptAt.Equal(start.Add(120 * time.Second)) {
		t.Fatalf("next attempt at %v, want start+120s (Retry-After)", d.NextAttemptAt)
	}
}

func TestJitterBounds(t *testing.T) {
	for _, r := range []float64{0, 0.25, 0.5, 0.999} {
		p := JitteredSchedule{Jitter: 0.2, Rand: func() float64 { return r }}
		d, ok := p.Next(DefaultSchedule, 2, 0)
		if !ok || d < 4*time.Minute || d > 6*time.Minute {
			t.Fatalf("rand %v: delay %v outside 5m ±20%%", r, d)
		}
	}
	p := JitteredSchedule{Jitter: 0.2, Rand: randFloat, MinRetryAfter: time.Second, MaxRetryAfter: time.Hour}
	if _, ok := p.Next(DefaultSchedule, len(DefaultSchedule), 0); ok {
		t.Fatal("an attempt after the last")
	}
	if d, _ := p.Next(DefaultSchedule, 1, 48*time.Hour); d != time.Hour {
		t.Fatalf("Retry-After not capped: %v", d)
	}
}

// Exhausted attempts fail the delivery and raise herald.delivery.exhausted,
// which an admin's webhook receives.
func TestExhaustedRaisesAlert(t *testing.T) {
	e := setup(t, envOpts{})
	failing := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	alerts := newReceiver(t, nil)
	w := e.webhook(herald.WebhookSpec{EndpointURL: failing.URL, RetrySchedule: []string{"0s", "10ms"}})
	e.webhook(herald.WebhookSpec{Event: "herald.delivery.exhausted", EndpointURL: alerts.URL, Payload: `{"text": "{{ webhook.name }}: {{ delivery.last_error }} after {{ delivery.attempts }} attempts"}`})
	e.send("member.verified", memberData)
	d := e.waitDelivery(w.ID, herald.DeliveryFailed, 10*time.Second)
	if d.Attempts != 2 || !strings.Contains(d.StatusReason, "after 2 attempts") {
		t.Fatalf("failed delivery %+v", d)
	}
	a := alerts.next(t, 10*time.Second)
	if string(a.body) != `{"text": "test hook: the receiver answered 500 Internal Server Error after 2 attempts"}` {
		t.Fatalf("alert body %s", a.body)
	}
}

func TestGoneUnpublishesAndCancels(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, Ordered: true})
	e.send("member.verified", memberData)
	e.send("member.verified", memberData) // held behind the first (ordered)
	e.waitDelivery(w.ID, herald.DeliveryFailed, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		hook, _ := e.store.Webhook(ctx, e.ws, w.ID)
		if hook.Status == herald.Unpublished && strings.Contains(hook.StatusReason, "410") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not unpublished: %+v", hook)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := e.waitDelivery(w.ID, herald.DeliveryCanceled, 5*time.Second)
	if !strings.Contains(c.StatusReason, "unpublished") {
		t.Fatalf("canceled reason %q", c.StatusReason)
	}
	if rc.count() != 1 {
		t.Fatalf("%d requests after 410", rc.count())
	}
}

func TestAutoDisableAfterFailingTooLong(t *testing.T) {
	var logs logBuffer
	e := setup(t, envOpts{fakeClock: true, log: logs.logger(), cfg: Config{DisableAfter: 30 * time.Minute, FailingAlertAfter: 10 * time.Minute}})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, RetrySchedule: []string{"0s", "15m", "40m", "40m"}})
	e.send("member.verified", memberData)
	waitAttempts(t, e, w.ID, 1)
	e.advance(16 * time.Minute)
	waitAttempts(t, e, w.ID, 2)
	for i := 0; i < 500 && logs.count("webhook failing") == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if logs.count("webhook failing") != 1 {
		t.Fatalf("failing for 16 minutes (alert after 10) not logged once:\n%s", logs.String())
	}
	e.advance(41 * time.Minute)
	d := e.waitDelivery(w.ID, herald.DeliveryCanceled, 5*time.Second)
	if !strings.Contains(d.StatusReason, "disabled automatically") || rc.count() != 2 {
		t.Fatalf("delivery %+v after %d requests", d, rc.count())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		hook, _ := e.store.Webhook(ctx, e.ws, w.ID)
		if hook.Status == herald.Unpublished && logs.count("webhook disabled") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook still published, or its disabling not logged once:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// acquire1 is acquire that does not wait for a slot.
func (e *endpoints) acquire1(key string, now time.Time) admission {
	done := make(chan struct{})
	close(done)
	return e.acquire(key, now, true, done)
}

func TestCircuitBreaker(t *testing.T) {
	eps := endpoints{limits: EndpointLimits{Concurrency: 10, BreakerThreshold: 3, BreakerCooldown: 30 * time.Second, BreakerMax: 2 * time.Minute}}
	now := time.Unix(1000, 0)
	key := "https://dead.example.com:443"
	for i := 0; i < 3; i++ {
		a := eps.acquire1(key, now)
		if !a.ok {
			t.Fatalf("attempt %d refused before the threshold", i)
		}
		eps.release(key, now, a.probe, false, true)
	}
	if a := eps.acquire1(key, now.Add(10*time.Second)); a.ok || !a.deferUntil.Equal(now.Add(30*time.Second)) {
		t.Fatalf("open circuit admitted or wrong wait: %+v", a)
	}
	probe := eps.acquire1(key, now.Add(31*time.Second))
	if !probe.ok || !probe.probe {
		t.Fatalf("no half-open probe: %+v", probe)
	}
	if a := eps.acquire1(key, now.Add(31*time.Second)); a.ok {
		t.Fatal("a second request during the probe")
	}
	eps.release(key, now.Add(32*time.Second), true, false, true)
	if a := eps.acquire1(key, now.Add(32*time.Second+59*time.Second)); a.ok {
		t.Fatal("cooldown did not double after a failed probe")
	}
	probe = eps.acquire1(key, now.Add(32*time.Second+61*time.Second))
	if !probe.ok {
		t.Fatal("no probe after the doubled cooldown")
	}
	eps.release(key, now.Add(100*time.Second), true, true, true)
	if a := eps.acquire1(key, now.Add(100*time.Second)); !a.ok || a.probe {
		t.Fatalf("circuit not closed after a successful probe: %+v", a)
	}
	// A 4xx does not count against the endpoint's health.
	other := "https://alive.example.com:443"
	for i := 0; i < 5; i++ {
		a := eps.acquire1(other, now)
		eps.release(other, now, a.probe, false, false)
	}
	if !eps.acquire1(other, now).ok {
		t.Fatal("4xx answers opened the circuit")
	}
	// Concurrency limit.
	lim := endpoints{limits: EndpointLimits{Concurrency: 2}}
	lim.acquire1("k", now)
	lim.acquire1("k", now)
	if lim.acquire1("k", now).ok {
		t.Fatal("concurrency limit not enforced")
	}
}

// A receiver that hangs for 10 s does not slow another webhook's deliveries.
func TestHangingReceiverDoesNotSlowOthers(t *testing.T) {
	e := setup(t, envOpts{cfg: Config{Endpoint: EndpointLimits{Concurrency: 4}}})
	release := make(chan struct{})
	hang := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the receiver closes
	fast := newReceiver(t, nil)
	e.webhook(herald.WebhookSpec{Name: "slow", EndpointURL: hang.URL})
	e.webhook(herald.WebhookSpec{Name: "fast", EndpointURL: fast.URL})
	const n = 40
	sent := time.Now()
	for i := 0; i < n; i++ {
		e.send("member.verified", memberData)
	}
	var worst time.Duration
	for i := 0; i < n; i++ {
		r := fast.next(t, 5*time.Second)
		worst = max(worst, r.at.Sub(sent))
	}
	t.Logf("fast receiver got %d deliveries, the last %v after the first send, while the slow one hangs", n, worst)
	if worst > 3*time.Second {
		t.Fatalf("the hanging receiver slowed the fast one: %v", worst)
	}
}

func TestSSRFGuardBlocksInternalAddresses(t *testing.T) {
	e := setup(t, envOpts{noAllow: true})
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	for _, target := range []string{rc.URL, "http://localhost:" + u.Port(), "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]:" + u.Port()} {
		w := e.webhook(herald.WebhookSpec{EndpointURL: target})
		started := time.Now()
		a, err := e.engine.SendTest(ctx, e.ws, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Outcome != herald.OutcomeFailure || a.ErrorClass != herald.ErrClassBlocked || !strings.Contains(a.Error, "--allow-network") {
			t.Fatalf("%s: attempt %+v", target, a)
		}
		if time.Since(started) > 2*time.Second {
			t.Fatalf("%s: refusing took %v (it must not try to connect)", target, time.Since(started))
		}
	}
	if rc.count() != 0 {
		t.Fatalf("the guard let %d requests through", rc.count())
	}
}

func TestOrderedDeliveryKeepsEventOrder(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first fails once
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, Ordered: true, RetrySchedule: []string{"0s", "50ms", "50ms"}, Payload: `{"n": {{ n }}}`})
	for i := 0; i < 5; i++ {
		e.send("member.verified", `{"n": `+itoa(i)+`}`)
	}
	var got []string
	for i := 0; i < 6; i++ {
		got = append(got, string(rc.next(t, 10*time.Second).body))
	}
	want := `{"n": 0},{"n": 0},{"n": 1},{"n": 2},{"n": 3},{"n": 4}`
	if strings.Join(got, ",") != want {
		t.Fatalf("order %v\nwant %s", got, want)
	}
	_ = w
}

func TestUnpublishCancelsPending(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, RetrySchedule: []string{"0s", "1h"}})
	e.send("member.verified", memberData)
	waitAttempts(t, e, w.ID, 1)
	if _, err := e.svc.UnpublishWebhook(ctx, e.ws, w.ID, "paused for maintenance"); err != nil {
		t.Fatal(err)
	}
	d := e.waitDelivery(w.ID, herald.DeliveryCanceled, time.Second)
	if d.StatusReason != "webhook unpublished: paused for maintenance" {
		t.Fatalf("reason %q", d.StatusReason)
	}
	// Re-publishing does not resurrect it; a replay of failed ones does not either (it was canceled).
	e.svc.PublishWebhook(ctx, e.ws, w.ID)
	time.Sleep(50 * time.Millisecond)
	if got, _ := e.store.Delivery(ctx, e.ws, d.ID); got.Status != herald.DeliveryCanceled {
		t.Fatalf("republish resurrected the delivery: %s", got.Status)
	}
}

func TestManualControlsAndLogOnlyErrors(t *testing.T) {
	e := setup(t, envOpts{})
	var fail atomic.Bool // read by the receiver's goroutines
	fail.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, RetrySchedule: []string{"0s"}, LogOnlyErrors: true})
	res := e.send("member.verified", memberData)
	d := e.waitDelivery(w.ID, herald.DeliveryFailed, 5*time.Second)
	first := rc.next(t, time.Second)
	fail.Store(false)
	if _, err := e.engine.RetryDelivery(ctx, e.ws, d.ID); err != nil {
		t.Fatal(err)
	}
	again := rc.next(t, 5*time.Second)
	if again.header.Get("webhook-id") != first.header.Get("webhook-id") {
		t.Fatal("a retry changed the webhook-id")
	}
	e.waitDelivery(w.ID, herald.DeliverySucceeded, 5*time.Second)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if len(atts) != 1 || atts[0].Outcome != herald.OutcomeFailure {
		t.Fatalf("log_only_errors: %d attempts logged (%v), want only the failure", len(atts), atts)
	}
	nd, err := e.engine.ResendEvent(ctx, e.ws, res.EventID, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	resent := rc.next(t, 5*time.Second)
	if resent.header.Get("webhook-id") != nd.ID || nd.ID == d.ID {
		t.Fatal("a resend must be a new delivery with its own id")
	}
	// Replay: a failed delivery in range goes out again.
	fail.Store(true)
	e.send("member.verified", memberData)
	rc.next(t, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, _, _ := e.store.ListDeliveries(ctx, e.ws, w.ID, herald.DeliveryFilter{Status: herald.DeliveryFailed})
		if len(list) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed delivery to replay")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail.Store(false)
	n, err := e.engine.ReplayFailed(ctx, e.ws, w.ID, time.Now().Add(-time.Minute), time.Now().Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("replay %d %v", n, err)
	}
	rc.next(t, 5*time.Second)
}

func TestSendTestAndSecretRotation(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"ok": true}`))
	})
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, Event: "coupon.redeemed", Payload: `{"coupon": "{{ coupon.name }}"}`})
	e.svc.UnpublishWebhook(ctx, e.ws, w.ID, "") // a test send works unpublished too
	a, err := e.engine.SendTest(ctx, e.ws, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Outcome != herald.OutcomeSuccess || a.ResponseStatus != 202 || a.ResponseBody != `{"ok": true}` || a.RequestBody != `{"coupon": "Welcome to Club Frog!"}` {
		t.Fatalf("test attempt %+v", a)
	}
	r := rc.next(t, time.Second)
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 1 {
		t.Fatalf("%d signatures before any rotation, want 1", n)
	}
	old, _ := e.store.Webhook(ctx, e.ws, w.ID)
	rotated, err := e.engine.RotateSecret(ctx, e.ws, w.ID)
	if err != nil || rotated.SigningSecret == old.SigningSecret || rotated.PreviousSigningSecret != old.SigningSecret {
		t.Fatalf("rotate %v %v", rotated, err)
	}
	if _, err := e.engine.SendTest(ctx, e.ws, w.ID); err != nil {
		t.Fatal(err)
	}
	r = rc.next(t, time.Second)
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the overlap, want 2", n)
	}
	for _, secret := range []string{old.SigningSecret, rotated.SigningSecret} {
		v, _ := standardwebhooks.NewWebhook(secret)
		if err := v.Verify(r.body, r.header); err != nil {
			t.Fatalf("verification with one of the overlapping secrets failed: %v", err)
		}
	}
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if len(atts) != 2 {
		t.Fatalf("test sends not in the log: %d", len(atts))
	}
}

func TestIngestValidationAndIdempotency(t *testing.T) {
	e := setup(t, envOpts{})
	_, err := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.verifyed", Data: []byte(`{}`)}})
	var he *herald.Error
	if !asErr(err, &he) || he.Fields[0].Field != "type" || !strings.Contains(he.Fields[0].Message, `did you mean "member.verified"?`) {
		t.Fatalf("unknown type: %v", err)
	}
	_, err = e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.verified", Data: []byte(`[1]`)}, {Type: "", Data: []byte(`{}`)}})
	if !asErr(err, &he) || len(he.Fields) != 2 || he.Fields[0].Field != "events[0].data" || he.Fields[1].Field != "events[1].type" {
		t.Fatalf("batch errors: %v", err)
	}
	_, err = e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "herald.webhook.disabled", Data: []byte(`{}`)}})
	if !asErr(err, &he) || !strings.Contains(he.Fields[0].Message, "only herald raises them") {
		t.Fatalf("a platform raised a herald alert: %v", err)
	}
	a, _ := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.verified", Data: []byte(`{}`), ID: "platform-42"}})
	b, _ := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.verified", Data: []byte(`{}`), ID: "platform-42"}})
	if a[0].EventID != b[0].EventID || !b[0].Duplicate {
		t.Fatalf("client id is not an idempotency key: %+v %+v", a, b)
	}
}

func asErr(err error, target **herald.Error) bool {
	e, ok := err.(*herald.Error)
	if ok {
		*target = e
	}
	return ok
}

// A webhook whose signing secret cannot be decrypted holds back only its
// own deliveries.
func TestUnreadableWebhookDoesNotBlockOthers(t *testing.T) {
	store := storetest.OpenSQLite(t)
	e := setup(t, envOpts{store: store})
	rc := newReceiver(t, nil)
	good := e.webhook(herald.WebhookSpec{Name: "good", EndpointURL: rc.URL + "/good"})
	bad := e.webhook(herald.WebhookSpec{Name: "bad", EndpointURL: rc.URL + "/bad"})
	if _, err := store.DB().ExecContext(ctx, `UPDATE webhooks SET signing_secret = X'0102' WHERE id = ?`, bad.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.send("member.verified", memberData)
	}
	for i := 0; i < 5; i++ {
		if r := rc.next(t, 5*time.Second); r.path != "/good" {
			t.Fatalf("request to %s", r.path)
		}
	}
	e.waitDelivery(good.ID, herald.DeliverySucceeded, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, _, _ := store.ListDeliveries(ctx, e.ws, bad.ID, herald.DeliveryFilter{})
		if len(list) == 5 && list[0].Status == herald.DeliveryPending && strings.Contains(list[0].LastError, "cannot load") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bad webhook's deliveries: %+v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEndpointRateLimit(t *testing.T) {
	eps := endpoints{limits: EndpointLimits{Concurrency: 100, RatePerSecond: 2}}
	now := time.Unix(1000, 0)
	admitted := 0
	var wait time.Time
	for i := 0; i < 5; i++ {
		a := eps.acquire1("k", now)
		if a.ok {
			admitted++
			eps.release("k", now, false, true, true)
		} else {
			wait = a.deferUntil
		}
	}
	if admitted != 2 || !wait.After(now) || wait.After(now.Add(time.Second)) {
		t.Fatalf("admitted %d at once (want the burst of 2), next at %v", admitted, wait.Sub(now))
	}
	if a := eps.acquire1("k", now.Add(500*time.Millisecond)); !a.ok {
		t.Fatal("a token did not come back after 1/rate seconds")
	}
}

// Stop lets attempts in flight finish within the grace period, and hands
// back (uncounted, due at once) those that would not finish in time.
func TestGracefulStop(t *testing.T) {
	for _, c := range []struct {
		name   string
		grace  time.Duration
		status herald.DeliveryStatus
		tries  int
	}{
		{"finishes within grace", 3 * time.Second, herald.DeliverySucceeded, 1},
		{"hands back after grace", 100 * time.Millisecond, herald.DeliveryPending, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := storetest.OpenSQLite(t)
			svc := herald.NewService(store, nil)
			loopback := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Transport()
			e := New(Config{PollInterval: 20 * time.Millisecond}, Deps{Service: svc, Queue: store, Log: discardLog(), Transport: loopback})
			e.Start()
			started := make(chan struct{}, 1)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				select {
				case <-time.After(time.Second):
				case <-r.Context().Done():
				}
			})
			ws, _ := store.EnsureWorkspace(ctx, herald.DefaultWorkspace)
			w, _, err := svc.CreateWebhook(ctx, ws.ID, herald.WebhookSpec{Name: "slow", Event: "member.verified", EndpointURL: rc.URL, Method: "POST",
				PayloadType: herald.PayloadPlain, Payload: "x"})
			if err != nil {
				t.Fatal(err)
			}
			svc.PublishWebhook(ctx, ws.ID, w.ID)
			if _, err := e.Ingest(ctx, ws.ID, []herald.EventInput{{Type: "member.verified"}}); err != nil {
				t.Fatal(err)
			}
			<-started
			sctx, cancel := context.WithTimeout(ctx, c.grace)
			e.Stop(sctx)
			cancel()
			list, _, _ := store.ListDeliveries(ctx, ws.ID, w.ID, herald.DeliveryFilter{})
			if len(list) != 1 || list[0].Status != c.status || list[0].Attempts != c.tries {
				t.Fatalf("after Stop: %+v", list[0])
			}
			if c.status == herald.DeliveryPending && (list[0].NextAttemptAt == nil || time.Until(*list[0].NextAttemptAt) > time.Second) {
				t.Fatalf("handed back delivery not due at once: %v", list[0].NextAttemptAt)
			}
		})
	}
}

// Deliveries render date-only values in the workspace's time zone.
func TestDeliveryUsesWorkspaceTimeZone(t *testing.T) {
	e := setup(t, envOpts{})
	if _, err := e.svc.SetTimeZone(ctx, e.ws, "America/New_York"); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, nil)
	e.webhook(herald.WebhookSpec{EndpointURL: rc.URL, PayloadType: herald.PayloadPlain, Payload: "{{ member.param.birth_date | date('U') }}"})
	e.send("member.verified", `{"member": {"param": {"birth_date": "1990-04-15"}}}`)
	if r := rc.next(t, 5*time.Second); string(r.body) != "640152000" { // midnight EDT = 04:00 UTC
		t.Fatalf("body %s", r.body)
	}
}
