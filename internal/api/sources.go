package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
)

// sourceView is a source as the API shows it: the URL masked, the status
// flattened beside the configuration.
type sourceView struct {
	ID            string               `json:"id"`
	Name          string               `json:"name"`
	Type          herald.SourceType    `json:"type"`
	URL           string               `json:"url"`
	NATS          *herald.NATSSource   `json:"nats,omitempty"`
	AMQP          *herald.AMQPSource   `json:"amqp,omitempty"`
	Outbox        *herald.OutboxSource `json:"outbox,omitempty"`
	Mapping       herald.SourceMapping `json:"mapping"`
	Paused        bool                 `json:"paused"`
	State         herald.SourceState   `json:"state"`
	LastError     string               `json:"last_error"`
	Ingested      int64                `json:"ingested"`
	Rejected      int64                `json:"rejected"`
	LastMessageAt *time.Time           `json:"last_message_at"`
	Lag           *int64               `json:"lag"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
}

func viewSource(src *herald.Source) sourceView {
	v := sourceView{ID: src.ID, Name: src.Name, Type: src.Type, URL: src.MaskedURL(), NATS: src.NATS, AMQP: src.AMQP, Outbox: src.Outbox,
		Mapping: src.Mapping, Paused: src.Paused, State: src.Effective(), LastError: src.Status.LastError,
		Ingested: src.Status.Ingested, Rejected: src.Status.Rejected, CreatedAt: src.CreatedAt, UpdatedAt: src.UpdatedAt}
	if !src.Status.LastMessageAt.IsZero() {
		t := src.Status.LastMessageAt
		v.LastMessageAt = &t
	}
	if src.Status.Lag >= 0 {
		lag := src.Status.Lag
		v.Lag = &lag
	}
	return v
}

// sourceBody is what POST and PATCH decode: the configuration, and the
// read-only fields GET returns (ignored), so a client can send back what
// it read.
type sourceBody struct {
	*herald.Source
	State         any `json:"state"`
	LastError     any `json:"last_error"`
	Ingested      any `json:"ingested"`
	Rejected      any `json:"rejected"`
	LastMessageAt any `json:"last_message_at"`
	Lag           any `json:"lag"`
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	f := herald.SourceFilter{Type: herald.SourceType(r.URL.Query().Get("type"))}
	var err error
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.svc.ListSources(r.Context(), workspaceOf(r), f)
	views := make([]sourceView, 0, len(list))
	for _, src := range list {
		views = append(views, viewSource(src))
	}
	writeList(s, w, r, views, next, err)
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request) {
	var src herald.Source
	if err := s.decode(r, &sourceBody{Source: &src}); err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.svc.CreateSource(r.Context(), workspaceOf(r), src)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sources/"+created.ID)
	writeJSON(w, http.StatusCreated, viewSource(created))
}

func (s *Server) getSource(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return sourceResult(s.svc.Source(ctx, ws, id))
	})
}

func sourceResult(src *herald.Source, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return viewSource(src), nil
}

func (s *Server) updateSource(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	src, err := s.svc.UpdateSource(r.Context(), workspaceOf(r), id, func(src *herald.Source) error {
		return s.decode(r, &sourceBody{Source: src})
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSource(src))
}

func (s *Server) deleteSource(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusNoContent, func(ctx context.Context, ws, id string) (any, error) {
		return nil, s.svc.DeleteSource(ctx, ws, id)
	})
}

func (s *Server) pauseSource(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return sourceResult(s.svc.PauseSource(ctx, ws, id))
	})
}

func (s *Server) resumeSource(w http.ResponseWriter, r *http.Request) {
	s.byID(w, r, http.StatusOK, func(ctx context.Context, ws, id string) (any, error) {
		return sourceResult(s.svc.ResumeSource(ctx, ws, id))
	})
}

// rejectView is a rejected message: its raw content as text (bytes that
// are not UTF-8 shown as U+FFFD), cut at herald.MaxRejectRaw bytes.
type rejectView struct {
	ID           string    `json:"id"`
	MessageID    string    `json:"message_id"`
	Subject      string    `json:"subject,omitempty"`
	Reason       string    `json:"reason"`
	Raw          string    `json:"raw"`
	RawSize      int       `json:"raw_size"`
	RawTruncated bool      `json:"raw_truncated"`
	At           time.Time `json:"at"`
}

// RejectText is a rejected message's raw bytes as text.
func RejectText(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

func (s *Server) listRejected(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var f herald.RejectFilter
	if f.Cursor, f.Limit, err = pageParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := s.svc.SourceRejects(r.Context(), workspaceOf(r), id, f)
	views := make([]rejectView, 0, len(list))
	for _, rj := range list {
		views = append(views, rejectView{ID: rj.ID, MessageID: rj.MessageID, Subject: rj.Subject, Reason: rj.Reason, Raw: RejectText(rj.Raw),
			RawSize: rj.RawSize, RawTruncated: rj.RawSize > len(rj.Raw), At: rj.At})
	}
	writeList(s, w, r, views, next, err)
}
