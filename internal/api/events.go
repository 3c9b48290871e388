package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Delivery is what the API needs of the delivery engine.
type Delivery struct {
	Ingester herald.Ingester
	Control  herald.DeliveryControl
	Reader   herald.DeliveryReader
	Rotate   func(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error)
}

// missing names the fields of d that are nil; New refuses such a Delivery.
func (d Delivery) missing() []string {
	var m []string
	if d.Ingester == nil {
		m = append(m, "Ingester")
	}
	if d.Control == nil {
		m = append(m, "Control")
	}
	if d.Reader == nil {
		m = append(m, "Reader")
	}
	if d.Rotate == nil {
		m = append(m, "Rotate")
	}
	return m
}

// eventBody is POST /events: the event, strictly decoded.
type eventBody struct {
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data"`
	OccurredAt     *string         `json:"occurred_at"`
	ID             string          `json:"id"`
	IdempotencyKey string          `json:"idempotency_key"`
}

func (b eventBody) input(field string) (herald.EventInput, *herald.FieldError) {
	in := herald.EventInput{Type: b.Type, Data: b.Data, ID: b.ID, IdempotencyKey: b.IdempotencyKey}
	if b.OccurredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *b.OccurredAt)
		if err != nil {
			return in, &herald.FieldError{Field: field + "occurred_at", Message: "must be an RFC 3339 time, e.g. 2025-05-12T12:34:56Z"}
		}
		in.OccurredAt = &t
	}
	return in, nil
}

func (s *Server) ingestEvent(w http.ResponseWriter, r *http.Request) {
	var body eventBody
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	in, ferr := body.input("")
	if ferr != nil {
		s.writeError(w, r, &herald.Error{Code: herald.EInvalid, Message: "validation failed", Fields: []herald.FieldError{*ferr}})
		return
	}
	if key := strings.TrimSpace(r.Header.Get("Idempotency-Key")); key != "" {
		in.IdempotencyKey = key
	}
	res, err := s.delivery.Ingester.Ingest(r.Context(), workspaceOf(r), []herald.EventInput{in})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/events/"+res[0].EventID)
	writeJSON(w, http.StatusAccepted, res[0])
}

func (s *Server) ingestBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Events []eventBody `json:"events"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(body.Events) == 0 {
		s.writeError(w, r, fieldError(herald.EInvalid, "events", "is required: a list of 1 to 1000 events"))
		return
	}
	var v herald.Validation
	inputs := make([]herald.EventInput, len(body.Events))
	for i, b := range body.Events {
		in, ferr := b.input("events[" + itoa(i) + "].")
		if ferr != nil {
			v.Fields = append(v.Fields, *ferr)
		}
		inputs[i] = in
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.delivery.Ingester.Ingest(r.Context(), workspaceOf(r), inputs)
	if err != nil {
		var he *herald.Error
		if len(inputs) == 1 && errors.As(err, &he) {
			// The ingester names fields of a lone event without an index;
			// in a batch they are events[0].….
			for i := range he.Fields {
				he.Fields[i].Field = "events[0]." + he.Fields[i].Field
			}
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"results": res})
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return s.delivery.Reader.Event(ctx, ws, id)
	})
}

func (s *Server) resendEvent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		WebhookID string `json:"webhook_id"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !herald.ValidID(body.WebhookID) {
		s.writeError(w, r, fieldError(herald.EInvalid, "webhook_id", "is required: the id of the webhook to deliver the event to"))
		return
	}
	if _, err := s.store.Webhook(r.Context(), workspaceOf(r), body.WebhookID); err != nil {
		if herald.ErrorCodeOf(err) == herald.ENotFound {
			err = fieldError(herald.EInvalid, "webhook_id", "no such webhook")
		}
		s.writeError(w, r, err)
		return
	}
	d, err := s.delivery.Control.ResendEvent(r.Context(), workspaceOf(r), id, body.WebhookID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, d)
}
