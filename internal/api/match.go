package api

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald/internal/herald"
)

// matchRequest is POST /webhooks/{id}/match: an event to try, or none
// for the sample of the first type the webhook receives.
type matchRequest struct {
	Event *struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	} `json:"event"`
}

// matchWebhook answers whether the webhook would receive the event (its
// types, then its condition) and why not.
func (s *Server) matchWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in matchRequest
	if r.ContentLength != 0 {
		if err := s.decode(r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ctx, ws := r.Context(), workspaceOf(r)
	wh, err := s.store.Webhook(ctx, ws, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var et *herald.EventType
	var data map[string]any
	switch {
	case in.Event == nil:
		types, err := s.svc.CoveredEventTypes(ctx, ws, wh.Events)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(types) == 0 {
			writeJSON(w, http.StatusOK, herald.MatchResult{Reason: "the webhook's event types match no known type: there is no sample to try"})
			return
		}
		et = types[0]
	case in.Event.Type == "":
		s.writeError(w, r, fieldError(herald.EInvalid, "event.type", "is required"))
		return
	default:
		t, err := s.svc.EventType(ctx, ws, in.Event.Type)
		if herald.ErrorCodeOf(err) == herald.ENotFound {
			s.writeError(w, r, fieldError(herald.EInvalid, "event.type", "unknown event type "+strconv.Quote(in.Event.Type)))
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		et, data = t, in.Event.Data
	}
	vars := et.SampleVars()
	if data != nil {
		vars = make(map[string]any, len(data)+1)
		for k, v := range data {
			vars[k] = v
		}
		vars["event"] = et.SampleEvent()
	}
	res, err := s.svc.MatchEvent(ctx, ws, &wh.WebhookSpec, et.Key, vars)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
