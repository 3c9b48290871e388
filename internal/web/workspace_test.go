package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Settings › Workspace sets the workspace's retention through the
// service: a number and a unit, empty for the server's default (shown),
// each error next to the field under the service's field name.
func TestWorkspaceRetention(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	ctx := context.Background()
	res, body := e.get("/settings/workspace")
	e.status(res, http.StatusOK)
	contains(t, body, "Log retention", "Deliveries still pending are kept whatever their age.", "Empty: the server's default, for 30 days.",
		`name="retention_amount" type="number" min="1" step="1" inputmode="numeric" value=""`, `<option value="day" selected>days</option>`)

	for _, c := range []struct {
		amount, unit, msg string
	}{
		{"30", "second", "must be a whole number of seconds from 60 (a minute) to 315360000 (ten years)"},
		{"11", "year", "needs a unit"},
		{"4000", "day", "from 60 (a minute) to 315360000 (ten years)"},
		{"99999999999999999", "day", "from 60 (a minute) to 315360000 (ten years)"},
		{"1.5", "hour", "must be a whole number of hours"},
		{"-3", "day", "must be a whole number of days"},
	} {
		res, body = e.post("/settings/workspace/retention", url.Values{"retention_amount": {c.amount}, "retention_unit": {c.unit}})
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, "retention_seconds", c.msg)
		// The form comes back as typed, and its message above it.
		contains(t, body, `value="`+c.amount+`"`, `<h2 id="sec-retention">Log retention</h2>
  <div class="form-error" role="alert" id="form-error">`)
	}
	if ws, _ := e.store.WorkspaceByID(ctx, e.ws); ws.RetentionSeconds != nil {
		t.Fatalf("a refused form set retention %d", *ws.RetentionSeconds)
	}

	res, _ = e.post("/settings/workspace/retention", url.Values{"retention_amount": {"7"}, "retention_unit": {"day"}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "Retention saved: this workspace keeps logs for 7 days.", `value="7"`, `<option value="day" selected>days</option>`)
	ws, _ := e.store.WorkspaceByID(ctx, e.ws)
	if ws.RetentionSeconds == nil || *ws.RetentionSeconds != 7*86400 {
		t.Fatalf("retention %v, want 604800 s", ws.RetentionSeconds)
	}

	// What the API set that is not whole days comes back in the largest
	// exact unit, so saving the form again keeps it.
	d := 90 * time.Second
	if _, err := e.svc.SetRetention(ctx, e.ws, &d); err != nil {
		t.Fatal(err)
	}
	_, body = e.get("/settings/workspace")
	contains(t, body, `value="90"`, `<option value="second" selected>seconds</option>`)
	d = 36 * time.Hour
	e.svc.SetRetention(ctx, e.ws, &d)
	_, body = e.get("/settings/workspace")
	contains(t, body, `value="36"`, `<option value="hour" selected>hours</option>`)
	res, _ = e.post("/settings/workspace/retention", url.Values{"retention_amount": {"36"}, "retention_unit": {"hour"}})
	e.status(res, http.StatusSeeOther)
	if ws, _ := e.store.WorkspaceByID(ctx, e.ws); ws.RetentionSeconds == nil || *ws.RetentionSeconds != 36*3600 {
		t.Fatalf("retention %v after saving the form unchanged", ws.RetentionSeconds)
	}

	// Empty goes back to the server's default.
	res, _ = e.post("/settings/workspace/retention", url.Values{"retention_amount": {""}, "retention_unit": {"day"}})
	e.status(res, http.StatusSeeOther)
	_, body = e.follow(res)
	contains(t, body, "Retention saved: the server's default, logs are kept for 30 days.")
	if ws, _ := e.store.WorkspaceByID(ctx, e.ws); ws.RetentionSeconds != nil {
		t.Fatalf("retention %d, want the default", *ws.RetentionSeconds)
	}
	// A time zone error is shown above the time zone form only.
	res, body = e.post("/settings/workspace", url.Values{"time_zone": {"Mars/Olympus"}})
	e.status(res, http.StatusUnprocessableEntity)
	contains(t, body, `<h2 id="sec-zone">Time zone</h2>
  <div class="form-error" role="alert" id="form-error">`)
	lacks(t, body, `id="f-retention_seconds-error"`)
}

// The server's --retention is the default the page names; a negative one
// keeps logs forever.
func TestWorkspaceRetentionServerDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		retention time.Duration
		want      string
	}{
		{72 * time.Hour, "Empty: the server's default, for 3 days."},
		{90 * time.Minute, "Empty: the server's default, for 90 minutes."},
		{-1, "Empty: the server's default, forever."},
	} {
		e := signedIn(t, options{retention: c.retention})
		_, body := e.get("/settings/workspace")
		contains(t, body, c.want)
	}
}

// TestSettingsMenuMatchesCrumbs: the top menu is the Settings menu the
// breadcrumbs name, with the current section marked.
func TestSettingsMenuMatchesCrumbs(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	a := e.createAuth("https://api.crm.example.com")
	for _, c := range []struct{ path, crumb, current string }{
		{"/webhooks", `<p class="crumbs">Settings <span aria-hidden="true">›</span> Webhooks</p>`, `<a href="/webhooks" aria-current="page">Webhooks</a>`},
		{"/settings/api-keys", `<p class="crumbs">Settings <span aria-hidden="true">›</span> API keys</p>`, `<a href="/settings/api-keys" aria-current="page">API keys</a>`},
		{"/settings/audit-log", `<p class="crumbs">Settings <span aria-hidden="true">›</span> Audit log</p>`, `<a href="/settings/audit-log" aria-current="page">Audit log</a>`},
		{"/authorizations/" + a.ID + "/edit", `<p class="crumbs">Settings <span aria-hidden="true">›</span> <a href="/webhooks">Webhooks</a> <span aria-hidden="true">›</span> <a href="/authorizations">Authorizations</a> <span aria-hidden="true">›</span> CRM</p>`,
			`<a href="/webhooks" aria-current="page">Webhooks</a>`},
	} {
		_, body := e.get(c.path)
		contains(t, body, `<nav class="mainnav" aria-labelledby="nav-settings">`, `<span class="nav-label" id="nav-settings">Settings</span>`, c.crumb, c.current)
	}
}
