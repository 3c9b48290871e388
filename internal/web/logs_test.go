package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/web"
)

func (e *env) webhook(name string) *herald.Webhook {
	e.t.Helper()
	wh, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: name, Event: "member.verified",
		EndpointURL: "https://hooks.example.com/in", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	if err != nil {
		e.t.Fatal(err)
	}
	return wh
}

func attempt(ws, webhookID string, outcome herald.Outcome, status int, at time.Time) *herald.Attempt {
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: ws, WebhookID: webhookID, DeliveryID: herald.NewID(), EventID: herald.NewID(), Number: 1,
		StartedAt: at, DurationMS: 42, Outcome: outcome, RequestMethod: "POST", RequestURL: "https://hooks.example.com/in",
		RequestHeaders: []herald.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Api-Key", Value: "[redacted]"}},
		RequestBody:    `{"member": "m-1"}`, ResponseStatus: status, ResponseBody: "receiver says " + http.StatusText(status)}
	if outcome == herald.OutcomeFailure && status == 0 {
		a.ErrorClass, a.Error = herald.ErrClassConnect, "dial tcp 203.0.113.9:443: connection refused"
	} else if outcome == herald.OutcomeFailure {
		a.ErrorClass = herald.ErrClassHTTP
	}
	return a
}

const timeInputFmt = "2006-01-02T15:04"

func TestLogs(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	wh := e.webhook("CRM")
	other := e.webhook("Other")
	res, body := e.get("/webhooks/" + wh.ID + "/logs")
	e.status(res, http.StatusOK)
	contains(t, body, "No attempts yet", "Publish the webhook to receive events", "Send test event", "Last 24 hours", "0 succeeded", "0 failed",
		`aria-current="page">Logs`)

	now := time.Now().UTC()
	ok := attempt(e.ws, wh.ID, herald.OutcomeSuccess, 200, now.Add(-2*time.Hour))
	bad := attempt(e.ws, wh.ID, herald.OutcomeFailure, 503, now.Add(-time.Hour))
	refused := attempt(e.ws, wh.ID, herald.OutcomeFailure, 0, now.Add(-30*time.Minute))
	old := attempt(e.ws, wh.ID, herald.OutcomeFailure, 500, now.Add(-72*time.Hour))
	theirs := attempt(e.ws, other.ID, herald.OutcomeSuccess, 200, now)
	for _, a := range []*herald.Attempt{old, ok, bad, refused, theirs} {
		e.reader.add(a)
	}
	res, body = e.get("/webhooks/" + wh.ID + "/logs")
	e.status(res, http.StatusOK)
	contains(t, body, "HTTP 200", "HTTP 503", "connect", "42 ms", "Success", "Failure", "1 succeeded", "2 failed",
		"/webhooks/"+wh.ID+"/logs/"+ok.ID, `<svg class="chart"`, "Attempts per hour over the last 24 hours: 1 succeeded, 2 failed")
	lacks(t, body, theirs.ID)

	// Filters reach the reader and narrow the list.
	_, body = e.get("/webhooks/" + wh.ID + "/logs?outcome=failure")
	contains(t, body, "HTTP 503", `<option value="failure" selected>`, "Clear")
	lacks(t, body, "/logs/"+ok.ID)
	since := now.Add(-90 * time.Minute).Format("2006-01-02T15:04")
	until := now.Add(-45 * time.Minute).Format("2006-01-02T15:04")
	_, body = e.get("/webhooks/" + wh.ID + "/logs?since=" + since + "&until=" + until)
	contains(t, body, "/logs/"+bad.ID, `value="`+since+`"`)
	lacks(t, body, "/logs/"+ok.ID, "/logs/"+refused.ID)
	if f := e.reader.lastFilter; f.Since.IsZero() || f.Until.IsZero() || f.Outcome != "" {
		t.Fatalf("filter passed: %+v", f)
	}
	_, body = e.get("/webhooks/" + wh.ID + "/logs?outcome=success&since=" + now.Add(-10*time.Minute).Format("2006-01-02T15:04"))
	contains(t, body, "No attempt matches these filters")

	// Bad filters are field errors.
	for _, c := range []struct{ query, field, msg string }{
		{"outcome=maybe", "outcome", "must be success or failure"},
		{"since=yesterday", "since", "not a date and time"},
		{"until=2025-13-01T00:00", "until", "not a date and time"},
		{"since=2025-05-02T10:00&until=2025-05-01T10:00", "until", "must be after"},
	} {
		res, body := e.get("/webhooks/" + wh.ID + "/logs?" + c.query)
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, c.field, c.msg)
	}

	// The detail view: full request and response, Retry and Resend.
	res, body = e.get("/webhooks/" + wh.ID + "/logs/" + bad.ID)
	e.status(res, http.StatusOK)
	contains(t, body, "Attempt #1", "Request", "Response", `{"member": "m-1"}`, "X-Api-Key", "[redacted]", "HTTP 503",
		"receiver says Service Unavailable", "Retry", "Resend", bad.DeliveryID, "failed")
	_, body = e.get("/webhooks/" + wh.ID + "/logs/" + refused.ID)
	contains(t, body, "No response", "<strong>connect: </strong>dial tcp 203.0.113.9:443: connection refused")
	// An attempt of another webhook is not shown under this one.
	res, _ = e.get("/webhooks/" + wh.ID + "/logs/" + theirs.ID)
	e.status(res, http.StatusNotFound)
	res, _ = e.get("/webhooks/" + wh.ID + "/logs/" + herald.NewID())
	e.status(res, http.StatusNotFound)

	res, _ = e.post("/webhooks/"+wh.ID+"/deliveries/"+bad.DeliveryID+"/retry", url.Values{})
	e.status(res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/webhooks/"+wh.ID+"/logs" {
		t.Fatalf("retry went to %q", loc)
	}
	_, body = e.follow(res)
	contains(t, body, "queued for another attempt")
	res, _ = e.post("/webhooks/"+wh.ID+"/events/"+bad.EventID+"/resend", url.Values{})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "sent again as a new delivery")
	if len(e.control.retried) != 1 || e.control.retried[0] != bad.DeliveryID || len(e.control.resent) != 1 || e.control.resent[0] != bad.EventID+"→"+wh.ID {
		t.Fatalf("control calls: retried %v, resent %v", e.control.retried, e.control.resent)
	}
	// Retrying another webhook's delivery through this one is refused.
	res, _ = e.post("/webhooks/"+wh.ID+"/deliveries/"+theirs.DeliveryID+"/retry", url.Values{})
	e.status(res, http.StatusNotFound)
	if len(e.control.retried) != 1 {
		t.Fatal("retried another webhook's delivery")
	}

	// Replay failed deliveries: the last 24 hours, or the filtered range.
	_, body = e.get("/webhooks/" + wh.ID + "/logs")
	contains(t, body, "Replay failed deliveries", "of the last 24 hours")
	res, _ = e.post("/webhooks/"+wh.ID+"/replay", url.Values{"since": {""}, "until": {""}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "3 failed deliveries between")
	if r := e.control.replays; len(r) != 1 || r[0][1].Sub(r[0][0]) != 24*time.Hour {
		t.Fatalf("replay range: %v", r)
	}
	// Replay asks first, with the count, and is not offered when nothing
	// in the range failed.
	res, body = e.get("/webhooks/" + wh.ID + "/replay")
	e.status(res, http.StatusOK)
	contains(t, body, "Replay the failed deliveries of “CRM”?", "2 failed deliveries created between", `action="/webhooks/`+wh.ID+`/replay"`,
		`name="csrf_token"`, `href="/webhooks/`+wh.ID+`/logs">Cancel`)
	lacks(t, body, `name="since"`)
	if len(e.control.replays) != 1 {
		t.Fatal("the confirmation page replayed")
	}
	since, until = now.Add(-90*time.Minute).Format(timeInputFmt), now.Add(-45*time.Minute).Format(timeInputFmt)
	_, body = e.get("/webhooks/" + wh.ID + "/logs?since=" + since + "&until=" + until)
	contains(t, body, "created in the chosen time range", `action="/webhooks/`+wh.ID+`/replay"`, `name="since" value="`+since+`"`)
	_, body = e.get("/webhooks/" + wh.ID + "/replay?since=" + since + "&until=" + until)
	contains(t, body, "1 failed delivery created between", `name="since" value="`+since+`"`, `name="until" value="`+until+`"`)
	_, body = e.get("/webhooks/" + wh.ID + "/logs?since=2025-05-01T10:00&until=2025-05-02T10:00")
	lacks(t, body, "Replay failed deliveries")
	res, _ = e.get("/webhooks/" + wh.ID + "/replay?since=2025-05-01T10:00&until=2025-05-02T10:00")
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "There is no failed delivery to replay between 1 May 10:00 and 2 May 10:00 UTC.")
	res, _ = e.get("/webhooks/" + wh.ID + "/replay?since=yesterday")
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "Nothing was replayed: since is not a date")
	res, _ = e.post("/webhooks/"+wh.ID+"/replay", url.Values{"since": {"2025-05-01T10:00"}, "until": {"2025-05-02T10:00"}})
	e.status(res, http.StatusSeeOther)
	if r := e.control.replays[1]; !r[0].Equal(time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)) || !r[1].Equal(time.Date(2025, 5, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("replay range: %v", r)
	}
	for _, bad := range []url.Values{{"since": {"yesterday"}}, {"since": {"2025-05-02T10:00"}, "until": {"2025-05-01T10:00"}}} {
		res, _ = e.post("/webhooks/"+wh.ID+"/replay", bad)
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "Nothing was replayed", `flash flash-error`)
	}
	if len(e.control.replays) != 2 {
		t.Fatal("an invalid range was replayed")
	}

	// With Log Only Errors on, the page says why successes are missing.
	e.svc.UpdateWebhook(context.Background(), e.ws, wh.ID, func(_ *herald.Webhook, s *herald.WebhookSpec) error { s.LogOnlyErrors = true; return nil })
	_, body = e.get("/webhooks/" + wh.ID + "/logs")
	contains(t, body, "Log Only Errors is on")
}

func TestSendTest(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	wh := e.webhook("CRM")
	e.get("/webhooks/" + wh.ID)
	res, body := e.post("/webhooks/"+wh.ID+"/test", url.Values{})
	e.status(res, http.StatusOK)
	contains(t, body, "Test result", "Success", "Request", "Response", "https://hooks.example.com/in", `{"test": true}`, "HTTP 202",
		"accepted by receiver", "X-Receiver", "webhook-id", "12 ms")
	if e.control.testSent != 1 {
		t.Fatal("no test sent")
	}
	// A refusal (say, the SSRF guard) is shown, not a crash.
	// When the engine logged the attempt, the answer redirects to the page
	// showing it, so a reload does not send again.
	e.control.logTests = true
	res, _ = e.post("/webhooks/"+wh.ID+"/test", url.Values{})
	e.status(res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/webhooks/"+wh.ID+"?test=") {
		t.Fatalf("test send redirected to %q", loc)
	}
	res, body = e.follow(res)
	e.status(res, http.StatusOK)
	contains(t, body, "Test result", "HTTP 202", "accepted by receiver")
	// ?test= of another webhook's attempt shows nothing.
	other := e.webhook("Other")
	_, body = e.get("/webhooks/" + other.ID + "?" + strings.SplitN(res.Request.URL.RawQuery, "#", 2)[0])
	lacks(t, body, "Test result")
	e.control.testErr = &herald.Error{Code: herald.EConflict, Message: "the address 10.0.0.1 is not allowed"}
	res, body = e.post("/webhooks/"+wh.ID+"/test", url.Values{})
	e.status(res, http.StatusOK)
	contains(t, body, "the address 10.0.0.1 is not allowed")
	e.control.testErr = errors.New("database on fire")
	res, body = e.post("/webhooks/"+wh.ID+"/test", url.Values{})
	e.status(res, http.StatusInternalServerError)
	lacks(t, body, "on fire")
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/settings/api-keys")
	e.status(res, http.StatusOK)
	contains(t, body, "No API keys yet", "Create a key", `aria-current="page">API keys`)

	for _, c := range []struct {
		form       url.Values
		field, msg string
	}{
		{url.Values{"name": {""}, "scopes": {"admin"}}, "name", "is required"},
		{url.Values{"name": {strings.Repeat("k", 201)}, "scopes": {"admin"}}, "name", "at most 200"},
		{url.Values{"name": {"CI"}}, "scopes", "at least one scope"},
		{url.Values{"name": {"CI"}, "scopes": {"root"}}, "scopes", "at least one scope"},
	} {
		res, body := e.post("/settings/api-keys", c.form)
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, c.field, c.msg)
	}

	res, body = e.post("/settings/api-keys", url.Values{"name": {"Loyalty platform"}, "scopes": {"ingest", "read"}})
	e.status(res, http.StatusCreated)
	contains(t, body, "Copy the key for “Loyalty platform” now", "shown only this once", "ingest, read")
	m := regexpKey.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key on the page")
	}
	key := m[1]
	k, err := e.store.APIKeyByHash(context.Background(), herald.HashAPIKey(key))
	if err != nil || k.Name != "Loyalty platform" || !k.Allows(herald.ScopeIngest) || k.Allows(herald.ScopeAdmin) || k.WorkspaceID != e.ws {
		t.Fatalf("stored key: %+v %v", k, err)
	}
	// Shown once: the list has only its prefix.
	_, body = e.get("/settings/api-keys")
	contains(t, body, k.Prefix+"…", "Active", "Revoke")
	lacks(t, body, key)

	res, body = e.get("/settings/api-keys/" + k.ID + "/revoke")
	e.status(res, http.StatusOK)
	contains(t, body, "Revoke the API key “Loyalty platform”")
	res, _ = e.post("/settings/api-keys/"+k.ID+"/revoke", url.Values{})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "API key “Loyalty platform” revoked.", "Revoked")
	if _, err := e.store.APIKeyByHash(context.Background(), herald.HashAPIKey(key)); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Fatalf("revoked key still works: %v", err)
	}
	res, _ = e.post("/settings/api-keys/"+k.ID+"/revoke", url.Values{})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "already revoked")
	res, _ = e.get("/settings/api-keys/" + herald.NewID() + "/revoke")
	e.status(res, http.StatusNotFound)
	// Another workspace's key cannot be revoked from here.
	ws2, _ := e.store.EnsureWorkspace(context.Background(), "other")
	_, theirs := herald.NewAPIKey(ws2.ID, "theirs", []herald.Scope{herald.ScopeAdmin}, time.Now())
	e.store.CreateAPIKey(context.Background(), theirs)
	res, _ = e.post("/settings/api-keys/"+theirs.ID+"/revoke", url.Values{})
	e.status(res, http.StatusNotFound)
}

// An attempt keeps at most log_body_bytes of each body; the attempt page
// says how much of how much it shows, or that nothing was kept.
func TestAttemptCappedBodies(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	wh := e.webhook("CRM")
	now := time.Now().UTC()
	capped := attempt(e.ws, wh.ID, herald.OutcomeFailure, 500, now)
	capped.RequestBody, capped.RequestBodySize = strings.Repeat("r", 4096), 52310
	capped.ResponseBody, capped.ResponseBodySize = "", 1200
	whole := attempt(e.ws, wh.ID, herald.OutcomeSuccess, 200, now)
	whole.RequestBodySize, whole.ResponseBodySize = len(whole.RequestBody), len(whole.ResponseBody)
	none := attempt(e.ws, wh.ID, herald.OutcomeSuccess, 204, now)
	none.RequestBody, none.ResponseBody = "", ""
	// Logged before sizes were recorded: the size is unknown (0).
	older := attempt(e.ws, wh.ID, herald.OutcomeSuccess, 200, now)
	for _, a := range []*herald.Attempt{capped, whole, none, older} {
		e.reader.add(a)
	}
	page := func(a *herald.Attempt) string {
		t.Helper()
		res, body := e.get("/webhooks/" + wh.ID + "/logs/" + a.ID)
		e.status(res, http.StatusOK)
		return body
	}
	body := page(capped)
	contains(t, body, `<p class="small muted body-note">Showing the first 4,096 of 52,310 bytes (log_body_bytes).</p>`,
		`<p class="small muted body-note">The body (1,200 bytes) was not kept (log_body_bytes).</p>`)
	lacks(t, body, "Empty body.")
	for _, a := range []*herald.Attempt{whole, older} {
		body = page(a)
		contains(t, body, a.RequestBody, a.ResponseBody)
		lacks(t, body, "body-note", "No body.", "Empty body.")
	}
	body = page(none)
	contains(t, body, "No body.", "Empty body.")
	lacks(t, body, "body-note")
}

// TestLogsChartCountsUnloggedSuccesses: with Log Only Errors a success
// stores no attempt, yet the chart counts it (from the real store).
func TestLogsChartCountsUnloggedSuccesses(t *testing.T) {
	t.Parallel()
	e := signedIn(t, options{storeReader: true})
	ctx := context.Background()
	q, ok := e.store.(herald.Queue)
	if !ok {
		t.Fatal("the store is no queue")
	}
	wh, fe, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: "Quiet", Event: "member.verified", LogOnlyErrors: true,
		EndpointURL: "https://hooks.example.com/in", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	if err != nil || len(fe) > 0 {
		t.Fatal(err, fe)
	}
	if _, err := e.svc.PublishWebhook(ctx, e.ws, wh.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var reqs []*herald.IngestRequest
	for i := 0; i < 3; i++ {
		reqs = append(reqs, &herald.IngestRequest{Event: &herald.Event{ID: herald.NewID(), WorkspaceID: e.ws, Type: "member.verified",
			OccurredAt: now, ReceivedAt: now, Data: map[string]any{}, RawData: []byte(`{}`)}})
	}
	if err := q.Ingest(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	claims, err := q.ClaimDeliveries(ctx, now, time.Minute, 10)
	if err != nil || len(claims) != 3 {
		t.Fatal(len(claims), err)
	}
	var recs []*herald.OutcomeRecord
	for _, c := range claims[:2] {
		recs = append(recs, &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: wh.ID, Token: c.Token, Status: herald.DeliverySucceeded, Counted: true, LastStatus: 204, At: now})
	}
	bad := attempt(e.ws, wh.ID, herald.OutcomeFailure, 503, now)
	bad.DeliveryID, bad.EventID = claims[2].ID, claims[2].EventID
	recs = append(recs, &herald.OutcomeRecord{DeliveryID: claims[2].ID, WebhookID: wh.ID, Token: claims[2].Token, Status: herald.DeliveryFailed,
		Counted: true, LastStatus: 503, LastError: "503", At: now, Attempt: bad})
	if err := q.RecordOutcomes(ctx, recs); err != nil {
		t.Fatal(err)
	}
	res, body := e.get("/webhooks/" + wh.ID + "/logs")
	e.status(res, http.StatusOK)
	contains(t, body, "2 succeeded", "1 failed", "Attempts per hour over the last 24 hours: 2 succeeded, 1 failed", "HTTP 503")
}

// TestLogsRowsNameTheirEvent: each row gives its event's id and subject
// and links to a page with the event's data (the real store).
func TestLogsRowsNameTheirEvent(t *testing.T) {
	t.Parallel()
	e := signedIn(t, options{storeReader: true})
	ctx := context.Background()
	q := e.store.(herald.Queue)
	wh := e.webhook("CRM")
	if _, err := e.svc.PublishWebhook(ctx, e.ws, wh.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	raw := []byte(`{"member":{"id":"m-7","email":"ada@example.com"},"points":12}`)
	ev := &herald.Event{ID: herald.NewID(), WorkspaceID: e.ws, Type: "member.verified", OccurredAt: now, ReceivedAt: now,
		Data: map[string]any{"member": map[string]any{"id": "m-7", "email": "ada@example.com"}, "points": 12.0}, RawData: raw}
	if err := q.Ingest(ctx, []*herald.IngestRequest{{Event: ev}}); err != nil {
		t.Fatal(err)
	}
	claims, err := q.ClaimDeliveries(ctx, now, time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Fatal(len(claims), err)
	}
	a := attempt(e.ws, wh.ID, herald.OutcomeFailure, 503, now)
	a.DeliveryID, a.EventID = claims[0].ID, ev.ID
	if err := q.RecordOutcomes(ctx, []*herald.OutcomeRecord{{DeliveryID: claims[0].ID, WebhookID: wh.ID, Token: claims[0].Token,
		Status: herald.DeliveryFailed, Counted: true, LastStatus: 503, LastError: "503", At: now, Attempt: a}}); err != nil {
		t.Fatal(err)
	}
	_, body := e.get("/webhooks/" + wh.ID + "/logs")
	contains(t, body, `<th scope="col">Event</th>`, `href="/webhooks/`+wh.ID+`/events/`+ev.ID+`"`, "member ada@example.com")
	_, body = e.get("/webhooks/" + wh.ID + "/logs/" + a.ID)
	contains(t, body, `href="/webhooks/`+wh.ID+`/events/`+ev.ID+`"`)
	res, body := e.get("/webhooks/" + wh.ID + "/events/" + ev.ID)
	e.status(res, http.StatusOK)
	contains(t, body, "Event member.verified", ev.ID, "member ada@example.com", `"email": "ada@example.com"`, `"points": 12`)
	res, _ = e.get("/webhooks/" + wh.ID + "/events/" + herald.NewID())
	e.status(res, http.StatusNotFound)
}

func TestEventSummary(t *testing.T) {
	for _, c := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"member": map[string]any{"id": "m-1", "email": "a@example.com"}}, "member a@example.com"},
		{map[string]any{"member": map[string]any{"id": "m-1"}}, "member m-1"},
		{map[string]any{"account": map[string]any{"id": 42.0}, "zeta": map[string]any{"email": "z@example.com"}}, "account 42"},
		{map[string]any{"points": 12.0}, ""},
		{nil, ""},
	} {
		if got := web.EventSummary(c.data); got != c.want {
			t.Errorf("EventSummary(%v) = %q, want %q", c.data, got, c.want)
		}
	}
}
