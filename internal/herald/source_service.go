package herald

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// sources returns the store's SourceStore, or an error saying this
// store keeps none.
func (s *Service) sources() (SourceStore, error) {
	if ss, ok := s.Store.(SourceStore); ok {
		return ss, nil
	}
	return nil, &Error{Code: EInternal, Message: "this store keeps no sources"}
}

func (s *Service) sourcesChanged() {
	if s.SourcesChanged != nil {
		s.SourcesChanged()
	}
}

// checkSource validates src and, for a fixed event type, that the type
// exists in the workspace.
func (s *Service) checkSource(ctx context.Context, workspaceID string, src *Source) error {
	src.Normalize()
	err := src.Validate()
	var v Validation
	if e, ok := err.(*Error); ok {
		v.Fields = append(v.Fields, e.Fields...)
	} else if err != nil {
		return err
	}
	if r := ParseMappingRule(src.Mapping.TypeFrom); r.Kind == "fixed" && !slices.ContainsFunc(v.Fields, func(f FieldError) bool { return f.Field == "mapping.type_from" }) {
		known, err := s.KnownEventType(ctx, workspaceID, r.Arg)
		if err != nil {
			return err
		}
		if !known {
			v.Add("mapping.type_from", "names the event type %q, which this workspace does not know", r.Arg)
		}
	}
	return v.Err()
}

// CreateSource validates and stores a new source. Its runner starts it
// unless it is created paused.
func (s *Service) CreateSource(ctx context.Context, workspaceID string, src Source) (*Source, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, err
	}
	if err := s.checkSource(ctx, workspaceID, &src); err != nil {
		return nil, err
	}
	now := s.now()
	src.ID, src.WorkspaceID, src.CreatedAt, src.UpdatedAt = NewID(), workspaceID, now, now
	src.Status = SourceStatus{State: SourceConnecting, Lag: -1}
	if err := ss.CreateSource(ctx, &src); err != nil {
		if ErrorCodeOf(err) == EConflict {
			return nil, &Error{Code: EConflict, Message: "source exists", Fields: []FieldError{{Field: "name", Message: fmt.Sprintf("a source named %q exists already", src.Name)}}}
		}
		return nil, fmt.Errorf("create source: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "source.create", "source", src.ID, string(src.Type)+" "+src.Name)
	s.sourcesChanged()
	return &src, nil
}

// Source returns one source (URL in clear: callers show MaskedURL).
func (s *Service) Source(ctx context.Context, workspaceID, id string) (*Source, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, err
	}
	return ss.Source(ctx, workspaceID, id)
}

// ListSources returns one page of the workspace's sources.
func (s *Service) ListSources(ctx context.Context, workspaceID string, f SourceFilter) ([]*Source, string, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, "", err
	}
	if f.Type != "" && !ValidSourceType(f.Type) {
		return nil, "", &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "type", Message: "must be nats, amqp or postgres_outbox"}}}
	}
	return ss.ListSources(ctx, workspaceID, f)
}

// SourceRejects returns one page of a source's rejected messages.
func (s *Service) SourceRejects(ctx context.Context, workspaceID, id string, f RejectFilter) ([]*SourceReject, string, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, "", err
	}
	if _, err := ss.Source(ctx, workspaceID, id); err != nil {
		return nil, "", err
	}
	return ss.ListRejects(ctx, workspaceID, id, f)
}

// UpdateSource applies change to the stored source and saves it. change
// sees the URL masked (MaskedURL); a URL left as it was, empty, or with
// its •••• still in place keeps the stored secrets. The type cannot
// change (delete the source and create another).
func (s *Service) UpdateSource(ctx context.Context, workspaceID, id string, change func(*Source) error) (*Source, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, err
	}
	old, err := ss.Source(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	next := cloneSource(old)
	next.URL = old.MaskedURL()
	if err := change(next); err != nil {
		return nil, err
	}
	next.ID, next.WorkspaceID, next.CreatedAt, next.Status = old.ID, old.WorkspaceID, old.CreatedAt, old.Status
	if strings.TrimSpace(next.URL) == "" {
		next.URL = old.URL
	} else {
		next.URL = unmaskURL(strings.TrimSpace(next.URL), old.URL)
	}
	if next.Type != old.Type {
		return nil, &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "type",
			Message: fmt.Sprintf("cannot change from %s to %s; create another source", old.Type, next.Type)}}}
	}
	if err := s.checkSource(ctx, workspaceID, next); err != nil {
		return nil, err
	}
	summary := sourceChanges(old, next)
	next.UpdatedAt = s.now()
	if err := ss.UpdateSource(ctx, next); err != nil {
		if ErrorCodeOf(err) == EConflict {
			return nil, &Error{Code: EConflict, Message: "source exists", Fields: []FieldError{{Field: "name", Message: fmt.Sprintf("a source named %q exists already", next.Name)}}}
		}
		return nil, fmt.Errorf("update source %s: %w", id, err)
	}
	s.RecordAudit(ctx, workspaceID, "source.update", "source", id, summary)
	s.sourcesChanged()
	return next, nil
}

// PauseSource stops consuming the source (in every process, within the
// runners' poll interval); messages wait in the broker.
func (s *Service) PauseSource(ctx context.Context, workspaceID, id string) (*Source, error) {
	return s.setPaused(ctx, workspaceID, id, true)
}

// ResumeSource starts consuming a paused source again.
func (s *Service) ResumeSource(ctx context.Context, workspaceID, id string) (*Source, error) {
	return s.setPaused(ctx, workspaceID, id, false)
}

func (s *Service) setPaused(ctx context.Context, workspaceID, id string, paused bool) (*Source, error) {
	ss, err := s.sources()
	if err != nil {
		return nil, err
	}
	src, err := ss.Source(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	if src.Paused == paused {
		return src, nil
	}
	src.Paused, src.UpdatedAt = paused, s.now()
	if err := ss.UpdateSource(ctx, src); err != nil {
		return nil, fmt.Errorf("update source %s: %w", id, err)
	}
	action := "source.resume"
	if paused {
		action = "source.pause"
	}
	s.RecordAudit(ctx, workspaceID, action, "source", id, src.Name)
	s.sourcesChanged()
	return src, nil
}

// DeleteSource deletes a source and its rejected messages; events it
// ingested stay.
func (s *Service) DeleteSource(ctx context.Context, workspaceID, id string) error {
	ss, err := s.sources()
	if err != nil {
		return err
	}
	if err := ss.DeleteSource(ctx, workspaceID, id); err != nil {
		return err
	}
	s.RecordAudit(ctx, workspaceID, "source.delete", "source", id, "")
	s.sourcesChanged()
	return nil
}

func cloneSource(src *Source) *Source {
	c := *src
	if src.NATS != nil {
		n := *src.NATS
		n.Subjects = slices.Clone(n.Subjects)
		c.NATS = &n
	}
	if src.AMQP != nil {
		a := *src.AMQP
		c.AMQP = &a
	}
	if src.Outbox != nil {
		o := *src.Outbox
		c.Outbox = &o
	}
	return &c
}

// sourceChanges names the fields that differ, never a value (the URL
// may hold a password).
func sourceChanges(a, b *Source) string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("url", a.URL != b.URL)
	add("nats", !reflect.DeepEqual(a.NATS, b.NATS))
	add("amqp", !reflect.DeepEqual(a.AMQP, b.AMQP))
	add("outbox", !reflect.DeepEqual(a.Outbox, b.Outbox))
	add("mapping.type_from", a.Mapping.TypeFrom != b.Mapping.TypeFrom)
	add("mapping.data_from", a.Mapping.DataFrom != b.Mapping.DataFrom)
	add("mapping.id_from", a.Mapping.IDFrom != b.Mapping.IDFrom)
	add("paused", a.Paused != b.Paused)
	if len(out) == 0 {
		return "no change"
	}
	return "changed " + strings.Join(out, ", ")
}
