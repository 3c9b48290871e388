package web

import (
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/internal/herald"
)

type auditData struct {
	Entries []*herald.AuditEntry
	Object  string
	Next    string // URL of the next page, if any
	Off     bool   // this server keeps no audit log
}

// auditLog lists who changed what, when — newest first.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	d := &auditData{Object: r.URL.Query().Get("object_id")}
	if s.svc.Audit == nil {
		d.Off = true
		s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Section: "audit", D: d})
		return
	}
	f := herald.AuditFilter{ObjectID: d.Object, Limit: 50}
	if c := r.URL.Query().Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	list, next, err := s.svc.Audit.ListAudit(r.Context(), workspace(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Entries = list
	if next != "" {
		q := url.Values{"cursor": {next}}
		if d.Object != "" {
			q.Set("object_id", d.Object)
		}
		d.Next = "/settings/audit-log?" + q.Encode()
	}
	s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Section: "audit", D: d})
}
