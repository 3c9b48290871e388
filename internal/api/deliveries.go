package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

func itoa(i int) string { return strconv.Itoa(i) }

// writeList answers one page of a list, or the error that prevented it.
func writeList[T any](s *Server, w http.ResponseWriter, r *http.Request, list []T, next string, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []T{}
	}
	writeJSON(w, http.StatusOK, listResponse[T]{Data: list, NextCursor: next})
}

// webhookOf checks that {id} is a webhook of the caller's workspace.
func (s *Server) webhookOf(r *http.Request) (*herald.Webhook, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.store.Webhook(r.Context(), workspaceOf(r), id)
}

func parseTimeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldError(herald.EInvalid, name, "must be an RFC 3339 time, e.g. 2025-05-12T12:34:56Z")
	}
	return t, nil
}

func (s *Server) listAttempts(w http.ResponseWriter, r *http.Request) {
	hook, err := s.webhookOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := herald.AttemptFilter{Outcome: herald.Outcome(r.URL.Query().Get("outcome"))}
	if f.Outcome != "" && f.Outcome != herald.OutcomeSuccess && f.Outcome != herald.OutcomeFailure {
		s.writeError(w, r, fieldError(herald.EInvalid, "outcome", "must be success or failure"))
		return
	}
	if f.Since, err = parseTimeParam(r, "since"); err == nil {
		f.Until, err = parseTimeParam(r, "until")
	}
	if err == nil {
		f.Cursor, f.Limit, err = pageParams(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.delivery.Reader.ListAttempts(r.Context(), workspaceOf(r), hook.ID, f)
	writeList(s, w, r, viewAttempts(r, list), next, err)
}

func (s *Server) getAttempt(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		a, err := s.delivery.Reader.Attempt(ctx, ws, id)
		if err != nil {
			return nil, err
		}
		return viewAttempt(r, a), nil
	})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	hook, err := s.webhookOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := herald.DeliveryFilter{Status: herald.DeliveryStatus(r.URL.Query().Get("status"))}
	switch f.Status {
	case "", herald.DeliveryPending, herald.DeliverySucceeded, herald.DeliveryFailed, herald.DeliveryCanceled:
	default:
		s.writeError(w, r, fieldError(herald.EInvalid, "status", "must be pending, succeeded, failed or canceled"))
		return
	}
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.delivery.Reader.ListDeliveries(r.Context(), workspaceOf(r), hook.ID, f)
	writeList(s, w, r, list, next, err)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return s.delivery.Control.RetryDelivery(ctx, ws, id)
	})
}

func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := s.webhookOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		Since string `json:"since"`
		Until string `json:"until"`
	}
	if err := s.decode(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	var v herald.Validation
	since, serr := time.Parse(time.RFC3339Nano, body.Since)
	until, uerr := time.Parse(time.RFC3339Nano, body.Until)
	if serr != nil {
		v.Add("since", "is required: an RFC 3339 time, e.g. 2025-05-12T00:00:00Z")
	}
	if uerr != nil {
		v.Add("until", "is required: an RFC 3339 time, e.g. 2025-05-13T00:00:00Z")
	} else if serr == nil && !until.After(since) {
		v.Add("until", "must be after since")
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.delivery.Control.ReplayFailed(r.Context(), workspaceOf(r), hook.ID, since, until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		a, err := s.delivery.Control.SendTest(ctx, ws, id)
		if err != nil {
			return nil, err
		}
		return viewAttempt(r, a), nil
	})
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hook, err := s.delivery.Rotate(r.Context(), workspaceOf(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"secret": hook.SigningSecret, "previous_secret_expires_at": hook.PreviousSecretExpiresAt})
}
