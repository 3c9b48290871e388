package herald_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// The rules Service enforces, on a real SQLite store. (The API and UI
// tests reach them through HTTP; these name each rule.)

type canceled struct{ webhookID, reason string }

// fakeCanceler records what the service asked the queue to cancel.
type fakeCanceler struct{ calls []canceled }

func (c *fakeCanceler) CancelPending(ctx context.Context, webhookID, reason string, now time.Time) (int, error) {
	c.calls = append(c.calls, canceled{webhookID, reason})
	return 0, nil
}

type serviceEnv struct {
	svc      *herald.Service
	store    *sqlstore.Store
	ws       string
	canceler *fakeCanceler
	ctx      context.Context // acting as "tester"
}

func setup(t *testing.T) *serviceEnv {
	t.Helper()
	st := storetest.OpenSQLite(t)
	ws, err := st.EnsureWorkspace(context.Background(), herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	svc := herald.NewService(st, nil)
	c := &fakeCanceler{}
	svc.Canceler, svc.Audit = c, st
	return &serviceEnv{svc: svc, store: st, ws: ws.ID, canceler: c, ctx: herald.WithActor(context.Background(), "tester")}
}

// audit returns the workspace's audit entries for one object, oldest first.
func (e *serviceEnv) audit(t *testing.T, objectID string) []*herald.AuditEntry {
	t.Helper()
	entries, _, err := e.store.ListAudit(context.Background(), e.ws, herald.AuditFilter{ObjectID: objectID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	return entries
}

func (e *serviceEnv) wantAudit(t *testing.T, objectID string, want ...string) {
	t.Helper()
	var got []string
	for _, a := range e.audit(t, objectID) {
		if a.Actor != "tester" {
			t.Errorf("audit %s by %q, want the context's actor", a.Action, a.Actor)
		}
		got = append(got, a.Action+": "+a.Summary)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit of %s:\n%s\nwant:\n%s", objectID, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// wantField checks err is an *Error of code whose fields include field
// with a message containing msg.
func wantField(t *testing.T, err error, code herald.ErrorCode, field, msg string) {
	t.Helper()
	var e *herald.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got %v, want a %s error on %s", err, code, field)
	}
	for _, f := range e.Fields {
		if f.Field == field && strings.Contains(f.Message, msg) {
			return
		}
	}
	t.Fatalf("%v: no field %s with %q", err, field, msg)
}

func hookSpec(endpoint string) herald.WebhookSpec {
	return herald.WebhookSpec{Name: "CRM", Event: "member.verified", EndpointURL: endpoint, Method: "POST",
		PayloadType: herald.PayloadJSON, Payload: `{"id": "{{ member.id }}"}`}
}

func TestServiceWebhookLifecycle(t *testing.T) {
	e := setup(t)
	ctx := e.ctx

	_, _, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: "x", Event: "coupon.redeemd", EndpointURL: "https://crm.example.com/", Method: "POST",
		PayloadType: herald.PayloadJSON, Payload: "{}"})
	wantField(t, err, herald.EInvalid, "event", `did you mean "coupon.redeemed"?`)

	w, _, err := e.svc.CreateWebhook(ctx, e.ws, hookSpec("https://crm.example.com/events"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != herald.Unpublished || w.Revision != 1 || w.SigningSecret == "" {
		t.Errorf("a new webhook: status %s, revision %d, secret %q; want unpublished, 1, a secret", w.Status, w.Revision, w.SigningSecret)
	}

	w, _, err = e.svc.UpdateWebhook(ctx, e.ws, w.ID, func(_ *herald.Webhook, spec *herald.WebhookSpec) error {
		spec.Name = "CRM v2"
		return nil
	})
	if err != nil || w.Revision != 2 || w.Name != "CRM v2" {
		t.Fatalf("update: %v, revision %d, name %q", err, w.Revision, w.Name)
	}
	abort := errors.New("changed my mind")
	if _, _, err := e.svc.UpdateWebhook(ctx, e.ws, w.ID, func(*herald.Webhook, *herald.WebhookSpec) error { return abort }); !errors.Is(err, abort) {
		t.Errorf("an update whose change fails: %v", err)
	}
	if got, _ := e.store.Webhook(ctx, e.ws, w.ID); got.Revision != 2 {
		t.Errorf("an aborted update saved revision %d", got.Revision)
	}

	if w, err = e.svc.PublishWebhook(ctx, e.ws, w.ID); err != nil || w.Status != herald.Published {
		t.Fatalf("publish: %v %v", err, w)
	}
	// A published webhook stays published through an edit.
	if w, _, err = e.svc.UpdateWebhook(ctx, e.ws, w.ID, func(_ *herald.Webhook, spec *herald.WebhookSpec) error {
		spec.Description = "members"
		return nil
	}); err != nil || w.Status != herald.Published {
		t.Fatalf("edit of a published webhook: %v, status %s", err, w.Status)
	}
	if w, err = e.svc.UnpublishWebhook(ctx, e.ws, w.ID, "receiver moved"); err != nil || w.Status != herald.Unpublished {
		t.Fatalf("unpublish: %v %v", err, w)
	}
	c, err := e.svc.DuplicateWebhook(ctx, e.ws, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == w.ID || c.Name != "CRM v2 (copy)" || c.Status != herald.Unpublished || c.Revision != 1 || c.SigningSecret == w.SigningSecret || c.Description != "members" {
		t.Errorf("duplicate: %+v", c)
	}
	if err := e.svc.DeleteWebhook(ctx, e.ws, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Webhook(ctx, e.ws, w.ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Errorf("deleted webhook: %v", err)
	}
	if err := e.svc.DeleteWebhook(ctx, e.ws, w.ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Errorf("delete twice: %v, want not found", err)
	}
	want := []canceled{{w.ID, "webhook unpublished: receiver moved"}, {w.ID, "webhook deleted"}}
	if len(e.canceler.calls) != len(want) || e.canceler.calls[0] != want[0] || e.canceler.calls[1] != want[1] {
		t.Errorf("pending deliveries canceled: %v, want %v", e.canceler.calls, want)
	}
	e.wantAudit(t, w.ID, "webhook.create: CRM", "webhook.update: revision 2; changed name", "webhook.publish: CRM v2",
		"webhook.update: revision 3; changed description", "webhook.unpublish: receiver moved", "webhook.delete: ")
	e.wantAudit(t, c.ID, "webhook.duplicate: copy of "+w.ID)
}

// An authorization's credentials go only to URLs under its endpoint: a
// webhook outside it is refused, and so is an endpoint change that would
// leave a webhook outside. Secrets left blank in an update are kept.
func TestServiceAuthorizationScope(t *testing.T) {
	e := setup(t)
	ctx := e.ctx
	a, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: "https://api.crm.example.com/v1", Type: herald.AuthHeader,
		Header: &herald.HeaderAuth{Key: "X-Api-Key", Value: "s3cr3t-1234", Visibility: herald.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	spec := hookSpec("https://api.other.example.com/v1/events")
	spec.AuthorizationEnabled, spec.AuthorizationID = true, a.ID
	_, _, err = e.svc.CreateWebhook(ctx, e.ws, spec)
	wantField(t, err, herald.EInvalid, "endpoint_url", "lies outside the authorization's endpoint")

	spec.AuthorizationID = herald.NewID()
	_, _, err = e.svc.CreateWebhook(ctx, e.ws, spec)
	wantField(t, err, herald.EInvalid, "authorization_id", "no such authorization")

	spec.AuthorizationID, spec.EndpointURL = a.ID, "https://api.crm.example.com/v1/events"
	w, _, err := e.svc.CreateWebhook(ctx, e.ws, spec)
	if err != nil {
		t.Fatal(err)
	}

	_, err = e.svc.UpdateAuthorization(ctx, e.ws, a.ID, func(s *herald.AuthorizationSpec) error {
		s.Endpoint = "https://api.crm.example.com/v2"
		return nil
	})
	wantField(t, err, herald.EInvalid, "endpoint", `"CRM" (https://api.crm.example.com/v1/events)`)

	var seen string
	a, err = e.svc.UpdateAuthorization(ctx, e.ws, a.ID, func(s *herald.AuthorizationSpec) error {
		seen = s.Header.Value
		s.Header.Key = "X-Key"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != "" {
		t.Errorf("the change saw the stored secret %q", seen)
	}
	stored, err := e.store.Authorization(ctx, e.ws, a.ID)
	if err != nil || stored.Header.Key != "X-Key" || stored.Header.Value != "s3cr3t-1234" {
		t.Errorf("after an update leaving the secret blank: %v %+v", err, stored.Header)
	}

	if err := e.svc.DeleteAuthorization(ctx, e.ws, a.ID); herald.ErrorCodeOf(err) != herald.EConflict {
		t.Errorf("delete an authorization a webhook uses: %v, want conflict", err)
	}
	if err := e.svc.DeleteWebhook(ctx, e.ws, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteAuthorization(ctx, e.ws, a.ID); err != nil {
		t.Errorf("delete an unused authorization: %v", err)
	}
	for _, entry := range e.audit(t, a.ID) {
		if strings.Contains(entry.Summary, "s3cr3t") {
			t.Errorf("the audit log shows the secret: %+v", entry)
		}
	}
}

func TestServiceEventTypes(t *testing.T) {
	e := setup(t)
	ctx := e.ctx
	err := e.svc.CreateEventType(ctx, e.ws, &herald.EventType{Key: "member.verified", DisplayName: "Mine"})
	wantField(t, err, herald.EConflict, "key", "is a built-in event type")
	err = e.svc.CreateEventType(ctx, e.ws, &herald.EventType{Key: "Member Birthday", DisplayName: "Birthday"})
	wantField(t, err, herald.EInvalid, "key", "dot-separated lower-case words")

	et := &herald.EventType{Key: " member.birthday ", DisplayName: " Birthday ", Sample: map[string]any{"member": map[string]any{"id": "m"}, "age": 30}}
	if err := e.svc.CreateEventType(ctx, e.ws, et); err != nil {
		t.Fatal(err)
	}
	if et.Key != "member.birthday" || et.DisplayName != "Birthday" || strings.Join(et.Variables, ",") != "age,member" || et.BuiltIn {
		t.Errorf("created %+v: want trimmed key and name, variables from the sample in order", et)
	}
	err = e.svc.CreateEventType(ctx, e.ws, &herald.EventType{Key: "member.birthday", DisplayName: "Again"})
	wantField(t, err, herald.EConflict, "key", "already exists")

	for key, want := range map[string]bool{"member.birthday": true, "coupon.redeemed": true, "member.deleted.twice": false} {
		if ok, err := e.svc.KnownEventType(ctx, e.ws, key); err != nil || ok != want {
			t.Errorf("KnownEventType(%q) = %v, %v; want %v", key, ok, err, want)
		}
	}
	// Another workspace does not see it.
	other, _ := e.store.EnsureWorkspace(ctx, "other")
	if ok, _ := e.svc.KnownEventType(ctx, other.ID, "member.birthday"); ok {
		t.Error("a custom event type is visible in another workspace")
	}
	e.wantAudit(t, "member.birthday", "event_type.create: Birthday")
}

func TestServiceWorkspaceSettings(t *testing.T) {
	e := setup(t)
	ctx := e.ctx
	for _, bad := range []string{"Mars/Olympus", "Local", "local"} {
		_, err := e.svc.SetTimeZone(ctx, e.ws, bad)
		wantField(t, err, herald.EInvalid, "time_zone", "is not an IANA time zone name")
	}
	if loc := e.svc.Location(ctx, e.ws); loc != time.UTC {
		t.Errorf("default location %v, want UTC", loc)
	}
	ws, err := e.svc.SetTimeZone(ctx, e.ws, " Europe/Ljubljana ")
	if err != nil || ws.TimeZone != "Europe/Ljubljana" {
		t.Fatalf("set time zone: %v %+v", err, ws)
	}
	if loc := e.svc.Location(ctx, e.ws); loc.String() != "Europe/Ljubljana" {
		t.Errorf("location after setting it: %v (the cache must be dropped on a change)", loc)
	}

	for _, bad := range []time.Duration{time.Second, 11 * 365 * 24 * time.Hour, 90*time.Second + time.Millisecond} {
		_, err := e.svc.SetRetention(ctx, e.ws, &bad)
		wantField(t, err, herald.EInvalid, "retention_seconds", "whole number of seconds")
	}
	hour := time.Hour
	if ws, err = e.svc.SetRetention(ctx, e.ws, &hour); err != nil || ws.RetentionSeconds == nil || *ws.RetentionSeconds != 3600 {
		t.Fatalf("set retention: %v %+v", err, ws)
	}
	if ws, err = e.svc.SetRetention(ctx, e.ws, nil); err != nil || ws.RetentionSeconds != nil {
		t.Fatalf("reset retention: %v %+v", err, ws)
	}
	e.wantAudit(t, e.ws, `workspace.update: time_zone "Europe/Ljubljana"`, "workspace.update: retention_seconds 3600", "workspace.update: retention_seconds null")
}

// API keys are created and revoked through the service, which records
// both; the key is shown once and authenticates until revoked.
func TestServiceAPIKeys(t *testing.T) {
	e := setup(t)
	ctx := e.ctx
	for _, tc := range []struct {
		name   string
		scopes []herald.Scope
		field  string
		msg    string
	}{
		{"  ", []herald.Scope{herald.ScopeAdmin}, "name", "is required"},
		{strings.Repeat("n", herald.MaxNameLength+1), []herald.Scope{herald.ScopeAdmin}, "name", "at most"},
		{"ci", nil, "scopes", "at least one scope"},
		{"ci", []herald.Scope{"write"}, "scopes", `unknown scope "write"`},
	} {
		_, _, err := e.svc.CreateAPIKey(ctx, e.ws, tc.name, tc.scopes)
		wantField(t, err, herald.EInvalid, tc.field, tc.msg)
	}
	if keys, _ := e.store.ListAPIKeys(ctx, e.ws); len(keys) != 0 {
		t.Fatalf("refused keys were stored: %v", keys)
	}

	key, rec, err := e.svc.CreateAPIKey(ctx, e.ws, " CRM sync ", []herald.Scope{herald.ScopeRead, herald.ScopeIngest, herald.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, herald.APIKeyPrefix) || rec.Name != "CRM sync" || len(rec.Scopes) != 2 || !strings.HasPrefix(key, rec.Prefix) {
		t.Errorf("created %q, %+v", key, rec)
	}
	got, err := e.store.APIKeyByHash(ctx, herald.HashAPIKey(key))
	if err != nil || got.ID != rec.ID || !got.Allows(herald.ScopeIngest) || got.Allows(herald.ScopeAdmin) {
		t.Fatalf("the stored key: %v %+v", err, got)
	}

	other, _ := e.store.EnsureWorkspace(ctx, "other")
	if _, err := e.svc.RevokeAPIKey(ctx, other.ID, rec.ID); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Errorf("revoke from another workspace: %v, want not found", err)
	}
	if _, err := e.svc.RevokeAPIKey(ctx, e.ws, herald.NewID()); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Errorf("revoke an unknown key: %v, want not found", err)
	}
	revoked, err := e.svc.RevokeAPIKey(ctx, e.ws, rec.ID)
	if err != nil || revoked.RevokedAt == nil || revoked.Name != "CRM sync" {
		t.Fatalf("revoke: %v %+v", err, revoked)
	}
	if _, err := e.store.APIKeyByHash(ctx, herald.HashAPIKey(key)); herald.ErrorCodeOf(err) != herald.ENotFound {
		t.Errorf("a revoked key still authenticates: %v", err)
	}
	if _, err := e.svc.RevokeAPIKey(ctx, e.ws, rec.ID); herald.ErrorCodeOf(err) != herald.EConflict {
		t.Errorf("revoke twice: %v, want conflict", err)
	}
	e.wantAudit(t, rec.ID, "api_key.create: CRM sync ("+rec.Prefix+"…)", "api_key.revoke: CRM sync")
}

// TestDuplicateNamesNumberTheCopies: copies are "(copy)", "(copy 2)",
// "(copy 3)" — a copy of a copy too — never "(copy) (copy)".
func TestDuplicateNamesNumberTheCopies(t *testing.T) {
	e := setup(t)
	ctx := e.ctx
	w, _, err := e.svc.CreateWebhook(ctx, e.ws, hookSpec("https://api.example.com/in"))
	if err != nil {
		t.Fatal(err)
	}
	dup := func(id string) *herald.Webhook {
		t.Helper()
		c, err := e.svc.DuplicateWebhook(ctx, e.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := dup(w.ID)
	c2 := dup(w.ID)
	c3 := dup(c1.ID)
	if c1.Name != "CRM (copy)" || c2.Name != "CRM (copy 2)" || c3.Name != "CRM (copy 3)" {
		t.Fatalf("copies named %q, %q, %q", c1.Name, c2.Name, c3.Name)
	}
	// A freed name is used again.
	if err := e.svc.DeleteWebhook(ctx, e.ws, c2.ID); err != nil {
		t.Fatal(err)
	}
	if c := dup(c3.ID); c.Name != "CRM (copy 2)" {
		t.Fatalf("copy after deleting (copy 2): %q", c.Name)
	}
	// A name at the limit is shortened to keep the suffix.
	spec := hookSpec("https://api.example.com/in")
	spec.Name = strings.Repeat("é", herald.MaxNameLength/2) // 200 bytes
	long, _, err := e.svc.CreateWebhook(ctx, e.ws, spec)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := dup(long.ID), dup(long.ID)
	for _, c := range []struct{ name, suffix string }{{l1.Name, "é (copy)"}, {l2.Name, "é (copy 2)"}} {
		if len(c.name) > herald.MaxNameLength || len(c.name) < herald.MaxNameLength-1 || !utf8.ValidString(c.name) || !strings.HasSuffix(c.name, c.suffix) {
			t.Fatalf("copy of a long name: %d bytes, %q", len(c.name), c.name)
		}
	}
	// The copy's name passes validation: it can be saved unchanged.
	if _, fe, err := e.svc.UpdateWebhook(ctx, e.ws, l2.ID, func(_ *herald.Webhook, spec *herald.WebhookSpec) error { return nil }); err != nil || len(fe) > 0 {
		t.Fatalf("saving the copy: %v %v", err, fe)
	}
}
