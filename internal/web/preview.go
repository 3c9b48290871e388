package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// previewData is the request a webhook would send for its event type's
// sample event, as the form's preview pane shows it.
type previewData struct {
	Method, URL string
	Headers     []herald.Header
	Body        string
	Errors      []string // the template does not render
	Warnings    []string
	Note        string // why there is no preview yet
	EventName   string
	// Route says whether the sample would be sent (types and condition).
	Route *herald.MatchResult
}

// buildPreview renders spec against the sample of its event type. Values
// of secrets are masked; the Standard Webhooks headers show what they hold.
func (s *Server) buildPreview(r *http.Request, spec herald.WebhookSpec) *previewData {
	p := &previewData{}
	spec.Normalize()
	if len(spec.Events) == 0 {
		p.Note = "Choose an event to preview the request with its sample data."
		return p
	}
	types, err := s.svc.CoveredEventTypes(r.Context(), workspace(r), spec.Events)
	if err != nil || len(types) == 0 {
		p.Note = "Choose an event from the list to preview the request with its sample data."
		return p
	}
	et := types[0]
	p.EventName = et.DisplayName
	vars := et.SampleVars()
	if route, err := s.svc.MatchEvent(r.Context(), workspace(r), &spec, et.Key, vars); err == nil {
		p.Route = route
	} else {
		p.Errors = append(p.Errors, messages("condition", err)...)
	}
	pt := spec.PayloadType
	if pt == "" {
		pt = herald.PayloadJSON
	}
	p.Method = spec.Method
	if p.Method == "" {
		p.Method = "POST"
	}
	body, warnings, err := s.preview.Preview(pt, spec.Payload, et, vars, s.svc.Location(r.Context(), workspace(r)))
	if err != nil {
		p.Errors = messages("payload", err)
	}
	for _, w := range warnings {
		p.Warnings = append(p.Warnings, fieldMessage(w))
	}
	p.Body = string(body)
	p.URL = spec.EndpointURL
	if hasTemplate(p.URL) {
		if out, _, err := s.preview.Preview(herald.PayloadPlain, p.URL, et, vars, s.svc.Location(r.Context(), workspace(r))); err == nil {
			p.URL = string(out)
		} else {
			p.Errors = append(p.Errors, messages("endpoint_url", err)...)
		}
	}
	if p.URL == "" {
		p.URL = "(endpoint URL)"
	}
	if p.Method == "GET" {
		if p.Body != "" {
			sep := "?"
			if strings.Contains(p.URL, "?") {
				sep = "&"
			}
			p.URL += sep + p.Body
		}
		p.Body = ""
	} else {
		p.Headers = append(p.Headers, herald.Header{Name: "Content-Type", Value: pt.ContentType()})
	}
	p.Headers = append(p.Headers, herald.Header{Name: "User-Agent", Value: s.cfg.UserAgent})
	for i, h := range spec.CustomHeaders {
		v := h.Value
		if hasTemplate(v) {
			out, _, err := s.preview.Preview(herald.PayloadPlain, v, et, vars, s.svc.Location(r.Context(), workspace(r)))
			if err != nil {
				p.Errors = append(p.Errors, messages(fmt.Sprintf("custom_headers[%d].value", i), err)...)
			}
			v = string(out)
		}
		p.Headers = append(p.Headers, herald.Header{Name: h.Name, Value: v})
	}
	if spec.AuthorizationEnabled && herald.ValidID(spec.AuthorizationID) {
		if a, err := s.store.Authorization(r.Context(), workspace(r), spec.AuthorizationID); err == nil {
			switch {
			case a.Header != nil && a.Header.Visibility == herald.Public:
				p.Headers = append(p.Headers, herald.Header{Name: a.Header.Key, Value: a.Header.Value})
			case a.Header != nil:
				p.Headers = append(p.Headers, herald.Header{Name: a.Header.Key, Value: herald.Mask(a.Header.Value) + " (secret)"})
			case a.Basic != nil:
				p.Headers = append(p.Headers, herald.Header{Name: "Authorization", Value: "Basic •••• (" + a.Basic.Username + ")"})
			case a.Bearer != nil:
				p.Headers = append(p.Headers, herald.Header{Name: "Authorization", Value: "Bearer •••• (secret)"})
			case a.OAuth2 != nil:
				p.Headers = append(p.Headers, herald.Header{Name: "Authorization", Value: "Bearer •••• (an access token from " + a.OAuth2.TokenURL + ")"})
			case a.Query != nil:
				v := "••••"
				if a.Query.Visibility == herald.Public {
					v = url.QueryEscape(a.Query.Value)
				}
				sep := "?"
				if strings.Contains(p.URL, "?") {
					sep = "&"
				}
				p.URL += sep + url.QueryEscape(a.Query.Key) + "=" + v
			}
		}
	}
	p.Headers = append(p.Headers,
		herald.Header{Name: "webhook-id", Value: "(the delivery id, the same on every attempt)"},
		herald.Header{Name: "webhook-timestamp", Value: "(Unix seconds of the attempt)"},
		herald.Header{Name: "webhook-signature", Value: "v1,(HMAC-SHA256 of id.timestamp.body)"})
	return p
}

func hasTemplate(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "{%") }

func fieldMessage(f herald.FieldError) string {
	if f.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", f.Line, f.Column, f.Message)
	}
	return f.Message
}

// messages lists a render error's field messages, prefixed with where.
func messages(where string, err error) []string {
	var e *herald.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		if e != nil && e.Code != herald.EInternal {
			return []string{where + ": " + e.Message}
		}
		return []string{where + ": the template could not be rendered"}
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, where+": "+fieldMessage(f))
	}
	return out
}

// previewForm answers the Preview button: the form again with the preview
// filled in, or — for app.js's live preview — just the preview pane.
func (s *Server) previewForm(w http.ResponseWriter, r *http.Request, id string, rev int, spec herald.WebhookSpec) {
	p := s.buildPreview(r, spec)
	if wantsFragment(r) {
		s.renderFragment(w, r, "webhook_form", "preview", p)
		return
	}
	f, err := s.formData(r, id, rev, spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f.Preview = p
	title := "Add a webhook"
	if id != "" {
		title = "Edit webhook"
	}
	s.render(w, r, http.StatusOK, "webhook_form", &view{Title: title, Section: "webhooks", D: f})
}
