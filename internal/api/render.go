package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// Renderer renders templates for POST /templates/render.
type Renderer = herald.Previewer

type renderRequest struct {
	PayloadType herald.PayloadType `json:"payload_type"`
	Template    string             `json:"template"`
	// Condition, if set, is evaluated over the same variables: does the
	// event match (matches, reason in the answer)? With a condition the
	// template may be left empty.
	Condition string         `json:"condition"`
	EventType string         `json:"event_type"`
	Data      map[string]any `json:"data"`
	Event     *struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		CreatedAt string `json:"created_at"`
	} `json:"event"`
}

type renderResponse struct {
	Body        string              `json:"body"`
	ContentType string              `json:"content_type"`
	Warnings    []herald.FieldError `json:"warnings"`
	// Matches and Reason answer a request that sent a condition.
	Matches *bool  `json:"matches,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request) {
	var in renderRequest
	if err := s.decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	var v herald.Validation
	switch in.PayloadType {
	case herald.PayloadJSON, herald.PayloadXML, herald.PayloadPlain, herald.PayloadForm:
	case "":
		v.Add("payload_type", "is required (JSON, XML, PLAIN or FORM)")
	default:
		v.Add("payload_type", "must be one of JSON, XML, PLAIN, FORM")
	}
	if len(in.Template) > herald.DefaultMaxTemplate {
		v.Add("template", "must be at most %d bytes", herald.DefaultMaxTemplate)
	}
	var et *herald.EventType
	if in.EventType != "" {
		t, err := s.svc.EventType(r.Context(), workspaceOf(r), in.EventType)
		if err != nil {
			if herald.ErrorCodeOf(err) != herald.ENotFound {
				s.writeError(w, r, err)
				return
			}
			v.Add("event_type", "unknown event type %q", in.EventType)
		}
		et = t
	} else if in.Data == nil {
		v.Add("event_type", "is required when no data is given (its sample event is rendered)")
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	vars := map[string]any{}
	if in.Data != nil {
		for k, val := range in.Data {
			vars[k] = val
		}
		delete(vars, "event")
	} else {
		vars = et.SampleVars()
	}
	event := map[string]any{"id": "01JV2Q7R6M3K8N4P5S9T0W1X2Y", "type": in.EventType, "created_at": "2025-05-12T12:34:56Z"}
	if et != nil {
		event = et.SampleEvent()
	}
	if in.Event != nil {
		if in.Event.ID != "" {
			event["id"] = in.Event.ID
		}
		if in.Event.Type != "" {
			event["type"] = in.Event.Type
		}
		if in.Event.CreatedAt != "" {
			event["created_at"] = in.Event.CreatedAt
		}
	}
	vars["event"] = event
	out := renderResponse{ContentType: in.PayloadType.ContentType(), Warnings: []herald.FieldError{}}
	if in.Condition != "" {
		typ, _ := event["type"].(string)
		m, err := s.svc.MatchEvent(r.Context(), workspaceOf(r), &herald.WebhookSpec{Events: []string{typ}, Condition: in.Condition}, typ, vars)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Matches, out.Reason = &m.Matches, m.Reason
		if in.Template == "" {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	body, warnings, err := s.render.Preview(in.PayloadType, in.Template, et, vars, s.svc.Location(r.Context(), workspaceOf(r)))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if warnings != nil {
		out.Warnings = warnings
	}
	out.Body = string(body)
	writeJSON(w, http.StatusOK, out)
}
