package api

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// webhookView is a webhook as the API shows it; Warnings are set on the
// answer to a save (e.g. a variable the event type does not provide).
type webhookView struct {
	*herald.Webhook
	Warnings []herald.FieldError `json:"warnings,omitempty"`
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := herald.WebhookFilter{Name: q.Get("name"), Event: q.Get("event"), Status: herald.WebhookStatus(q.Get("status")), Endpoint: q.Get("endpoint")}
	var err error
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Status != "" && f.Status != herald.Published && f.Status != herald.Unpublished {
		s.writeError(w, r, fieldError(herald.EInvalid, "status", "must be published or unpublished"))
		return
	}
	list, next, err := s.store.ListWebhooks(r.Context(), workspaceOf(r), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listResponse[webhookView]{Data: make([]webhookView, 0, len(list)), NextCursor: next}
	for _, wh := range list {
		out.Data = append(out.Data, webhookView{Webhook: wh})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var spec herald.WebhookSpec
	if err := s.decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, warnings, err := s.svc.CreateWebhook(r.Context(), workspaceOf(r), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/webhooks/"+wh.ID)
	writeJSON(w, http.StatusCreated, webhookView{Webhook: wh, Warnings: warnings})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return s.viewOf(s.store.Webhook(ctx, ws, id))
	})
}

// webhookPatch accepts what GET returns: read-only fields are ignored,
// except revision, which, when sent, must still be the stored one (so a
// stale form cannot overwrite a newer edit).
type webhookPatch struct {
	*herald.WebhookSpec
	Revision     *int `json:"revision"`
	ID           any  `json:"id"`
	Status       any  `json:"status"`
	StatusReason any  `json:"status_reason"`
	CreatedAt    any  `json:"created_at"`
	UpdatedAt    any  `json:"updated_at"`
	Warnings     any  `json:"warnings"`
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, warnings, err := s.svc.UpdateWebhook(r.Context(), workspaceOf(r), id, func(current *herald.Webhook, spec *herald.WebhookSpec) error {
		patch := webhookPatch{WebhookSpec: spec}
		if err := s.decode(r, &patch); err != nil {
			return err
		}
		if patch.Revision != nil && *patch.Revision != current.Revision {
			return &herald.Error{Code: herald.EConflict, Message: "the webhook was changed since you read it (revision " +
				itoa(current.Revision) + ", you sent " + itoa(*patch.Revision) + "); reload and try again"}
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView{Webhook: wh, Warnings: warnings})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusNoContent, func(ctx context.Context, ws, id string) (any, error) {
		return nil, s.svc.DeleteWebhook(ctx, ws, id)
	})
}

func (s *Server) publishWebhook(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return s.viewOf(s.svc.PublishWebhook(ctx, ws, id))
	})
}

func (s *Server) unpublishWebhook(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return s.viewOf(s.svc.UnpublishWebhook(ctx, ws, id, "unpublished by "+apiKeyFrom(ctx).Name))
	})
}

func (s *Server) duplicateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, err := s.svc.DuplicateWebhook(r.Context(), workspaceOf(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/webhooks/"+wh.ID)
	writeJSON(w, http.StatusCreated, webhookView{Webhook: wh})
}

// viewOf wraps a webhook (or its error) for the answer.
func (s *Server) viewOf(wh *herald.Webhook, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return webhookView{Webhook: wh}, nil
}

func (s *Server) webhookSecret(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, err := s.store.Webhook(r.Context(), workspaceOf(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"secret": wh.SigningSecret})
}
