package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// routingEnv is the API with a running delivery engine (loopback
// receivers allowed) and the real template checker.
func routingEnv(t *testing.T, store *sqlstore.Store) (*env, *delivery.Engine) {
	t.Helper()
	svc := herald.NewService(store, payload.Checker{})
	svc.Canceler = store
	tr := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Transport()
	engine := delivery.New(delivery.Config{PollInterval: 20 * time.Millisecond}, delivery.Deps{Service: svc, Queue: store, Transport: tr,
		Log: slogTo(io.Discard), Policy: delivery.JitteredSchedule{MinRetryAfter: time.Second, MaxRetryAfter: time.Hour}})
	engine.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		engine.Stop(ctx)
	})
	logs := &syncBuffer{}
	srv := httptest.NewServer(newServer(t, Config{}, svc, payload.Previewer{}, Delivery{Ingester: engine, Control: engine, Reader: store, Rotate: engine.RotateSecret}, slogTo(logs)))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store, svc: svc, logs: logs, bodies: &syncBuffer{}}
	e.key = e.newKey(herald.DefaultWorkspace, herald.ScopeAdmin, herald.ScopeIngest)
	return e, engine
}

// eventReceiver records, per path, the event ids and types it is sent
// (the payload carries them), and answers with respond (204 if nil).
type eventReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     map[string][]sentEvent
	respond func(path string, n int, w http.ResponseWriter)
}

type sentEvent struct {
	ID, Type string
	N        int
}

func newEventReceiver(t *testing.T, respond func(path string, n int, w http.ResponseWriter)) *eventReceiver {
	rc := &eventReceiver{got: map[string][]sentEvent{}, respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev sentEvent
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: body %q: %v", body, err)
		}
		rc.mu.Lock()
		rc.got[r.URL.Path] = append(rc.got[r.URL.Path], ev)
		n := len(rc.got[r.URL.Path])
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(r.URL.Path, n, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *eventReceiver) events(path string) []sentEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]sentEvent(nil), rc.got[path]...)
}

// waitFor polls until the path received n requests (and fails if more).
func (rc *eventReceiver) waitFor(t *testing.T, path string, n int, within time.Duration) []sentEvent {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rc.events(path); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s received %d requests within %s, want %d", path, len(rc.events(path)), within, n)
	return nil
}

const routedPayload = `{"id": "{{ event.id }}", "type": "{{ event.type }}", "n": {{ n ?? 0 }}}`

func routedWebhook(name, url string, extra map[string]any) map[string]any {
	wh := map[string]any{"name": name, "endpoint_url": url, "method": "POST", "payload_type": "JSON", "payload": routedPayload}
	for k, v := range extra {
		wh[k] = v
	}
	return wh
}

func (e *env) publish(id string) {
	e.t.Helper()
	e.do("POST", "/api/v1/webhooks/"+id+"/publish", nil).must(e.t, http.StatusOK)
}

// A webhook on ["coupon.*", "member.verified"] with a condition receives
// exactly the matching events of a mixed stream of 1,200, none twice; a
// webhook on "*" receives every one; the list filter ?event= finds
// webhooks by the types their lists cover.
func TestRoutingPatternsAndConditionThroughTheAPI(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e, _ := routingEnv(t, open(t).(*sqlstore.Store))
		rc := newEventReceiver(t, nil)
		a := e.createWebhook(routedWebhook("coupons of gold members", rc.URL+"/a", map[string]any{
			"events": []string{"coupon.*", "member.verified"}, "condition": `member.tier == "gold" and n >= 0`}))
		if _, ok := a["event"]; ok {
			t.Errorf("event is returned for a list with a pattern: %v", a["event"])
		}
		b := e.createWebhook(routedWebhook("everything", rc.URL+"/b", map[string]any{"events": []string{"*"}}))
		c := e.createWebhook(routedWebhook("one key", rc.URL+"/c", map[string]any{"event": "wallet.credited"}))
		if c["event"] != "wallet.credited" || fmt.Sprint(c["events"]) != "[wallet.credited]" {
			t.Errorf("event/events of a one-key webhook: %v / %v", c["event"], c["events"])
		}
		for _, wh := range []map[string]any{a, b, c} {
			e.publish(wh["id"].(string))
		}

		types := []string{"coupon.redeemed", "coupon.assigned", "member.verified", "member.created", "transaction.created", "wallet.credited", "coupon.activated"}
		tiers := []string{"gold", "silver", "bronze"}
		const total = 1200
		wantA := map[string]bool{}
		wantC := 0
		for start := 0; start < total; start += 200 {
			var batch []map[string]any
			for i := start; i < start+200; i++ {
				batch = append(batch, map[string]any{"type": types[i%len(types)],
					"data": map[string]any{"n": i, "member": map[string]any{"id": fmt.Sprint(i), "tier": tiers[(i/7)%3]}}})
			}
			res := e.do("POST", "/api/v1/events/batch", map[string]any{"events": batch}).must(t, http.StatusAccepted)
			var out struct {
				Results []herald.IngestResult `json:"results"`
			}
			if err := json.Unmarshal(res.body, &out); err != nil || len(out.Results) != len(batch) {
				t.Fatalf("batch answer: %v\n%s", err, res.body)
			}
			for j, r := range out.Results {
				i := start + j
				typ, tier := types[i%len(types)], tiers[(i/7)%3]
				if (strings.HasPrefix(typ, "coupon.") || typ == "member.verified") && tier == "gold" {
					wantA[r.EventID] = true
				}
				if typ == "wallet.credited" {
					wantC++
				}
			}
		}
		if len(wantA) < 100 {
			t.Fatalf("the stream has only %d matching events", len(wantA))
		}
		gotB := rc.waitFor(t, "/b", total, time.Minute)
		gotA := rc.waitFor(t, "/a", len(wantA), time.Minute)
		rc.waitFor(t, "/c", wantC, time.Minute)
		time.Sleep(300 * time.Millisecond) // anything extra would arrive now
		gotA, gotB = rc.events("/a"), rc.events("/b")
		if len(gotA) != len(wantA) || len(gotB) != total || len(rc.events("/c")) != wantC {
			t.Fatalf("received a=%d (want %d) b=%d (want %d) c=%d (want %d)", len(gotA), len(wantA), len(gotB), total, len(rc.events("/c")), wantC)
		}
		seen := map[string]bool{}
		for _, ev := range gotA {
			if !wantA[ev.ID] || seen[ev.ID] {
				t.Fatalf("webhook a got %+v: not a matching event, or twice", ev)
			}
			seen[ev.ID] = true
		}
		seen = map[string]bool{}
		for _, ev := range gotB {
			if seen[ev.ID] {
				t.Fatalf("webhook b got %s twice", ev.ID)
			}
			seen[ev.ID] = true
		}

		names := func(event string) string {
			res := e.do("GET", "/api/v1/webhooks?event="+event, nil).must(t, http.StatusOK)
			var out struct {
				Data []map[string]any `json:"data"`
			}
			if err := json.Unmarshal(res.body, &out); err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, w := range out.Data {
				n = append(n, w["name"].(string))
			}
			sort.Strings(n)
			return strings.Join(n, ", ")
		}
		for event, want := range map[string]string{
			"coupon.assigned":           "coupons of gold members, everything",
			"member.verified":           "coupons of gold members, everything",
			"member.created":            "everything",
			"wallet.credited":           "everything, one key",
			"herald.delivery.exhausted": "",
		} {
			if got := names(event); got != want {
				t.Errorf("?event=%s: %q, want %q", event, got, want)
			}
		}
	})
}

// A webhook on "*" does not receive herald's own alerts; one that names
// an alert does.
func TestStarExcludesAlerts(t *testing.T) {
	if !herald.EventsCover([]string{"*"}, "member.verified") || herald.EventsCover([]string{"*"}, "herald.delivery.exhausted") ||
		!herald.EventsCover([]string{"*", "herald.delivery.exhausted"}, "herald.delivery.exhausted") ||
		!herald.EventsCover([]string{"herald.*"}, "herald.webhook.failing") {
		t.Fatal("* must cover every type but alerts, which are covered only where named")
	}
}

// An invalid condition is refused with its line and column; unknown keys
// get a did-you-mean naming events[i]; a pattern matching nothing is a
// warning.
func TestConditionAndEventsValidation(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e, _ := routingEnv(t, open(t).(*sqlstore.Store))
		res := e.do("POST", "/api/v1/webhooks", routedWebhook("x", "https://r.example.com/x", map[string]any{
			"events": []string{"coupon.*"}, "condition": "member.tier == \"gold\"\n  and member.points >"})).must(t, http.StatusUnprocessableEntity)
		var p problem
		if err := json.Unmarshal(res.body, &p); err != nil || len(p.Errors) == 0 {
			t.Fatalf("%v\n%s", err, res.body)
		}
		if f := p.Errors[0]; f.Field != "condition" || f.Line != 2 || f.Column != 22 {
			t.Errorf("error %+v, want condition at line 2, column 22", f)
		}
		res = e.do("POST", "/api/v1/webhooks", routedWebhook("x", "https://r.example.com/x", map[string]any{
			"events": []string{"coupon.*", "member.verifed", "member.*.x*", "coupon.*"}})).must(t, http.StatusUnprocessableEntity)
		errs := res.fieldErrors(t)
		if !strings.Contains(errs["events[1]"], `did you mean "member.verified"`) || !strings.Contains(errs["events[2]"], "not a pattern") ||
			!strings.Contains(errs["events[3]"], "twice") {
			t.Errorf("errors %v", errs)
		}
		res = e.do("POST", "/api/v1/webhooks", routedWebhook("x", "https://r.example.com/x", map[string]any{
			"events": []string{"coupon.*", "nothing.here.*"}})).must(t, http.StatusCreated)
		if !strings.Contains(string(res.body), "matches no event type") {
			t.Errorf("no warning for a pattern matching nothing: %s", res.body)
		}
		// The template check runs against every covered type, naming the
		// type where only some of them lack a variable.
		res = e.do("POST", "/api/v1/webhooks", routedWebhook("x", "https://r.example.com/x", map[string]any{
			"events": []string{"coupon.redeemed", "wallet.credited"}, "payload": `{"a": "{{ coupon.id }}"}`})).must(t, http.StatusCreated)
		if w := string(res.body); !strings.Contains(w, `for event type \"wallet.credited\"`) || strings.Contains(w, `for event type \"coupon.redeemed\"`) {
			t.Errorf("warnings do not name the type lacking coupon.id: %s", w)
		}
		res2 := e.do("POST", "/api/v1/webhooks", routedWebhook("x", "https://r.example.com/x", map[string]any{
			"event": "coupon.redeemed", "events": []string{"wallet.credited"}})).must(t, http.StatusUnprocessableEntity)
		if !strings.Contains(res2.fieldErrors(t)["event"], "send one of them") {
			t.Errorf("event and events disagreeing: %s", res2.body)
		}
	})
}

// A condition that cannot be evaluated for an event does not fail the
// ingest: the delivery is created failed, visible in the webhook's
// deliveries and attempts with the error.
func TestConditionEvaluationErrorIsAFailedDelivery(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e, _ := routingEnv(t, open(t).(*sqlstore.Store))
		rc := newEventReceiver(t, nil)
		wh := e.createWebhook(routedWebhook("ratio", rc.URL+"/r", map[string]any{"event": "member.verified", "condition": "100 / n > 1"}))
		id := wh["id"].(string)
		e.publish(id)
		res := e.do("POST", "/api/v1/events", map[string]any{"type": "member.verified", "data": map[string]any{"n": 0}}).must(t, http.StatusAccepted).json(t)
		if res["deliveries"] != 1.0 {
			t.Errorf("deliveries = %v, want 1 (the failed one)", res["deliveries"])
		}
		e.do("POST", "/api/v1/events", map[string]any{"type": "member.verified", "data": map[string]any{"n": 10}}).must(t, http.StatusAccepted)
		e.do("POST", "/api/v1/events", map[string]any{"type": "member.verified", "data": map[string]any{"n": 200}}).must(t, http.StatusAccepted)
		rc.waitFor(t, "/r", 1, 10*time.Second)
		dl := e.do("GET", "/api/v1/webhooks/"+id+"/deliveries", nil).must(t, http.StatusOK)
		var ds struct {
			Data []herald.Delivery `json:"data"`
		}
		if err := json.Unmarshal(dl.body, &ds); err != nil {
			t.Fatal(err)
		}
		var failed []herald.Delivery
		for _, d := range ds.Data {
			if d.Status == herald.DeliveryFailed {
				failed = append(failed, d)
			}
		}
		if len(ds.Data) != 2 || len(failed) != 1 || !strings.Contains(failed[0].LastError, "division by zero") {
			t.Fatalf("deliveries %+v", ds.Data)
		}
		at := e.do("GET", "/api/v1/webhooks/"+id+"/attempts", nil).must(t, http.StatusOK)
		if !strings.Contains(string(at.body), "division by zero") || !strings.Contains(string(at.body), `"error_class":"template"`) {
			t.Errorf("the attempts do not show the evaluation error: %s", at.body)
		}
		time.Sleep(200 * time.Millisecond)
		if got := rc.events("/r"); len(got) != 1 || got[0].N != 10 {
			t.Errorf("received %+v, want only n=10", got)
		}

		// A batch large enough for the multi-row insert, failed and
		// pending deliveries mixed.
		var batch []map[string]any
		for i := range 150 {
			batch = append(batch, map[string]any{"type": "member.verified", "data": map[string]any{"n": (i % 2) * 10}})
		}
		e.do("POST", "/api/v1/events/batch", map[string]any{"events": batch}).must(t, http.StatusAccepted)
		rc.waitFor(t, "/r", 1+75, 20*time.Second)
		n := 0
		for cursor := ""; ; {
			res := e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?status=failed&limit=200&cursor="+cursor, nil).must(t, http.StatusOK)
			var page struct {
				Data       []herald.Delivery `json:"data"`
				NextCursor string            `json:"next_cursor"`
			}
			if err := json.Unmarshal(res.body, &page); err != nil {
				t.Fatal(err)
			}
			n += len(page.Data)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if n != 1+75 {
			t.Errorf("%d failed deliveries, want %d", n, 1+75)
		}
	})
}

// An ordered webhook with a condition receives the matching events one
// at a time, in the order they were ingested.
func TestOrderedWithCondition(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e, _ := routingEnv(t, open(t).(*sqlstore.Store))
		var inFlight sync.Mutex
		rc := newEventReceiver(t, func(_ string, n int, w http.ResponseWriter) {
			if !inFlight.TryLock() {
				t.Errorf("two deliveries of an ordered webhook at once")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			time.Sleep(time.Millisecond)
			inFlight.Unlock()
			w.WriteHeader(http.StatusNoContent)
		})
		wh := e.createWebhook(routedWebhook("ordered", rc.URL+"/o", map[string]any{"events": []string{"member.*"}, "ordered": true, "condition": "n % 3 == 0"}))
		e.publish(wh["id"].(string))
		const total = 240
		for start := 0; start < total; start += 40 {
			var batch []map[string]any
			for i := start; i < start+40; i++ {
				batch = append(batch, map[string]any{"type": "member.updated", "data": map[string]any{"n": i}})
			}
			e.do("POST", "/api/v1/events/batch", map[string]any{"events": batch}).must(t, http.StatusAccepted)
		}
		got := rc.waitFor(t, "/o", total/3, time.Minute)
		time.Sleep(200 * time.Millisecond)
		got = rc.events("/o")
		if len(got) != total/3 {
			t.Fatalf("received %d, want %d", len(got), total/3)
		}
		for i, ev := range got {
			if ev.N != 3*i {
				t.Fatalf("request %d carried n=%d, want %d (order lost or wrong events)", i, ev.N, 3*i)
			}
		}
	})
}

// A receiver that answers 200 {"success": false} fails the webhook's
// success condition: the attempt is a failure of class rejected with the
// expression's result, and is retried until the receiver accepts; a
// status outside success_statuses is a failure of class http_status.
func TestSuccessConditionRejectsAndRetries(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e, _ := routingEnv(t, open(t).(*sqlstore.Store))
		rc := newEventReceiver(t, func(path string, n int, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case path == "/s" && n <= 2:
				w.Write([]byte(`{"success": false, "reason": "busy"}`))
			case path == "/s":
				w.Write([]byte(`{"success": true}`))
			case n == 1: // /t: 204 is not in its success_statuses
				w.WriteHeader(http.StatusNoContent)
			default:
				w.WriteHeader(http.StatusCreated)
			}
		})
		bad := e.do("POST", "/api/v1/webhooks", routedWebhook("s", rc.URL+"/s", map[string]any{"event": "member.verified",
			"success_statuses": []any{200, "2xx", "abc", 700}})).must(t, http.StatusUnprocessableEntity)
		if errs := bad.fieldErrors(t); !strings.Contains(errs["success_statuses[2]"], "not a status code") || errs["success_statuses[3]"] == "" || errs["success_statuses[0]"] != "" {
			t.Errorf("errors %v", errs)
		}
		bad = e.do("POST", "/api/v1/webhooks", routedWebhook("s", rc.URL+"/s", map[string]any{"event": "member.verified",
			"success_condition": "response.json.success =="})).must(t, http.StatusUnprocessableEntity)
		if errs := bad.fieldErrors(t); errs["success_condition"] == "" {
			t.Errorf("errors %v", errs)
		}
		s := e.createWebhook(routedWebhook("s", rc.URL+"/s", map[string]any{"event": "member.verified", "retry_schedule": []string{"0s", "0s", "0s"},
			"success_condition": `response.json.success == true and response.headers["content-type"] starts with "application/json" and response.status == 200`}))
		if fmt.Sprint(s["success_statuses"]) != "[2xx]" {
			t.Errorf("default success_statuses %v, want [2xx]", s["success_statuses"])
		}
		tt := e.createWebhook(routedWebhook("t", rc.URL+"/t", map[string]any{"event": "member.verified", "retry_schedule": []string{"0s", "0s"},
			"success_statuses": []any{200, "201-202"}}))
		if fmt.Sprint(tt["success_statuses"]) != "[200 201-202]" {
			t.Errorf("success_statuses %v", tt["success_statuses"])
		}
		e.publish(s["id"].(string))
		e.publish(tt["id"].(string))
		e.do("POST", "/api/v1/events", map[string]any{"type": "member.verified", "data": map[string]any{"n": 1}}).must(t, http.StatusAccepted)
		rc.waitFor(t, "/s", 3, 20*time.Second)
		rc.waitFor(t, "/t", 2, 20*time.Second)
		type attempt struct {
			Number         int               `json:"attempt"`
			Outcome        herald.Outcome    `json:"outcome"`
			ErrorClass     herald.ErrorClass `json:"error_class"`
			Error          string            `json:"error"`
			ResponseStatus int
			Response       *struct {
				Status int `json:"status"`
			} `json:"response"`
		}
		attempts := func(id string, n int) []attempt {
			deadline := time.Now().Add(10 * time.Second)
			for {
				res := e.do("GET", "/api/v1/webhooks/"+id+"/attempts", nil).must(t, http.StatusOK)
				var out struct {
					Data []attempt `json:"data"`
				}
				if err := json.Unmarshal(res.body, &out); err != nil {
					t.Fatal(err)
				}
				for i := range out.Data {
					if r := out.Data[i].Response; r != nil {
						out.Data[i].ResponseStatus = r.Status
					}
				}
				if len(out.Data) >= n || time.Now().After(deadline) {
					sort.Slice(out.Data, func(i, j int) bool { return out.Data[i].Number < out.Data[j].Number })
					return out.Data
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		as := attempts(s["id"].(string), 3)
		if len(as) != 3 {
			t.Fatalf("attempts of s: %+v", as)
		}
		for _, a := range as[:2] {
			if a.Outcome != herald.OutcomeFailure || a.ErrorClass != herald.ErrClassRejected || a.ResponseStatus != 200 ||
				!strings.Contains(a.Error, "failed the success condition (it gave false)") {
				t.Errorf("attempt %d: %s %s %d %q", a.Number, a.Outcome, a.ErrorClass, a.ResponseStatus, a.Error)
			}
		}
		if as[2].Outcome != herald.OutcomeSuccess {
			t.Errorf("third attempt: %+v", as[2])
		}
		at := attempts(tt["id"].(string), 2)
		if len(at) != 2 || at[0].ErrorClass != herald.ErrClassHTTP || at[0].ResponseStatus != 204 || at[1].Outcome != herald.OutcomeSuccess || at[1].ResponseStatus != 201 {
			t.Errorf("attempts of t: %+v", at)
		}
	})
}

// POST /webhooks/{id}/match answers whether an event (or the sample)
// would be sent and why not; POST /templates/render does the same for an
// unsaved condition.
func TestMatchPreview(t *testing.T) {
	e, _ := routingEnv(t, storetest.OpenSQLite(t))
	wh := e.createWebhook(routedWebhook("m", "https://r.example.com/m", map[string]any{"events": []string{"coupon.*"}, "condition": `member.tier == "gold"`}))
	id := wh["id"].(string)
	match := func(body any) map[string]any {
		return e.do("POST", "/api/v1/webhooks/"+id+"/match", body).must(t, http.StatusOK).json(t)
	}
	for _, c := range []struct {
		event   map[string]any
		matches bool
		reason  string
	}{
		{map[string]any{"type": "coupon.redeemed", "data": map[string]any{"member": map[string]any{"tier": "gold"}}}, true, "holds"},
		{map[string]any{"type": "coupon.redeemed", "data": map[string]any{"member": map[string]any{"tier": "silver"}}}, false, "gave false"},
		{map[string]any{"type": "wallet.credited", "data": map[string]any{"member": map[string]any{"tier": "gold"}}}, false, "not among the webhook's event types"},
	} {
		got := match(map[string]any{"event": c.event})
		if got["matches"] != c.matches || !strings.Contains(got["reason"].(string), c.reason) {
			t.Errorf("%v: %v, want matches=%v reason containing %q", c.event, got, c.matches, c.reason)
		}
	}
	if got := match(nil); got["reason"] == "" || got["matches"] == nil {
		t.Errorf("the sample: %v", got)
	}
	e.do("POST", "/api/v1/webhooks/"+id+"/match", map[string]any{"event": map[string]any{"type": "coupon.redeemd"}}).must(t, http.StatusUnprocessableEntity)

	wh2 := e.createWebhook(routedWebhook("z", "https://r.example.com/z", map[string]any{"event": "member.verified", "condition": "100 / n > 1"}))
	got := e.do("POST", "/api/v1/webhooks/"+wh2["id"].(string)+"/match", map[string]any{"event": map[string]any{"type": "member.verified", "data": map[string]any{"n": 0}}}).must(t, http.StatusOK).json(t)
	if got["matches"] != false || !strings.Contains(got["reason"].(string), "division by zero") {
		t.Errorf("evaluation error: %v", got)
	}

	render := func(cond string, tier string) response {
		return e.do("POST", "/api/v1/templates/render", map[string]any{"payload_type": "JSON", "event_type": "coupon.redeemed",
			"data": map[string]any{"member": map[string]any{"tier": tier}}, "condition": cond, "template": `{"t": "{{ member.tier }}"}`})
	}
	if got := render(`member.tier == "gold"`, "gold").must(t, http.StatusOK).json(t); got["matches"] != true || got["body"] != `{"t": "gold"}` {
		t.Errorf("render with a condition that holds: %v", got)
	}
	if got := render(`member.tier == "gold"`, "bronze").must(t, http.StatusOK).json(t); got["matches"] != false || !strings.Contains(got["reason"].(string), "false") {
		t.Errorf("render with a condition that fails: %v", got)
	}
	res := render("member.tier ==\n (", "gold").must(t, http.StatusUnprocessableEntity)
	var p problem
	if err := json.Unmarshal(res.body, &p); err != nil || len(p.Errors) == 0 || p.Errors[0].Field != "condition" || p.Errors[0].Line != 2 {
		t.Errorf("render with a broken condition: %s", res.body)
	}
}

// A webhook on "*" does not receive herald's own alerts; a webhook that
// names the alert does.
func TestStarDoesNotReceiveAlerts(t *testing.T) {
	e, _ := routingEnv(t, storetest.OpenSQLite(t))
	rc := newEventReceiver(t, func(path string, n int, w http.ResponseWriter) {
		if path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, wh := range []map[string]any{
		routedWebhook("all", rc.URL+"/all", map[string]any{"events": []string{"*"}}),
		routedWebhook("alerts", rc.URL+"/alerts", map[string]any{"events": []string{"herald.delivery.*"}}),
		routedWebhook("failing", rc.URL+"/fail", map[string]any{"event": "member.verified", "retry_schedule": []string{"0s"}}),
	} {
		e.publish(e.createWebhook(wh)["id"].(string))
	}
	e.do("POST", "/api/v1/events", map[string]any{"type": "member.verified", "data": map[string]any{"n": 1}}).must(t, http.StatusAccepted)
	alerts := rc.waitFor(t, "/alerts", 1, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	if alerts[0].Type != "herald.delivery.exhausted" {
		t.Errorf("alert webhook got %+v", alerts)
	}
	all := rc.events("/all")
	if len(all) != 1 || all[0].Type != "member.verified" {
		t.Errorf(`the "*" webhook got %+v, want only the member.verified event`, all)
	}
}
