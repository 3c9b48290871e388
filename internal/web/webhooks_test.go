package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

// createAuth stores a SECRET header authorization for endpoint.
func (e *env) createAuth(endpoint string) *herald.Authorization {
	e.t.Helper()
	a, err := e.svc.CreateAuthorization(context.Background(), e.ws, herald.AuthorizationSpec{Name: "CRM", Endpoint: endpoint, Type: herald.AuthHeader,
		Header: &herald.HeaderAuth{Key: "X-Api-Key", Value: secretValue, Visibility: herald.Secret}})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// fullWebhookForm sets every field of M3.
func fullWebhookForm(authID string) url.Values {
	return url.Values{
		"name":                    {"CRM — member verified"},
		"description":             {"Tells the CRM a member verified their email."},
		"event":                   {"member.verified"},
		"authorization_enabled":   {"on"},
		"authorization_id":        {authID},
		"endpoint_url":            {"https://api.crm.example.com/contacts/{{ member.id }}"},
		"method":                  {"PUT"},
		"log_only_errors":         {"on"},
		"custom_headers[0].name":  {"X-Source"},
		"custom_headers[0].value": {"herald"},
		"custom_headers[1].name":  {""},
		"custom_headers[1].value": {""},
		"custom_headers[2].name":  {"X-Member"},
		"custom_headers[2].value": {"{{ member.id }}"},
		"payload_type":            {"JSON"},
		"payload":                 {"{\r\n  \"email\": \"{{ member.email }}\"\r\n}"},
	}
}

func TestWebhookLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		e := signedIn(t, options{store: open})
		res, body := e.get("/webhooks")
		e.status(res, http.StatusOK)
		contains(t, body, "Settings", "No webhooks yet", "add an authorization", `aria-current="page">Webhooks`)

		auth := e.createAuth("https://api.crm.example.com")
		res, body = e.get("/webhooks")
		e.status(res, http.StatusOK)
		contains(t, body, "Add your first webhook")
		lacks(t, body, "add an authorization</a> first")

		// The form offers every field, the catalog by display name, and the
		// authorization.
		res, body = e.get("/webhooks/new")
		e.status(res, http.StatusOK)
		for _, name := range []string{"name", "description", "events", "events_other", "condition", "success_statuses", "success_condition", "authorization_enabled", "authorization_id", "endpoint_url", "method",
			"log_only_errors", "custom_headers[0].name", "custom_headers[0].value", "custom_headers[2].value", "payload_type", "payload"} {
			contains(t, body, `name="`+name+`"`)
		}
		contains(t, body, "User - User Was Verified", "CRM — https://api.crm.example.com", "Enable Authorization", "Log Only Errors",
			"Endpoint Type", "Payload Type", "FORM data", `value="PATCH"`, "member.email", "Preview")

		res, _ = e.post("/webhooks", fullWebhookForm(auth.ID))
		e.status(res, http.StatusSeeOther)
		loc := res.Header.Get("Location")
		id := strings.TrimPrefix(loc, "/webhooks/")
		wh, err := e.store.Webhook(context.Background(), e.ws, id)
		if err != nil {
			t.Fatalf("created webhook at %q: %v", loc, err)
		}
		want := herald.WebhookSpec{Name: "CRM — member verified", Description: "Tells the CRM a member verified their email.", Event: "member.verified",
			AuthorizationEnabled: true, AuthorizationID: auth.ID, EndpointURL: "https://api.crm.example.com/contacts/{{ member.id }}", Method: "PUT",
			LogOnlyErrors: true, PayloadType: herald.PayloadJSON, Payload: "{\n  \"email\": \"{{ member.email }}\"\n}",
			CustomHeaders: []herald.Header{{Name: "X-Source", Value: "herald"}, {Name: "X-Member", Value: "{{ member.id }}"}}}
		if got := wh.WebhookSpec; got.Name != want.Name || got.Description != want.Description || got.Event != want.Event || !got.AuthorizationEnabled ||
			got.AuthorizationID != want.AuthorizationID || got.EndpointURL != want.EndpointURL || got.Method != want.Method || !got.LogOnlyErrors ||
			got.PayloadType != want.PayloadType || got.Payload != want.Payload || len(got.CustomHeaders) != 2 || got.CustomHeaders[1] != want.CustomHeaders[1] {
			t.Fatalf("stored %+v\nwant %+v", got, want)
		}
		if wh.Status != herald.Unpublished {
			t.Fatalf("created %s", wh.Status)
		}
		res, body = e.follow(res)
		e.status(res, http.StatusOK)
		contains(t, body, "Webhook “CRM — member verified” created", "Unpublished", "Publish", "Edit", "Duplicate", "Delete",
			"User - User Was Verified", "X-Member", "{{ member.id }}", "Signing secret", "whsec_••••", "Send test event", "Only failed calls are logged"[0:0])
		lacks(t, body, wh.SigningSecret)

		// Reveal the signing secret; rotate it.
		_, body = e.get("/webhooks/" + id + "?reveal=secret")
		contains(t, body, wh.SigningSecret)
		res, _ = e.post("/webhooks/"+id+"/rotate-secret", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "New signing secret created")
		rotated, _ := e.store.Webhook(context.Background(), e.ws, id)
		if rotated.SigningSecret == wh.SigningSecret || e.rotator.rotated != 1 {
			t.Fatal("secret not rotated")
		}

		// Edit: the form comes back filled in, with blank rows for more headers.
		res, body = e.get("/webhooks/" + id + "/edit")
		e.status(res, http.StatusOK)
		contains(t, body, `value="CRM — member verified"`, `value="X-Member"`, `name="custom_headers[4].name"`, `<option value="PUT" selected>`,
			`name="authorization_enabled" value="on" role="switch" checked`, `name="revision" value="2"`)
		edit := fullWebhookForm(auth.ID)
		edit.Set("name", "CRM sync")
		edit.Set("revision", "2")
		edit.Del("log_only_errors")
		res, _ = e.post("/webhooks/"+id, edit)
		e.status(res, http.StatusSeeOther)
		wh, _ = e.store.Webhook(context.Background(), e.ws, id)
		if wh.Name != "CRM sync" || wh.LogOnlyErrors || wh.Revision != 3 {
			t.Fatalf("after edit: %+v", wh)
		}
		// A stale form (someone saved meanwhile) is refused, not merged.
		edit.Set("name", "stale")
		res, body = e.post("/webhooks/"+id, edit)
		e.status(res, http.StatusConflict)
		contains(t, body, "Someone changed this webhook", `value="stale"`)

		// Publish, list with filters, unpublish.
		res, _ = e.post("/webhooks/"+id+"/publish", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "is published", "Unpublish")
		other, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "Slack coupons", Event: "coupon.redeemed",
			EndpointURL: "https://hooks.slack.example.com/x", Method: "POST", PayloadType: herald.PayloadPlain, Payload: "redeemed"})
		if err != nil {
			t.Fatal(err)
		}
		_, body = e.get("/webhooks")
		contains(t, body, "CRM sync", "Slack coupons", "Published", "Unpublished", "Coupon - Coupon Was Redeemed"[0:0])
		filters := []struct {
			query      string
			want, lack string
		}{
			{"name=crm", "CRM sync", "Slack coupons"},
			{"name=SLACK", "Slack coupons", "CRM sync"},
			{"event=member.verified", "CRM sync", "Slack coupons"},
			{"status=published", "CRM sync", "Slack coupons"},
			{"status=unpublished", "Slack coupons", "CRM sync"},
			{"endpoint=hooks.slack", "Slack coupons", "CRM sync"},
		}
		for _, f := range filters {
			_, body = e.get("/webhooks?" + f.query)
			contains(t, body, f.want, "Clear")
			lacks(t, body, ">"+f.lack+"<")
		}
		_, body = e.get("/webhooks?name=nothing")
		contains(t, body, "No webhook matches these filters")
		res, _ = e.post("/webhooks/"+id+"/unpublish", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "is unpublished", "unpublished by "+adminEmail)

		// Duplicate: an unpublished copy.
		res, _ = e.post("/webhooks/"+id+"/duplicate", url.Values{})
		e.status(res, http.StatusSeeOther)
		copyID := strings.TrimPrefix(res.Header.Get("Location"), "/webhooks/")
		_, body = e.follow(res)
		contains(t, body, "Created “CRM sync (copy)”", "Unpublished")
		if copyID == id || copyID == "" {
			t.Fatal("duplicate went to the original")
		}

		// Delete with a confirmation page.
		res, body = e.get("/webhooks/" + other.ID + "/delete")
		e.status(res, http.StatusOK)
		contains(t, body, "Delete the webhook “Slack coupons”?", "cannot be undone", "Cancel")
		res, _ = e.post("/webhooks/"+other.ID+"/delete", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "Webhook “Slack coupons” deleted.")
		res, _ = e.get("/webhooks/" + other.ID)
		e.status(res, http.StatusNotFound)
		// The delete page of a published webhook warns that deliveries stop.
		e.post("/webhooks/"+id+"/publish", url.Values{})
		_, body = e.get("/webhooks/" + id + "/delete")
		contains(t, body, "It is published")
	})
}

func TestWebhookValidation(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	auth := e.createAuth("https://api.crm.example.com")
	e.get("/webhooks/new")
	mod := func(change func(url.Values)) url.Values {
		f := fullWebhookForm(auth.ID)
		change(f)
		return f
	}
	cases := []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"no name", mod(func(f url.Values) { f.Set("name", "  ") }), "name", "is required"},
		{"long name", mod(func(f url.Values) { f.Set("name", strings.Repeat("n", 201)) }), "name", "at most 200"},
		{"long description", mod(func(f url.Values) { f.Set("description", strings.Repeat("d", 2001)) }), "description", "at most 2000"},
		{"no event", mod(func(f url.Values) { f.Set("event", "") }), "event", "is required"},
		{"unknown event", mod(func(f url.Values) { f.Set("event", "member.verifed") }), "event", `did you mean "member.verified"`},
		{"no authorization", mod(func(f url.Values) { f.Set("authorization_id", "") }), "authorization_id", "required when authorization is enabled"},
		{"bad authorization", mod(func(f url.Values) { f.Set("authorization_id", "nope") }), "authorization_id", "not a valid id"},
		{"missing authorization", mod(func(f url.Values) { f.Set("authorization_id", herald.NewID()) }), "authorization_id", "no such authorization"},
		{"outside authorization", mod(func(f url.Values) { f.Set("endpoint_url", "https://evil.example.com/x") }), "endpoint_url", "outside the authorization's endpoint"},
		{"no endpoint", mod(func(f url.Values) { f.Set("endpoint_url", "") }), "endpoint_url", "is required"},
		{"bad endpoint", mod(func(f url.Values) { f.Set("endpoint_url", "ftp://x.example.com") }), "endpoint_url", "http:// or https://"},
		{"placeholder host", mod(func(f url.Values) { f.Set("endpoint_url", "https://{{ member.id }}.example.com") }), "endpoint_url", "placeholder in the host"},
		{"no method", mod(func(f url.Values) { f.Set("method", "") }), "method", "is required"},
		{"bad method", mod(func(f url.Values) { f.Set("method", "TRACE") }), "method", "must be one of"},
		{"no payload type", mod(func(f url.Values) { f.Set("payload_type", "") }), "payload_type", "is required"},
		{"bad payload type", mod(func(f url.Values) { f.Set("payload_type", "YAML") }), "payload_type", "must be one of"},
		{"GET with JSON", mod(func(f url.Values) { f.Set("method", "GET") }), "payload_type", "a GET request carries no body"},
		{"no payload", mod(func(f url.Values) { f.Set("payload", " ") }), "payload", "is required"},
		{"huge payload", mod(func(f url.Values) { f.Set("payload", strings.Repeat("x", 65<<10)) }), "payload", "at most"},
		{"framing header", mod(func(f url.Values) { f.Set("custom_headers[2].name", "Content-Length") }), "custom_headers[1].name", "hop-by-hop or framing"},
		{"signature header", mod(func(f url.Values) { f.Set("custom_headers[0].name", "webhook-signature") }), "custom_headers[0].name", "set by herald"},
		{"header without name", mod(func(f url.Values) { f.Set("custom_headers[0].name", "") }), "custom_headers[0].name", "is required"},
		{"bad header name", mod(func(f url.Values) { f.Set("custom_headers[0].name", "X Source") }), "custom_headers[0].name", "not a valid header name"},
		{"header value newline", mod(func(f url.Values) { f.Set("custom_headers[2].value", "a\nb") }), "custom_headers[1].value", "line breaks"},
		{"too many headers", mod(func(f url.Values) {
			for i := 3; i < 55; i++ {
				f.Set("custom_headers["+itoa(i)+"].name", "X-H"+itoa(i))
			}
		}), "custom_headers", "at most 50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := e.post("/webhooks", c.form)
			e.status(res, http.StatusUnprocessableEntity)
			contains(t, body, "Please correct the fields marked below.")
			fieldError(t, body, c.field, c.msg)
			// What was typed comes back.
			if n := c.form.Get("name"); len(n) < 100 && strings.TrimSpace(n) != "" {
				contains(t, body, `value="`+n+`"`)
			}
		})
	}
	// Several errors at once, each next to its field.
	res, body := e.post("/webhooks", url.Values{"method": {"POST"}, "payload_type": {"JSON"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "name", "is required")
	fieldError(t, body, "event", "is required")
	fieldError(t, body, "endpoint_url", "is required")
	fieldError(t, body, "payload", "is required")
	if hooks, _, _ := e.store.ListWebhooks(context.Background(), e.ws, herald.WebhookFilter{}); len(hooks) != 0 {
		t.Fatalf("invalid forms stored %d webhooks", len(hooks))
	}
	// Editing shows the same errors.
	wh, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "ok", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	res, body = e.post("/webhooks/"+wh.ID, mod(func(f url.Values) { f.Set("method", "GET") }))
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "payload_type", "a GET request carries no body")
	// GET with FORM is fine.
	res, _ = e.post("/webhooks/"+wh.ID, mod(func(f url.Values) {
		f.Set("method", "GET")
		f.Set("payload_type", "FORM")
		f.Set("payload", "id={{ member.id }}")
	}))
	e.status(res, http.StatusSeeOther)
}

func itoa(i int) string {
	return strings.TrimLeft(strings.Repeat("0", 0)+string(rune('0'+i/10))+string(rune('0'+i%10)), "0")
}

func TestWebhookNotFound(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	// Another workspace's webhook is simply not found.
	ws2, _ := e.store.EnsureWorkspace(context.Background(), "other")
	theirs, _, err := e.svc.CreateWebhook(context.Background(), ws2.ID, herald.WebhookSpec{Name: "theirs", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/webhooks/" + theirs.ID, "/webhooks/" + theirs.ID + "/edit", "/webhooks/" + theirs.ID + "/logs", "/webhooks/" + theirs.ID + "/delete",
		"/webhooks/not-an-id", "/no/such/page", "/webhooks/" + herald.NewID()} {
		res, body := e.get(p)
		e.status(res, http.StatusNotFound)
		contains(t, body, "Not found")
	}
	for _, p := range []string{"/publish", "/unpublish", "/duplicate", "/delete", "/test", "/rotate-secret"} {
		res, _ := e.post("/webhooks/"+theirs.ID+p, url.Values{})
		e.status(res, http.StatusNotFound)
	}
	if w, err := e.store.Webhook(context.Background(), ws2.ID, theirs.ID); err != nil || w.Status != herald.Unpublished {
		t.Fatalf("other workspace's webhook changed: %v %v", w, err)
	}
}

func TestPublishRefusedWithReason(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	// A custom event type the webhook uses, then a webhook stored directly
	// with an unknown event (as if the catalog changed since).
	wh := &herald.Webhook{ID: herald.NewID(), WorkspaceID: e.ws, Status: herald.Unpublished, Revision: 1, SigningSecret: herald.NewSigningSecret(),
		WebhookSpec: herald.WebhookSpec{Name: "stale", Event: "member.gone", EndpointURL: "https://x.example.com", Method: "POST",
			PayloadType: herald.PayloadJSON, Payload: "{}", CustomHeaders: []herald.Header{}}}
	if err := e.store.CreateWebhook(context.Background(), wh); err != nil {
		t.Fatal(err)
	}
	e.get("/webhooks/" + wh.ID)
	res, _ := e.post("/webhooks/"+wh.ID+"/publish", url.Values{})
	e.status(res, http.StatusSeeOther)
	_, body := e.follow(res)
	contains(t, body, "cannot be published until its configuration is fixed", `unknown event type "member.gone"`, `class="flash flash-error"`)
}

func TestPreview(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	e.get("/webhooks/new")
	f := fullWebhookForm("")
	f.Del("authorization_enabled")
	f.Set("action", "preview")
	// Without JavaScript: the whole form comes back with the preview filled in, nothing saved.
	res, body := e.post("/webhooks", f)
	e.status(res, http.StatusOK)
	contains(t, body, `"email": "ana.novak@example.com"`, "PUT", "https://api.crm.example.com/contacts/bf428af0-bf06-4bc4-a91b-91b5bda6e211",
		"application/json", "X-Member", "webhook-signature", `value="CRM — member verified"`, "Sample: User - User Was Verified")
	if hooks, _, _ := e.store.ListWebhooks(context.Background(), e.ws, herald.WebhookFilter{}); len(hooks) != 0 {
		t.Fatal("preview saved the webhook")
	}
	// app.js asks for the pane alone.
	req, _ := http.NewRequest("POST", e.srv.URL+"/webhooks", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Herald-Fragment", "1")
	req.Header.Set("X-CSRF-Token", e.csrf)
	f.Del("csrf_token")
	req.Body = http.NoBody
	req, _ = http.NewRequest("POST", e.srv.URL+"/webhooks", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Herald-Fragment", "1")
	req.Header.Set("X-CSRF-Token", e.csrf)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res, body = e.read(res)
	e.status(res, http.StatusOK)
	contains(t, body, `"email": "ana.novak@example.com"`)
	lacks(t, body, "<html", "<form")

	// Template errors and warnings are shown in the pane.
	f.Set("payload", "{\"a\": \"{{ oops\"}")
	f.Set("csrf_token", e.csrf)
	_, body = e.post("/webhooks", f)
	contains(t, body, "The template does not render", "payload: line 1, column 8: unexpected end of template")
	f.Set("payload", "{{ nothing }}")
	_, body = e.post("/webhooks", f)
	contains(t, body, "Warnings:", `"nothing" is not a variable of this event`)
	// GET with FORM: the body becomes the query string.
	f.Set("method", "GET")
	f.Set("payload_type", "FORM")
	f.Set("endpoint_url", "https://api.example.com/track?v=1")
	f.Set("payload", "email={{ member.email }}")
	_, body = e.post("/webhooks", f)
	contains(t, body, "https://api.example.com/track?v=1&email=ana.novak@example.com")
	// No event yet: the pane says what to do.
	f.Set("event", "")
	_, body = e.post("/webhooks", f)
	contains(t, body, "Choose an event to preview")
	// On the edit form too.
	wh, _, _ := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "ok", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	f = url.Values{"name": {"ok"}, "event": {"member.verified"}, "endpoint_url": {"https://x.example.com"}, "method": {"POST"},
		"payload_type": {"JSON"}, "payload": {"{{ member.email }}"}, "action": {"preview"}, "revision": {"1"}}
	res, body = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusOK)
	contains(t, body, "ana.novak@example.com", `action="/webhooks/`+wh.ID+`"`)
}

// herald's own alerts (D9) show on the Webhooks tab.
func TestAlertsOnWebhooksTab(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/webhooks")
	e.status(res, http.StatusOK)
	lacks(t, body, "Alerts of the last 7 days")
	q, ok := e.store.(herald.Queue)
	if !ok {
		t.Skip("SKIP: store is not a queue")
	}
	data := `{"webhook": {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "CRM sync"}, "reason": "unpublished: the receiver answered 410 Gone"}`
	now := time.Now().UTC()
	ev := &herald.Event{ID: herald.NewID(), WorkspaceID: e.ws, Type: "herald.webhook.disabled", OccurredAt: now, ReceivedAt: now, RawData: []byte(data)}
	if err := q.Ingest(context.Background(), []*herald.IngestRequest{{Event: ev}}); err != nil {
		t.Fatal(err)
	}
	res, body = e.get("/webhooks")
	e.status(res, http.StatusOK)
	contains(t, body, "Alerts of the last 7 days", "herald - Webhook Disabled", `href="/webhooks/01ARZ3NDEKTSV4RRFFQ69G5FAV">CRM sync</a>`, "the receiver answered 410 Gone")
}

// The delivery settings (ordered, timeout, retry schedule) are on the
// form, survive an edit in the UI, and are validated next to their field.
func TestWebhookDeliverySettings(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	wh, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "ordered", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}",
		Ordered: true, TimeoutSeconds: 30, RetrySchedule: []string{"0s", "1m", "1h"}})
	if err != nil {
		t.Fatal(err)
	}
	res, body := e.get("/webhooks/" + wh.ID + "/edit")
	e.status(res, http.StatusOK)
	contains(t, body, `id="f-ordered" name="ordered" value="on" role="switch" aria-describedby="f-ordered-hint" checked`,
		`name="timeout_seconds" type="number" min="1" max="120" inputmode="numeric" value="30"`, `value="0s, 1m, 1h"`)
	f := url.Values{"name": {"renamed"}, "event": {"member.verified"}, "endpoint_url": {"https://x.example.com"}, "method": {"POST"},
		"payload_type": {"JSON"}, "payload": {"{}"}, "revision": {"1"}, "ordered": {"on"}, "timeout_seconds": {"30"}, "retry_schedule": {"0s, 1m, 1h"}}
	res, _ = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusSeeOther)
	got, _ := e.store.Webhook(context.Background(), e.ws, wh.ID)
	if got.Name != "renamed" || !got.Ordered || got.TimeoutSeconds != 30 || strings.Join(got.RetrySchedule, ",") != "0s,1m,1h" {
		t.Fatalf("after a UI edit: %+v", got.WebhookSpec)
	}
	f.Set("revision", "2")
	f.Set("timeout_seconds", "500")
	f.Set("retry_schedule", "0s, soon")
	res, body = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "timeout_seconds", "must be from 1 to 120")
	fieldError(t, body, "retry_schedule", "entry 2 must be a duration")
}

// The audit log page lists the admin's changes.
func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/settings/audit-log")
	e.status(res, http.StatusOK)
	contains(t, body, "This server keeps no audit log.")
	e.svc.Audit = e.store.(herald.AuditLog)
	res, body = e.get("/settings/audit-log")
	e.status(res, http.StatusOK)
	contains(t, body, "No changes yet")
	auth := e.createAuth("https://api.crm.example.com")
	res, body = e.get("/settings/audit-log")
	e.status(res, http.StatusOK)
	contains(t, body, "authorization.create", adminEmail, auth.ID)
	lacks(t, body, secretValue)
	res, body = e.get("/settings/audit-log?object_id=" + auth.ID)
	e.status(res, http.StatusOK)
	contains(t, body, "Showing the changes of one object", "authorization.create")
	// A change made in the UI names the admin who made it.
	e.get("/settings/api-keys")
	res, _ = e.post("/settings/api-keys", url.Values{"name": {"CRM sync"}, "scopes": {"read"}})
	e.status(res, http.StatusCreated)
	_, body = e.get("/settings/audit-log")
	contains(t, body, `<a href="/settings/audit-log?actor=`+url.QueryEscape(adminEmail)+`">`+adminEmail+`</a>`, "api_key.create", "CRM sync (hrld_")
}

// TestAuditLogNamesAndFilters: entries name their object (linked) and the
// log filters by object type and by actor.
func TestAuditLogNamesAndFilters(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	e.svc.Audit = e.store.(herald.AuditLog)
	auth := e.createAuth("https://api.crm.example.com") // by the test context's actor
	wh := e.webhook("CRM sync")
	gone := e.webhook("Short-lived")
	if err := e.svc.DeleteWebhook(context.Background(), e.ws, gone.ID); err != nil {
		t.Fatal(err)
	}
	e.get("/settings/api-keys")
	res, _ := e.post("/settings/api-keys", url.Values{"name": {"Sync key"}, "scopes": {"read"}})
	e.status(res, http.StatusCreated)
	_, body := e.get("/settings/audit-log")
	contains(t, body, `<a class="strong" href="/webhooks/`+wh.ID+`">CRM sync</a>`, `<a class="strong" href="/authorizations/`+auth.ID+`/edit">CRM</a>`,
		`<label for="q-object-type">Object</label>`, `<label for="q-actor">Who</label>`, "webhook.delete")
	lacks(t, body, `href="/webhooks/`+gone.ID+`"`)

	_, body = e.get("/settings/audit-log?object_type=authorization")
	contains(t, body, "authorization.create", `<option value="authorization" selected>`, "Clear")
	lacks(t, body, "webhook.create", "api_key.create")
	_, body = e.get("/settings/audit-log?actor=" + url.QueryEscape(adminEmail))
	contains(t, body, "api_key.create", `value="`+adminEmail+`"`)
	lacks(t, body, "webhook.create", "authorization.create")
	_, body = e.get("/settings/audit-log?actor=nobody%40example.com")
	contains(t, body, "No change matches these filters")
	// An unknown object type is no filter.
	_, body = e.get("/settings/audit-log?object_type=bogus")
	contains(t, body, "webhook.create", "api_key.create")
}

func TestWorkspaceSettingsPage(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/settings/workspace")
	e.status(res, http.StatusOK)
	contains(t, body, `Workspace “default”`, `placeholder="UTC"`)
	res, body = e.post("/settings/workspace", url.Values{"time_zone": {"Mars/Olympus"}})
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "time_zone", "is not an IANA time zone name")
	res, _ = e.post("/settings/workspace", url.Values{"time_zone": {"Europe/Ljubljana"}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "Time zone saved: date-only values are read in Europe/Ljubljana.", `value="Europe/Ljubljana"`)
	if loc := e.svc.Location(context.Background(), e.ws); loc.String() != "Europe/Ljubljana" {
		t.Fatalf("location %v", loc)
	}
}

func TestAddCustomEventType(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/settings/workspace")
	e.status(res, http.StatusOK)
	contains(t, body, "Custom event types", "None yet.")
	for _, c := range []struct {
		form       url.Values
		field, msg string
	}{
		{url.Values{"key": {"Bad Key"}, "display_name": {"x"}}, "key", "dot-separated"},
		{url.Values{"key": {"member.birthday"}}, "display_name", "is required"},
		{url.Values{"key": {"member.verified"}, "display_name": {"x"}}, "key", "built-in"},
		{url.Values{"key": {"member.birthday"}, "display_name": {"x"}, "sample": {"[1, 2]"}}, "sample", "JSON object"},
	} {
		res, body = e.post("/settings/workspace/event-types", c.form)
		if res.StatusCode != http.StatusUnprocessableEntity && res.StatusCode != http.StatusConflict {
			t.Fatalf("%v: status %d", c.form, res.StatusCode)
		}
		fieldError(t, body, c.field, c.msg)
	}
	res, _ = e.post("/settings/workspace/event-types", url.Values{"key": {"member.birthday"}, "display_name": {"User - Birthday"},
		"sample": {`{"member": {"id": "m-1", "email": "ana@example.com"}}`}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "Event type “User - Birthday” added", "<code>member.birthday</code>")
	// The webhook form offers it.
	_, body = e.get("/webhooks/new")
	contains(t, body, "User - Birthday")
}

// log_body_bytes is on the form's delivery settings: what the API set
// comes back and survives a UI edit, 0 (keep none) is not the default,
// empty is, and a bad value is refused next to the field. The detail
// page says what is kept.
func TestWebhookLogBodyBytes(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	ctx := context.Background()
	n := 512
	wh, _, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: "capped", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}", LogBodyBytes: &n})
	if err != nil {
		t.Fatal(err)
	}
	res, body := e.get("/webhooks/" + wh.ID)
	e.status(res, http.StatusOK)
	contains(t, body, "<dt>Logged bodies</dt><dd>The first 512 bytes of each request and response body.</dd>")
	res, body = e.get("/webhooks/" + wh.ID + "/edit")
	e.status(res, http.StatusOK)
	contains(t, body, `name="log_body_bytes" type="number" min="0" max="65536" step="1" inputmode="numeric" value="512" placeholder="4096"`,
		"from 0 (none) to 65,536; successes keep at most 1,024. Empty: the server's default (4,096).")
	f := url.Values{"name": {"renamed"}, "event": {"member.verified"}, "endpoint_url": {"https://x.example.com"}, "method": {"POST"},
		"payload_type": {"JSON"}, "payload": {"{}"}, "revision": {"1"}, "log_body_bytes": {"512"}}
	saved := func(rev int, want *int) {
		t.Helper()
		got, err := e.store.Webhook(ctx, e.ws, wh.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revision != rev || (want == nil) != (got.LogBodyBytes == nil) || (want != nil && *want != *got.LogBodyBytes) {
			t.Fatalf("revision %d, log_body_bytes %v; want revision %d, %v", got.Revision, got.LogBodyBytes, rev, want)
		}
	}
	res, _ = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusSeeOther)
	saved(2, &n)

	zero := 0
	f.Set("revision", "2")
	f.Set("log_body_bytes", "0")
	res, _ = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusSeeOther)
	saved(3, &zero)
	_, body = e.get("/webhooks/" + wh.ID)
	contains(t, body, "<dd>None: attempts keep no request or response body.</dd>")
	_, body = e.get("/webhooks/" + wh.ID + "/edit")
	contains(t, body, `name="log_body_bytes" type="number" min="0" max="65536" step="1" inputmode="numeric" value="0"`)

	for _, bad := range []string{"70000", "-1", "a lot", "99999999999999999999"} {
		f.Set("revision", "3")
		f.Set("log_body_bytes", bad)
		res, body = e.post("/webhooks/"+wh.ID, f)
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, "log_body_bytes", "must be from 0 to 65536")
		contains(t, body, `value="`+bad+`"`)
	}
	saved(3, &zero)

	f.Set("log_body_bytes", "")
	res, _ = e.post("/webhooks/"+wh.ID, f)
	e.status(res, http.StatusSeeOther)
	saved(4, nil)
	_, body = e.get("/webhooks/" + wh.ID)
	contains(t, body, "The first 4,096 bytes of each request and response body (the server's default); of a success, the first 1,024.")
}

// The caps the pages name are the server's (web.Config, from the engine).
func TestLogBodyBytesServerCaps(t *testing.T) {
	t.Parallel()
	e := signedIn(t, options{cfg: web.Config{LogBodyBytes: 2000, LogSuccessBodyBytes: -1}} /* delivery.NoBodies */)
	res, body := e.get("/webhooks/new")
	e.status(res, http.StatusOK)
	contains(t, body, `placeholder="2000"`, "successes keep none. Empty: the server's default (2,000).")
	wh, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "default caps", Event: "member.verified",
		EndpointURL: "https://x.example.com", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	_, body = e.get("/webhooks/" + wh.ID)
	contains(t, body, "The first 2,000 bytes of each request and response body (the server's default); successes keep none.")
}

// When the endpoint's circuit breaker holds deliveries back, the
// Webhooks tab and the webhook's pages say so in words, for every webhook
// that sends to that endpoint (scheme, host and port), and only those.
func TestCircuitBreakerShown(t *testing.T) {
	t.Parallel()
	mon := &fakeMonitor{}
	e := signedIn(t, options{endpoints: mon})
	ctx := context.Background()
	mk := func(name, endpoint string) *herald.Webhook {
		wh, _, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: name, Event: "member.verified",
			EndpointURL: endpoint, Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	down := mk("CRM contacts", "https://CRM.example.com/contacts/{{ member.id }}")
	also := mk("CRM tags", "https://crm.example.com:443/tags")
	fine := mk("Mailer", "https://mail.example.com/in")
	wait := mk("Shop", "http://shop.example.com:8080/hook")

	// Closed everywhere: nothing is shown.
	_, body := e.get("/webhooks")
	lacks(t, body, "Circuit open", "Circuit half-open")
	_, body = e.get("/webhooks/" + down.ID)
	lacks(t, body, "Circuit open", `id="circuit"`)

	until := time.Date(2026, 3, 4, 12, 3, 10, 0, time.UTC)
	mon.set(herald.EndpointHealth{Endpoint: "https://crm.example.com:443", State: herald.CircuitOpen, Failures: 23, OpenUntil: until})
	mon.set(herald.EndpointHealth{Endpoint: "http://shop.example.com:8080", State: herald.CircuitHalfOpen, Failures: 21})
	res, body := e.get("/webhooks")
	e.status(res, http.StatusOK)
	row := func(wh *herald.Webhook) string {
		t.Helper()
		i := strings.Index(body, `href="/webhooks/`+wh.ID+`"`)
		if i < 0 {
			t.Fatalf("no row for %s", wh.Name)
		}
		j := strings.Index(body[i:], "</tr>")
		return body[i : i+j]
	}
	for _, wh := range []*herald.Webhook{down, also} {
		contains(t, row(wh), `<span class="badge badge-bad">Circuit open</span> 23 failures in a row, deliveries wait until 12:03:10 UTC.`)
	}
	contains(t, row(wait), `<span class="badge badge-warn">Circuit half-open</span> 21 failures in a row; one trial delivery decides whether the others go out again.`)
	lacks(t, row(fine), "Circuit")

	// The webhook's pages say it near the top, with the endpoint.
	for _, path := range []string{"/webhooks/" + down.ID, "/webhooks/" + down.ID + "/logs"} {
		res, body = e.get(path)
		e.status(res, http.StatusOK)
		contains(t, body, `<div class="notice circuit" id="circuit">`, "Circuit open", "23 failures in a row, deliveries wait until 12:03:10 UTC.",
			`holds back deliveries to <span class="url">https://crm.example.com:443</span>`)
		if strings.Index(body, `id="circuit"`) > strings.Index(body, `<nav class="tabs" aria-label="Webhook">`) {
			t.Errorf("%s: the circuit note is below the tabs", path)
		}
	}
	_, body = e.get("/webhooks/" + fine.ID)
	lacks(t, body, `id="circuit"`)

	// Once it closes, the note goes.
	mon.set(herald.EndpointHealth{Endpoint: "https://crm.example.com:443", State: herald.CircuitClosed, Failures: 0})
	_, body = e.get("/webhooks/" + down.ID)
	lacks(t, body, `id="circuit"`, "Circuit open")
}

// The payload help links to the template reference, which the server
// serves itself (offline installs have it too).
func TestTemplateReference(t *testing.T) {
	e := signedIn(t)
	e.createAuth("https://api.crm.example.com")
	res, body := e.get("/webhooks/new")
	e.status(res, http.StatusOK)
	contains(t, body, `<a href="/docs/templates" target="_blank" rel="noopener">Template reference</a>`)
	res, body = e.get("/docs/templates")
	e.status(res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	contains(t, body, "# Payload templates", "Differences from Twig, kept on purpose", "hmac('sha256', key)")
}

// TestWebhookListRowActions: each row of the list offers Edit,
// Publish/Unpublish, Duplicate and Delete; the state changes come back to
// the list.
func TestWebhookListRowActions(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	wh := e.webhook("CRM")
	_, body := e.get("/webhooks")
	contains(t, body, `href="/webhooks/`+wh.ID+`/edit"`, `action="/webhooks/`+wh.ID+`/publish"`, `action="/webhooks/`+wh.ID+`/duplicate"`,
		`href="/webhooks/`+wh.ID+`/delete"`, `name="back" value="list"`, `Publish<span class="sr-only"> CRM</span>`)
	lacks(t, body, `action="/webhooks/`+wh.ID+`/unpublish"`)

	res, _ := e.post("/webhooks/"+wh.ID+"/publish", url.Values{"back": {"list"}})
	e.status(res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/webhooks" {
		t.Fatalf("publish from the list went to %q", loc)
	}
	_, body = e.follow(res)
	contains(t, body, "Webhook “CRM” is published", `action="/webhooks/`+wh.ID+`/unpublish"`)
	if got, _ := e.svc.Store.Webhook(context.Background(), e.ws, wh.ID); got.Status != herald.Published {
		t.Fatalf("status %s after Publish on the list", got.Status)
	}
	res, _ = e.post("/webhooks/"+wh.ID+"/unpublish", url.Values{"back": {"list"}})
	if loc := res.Header.Get("Location"); loc != "/webhooks" {
		t.Fatalf("unpublish from the list went to %q", loc)
	}
	// Without back=list the detail page stays the destination.
	res, _ = e.post("/webhooks/"+wh.ID+"/publish", url.Values{"back": {"https://evil.example.com"}})
	if loc := res.Header.Get("Location"); loc != "/webhooks/"+wh.ID {
		t.Fatalf("publish went to %q", loc)
	}
	res, _ = e.post("/webhooks/"+wh.ID+"/duplicate", url.Values{})
	e.status(res, http.StatusSeeOther)
	_, body = e.get("/webhooks")
	contains(t, body, "CRM (copy)")
	res, body = e.get("/webhooks/" + wh.ID + "/delete")
	e.status(res, http.StatusOK)
	contains(t, body, `action="/webhooks/`+wh.ID+`/delete"`)
	// A row action without the CSRF token is refused.
	res, _ = e.post("/webhooks/"+wh.ID+"/unpublish", url.Values{"csrf_token": {"wrong"}, "back": {"list"}})
	if res.StatusCode == http.StatusSeeOther {
		t.Fatal("unpublish without a valid CSRF token was accepted")
	}
}

// TestErrorSummaryLinksToFields: a failed form words each field error as a
// sentence, next to the field and in the summary, which links to the field.
func TestErrorSummaryLinksToFields(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	auth := e.createAuth("https://api.crm.example.com")
	e.get("/webhooks/new")
	f := fullWebhookForm(auth.ID)
	f.Set("name", "  ")
	f.Set("custom_headers[2].name", "Bad Header:")
	res, body := e.post("/webhooks", f)
	e.status(res, http.StatusUnprocessableEntity)
	contains(t, body, `<ul class="error-summary">`, `<li><a href="#f-name">Name is required.</a></li>`, `id="f-name"`,
		`<p class="field-error" id="f-name-error"><span aria-hidden="true">⚠ </span>Name is required.</p>`,
		`<a href="#f-custom_headers-1-name">Custom headers 2 name `)
	if !strings.Contains(body, `id="f-custom_headers-1-name" name="custom_headers[1].name" value="Bad Header:"`) {
		t.Error("the summary links to a header name input that is not there")
	}
}

func TestFieldSentences(t *testing.T) {
	for _, c := range []struct{ field, msg, want string }{
		{"name", "is required", "Name is required."},
		{"custom_headers[0].value", "must be at most 2000 characters", "Custom headers 1 value must be at most 2000 characters."},
		{"endpoint_url", "Use https.", "Use https."},
		{"retry_schedule", "entry 2 must be more than 0", "Retry schedule entry 2 must be more than 0."},
		{"name", "", ""},
	} {
		if got := web.Sentence(c.field, c.msg); got != c.want {
			t.Errorf("Sentence(%q, %q) = %q, want %q", c.field, c.msg, got, c.want)
		}
	}
}
