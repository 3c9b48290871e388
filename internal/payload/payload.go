// Package payload turns a webhook's templates (endpoint URL, custom header
// values, body) into the request for one event. It adapts the template
// engine to the domain: save-time checks (herald.TemplateChecker), previews
// (herald.Previewer), and compiled webhooks cached per revision for the
// delivery engine, so a template is parsed once per revision, never per
// delivery.
package payload

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/template"
)

// Compiled is one revision of a webhook, ready to render requests.
type Compiled struct {
	Method      string
	PayloadType herald.PayloadType
	url         *template.Template
	body        *template.Template // nil for an empty GET FORM payload
	headers     []compiledHeader
}

type compiledHeader struct {
	name  string
	value *template.Template
}

// Request is the rendered request, before authorization and signature.
type Request struct {
	Method      string
	URL         string
	Headers     []herald.Header // the custom headers, rendered
	Body        []byte
	ContentType string // "" when there is no body
}

func formatOf(p herald.PayloadType) template.Format {
	switch p {
	case herald.PayloadJSON:
		return template.JSON
	case herald.PayloadXML:
		return template.XML
	case herald.PayloadForm:
		return template.FORM
	}
	return template.PLAIN
}

// fieldErr turns a template error into field errors with line and column.
func fieldErr(field string, err error) []herald.FieldError {
	var te *template.Error
	if errors.As(err, &te) && len(te.Diagnostics) > 0 {
		out := make([]herald.FieldError, len(te.Diagnostics))
		for i, d := range te.Diagnostics {
			out[i] = herald.FieldError{Field: field, Message: d.Message, Line: d.Line, Column: d.Column}
		}
		return out
	}
	return []herald.FieldError{{Field: field, Message: err.Error()}}
}

func diagnostics(field string, ds []template.Diagnostic) []herald.FieldError {
	out := make([]herald.FieldError, len(ds))
	for i, d := range ds {
		out[i] = herald.FieldError{Field: field, Message: d.Message, Line: d.Line, Column: d.Column}
	}
	return out
}

// Compile parses every template of spec. Errors name the field
// (payload, endpoint_url, custom_headers[i].value) with line and column.
func Compile(spec *herald.WebhookSpec, loc *time.Location) (*Compiled, error) {
	c := &Compiled{Method: spec.Method, PayloadType: spec.PayloadType}
	var fields []herald.FieldError
	var err error
	if c.url, err = template.Compile(spec.EndpointURL, template.Options{Format: template.URL, Location: loc}); err != nil {
		fields = append(fields, fieldErr("endpoint_url", err)...)
	}
	if !(spec.Method == http.MethodGet && strings.TrimSpace(spec.Payload) == "") {
		if c.body, err = template.Compile(spec.Payload, template.Options{Format: formatOf(spec.PayloadType), Location: loc}); err != nil {
			fields = append(fields, fieldErr("payload", err)...)
		}
	}
	for i, h := range spec.CustomHeaders {
		v, err := template.Compile(h.Value, template.Options{Format: template.Header, Location: loc})
		if err != nil {
			fields = append(fields, fieldErr("custom_headers["+strconv.Itoa(i)+"].value", err)...)
			continue
		}
		c.headers = append(c.headers, compiledHeader{name: h.Name, value: v})
	}
	if len(fields) > 0 {
		return nil, &herald.Error{Code: herald.EInvalid, Message: "a template does not compile", Fields: fields}
	}
	return c, nil
}

// Render builds the request for one event. vars holds the event's data and
// "event". With GET, a FORM body becomes the query string.
func (c *Compiled) Render(vars map[string]any) (*Request, error) {
	r := &Request{Method: c.Method}
	u, err := c.url.Render(vars)
	if err != nil {
		return nil, &herald.Error{Code: herald.EInvalid, Message: "render endpoint URL", Fields: fieldErr("endpoint_url", err)}
	}
	r.URL = string(u)
	if c.body != nil {
		body, err := c.body.Render(vars)
		if err != nil {
			return nil, &herald.Error{Code: herald.EInvalid, Message: "render payload", Fields: fieldErr("payload", err)}
		}
		if c.Method == http.MethodGet {
			if len(body) > 0 {
				sep := "?"
				if strings.Contains(r.URL, "?") {
					sep = "&"
				}
				r.URL += sep + string(body)
			}
		} else {
			r.Body, r.ContentType = body, c.PayloadType.ContentType()
		}
	}
	if _, err := url.ParseRequestURI(r.URL); err != nil {
		return nil, &herald.Error{Code: herald.EInvalid, Message: "render endpoint URL", Fields: []herald.FieldError{{Field: "endpoint_url", Message: fmt.Sprintf("rendered URL %q is not valid: %v", r.URL, err)}}}
	}
	r.Headers = make([]herald.Header, 0, len(c.headers))
	for i, h := range c.headers {
		v, err := h.value.Render(vars)
		if err != nil {
			return nil, &herald.Error{Code: herald.EInvalid, Message: "render header", Fields: fieldErr("custom_headers["+strconv.Itoa(i)+"].value", err)}
		}
		r.Headers = append(r.Headers, herald.Header{Name: h.name, Value: string(v)})
	}
	return r, nil
}

// Checker checks a webhook's templates when it is saved: they must
// compile and render well-formed output against the event type's sample.
type Checker struct {
	Location *time.Location // date-only values; nil = UTC
}

var _ herald.TemplateChecker = Checker{}

// CheckWebhook implements herald.TemplateChecker.
func (ch Checker) CheckWebhook(spec *herald.WebhookSpec, et *herald.EventType, loc *time.Location) ([]herald.FieldError, error) {
	if loc == nil {
		loc = ch.Location
	}
	vars := et.SampleVars()
	condWarnings, condErrs := checkConditions(spec, vars, loc)
	c, err := Compile(spec, loc)
	if err != nil {
		var e *herald.Error
		if errors.As(err, &e) {
			e.Fields = append(e.Fields, condErrs...)
		}
		return nil, err
	}
	if len(condErrs) > 0 {
		return condWarnings, &herald.Error{Code: herald.EInvalid, Message: "a condition does not compile", Fields: condErrs}
	}
	warnings := condWarnings
	warnings = append(warnings, diagnostics("endpoint_url", c.url.MissingPaths(vars))...)
	if c.body != nil {
		warnings = append(warnings, diagnostics("payload", c.body.MissingPaths(vars))...)
	}
	for i, h := range c.headers {
		warnings = append(warnings, diagnostics("custom_headers["+strconv.Itoa(i)+"].value", h.value.MissingPaths(vars))...)
	}
	if _, err := c.Render(vars); err != nil {
		return warnings, err
	}
	return warnings, nil
}

// Previewer renders templates for POST /templates/render and the UI.
type Previewer struct {
	Location *time.Location
}

var _ herald.Previewer = Previewer{}

// Preview implements herald.Previewer.
func (p Previewer) Preview(payloadType herald.PayloadType, src string, et *herald.EventType, vars map[string]any, loc *time.Location) ([]byte, []herald.FieldError, error) {
	if loc == nil {
		loc = p.Location
	}
	t, err := template.Compile(src, template.Options{Format: formatOf(payloadType), Location: loc})
	if err != nil {
		return nil, nil, &herald.Error{Code: herald.EInvalid, Message: "the template does not compile", Fields: fieldErr("template", err)}
	}
	var warnings []herald.FieldError
	if et != nil {
		warnings = diagnostics("template", t.MissingPaths(et.SampleVars()))
	}
	body, err := t.Render(vars)
	if err != nil {
		return nil, warnings, &herald.Error{Code: herald.EInvalid, Message: "the template does not render a well-formed body", Fields: fieldErr("template", err)}
	}
	return body, warnings, nil
}

// Cache keeps compiled webhooks per (id, revision). An edit creates a new
// revision, so entries never go stale; old revisions are dropped when the
// cache is full.
type Cache struct {
	Location *time.Location
	mu       sync.Mutex
	m        map[cacheKey]*Compiled
}

type cacheKey struct {
	id       string
	revision int
	zone     string
}

const maxCached = 4096

// Get returns the compiled form of w for date-only values read in loc
// (nil: the cache's Location), compiling it on first use.
func (c *Cache) Get(w *herald.Webhook, loc *time.Location) (*Compiled, error) {
	if loc == nil {
		loc = c.Location
	}
	zone := ""
	if loc != nil {
		zone = loc.String()
	}
	k := cacheKey{w.ID, w.Revision, zone}
	c.mu.Lock()
	if v, ok := c.m[k]; ok {
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	compiled, err := Compile(&w.WebhookSpec, loc)
	if err != nil {
		return nil, fmt.Errorf("compile webhook %s revision %d: %w", w.ID, w.Revision, err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[cacheKey]*Compiled)
	}
	c.m[k] = compiled
	c.mu.Unlock()
	return compiled, nil
}
