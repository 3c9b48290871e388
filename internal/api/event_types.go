package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) {
	types, err := s.svc.EventTypes(r.Context(), workspaceOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listResponse[*herald.EventType]{Data: types})
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request) {
	t, err := s.svc.EventType(r.Context(), workspaceOf(r), r.PathValue("key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// eventTypeInput is what a client may set on a custom event type.
type eventTypeInput struct {
	Key         string         `json:"key"`
	DisplayName string         `json:"display_name"`
	Description string         `json:"description"`
	Variables   []string       `json:"variables"`
	Sample      map[string]any `json:"sample"`
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) {
	var in eventTypeInput
	if err := s.decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t := &herald.EventType{Key: in.Key, DisplayName: in.DisplayName, Description: in.Description, Variables: in.Variables, Sample: in.Sample}
	if err := s.svc.CreateEventType(r.Context(), workspaceOf(r), t); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/event-types/"+t.Key)
	writeJSON(w, http.StatusCreated, t)
}
