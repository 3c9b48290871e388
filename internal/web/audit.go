package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// auditObjectTypes are the object types the service records, for the
// audit log's filter.
var auditObjectTypes = []string{"webhook", "authorization", "event_type", "api_key", "workspace"}

type auditData struct {
	Entries []*herald.AuditEntry
	// Names holds the current name of each listed webhook, authorization
	// and event type, by object id; a deleted one has none.
	Names       map[string]string
	Object      string
	ObjectType  string
	Actor       string
	ObjectTypes []string
	Filtered    bool
	Next        string // URL of the next page, if any
	Off         bool   // this server keeps no audit log
}

// auditLog lists who changed what, when — newest first.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &auditData{Object: q.Get("object_id"), Actor: strings.TrimSpace(q.Get("actor")), ObjectTypes: auditObjectTypes}
	for _, t := range auditObjectTypes {
		if q.Get("object_type") == t {
			d.ObjectType = t
		}
	}
	d.Filtered = d.Object != "" || d.ObjectType != "" || d.Actor != ""
	if s.svc.Audit == nil {
		d.Off = true
		s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Section: "audit", D: d})
		return
	}
	f := herald.AuditFilter{ObjectID: d.Object, ObjectType: d.ObjectType, Actor: d.Actor, Limit: 50}
	if c := q.Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	list, next, err := s.svc.Audit.ListAudit(r.Context(), workspace(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Entries = list
	if d.Names, err = s.auditNames(r, list); err != nil {
		s.fail(w, r, err)
		return
	}
	if next != "" {
		nq := url.Values{"cursor": {next}}
		for k, v := range map[string]string{"object_id": d.Object, "object_type": d.ObjectType, "actor": d.Actor} {
			if v != "" {
				nq.Set(k, v)
			}
		}
		d.Next = "/settings/audit-log?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Section: "audit", D: d})
}

// auditNames looks up, once each, the current names of the entries'
// webhooks, authorizations and event types.
func (s *Server) auditNames(r *http.Request, list []*herald.AuditEntry) (map[string]string, error) {
	names := map[string]string{}
	done := map[string]bool{}
	var types map[string]string
	for _, e := range list {
		if done[e.ObjectID] {
			continue
		}
		done[e.ObjectID] = true
		switch e.ObjectType {
		case "webhook":
			wh, err := s.store.Webhook(r.Context(), workspace(r), e.ObjectID)
			if err == nil {
				names[e.ObjectID] = wh.Name
			} else if herald.ErrorCodeOf(err) != herald.ENotFound {
				return nil, err
			}
		case "authorization":
			a, err := s.store.Authorization(r.Context(), workspace(r), e.ObjectID)
			if err == nil {
				names[e.ObjectID] = a.Name
			} else if herald.ErrorCodeOf(err) != herald.ENotFound {
				return nil, err
			}
		case "event_type":
			if types == nil {
				all, err := s.store.ListEventTypes(r.Context(), workspace(r))
				if err != nil {
					return nil, err
				}
				types = map[string]string{}
				for _, t := range all {
					types[t.Key] = t.DisplayName
				}
			}
			if n, ok := types[e.ObjectID]; ok {
				names[e.ObjectID] = n
			}
		}
	}
	return names, nil
}
