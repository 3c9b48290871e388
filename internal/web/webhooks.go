package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// blankHeaderRows is how many empty custom-header rows a form offers, so
// headers can be added without JavaScript (app.js adds more on demand).
const blankHeaderRows = 3

type webhookListData struct {
	Webhooks   []*herald.Webhook
	EventNames map[string]string
	EventTypes []*herald.EventType
	Filter     herald.WebhookFilter
	Filtered   bool
	Next       string // URL of the next page, if any
	AnyAuth    bool   // at least one authorization exists (for the empty state)
	Alerts     []alertView
	// Circuits holds, by webhook ID, the circuit breakers that hold a
	// listed webhook's deliveries back (open or half-open).
	Circuits map[string]*herald.EndpointHealth
}

// circuit reports the circuit breaker of an endpoint URL's endpoint when
// it holds deliveries back (open or half-open); nil when it is closed or
// when the endpoint is unknown.
func (s *Server) circuit(endpointURL string) *herald.EndpointHealth {
	h := s.health.EndpointHealth(herald.EndpointKey(endpointURL))
	if h.State != herald.CircuitOpen && h.State != herald.CircuitHalfOpen {
		return nil
	}
	return &h
}

// alertView is one of herald's own alerts (D9) as the Webhooks tab shows it.
type alertView struct {
	At        time.Time
	Title     string // the alert type's display name
	WebhookID string
	Webhook   string
	Detail    string
}

// alertWindow is how far back the Webhooks tab shows alerts.
const alertWindow = 7 * 24 * time.Hour

// recentAlerts reads herald's alerts of the last week, newest first.
func (s *Server) recentAlerts(r *http.Request, ws string, names map[string]string) ([]alertView, error) {
	evs, err := s.events.ListEvents(r.Context(), ws, herald.EventFilter{TypePrefix: "herald.", Since: s.now().Add(-alertWindow), Limit: 5})
	if err != nil {
		return nil, err
	}
	out := make([]alertView, 0, len(evs))
	for _, ev := range evs {
		a := alertView{At: ev.ReceivedAt, Title: names[ev.Type]}
		if a.Title == "" {
			a.Title = ev.Type
		}
		if wh, ok := ev.Data["webhook"].(map[string]any); ok {
			a.WebhookID, _ = wh["id"].(string)
			a.Webhook, _ = wh["name"].(string)
		}
		switch {
		case ev.Data["reason"] != nil:
			a.Detail = fmt.Sprint(ev.Data["reason"])
		case ev.Data["delivery"] != nil:
			if d, ok := ev.Data["delivery"].(map[string]any); ok {
				a.Detail = fmt.Sprintf("%v event, %v attempts: %v", d["event_type"], d["attempts"], d["last_error"])
			}
		case ev.Data["failing_since"] != nil:
			a.Detail = fmt.Sprintf("failing since %v", ev.Data["failing_since"])
		}
		out = append(out, a)
	}
	return out, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	ws := workspace(r)
	q := r.URL.Query()
	f := herald.WebhookFilter{Name: strings.TrimSpace(q.Get("name")), Event: q.Get("event"), Status: herald.WebhookStatus(q.Get("status")),
		Endpoint: strings.TrimSpace(q.Get("endpoint")), Limit: 50}
	if f.Status != herald.Published && f.Status != herald.Unpublished {
		f.Status = ""
	}
	if c := q.Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	list, next, err := s.store.ListWebhooks(r.Context(), ws, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	types, err := s.svc.EventTypes(r.Context(), ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := webhookListData{Webhooks: list, EventNames: eventNames(types), EventTypes: types, Filter: f,
		Filtered: f.Name != "" || f.Event != "" || f.Status != "" || f.Endpoint != ""}
	for _, wh := range list {
		if h := s.circuit(wh.EndpointURL); h != nil {
			if d.Circuits == nil {
				d.Circuits = map[string]*herald.EndpointHealth{}
			}
			d.Circuits[wh.ID] = h
		}
	}
	if d.Alerts, err = s.recentAlerts(r, ws, d.EventNames); err != nil {
		s.fail(w, r, err)
		return
	}
	if next != "" {
		nq := url.Values{}
		for _, k := range []string{"name", "event", "status", "endpoint"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("cursor", next)
		d.Next = "/webhooks?" + nq.Encode()
	}
	if len(list) == 0 && !d.Filtered {
		auths, _, err := s.store.ListAuthorizations(r.Context(), ws, herald.AuthorizationFilter{Limit: 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.AnyAuth = len(auths) > 0
	}
	s.render(w, r, http.StatusOK, "webhooks", &view{Title: "Webhooks", Section: "webhooks", D: d})
}

func eventNames(types []*herald.EventType) map[string]string {
	m := make(map[string]string, len(types))
	for _, t := range types {
		m[t.Key] = t.DisplayName
	}
	return m
}

// webhookForm is the data of the add and edit forms.
type webhookForm struct {
	ID             string // empty when adding
	Revision       int
	Spec           herald.WebhookSpec
	Headers        []herald.Header // the spec's headers and blank rows
	EventTypes     []*herald.EventType
	Event          *herald.EventType // the chosen one, if known
	Authorizations []*herald.Authorization
	Methods        []string
	PayloadTypes   []herald.PayloadType
	Preview        *previewData
	Bodies         bodyCaps
	// LogBodyBytes is log_body_bytes as typed (a refused "1.5" comes
	// back as typed) or stored; empty is the server's default.
	LogBodyBytes string
	Presets      []*herald.Preset // for "Start from a preset" (adding only)
	Preset       *herald.Preset   // the preset the form was started from
}

// bodyCaps are the engine's caps on logged bodies, which a webhook's
// log_body_bytes overrides (successes keep at most Success either way).
type bodyCaps struct {
	Default, Success, Max int
}

func (s *Server) bodyCaps() bodyCaps {
	return bodyCaps{Default: s.cfg.LogBodyBytes, Success: s.cfg.LogSuccessBodyBytes, Max: herald.MaxLogBodyBytes}
}

// Describe says what a webhook's log_body_bytes keeps (nil: the default).
func (c bodyCaps) Describe(n *int) string {
	keep, suffix := c.Default, " (the server's default)"
	if n != nil {
		keep, suffix = *n, ""
	}
	if keep <= 0 {
		return "None: attempts keep no request or response body" + suffix + "."
	}
	msg := "The first " + thousands(keep) + " bytes of each request and response body" + suffix
	switch succ := min(keep, c.Success); {
	case succ == 0:
		msg += "; successes keep none"
	case succ < keep:
		msg += "; of a success, the first " + thousands(succ)
	}
	return msg + "."
}

// Selected reports whether the multi-select shows key (a type or a
// pattern) as chosen.
func (f *webhookForm) Selected(key string) bool {
	return slices.Contains(f.Spec.Events, key) || len(f.Spec.Events) == 0 && key == f.Spec.Event
}

// SampleKey is the event type whose variables and sample the form shows.
func (f *webhookForm) SampleKey() string {
	if f.Event != nil {
		return f.Event.Key
	}
	return ""
}

// Patterns lists the patterns the multi-select offers: every event type
// (alerts excluded), then each prefix of the known types.
func (f *webhookForm) Patterns() []patternOption {
	out := []patternOption{{Key: herald.AllEvents, Label: "Every event type (herald alerts excluded)"}}
	seen := map[string]bool{}
	for _, t := range f.EventTypes {
		for i := 0; i < len(t.Key); i++ {
			if t.Key[i] != '.' {
				continue
			}
			p := t.Key[:i+1] + "*"
			if !seen[p] {
				seen[p] = true
				out = append(out, patternOption{Key: p, Label: "Every " + t.Key[:i] + " event"})
			}
		}
	}
	return out
}

// OtherEvents are the chosen entries the multi-select does not offer
// (patterns typed in), for the text field.
func (f *webhookForm) OtherEvents() string {
	offered := map[string]bool{}
	for _, p := range f.Patterns() {
		offered[p.Key] = true
	}
	for _, t := range f.EventTypes {
		offered[t.Key] = true
	}
	var other []string
	for _, e := range f.Spec.Events {
		if !offered[e] {
			other = append(other, e)
		}
	}
	return strings.Join(other, ", ")
}

type patternOption struct{ Key, Label string }

func (f *webhookForm) Action() string {
	if f.ID == "" {
		return "/webhooks"
	}
	return "/webhooks/" + f.ID
}

// formData loads what the form's dropdowns list.
func (s *Server) formData(r *http.Request, id string, revision int, spec herald.WebhookSpec) (*webhookForm, error) {
	ws := workspace(r)
	types, err := s.svc.EventTypes(r.Context(), ws)
	if err != nil {
		return nil, err
	}
	auths, err := s.allAuthorizations(r, ws)
	if err != nil {
		return nil, err
	}
	f := &webhookForm{ID: id, Revision: revision, Spec: spec, EventTypes: types, Authorizations: auths,
		Methods: herald.Methods, PayloadTypes: herald.PayloadTypes, Bodies: s.bodyCaps()}
	for _, t := range types {
		if herald.EventsCover(spec.Events, t.Key) || t.Key == spec.Event {
			f.Event = t // the first type the list covers: its sample is previewed
			break
		}
	}
	f.Headers = append(append([]herald.Header{}, spec.CustomHeaders...), make([]herald.Header, blankHeaderRows)...)
	if spec.LogBodyBytes != nil {
		f.LogBodyBytes = strconv.Itoa(*spec.LogBodyBytes)
	}
	if r.PostForm.Has("log_body_bytes") {
		f.LogBodyBytes = strings.TrimSpace(r.PostForm.Get("log_body_bytes"))
	}
	return f, nil
}

func (s *Server) allAuthorizations(r *http.Request, ws string) ([]*herald.Authorization, error) {
	var all []*herald.Authorization
	f := herald.AuthorizationFilter{Limit: herald.MaxPageSize}
	for range 10 {
		page, next, err := s.store.ListAuthorizations(r.Context(), ws, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	sort.SliceStable(all, func(i, j int) bool { return strings.ToLower(all[i].Name) < strings.ToLower(all[j].Name) })
	return all, nil
}

// defaultPayload starts a new webhook's payload editor with something
// that renders against every built-in event.
const defaultPayload = `{
  "event_id": "{{ event.id }}",
  "type": "{{ event.type }}",
  "occurred_at": "{{ event.created_at }}"
}`

func (s *Server) newWebhook(w http.ResponseWriter, r *http.Request) {
	spec := herald.WebhookSpec{Method: "POST", PayloadType: herald.PayloadJSON, Payload: defaultPayload}
	// Start from a preset: ?preset=KEY&event=TYPE fills the form (nothing
	// is saved until the admin saves it).
	var preset *herald.Preset
	if key := r.URL.Query().Get("preset"); key != "" {
		p, err := herald.PresetByKey(key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		event := r.URL.Query().Get("event")
		if !slices.Contains(p.EventTypes, event) {
			event = p.EventTypes[0]
		}
		preset, spec = p, p.WebhookSpec(event)
	}
	f, err := s.formData(r, "", 0, spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f.Presets, f.Preset = herald.Presets(), preset
	if preset != nil {
		// An authorization that already covers the preset's URL is chosen.
		for _, a := range f.Authorizations {
			if a.Type == preset.AuthorizationType && a.InScope(spec.EndpointURL) {
				f.Spec.AuthorizationID = a.ID
				break
			}
		}
	}
	s.render(w, r, http.StatusOK, "webhook_form", &view{Title: "Add a webhook", Section: "webhooks", D: f})
}

func (s *Server) editWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wh, err := s.store.Webhook(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.formData(r, wh.ID, wh.Revision, wh.WebhookSpec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "webhook_form", &view{Title: "Edit " + wh.Name, Section: "webhooks", D: f})
}

// isPreview reports whether the form was sent by the Preview button (or
// app.js's live preview) rather than Save.
func isPreview(r *http.Request) bool { return r.PostForm.Get("action") == "preview" }

func wantsFragment(r *http.Request) bool { return r.Header.Get("X-Herald-Fragment") != "" }

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	spec, _ := parseWebhookForm(r.PostForm)
	if isPreview(r) {
		s.previewForm(w, r, "", 0, spec)
		return
	}
	wh, warnings, err := s.svc.CreateWebhook(r.Context(), workspace(r), spec)
	if err != nil {
		s.formFailed(w, r, "", 0, spec, err, "Add a webhook")
		return
	}
	setFlash(w, r, withWarnings(fmt.Sprintf("Webhook “%s” created. It stays unpublished until you publish it.", wh.Name), warnings), false)
	redirect(w, r, "/webhooks/"+wh.ID)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	spec, rev := parseWebhookForm(r.PostForm)
	if isPreview(r) {
		s.previewForm(w, r, id, rev, spec)
		return
	}
	wh, warnings, err := s.svc.UpdateWebhook(r.Context(), workspace(r), id, func(current *herald.Webhook, sp *herald.WebhookSpec) error {
		if rev != 0 && rev != current.Revision {
			return &herald.Error{Code: herald.EConflict, Message: "Someone changed this webhook since you opened the form (revision " +
				strconv.Itoa(current.Revision) + ", your form has " + strconv.Itoa(rev) + "). Open it again to see the changes."}
		}
		*sp = spec
		return nil
	})
	if err != nil {
		s.formFailed(w, r, id, rev, spec, err, "Edit webhook")
		return
	}
	setFlash(w, r, withWarnings(fmt.Sprintf("Webhook “%s” saved.", wh.Name), warnings), false)
	redirect(w, r, "/webhooks/"+wh.ID)
}

// formFailed re-renders the form with each error next to its field, or
// fails the request when the error is not about the input.
func (s *Server) formFailed(w http.ResponseWriter, r *http.Request, id string, rev int, spec herald.WebhookSpec, err error, title string) {
	errs, formErr, ok := fieldErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	f, ferr := s.formData(r, id, rev, spec)
	if ferr != nil {
		s.fail(w, r, ferr)
		return
	}
	status := http.StatusUnprocessableEntity
	if herald.ErrorCodeOf(err) == herald.EConflict {
		status = http.StatusConflict
	}
	s.render(w, r, status, "webhook_form", &view{Title: title, Section: "webhooks", Errors: errs, FormError: formErr, D: f})
}

func withWarnings(msg string, warnings []herald.FieldError) string {
	if len(warnings) == 0 {
		return msg
	}
	var parts []string
	for _, w := range warnings {
		p := w.Field + ": " + w.Message
		if w.Line > 0 {
			p = fmt.Sprintf("%s (line %d, column %d): %s", w.Field, w.Line, w.Column, w.Message)
		}
		parts = append(parts, p)
	}
	return msg + " Warnings: " + strings.Join(parts, "; ")
}

type webhookPage struct {
	W         *herald.Webhook
	Tab       string
	EventName string
	Auth      *herald.Authorization
	Secret    string // set when revealed
	Test      *herald.Attempt
	TestError string
	Bodies    bodyCaps
	Circuit   *herald.EndpointHealth // when it holds deliveries back
}

func (s *Server) loadWebhook(w http.ResponseWriter, r *http.Request) (*herald.Webhook, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	wh, err := s.store.Webhook(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return wh, true
}

func (s *Server) webhookPageData(r *http.Request, wh *herald.Webhook) (*webhookPage, error) {
	ws := workspace(r)
	p := &webhookPage{W: wh, Tab: "details", EventName: strings.Join(wh.Events, ", "), Bodies: s.bodyCaps(),
		Circuit: s.circuit(wh.EndpointURL)}
	if t, err := s.svc.EventType(r.Context(), ws, wh.Event); err == nil {
		p.EventName = t.DisplayName
	}
	if wh.AuthorizationEnabled && wh.AuthorizationID != "" {
		a, err := s.store.Authorization(r.Context(), ws, wh.AuthorizationID)
		if err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
			return nil, err
		}
		p.Auth = a
	}
	return p, nil
}

func (s *Server) showWebhook(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	p, err := s.webhookPageData(r, wh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("reveal") == "secret" {
		if err := principal(r).Authorize(herald.ActReadSecret); err != nil {
			s.fail(w, r, err)
			return
		}
		p.Secret = wh.SigningSecret
	}
	if id := r.URL.Query().Get("test"); herald.ValidID(id) {
		if a, err := s.reader.Attempt(r.Context(), workspace(r), id); err == nil && a.WebhookID == wh.ID {
			p.Test = a
		}
	}
	s.render(w, r, http.StatusOK, "webhook", &view{Title: wh.Name, Section: "webhooks", D: p})
}

func (s *Server) publishWebhook(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, func(ws, id string) (string, error) {
		wh, err := s.svc.PublishWebhook(r.Context(), ws, id)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Webhook “%s” is published: new %s events are delivered to it.", wh.Name, strings.Join(wh.Events, ", ")), nil
	})
}

func (s *Server) unpublishWebhook(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, func(ws, id string) (string, error) {
		wh, err := s.svc.UnpublishWebhook(r.Context(), ws, id, "unpublished by "+requestFrom(r).session.Email)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Webhook “%s” is unpublished: it receives no events until you publish it again.", wh.Name), nil
	})
}

// lifecycle runs a state change and goes back to the detail page with
// its outcome; a refused change (say, publishing a webhook whose
// authorization was deleted) is shown there, with the reasons.
func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, act func(ws, id string) (string, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg, err := act(workspace(r), id)
	if err != nil {
		var e *herald.Error
		if !errors.As(err, &e) || e.Code == herald.EInternal || e.Code == herald.ENotFound {
			s.fail(w, r, err)
			return
		}
		setFlash(w, r, e.Error(), true)
		redirect(w, r, backTo(r, "/webhooks/"+id))
		return
	}
	setFlash(w, r, msg, false)
	redirect(w, r, backTo(r, "/webhooks/"+id))
}

// backTo is where an action goes afterwards: the webhooks list when its
// form came from there (back=list), else def.
func backTo(r *http.Request, def string) string {
	if r.PostFormValue("back") == "list" {
		return "/webhooks"
	}
	return def
}

func (s *Server) duplicateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.svc.DuplicateWebhook(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Created “%s”, an unpublished copy with its own signing secret.", c.Name), false)
	redirect(w, r, "/webhooks/"+c.ID)
}

type confirmData struct {
	Question, Detail, Action, Button, Cancel string
	// Since and Until go with the form (the replay's range), when set.
	Since, Until string
}

func (s *Server) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	detail := "Its configuration and signing secret are removed."
	if wh.Status == herald.Published {
		detail = "It is published: deliveries stop now and pending ones are canceled. " + detail
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete webhook", Section: "webhooks", D: confirmData{
		Question: fmt.Sprintf("Delete the webhook “%s”?", wh.Name), Detail: detail + " This cannot be undone.",
		Action: "/webhooks/" + wh.ID + "/delete", Button: "Delete webhook", Cancel: "/webhooks/" + wh.ID}})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	if err := s.svc.DeleteWebhook(r.Context(), workspace(r), wh.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Webhook “%s” deleted.", wh.Name), false)
	redirect(w, r, "/webhooks")
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, func(ws, id string) (string, error) {
		if _, err := s.rotator.RotateSigningSecret(r.Context(), ws, id); err != nil {
			return "", err
		}
		return "New signing secret created. Update your receiver; the old secret stays valid for a while so nothing is rejected meanwhile.", nil
	})
}

// sendTest sends the sample event now and shows the request and the
// response on the detail page. When the attempt was logged, the answer
// redirects to the page showing it (so a reload does not send again);
// otherwise (say, Log Only Errors and a success) it is shown at once.
func (s *Server) sendTest(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	p, err := s.webhookPageData(r, wh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.control.SendTest(r.Context(), workspace(r), wh.ID)
	switch {
	case err == nil:
		if _, err := s.reader.Attempt(r.Context(), workspace(r), a.ID); err == nil {
			redirect(w, r, "/webhooks/"+wh.ID+"?test="+a.ID+"#test-result")
			return
		}
		p.Test = a
	case herald.ErrorCodeOf(err) == herald.EInternal:
		s.fail(w, r, err)
		return
	default:
		p.TestError = err.Error()
	}
	s.render(w, r, http.StatusOK, "webhook", &view{Title: wh.Name, Section: "webhooks", D: p})
}
