package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

type workspaceData struct {
	Name     string
	TimeZone string
	Default  string // the server's default zone
	// Retention is the workspace's own retention as typed or stored
	// (empty: the server's); DefaultRetention the server's, in words
	// ("for 30 days", "forever").
	Retention        retentionForm
	DefaultRetention string
	Custom           []*herald.EventType
	// Origins are the portal's allowed origins, one a line.
	Origins string
	New     eventTypeForm
	// Failed names the form whose errors the page shows (zone, retention,
	// event_type), so the message above a form is the one sent.
	Failed string
}

// eventTypeForm is the add-a-custom-event-type form as typed.
type eventTypeForm struct {
	Key, DisplayName, Description, Sample string
}

// workspaceSettings shows the workspace's settings: its time zone, how
// long it keeps logs, its custom event types.
func (s *Server) workspaceSettings(w http.ResponseWriter, r *http.Request) {
	d, err := s.workspaceData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "workspace", &view{Title: "Workspace", Section: "workspace", D: d})
}

// workspaceData loads the page's data as stored.
func (s *Server) workspaceData(r *http.Request) (*workspaceData, error) {
	ws, err := s.store.WorkspaceByID(r.Context(), workspace(r))
	if err != nil {
		return nil, err
	}
	d := &workspaceData{Name: ws.Name, TimeZone: ws.TimeZone, Default: s.defaultZone(),
		Retention: retentionFormOf(ws.RetentionSeconds), DefaultRetention: keptFor(s.cfg.Retention),
		Origins: strings.Join(ws.PortalAllowedOrigins, "\n")}
	types, err := s.svc.EventTypes(r.Context(), workspace(r))
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if !t.BuiltIn {
			d.Custom = append(d.Custom, t)
		}
	}
	return d, nil
}

// workspaceFailed re-renders the page with each error of the form that
// failed next to its field (as typed: typed sets it on the data), or fails
// the request when the error is not about the input.
func (s *Server) workspaceFailed(w http.ResponseWriter, r *http.Request, form string, err error, typed func(*workspaceData)) {
	errs, formErr, ok := fieldErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	d, derr := s.workspaceData(r)
	if derr != nil {
		s.fail(w, r, derr)
		return
	}
	d.Failed = form
	typed(d)
	s.render(w, r, http.StatusUnprocessableEntity, "workspace", &view{Title: "Workspace", Section: "workspace", Errors: errs, FormError: formErr, D: d})
}

// addEventType adds a custom event type: key, display name, description
// and a sample event (its data as JSON), which previews and test sends use.
func (s *Server) addEventType(w http.ResponseWriter, r *http.Request) {
	f := eventTypeForm{Key: strings.TrimSpace(r.PostForm.Get("key")), DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
		Description: strings.TrimSpace(r.PostForm.Get("description")), Sample: r.PostForm.Get("sample")}
	t := &herald.EventType{Key: f.Key, DisplayName: f.DisplayName, Description: f.Description}
	var err error
	if strings.TrimSpace(f.Sample) != "" {
		if derr := herald.DecodeJSON([]byte(f.Sample), &t.Sample); derr != nil || t.Sample == nil {
			err = invalidField("sample", "must be a JSON object of the event's variables, e.g. {\"member\": {\"id\": \"m-1\"}}")
		}
	}
	if err == nil {
		err = s.svc.CreateEventType(r.Context(), workspace(r), t)
	}
	if err != nil {
		s.workspaceFailed(w, r, "event_type", err, func(d *workspaceData) { d.New = f })
		return
	}
	setFlash(w, r, "Event type “"+t.DisplayName+"” added; webhooks can now subscribe to "+t.Key+".", false)
	redirect(w, r, "/settings/workspace")
}

func (s *Server) saveWorkspaceSettings(w http.ResponseWriter, r *http.Request) {
	tz := r.PostForm.Get("time_zone")
	ws, err := s.svc.SetTimeZone(r.Context(), workspace(r), tz)
	if err != nil {
		s.workspaceFailed(w, r, "zone", err, func(d *workspaceData) { d.TimeZone = tz })
		return
	}
	msg := "Time zone saved: date-only values are read in " + ws.TimeZone + "."
	if ws.TimeZone == "" {
		msg = "Time zone saved: the server's default (" + s.defaultZone() + ")."
	}
	setFlash(w, r, msg, false)
	redirect(w, r, "/settings/workspace")
}

// saveRetention sets how long the workspace keeps attempts and finished
// events; an empty amount goes back to the server's --retention.
func (s *Server) saveRetention(w http.ResponseWriter, r *http.Request) {
	retention, f, err := parseRetentionForm(r.PostForm)
	if err == nil {
		_, err = s.svc.SetRetention(r.Context(), workspace(r), retention)
	}
	if err != nil {
		s.workspaceFailed(w, r, "retention", err, func(d *workspaceData) { d.Retention = f })
		return
	}
	msg := "Retention saved: the server's default, logs are kept " + keptFor(s.cfg.Retention) + "."
	if retention != nil {
		msg = "Retention saved: this workspace keeps logs " + keptFor(*retention) + "."
	}
	setFlash(w, r, msg, false)
	redirect(w, r, "/settings/workspace")
}

// keptFor says how long a retention keeps logs: "for 30 days", or
// "forever" (the server's --retention may be negative).
func keptFor(d time.Duration) string {
	if d < 0 {
		return "forever"
	}
	return "for " + exactDuration(d)
}

func (s *Server) defaultZone() string {
	if s.svc.DefaultLocation == nil {
		return "UTC"
	}
	return s.svc.DefaultLocation.String()
}

// savePortalOrigins sets the origins whose pages may frame the
// workspace's portal, one a line; an entry that is not an origin is
// named by its line.
func (s *Server) savePortalOrigins(w http.ResponseWriter, r *http.Request) {
	typed := r.PostForm.Get("portal_allowed_origins")
	origins := []string{}
	for _, l := range strings.Split(typed, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			origins = append(origins, l)
		}
	}
	_, err := s.svc.UpdateWorkspace(r.Context(), workspace(r), herald.WorkspacePatch{PortalAllowedOrigins: &origins})
	if err != nil {
		if e, ok := err.(*herald.Error); ok {
			for i, f := range e.Fields {
				if n, ok := strings.CutPrefix(f.Field, "portal_allowed_origins["); ok {
					var line int
					fmt.Sscanf(n, "%d", &line)
					e.Fields[i] = herald.FieldError{Field: "portal_allowed_origins", Message: fmt.Sprintf("entry %d: %s", line+1, f.Message)}
				}
			}
		}
		s.workspaceFailed(w, r, "origins", err, func(d *workspaceData) { d.Origins = typed })
		return
	}
	msg := "Portal origins saved: no page may frame this workspace's portal."
	if len(origins) > 0 {
		msg = "Portal origins saved: " + strings.Join(origins, ", ") + "."
	}
	setFlash(w, r, msg, false)
	redirect(w, r, "/settings/workspace")
}
