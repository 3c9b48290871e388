package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httperr"
)

// view is what every page template receives: the layout's fields and the
// page's own data in D.
type view struct {
	Title    string
	Section  string // webhooks, authorizations, apikeys: highlights the navigation
	Session  *herald.Session
	CSRF     string
	Flash    string
	FlashErr bool
	// Errors maps a field name (as herald.FieldError names it, which is
	// also the input's name) to its message.
	Errors map[string]string
	// FormError is a message about the whole form, shown above it.
	FormError string
	D         any
	// M is the signed-in member: role, instance owner, workspaces.
	M *memberCtx
}

// Can reports whether the signed-in member may perform action (a
// herald.Action name): pages hide what the member may not do, and the
// routes refuse it (allow).
func (v *view) Can(action string) bool {
	return v.M != nil && v.M.principal.Can(herald.Action(action))
}

// oneInputLists are the lists the forms edit in one comma-separated
// input: an error about an item (retry_schedule[2]) belongs to that input.
var oneInputLists = []string{"retry_schedule", "success_statuses"}

// oneInputList reports whether field is an item of one of oneInputLists,
// which, and its index.
func oneInputList(field string) (base string, n int, ok bool) {
	for _, base := range oneInputLists {
		if rest, found := strings.CutPrefix(field, base+"["); found {
			if i := strings.Index(rest, "]"); i > 0 && i == len(rest)-1 {
				n, err := strconv.Atoi(rest[:i])
				return base, n, err == nil
			}
		}
	}
	return "", 0, false
}

// fieldErrors turns err into per-field messages and a form-level message.
// It reports false for errors that are not about the input.
func fieldErrors(err error) (map[string]string, string, bool) {
	var e *herald.Error
	if !errors.As(err, &e) || (e.Code != herald.EInvalid && e.Code != herald.EConflict && e.Code != herald.EBadRequest) {
		return nil, "", false
	}
	m := map[string]string{}
	for _, f := range e.Fields {
		msg := f.Message
		if base, n, ok := oneInputList(f.Field); ok && base == "retry_schedule" { // one message for the whole schedule
			msg = "entry " + strconv.Itoa(n+1) + " " + msg
			f.Field = base
		}
		if f.Line > 0 {
			msg = fmt.Sprintf("line %d, column %d: %s", f.Line, f.Column, msg)
		}
		if prev, ok := m[f.Field]; ok {
			msg = prev + "; " + msg
		}
		m[f.Field] = msg
	}
	form := "Please correct the fields marked below."
	if len(e.Fields) == 0 {
		form = e.Message
	}
	return m, form, true
}

// render writes page name with status. Output is buffered so a template
// error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := s.pages[name]
	if !ok {
		s.fail(w, r, fmt.Errorf("no page template %q", name))
		return
	}
	if rc := requestFrom(r); rc != nil {
		v.Session = rc.session
		v.CSRF = rc.csrf
		v.M = rc.member
	}
	if v.Flash == "" {
		v.Flash, v.FlashErr = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.fail(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderFragment writes one named template of a page, for the live
// preview.
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(w, r, fmt.Errorf("render %s/%s: %w", page, name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// fail answers an error as a page: not found, conflict, unavailable (503)
// or internal (logged with its cause, shown only as a generic message).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := herald.ErrorCodeOf(err)
	// The status comes from the one table the API uses too.
	status, title, msg := httperr.Status(code), "Something went wrong", "An internal error occurred; it has been logged. Try again, or go back."
	var e *herald.Error
	switch {
	case code == herald.ENotFound:
		title, msg = "Not found", "This page does not exist, or the object was deleted."
	case code == herald.EInternal || !errors.As(err, &e):
		status = http.StatusInternalServerError
		s.log.ErrorContext(r.Context(), "ui request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case code == herald.EForbidden:
		title, msg = "Not allowed", e.Message
	case code == herald.ETooLarge:
		title, msg = "Too large", e.Message
	case code == herald.EUnavailable:
		// As the API answers it (503, Retry-After); the store logs the
		// outage once, so this is not logged per request.
		w.Header().Set("Retry-After", strconv.Itoa(herald.UnavailableRetrySeconds))
		title, msg = "Database unavailable", "The database is unavailable, so nothing was changed. Try again in a few seconds."
	default: // invalid, conflict, bad request: the message, never the wrapped cause
		title, msg = "Cannot do that", shownError(e)
	}
	t := s.pages["error"]
	var buf bytes.Buffer
	v := &view{Title: title, D: msg}
	if rc := requestFrom(r); rc != nil {
		v.Session, v.CSRF, v.M = rc.session, rc.csrf, rc.member
	}
	if t == nil || t.ExecuteTemplate(&buf, "layout", v) != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// shownError is what a page says of e: its message and fields, never
// the wrapped cause (a driver's text).
func shownError(e *herald.Error) string {
	msg := e.Message
	for i, f := range e.Fields {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg += sep + f.Field + " " + f.Message
	}
	return msg
}

// redirect answers a successful POST (303: the browser GETs the target).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

const flashCookie = "herald_flash"

// setFlash leaves a one-line message for the next page. A leading "!"
// marks an error.
func setFlash(w http.ResponseWriter, r *http.Request, msg string, isErr bool) {
	if isErr {
		msg = "!" + msg
	}
	if len(msg) > 1500 {
		msg = msg[:1500] + "…"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

func takeFlash(w http.ResponseWriter, r *http.Request) (string, bool) {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	msg, err := url.QueryUnescape(c.Value)
	if err != nil {
		return "", false
	}
	if m, ok := strings.CutPrefix(msg, "!"); ok {
		return m, true
	}
	return msg, false
}

// inputID turns a field name such as custom_headers[1].name into an
// element id (f-custom_headers-1-name).
// fieldLabel words a service field name for a sentence:
// "custom_headers[1].name" is "Custom headers 2 name".
func fieldLabel(field string) string {
	var b strings.Builder
	for i := 0; i < len(field); i++ {
		switch c := field[i]; c {
		case '_', '.':
			b.WriteByte(' ')
		case '[':
			j := strings.IndexByte(field[i:], ']')
			if j < 0 {
				b.WriteString(field[i:])
				i = len(field)
				continue
			}
			n, err := strconv.Atoi(field[i+1 : i+j])
			if err != nil {
				b.WriteString(field[i : i+j+1])
			} else {
				b.WriteString(" " + strconv.Itoa(n+1))
			}
			i += j
		default:
			b.WriteByte(c)
		}
	}
	l := strings.Join(strings.Fields(b.String()), " ")
	if l == "" {
		return l
	}
	return strings.ToUpper(l[:1]) + l[1:]
}

// sentence words a field's error as a sentence: "Name must be at most
// 200 characters." A message that already starts with a capital is kept.
func sentence(field, msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return ""
	}
	if first := msg[:1]; strings.ToUpper(first) != first || first == strings.ToLower(first) && !strings.ContainsAny(first, "0123456789") {
		msg = fieldLabel(field) + " " + msg
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

func inputID(field string) string {
	r := strings.NewReplacer("[", "-", "]", "", ".", "-")
	return "f-" + r.Replace(field)
}

type fieldErr struct {
	ID, Msg string
}

var funcs = template.FuncMap{
	"id": inputID,
	// anchor is where the error summary's link for field leads: the
	// field's input (the one input of a comma-separated list).
	"anchor": func(field string) string {
		if base, _, ok := oneInputList(field); ok {
			return inputID(base)
		}
		return inputID(field)
	},
	// ferr returns the error of field for the "ferr" partial.
	"ferr": func(errs map[string]string, field string) fieldErr {
		if errs[field] == "" {
			return fieldErr{ID: inputID(field) + "-error"}
		}
		return fieldErr{ID: inputID(field) + "-error", Msg: sentence(field, errs[field])}
	},
	"sentence": sentence,
	"haserr":   func(errs map[string]string, field string) bool { return errs[field] != "" },
	"errid":    func(field string) string { return inputID(field) + "-error" },
	// errids lists the error ids of a list field and its items
	// (events, events[0], events[1] …) for one input's aria-describedby;
	// "" when none has an error.
	"errids": func(errs map[string]string, fields ...string) string {
		var ids []string
		for _, field := range fields {
			if errs[field] != "" {
				ids = append(ids, inputID(field)+"-error")
			}
			for i := 0; i < herald.MaxListItems; i++ {
				if f := field + "[" + strconv.Itoa(i) + "]"; errs[f] != "" {
					ids = append(ids, inputID(f)+"-error")
				}
			}
		}
		return strings.Join(ids, " ")
	},
	"fmttime": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006, 15:04:05 UTC")
	},
	"isotime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":     ago,
	"ms": func(ms float64) string {
		switch {
		case ms >= 1000:
			return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
		case ms < 10:
			return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
		}
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	},
	"mask": herald.Mask,
	// certsoon: a client certificate that expires within the warning window.
	"certsoon": func(t time.Time) bool { return time.Until(t) < herald.CertificateWarnDays*24*time.Hour },
	"fmtdate": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"hasprefix": strings.HasPrefix,
	"join":      strings.Join,
	"add":       func(a, b int) int { return a + b },
	"upper":     strings.ToUpper,
	"string":    func(v any) string { return fmt.Sprint(v) },
	"varpaths":  varPaths,
	"num":       thousands,
	"num64":     func(n int64) string { return thousands(int(n)) },
	"bodynote":  bodyNote,
	"circuit":   circuitNote,
}

// thousands writes n with a comma between each group of three digits
// (52,310), as the pages write byte counts.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// bodyNote says how much of a body an attempt kept, when it kept less
// than there was (log_body_bytes); "" when the whole body is shown, or
// when the size is unknown (attempts logged before sizes were).
func bodyNote(stored string, size int) string {
	switch {
	case size <= len(stored):
		return ""
	case stored == "":
		return "The body (" + thousands(size) + " bytes) was not kept (log_body_bytes)."
	}
	return "Showing the first " + thousands(len(stored)) + " of " + thousands(size) + " bytes (log_body_bytes)."
}

// circuitNote describes an endpoint's circuit breaker when it holds
// deliveries back, in words (the badge's colour only repeats them); ""
// when the circuit is closed.
func circuitNote(h *herald.EndpointHealth) string {
	if h == nil {
		return ""
	}
	switch h.State {
	case herald.CircuitOpen:
		return fmt.Sprintf("%s in a row, deliveries wait until %s UTC.", plural(h.Failures, "failure"), h.OpenUntil.UTC().Format("15:04:05"))
	case herald.CircuitHalfOpen:
		return fmt.Sprintf("%s in a row; one trial delivery decides whether the others go out again.", plural(h.Failures, "failure"))
	}
	return ""
}

// exactDuration writes d in the largest unit that divides it exactly
// (30 days, 36 hours, 90 seconds).
func exactDuration(d time.Duration) string {
	for _, u := range retentionUnits {
		if d%u.d == 0 {
			return plural(int(d/u.d), u.name)
		}
	}
	return d.String()
}

// varPath is one variable a template can use, with the sample's value.
type varPath struct{ Path, Example string }

// varPaths lists an event type's variables one level deep (member.id,
// member.email, …) plus event.*, with short sample values.
func varPaths(et *herald.EventType) []varPath {
	var out []varPath
	for _, name := range append([]string{"event"}, et.Variables...) {
		var v any
		if name == "event" {
			v = et.SampleEvent()
		} else {
			v = et.Sample[name]
		}
		m, ok := v.(map[string]any)
		if !ok {
			out = append(out, varPath{Path: name, Example: example(v)})
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, varPath{Path: name + "." + k, Example: example(m[k])})
		}
	}
	return out
}

func example(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "{…}"
	case []any:
		return "[…]"
	case string:
		if len(v) > 40 {
			v = v[:37] + "…"
		}
		return strconv.Quote(v)
	}
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:37] + "…"
	}
	return s
}

// ago says how long ago t was, coarsely.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	switch {
	case n == 1:
		return "1 " + unit
	case len(unit) > 1 && unit[len(unit)-1] == 'y' && !strings.ContainsRune("aeiou", rune(unit[len(unit)-2])): // deliveries, but days
		return strconv.Itoa(n) + " " + strings.TrimSuffix(unit, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
