package web

import (
	"net/http"
)

type workspaceData struct {
	Name     string
	TimeZone string
	Default  string // the server's default zone
}

// workspaceSettings shows the workspace's settings: its time zone.
func (s *Server) workspaceSettings(w http.ResponseWriter, r *http.Request) {
	ws, err := s.store.WorkspaceByID(r.Context(), workspace(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := &workspaceData{Name: ws.Name, TimeZone: ws.TimeZone, Default: s.defaultZone()}
	s.render(w, r, http.StatusOK, "workspace", &view{Title: "Workspace", Section: "workspace", D: d})
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
