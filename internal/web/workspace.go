package web

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

type workspaceData struct {
	Name     string
	TimeZone string
	Default  string // the server's default zone
	Custom   []*herald.EventType
	New      eventTypeForm
}

// eventTypeForm is the add-a-custom-event-type form as typed.
type eventTypeForm struct {
	Key, DisplayName, Description, Sample string
}

// workspaceSettings shows the workspace's settings: its time zone.
func (s *Server) workspaceSettings(w http.ResponseWriter, r *http.Request) {
	ws, err := s.store.WorkspaceByID(r.Context(), workspace(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := &workspaceData{Name: ws.Name, TimeZone: ws.TimeZone, Default: s.defaultZone()}
	if err := s.customTypes(r, d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "workspace", &view{Title: "Workspace", Section: "workspace", D: d})
}

func (s *Server) customTypes(r *http.Request, d *workspaceData) error {
	types, err := s.svc.EventTypes(r.Context(), workspace(r))
	if err != nil {
		return err
	}
	for _, t := range types {
		if !t.BuiltIn {
			d.Custom = append(d.Custom, t)
		}
	}
	return nil
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
			err = &herald.Error{Code: herald.EInvalid, Message: "validation failed", Fields: []herald.FieldError{{Field: "sample",
				Message: "must be a JSON object of the event's variables, e.g. {\"member\": {\"id\": \"m-1\"}}"}}}
		}
	}
	if err == nil {
		err = s.svc.CreateEventType(r.Context(), workspace(r), t)
	}
	if err != nil {
		errs, formErr, ok := fieldErrors(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		ws, gerr := s.store.WorkspaceByID(r.Context(), workspace(r))
		if gerr != nil {
			s.fail(w, r, gerr)
			return
		}
		d := &workspaceData{Name: ws.Name, TimeZone: ws.TimeZone, Default: s.defaultZone(), New: f}
		if cerr := s.customTypes(r, d); cerr != nil {
			s.fail(w, r, cerr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "workspace", &view{Title: "Workspace", Section: "workspace", Errors: errs, FormError: formErr, D: d})
		return
	}
	setFlash(w, r, "Event type “"+t.DisplayName+"” added; webhooks can now subscribe to "+t.Key+".", false)
	redirect(w, r, "/settings/workspace")
}

func (s *Server) saveWorkspaceSettings(w http.ResponseWriter, r *http.Request) {
	tz := r.PostForm.Get("time_zone")
	ws, err := s.svc.SetTimeZone(r.Context(), workspace(r), tz)
	if err != nil {
		errs, formErr, ok := fieldErrors(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		cur, gerr := s.store.WorkspaceByID(r.Context(), workspace(r))
		if gerr != nil {
			s.fail(w, r, gerr)
			return
		}
		d := &workspaceData{Name: cur.Name, TimeZone: tz, Default: s.defaultZone()}
		if cerr := s.customTypes(r, d); cerr != nil {
			s.fail(w, r, cerr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "workspace", &view{Title: "Workspace", Section: "workspace", Errors: errs, FormError: formErr, D: d})
		return
	}
	msg := "Time zone saved: date-only values are read in " + ws.TimeZone + "."
	if ws.TimeZone == "" {
		msg = "Time zone saved: the server's default (" + s.defaultZone() + ")."
	}
	setFlash(w, r, msg, false)
	redirect(w, r, "/settings/workspace")
}

func (s *Server) defaultZone() string {
	if s.svc.DefaultLocation == nil {
		return "UTC"
	}
	return s.svc.DefaultLocation.String()
}
