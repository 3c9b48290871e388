package herald

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TemplateChecker checks a webhook's templates (payload, endpoint URL,
// header values) when it is saved: errors block the save, warnings (such as
// a variable the event type does not provide) are returned to the admin.
// The template package implements it; a nil checker stores text unchecked.
type TemplateChecker interface {
	// loc is where date-only values are read (the workspace's zone).
	CheckWebhook(spec *WebhookSpec, et *EventType, loc *time.Location) (warnings []FieldError, err error)
}

// Service is the one place where configuration changes are validated and
// saved; the REST API and the admin UI both call it, so they cannot drift.
type Service struct {
	Store     Store
	Templates TemplateChecker
	// Canceler, if set, cancels a webhook's pending deliveries when it is
	// unpublished or deleted (the queue implements it).
	Canceler interface {
		CancelPending(ctx context.Context, webhookID, reason string, now time.Time) (int, error)
	}
	// Audit, if set, records every configuration change (who, what, when).
	Audit AuditLog
	// SourcesChanged, if set, is called after a source is created,
	// changed, paused, resumed or deleted (the source runner reloads at
	// once instead of at its next poll).
	SourcesChanged func()
	// DefaultLocation is the time zone of workspaces that set none (UTC if nil).
	DefaultLocation *time.Location
	Now             func() time.Time
	builtIn         []*EventType
	zones           sync.Map // workspace id → zoneEntry
}

type zoneEntry struct {
	loc     *time.Location
	fetched time.Time
}

// zoneTTL bounds how long a workspace's time zone is cached: a change made
// by another process is seen within it.
const zoneTTL = 10 * time.Second

// Location returns the time zone in which the workspace's templates read
// date-only values: its own, or the server's default.
func (s *Service) Location(ctx context.Context, workspaceID string) *time.Location {
	def := s.DefaultLocation
	if def == nil {
		def = time.UTC
	}
	if e, ok := s.zones.Load(workspaceID); ok && time.Since(e.(zoneEntry).fetched) < zoneTTL {
		return e.(zoneEntry).loc
	}
	loc := def
	if ws, err := s.Store.WorkspaceByID(ctx, workspaceID); err == nil && ws.TimeZone != "" {
		if l, err := time.LoadLocation(ws.TimeZone); err == nil {
			loc = l
		}
	}
	s.zones.Store(workspaceID, zoneEntry{loc: loc, fetched: time.Now()})
	return loc
}

// SetTimeZone sets the workspace's time zone (an IANA name such as
// Europe/Ljubljana; "" for the server's default).
func (s *Service) SetTimeZone(ctx context.Context, workspaceID, timeZone string) (*Workspace, error) {
	timeZone = strings.TrimSpace(timeZone)
	if timeZone != "" {
		if _, err := time.LoadLocation(timeZone); err != nil || strings.EqualFold(timeZone, "local") {
			return nil, &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "time_zone",
				Message: fmt.Sprintf("%q is not an IANA time zone name (e.g. UTC, Europe/Ljubljana, America/New_York)", timeZone)}}}
		}
	}
	if err := s.Store.SetWorkspaceTimeZone(ctx, workspaceID, timeZone); err != nil {
		return nil, fmt.Errorf("set time zone: %w", err)
	}
	s.zones.Delete(workspaceID)
	s.RecordAudit(ctx, workspaceID, "workspace.update", "workspace", workspaceID, "time_zone "+strconv.Quote(timeZone))
	return s.Store.WorkspaceByID(ctx, workspaceID)
}

// ValidateRetention checks a workspace's own retention (nil is the
// server's default).
func ValidateRetention(retention *time.Duration) error {
	if retention != nil && (*retention < MinRetention || *retention > MaxRetention || *retention%time.Second != 0) {
		return &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "retention_seconds",
			Message: fmt.Sprintf("must be a whole number of seconds from %d (a minute) to %d (ten years), or empty for the server's default",
				int64(MinRetention/time.Second), int64(MaxRetention/time.Second))}}}
	}
	return nil
}

// SetRetention sets how long the workspace keeps attempts and finished
// events (nil: the server's default). Deliveries still pending are kept
// whatever their age.
func (s *Service) SetRetention(ctx context.Context, workspaceID string, retention *time.Duration) (*Workspace, error) {
	if err := ValidateRetention(retention); err != nil {
		return nil, err
	}
	summary := "retention_seconds null"
	if retention != nil {
		summary = "retention_seconds " + strconv.FormatInt(int64(*retention/time.Second), 10)
	}
	if err := s.Store.SetWorkspaceRetention(ctx, workspaceID, retention); err != nil {
		return nil, fmt.Errorf("set retention: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "workspace.update", "workspace", workspaceID, summary)
	return s.Store.WorkspaceByID(ctx, workspaceID)
}

// RecordAudit notes a change made by ctx's actor. The change has already
// happened, so a failure to record it is logged rather than returned
// (a caller retrying would repeat the change).
func (s *Service) RecordAudit(ctx context.Context, workspaceID, action, objectType, objectID, summary string) {
	if s.Audit == nil {
		return
	}
	e := &AuditEntry{ID: NewID(), WorkspaceID: workspaceID, At: s.now(), Actor: ActorFrom(ctx), Action: action,
		ObjectType: objectType, ObjectID: objectID, Summary: summary}
	if err := s.Audit.RecordAudit(ctx, e); err != nil {
		slog.ErrorContext(ctx, "audit log: cannot record a change", "action", action, "object", objectID, "err", err)
	}
}

// NewService returns a Service over store. checker may be nil.
func NewService(store Store, checker TemplateChecker) *Service {
	return &Service{Store: store, Templates: checker, Now: time.Now, builtIn: BuiltInEventTypes()}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// EventTypes returns the built-in catalog and the workspace's own types,
// sorted by key.
func (s *Service) EventTypes(ctx context.Context, workspaceID string) ([]*EventType, error) {
	custom, err := s.Store.ListEventTypes(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	all := append(append([]*EventType{}, s.builtIn...), custom...)
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return all, nil
}

// KnownEventType reports whether key is an event type of the workspace,
// without a database read for built-in types (ingest asks this per event).
func (s *Service) KnownEventType(ctx context.Context, workspaceID, key string) (bool, error) {
	_, err := s.EventType(ctx, workspaceID, key)
	if ErrorCodeOf(err) == ENotFound {
		return false, nil
	}
	return err == nil, err
}

// EventType returns one event type by key, or ENotFound.
func (s *Service) EventType(ctx context.Context, workspaceID, key string) (*EventType, error) {
	for _, t := range s.builtIn { // no database read for the built-in catalog
		if t.Key == key {
			return t, nil
		}
	}
	types, err := s.EventTypes(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if t.Key == key {
			return t, nil
		}
	}
	return nil, &Error{Code: ENotFound, Message: fmt.Sprintf("unknown event type %q", key)}
}

// CreateEventType adds a custom event type to the workspace.
func (s *Service) CreateEventType(ctx context.Context, workspaceID string, t *EventType) error {
	t.Key = strings.TrimSpace(t.Key)
	t.DisplayName = strings.TrimSpace(t.DisplayName)
	if t.Sample == nil {
		t.Sample = map[string]any{}
	}
	if len(t.Variables) == 0 {
		for k := range t.Sample {
			t.Variables = append(t.Variables, k)
		}
		sort.Strings(t.Variables)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	for _, b := range s.builtIn {
		if b.Key == t.Key {
			return &Error{Code: EConflict, Message: "event type exists", Fields: []FieldError{{Field: "key", Message: fmt.Sprintf("%q is a built-in event type", t.Key)}}}
		}
	}
	t.WorkspaceID, t.BuiltIn, t.CreatedAt = workspaceID, false, s.now()
	if err := s.Store.CreateEventType(ctx, t); err != nil {
		if ErrorCodeOf(err) == EConflict {
			return &Error{Code: EConflict, Message: "event type exists", Fields: []FieldError{{Field: "key", Message: fmt.Sprintf("%q already exists", t.Key)}}}
		}
		return fmt.Errorf("create event type %s: %w", t.Key, err)
	}
	s.RecordAudit(ctx, workspaceID, "event_type.create", "event_type", t.Key, t.DisplayName)
	return nil
}

// CreateAuthorization validates and stores a new authorization.
func (s *Service) CreateAuthorization(ctx context.Context, workspaceID string, spec AuthorizationSpec) (*Authorization, error) {
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	a := &Authorization{ID: NewID(), WorkspaceID: workspaceID, AuthorizationSpec: spec, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateAuthorization(ctx, a); err != nil {
		return nil, fmt.Errorf("create authorization: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "authorization.create", "authorization", a.ID, a.Name)
	return a, nil
}

// UpdateAuthorization applies change to the stored spec and saves it.
// change sees the spec with write-only secrets blanked; a secret it leaves
// empty keeps the stored one. An endpoint change that would leave a webhook
// using the authorization outside its scope is refused.
func (s *Service) UpdateAuthorization(ctx context.Context, workspaceID, id string, change func(*AuthorizationSpec) error) (*Authorization, error) {
	a, err := s.Store.Authorization(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	old := a.AuthorizationSpec
	spec := old
	if old.Header != nil {
		h := *old.Header
		if h.Visibility == Secret {
			h.Value = ""
		}
		spec.Header = &h
	}
	if old.Basic != nil {
		b := *old.Basic
		b.Password = ""
		spec.Basic = &b
	}
	if old.Bearer != nil {
		spec.Bearer = &BearerAuth{}
	}
	if old.Query != nil {
		q := *old.Query
		if q.Visibility == Secret {
			q.Value = ""
		}
		spec.Query = &q
	}
	if old.OAuth2 != nil {
		o := *old.OAuth2
		o.ClientSecret = ""
		spec.OAuth2 = &o
	}
	if old.TLSClient != nil {
		spec.TLSClient = &TLSClientAuth{CertificatePEM: old.TLSClient.CertificatePEM}
	}
	if err := change(&spec); err != nil {
		return nil, err
	}
	spec.Normalize()
	if spec.Header != nil && spec.Header.Value == "" && old.Header != nil {
		spec.Header.Value = old.Header.Value
	}
	if spec.Basic != nil && spec.Basic.Password == "" && old.Basic != nil {
		spec.Basic.Password = old.Basic.Password
	}
	if spec.Bearer != nil && spec.Bearer.Token == "" && old.Bearer != nil {
		spec.Bearer.Token = old.Bearer.Token
	}
	if spec.Query != nil && spec.Query.Value == "" && old.Query != nil {
		spec.Query.Value = old.Query.Value
	}
	if spec.OAuth2 != nil && spec.OAuth2.ClientSecret == "" && old.OAuth2 != nil {
		spec.OAuth2.ClientSecret = old.OAuth2.ClientSecret
	}
	// A key left blank keeps the stored one, whether or not the
	// certificate is replaced (a renewed certificate for the same key).
	if spec.TLSClient != nil && spec.TLSClient.PrivateKeyPEM == "" && old.TLSClient != nil {
		spec.TLSClient.PrivateKeyPEM = old.TLSClient.PrivateKeyPEM
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	a.AuthorizationSpec = spec
	if spec.Endpoint != old.Endpoint {
		if err := s.checkAuthorizationUsers(ctx, a); err != nil {
			return nil, err
		}
	}
	a.UpdatedAt = s.now()
	if err := s.Store.UpdateAuthorization(ctx, a); err != nil {
		return nil, fmt.Errorf("update authorization %s: %w", id, err)
	}
	s.RecordAudit(ctx, workspaceID, "authorization.update", "authorization", a.ID, changeSummary(&old, &a.AuthorizationSpec))
	return a, nil
}

// checkAuthorizationUsers refuses an endpoint that no longer covers every
// webhook using the authorization.
func (s *Service) checkAuthorizationUsers(ctx context.Context, a *Authorization) error {
	var outside []string
	f := WebhookFilter{AuthorizationID: a.ID, Limit: MaxPageSize}
	for {
		hooks, next, err := s.Store.ListWebhooks(ctx, a.WorkspaceID, f)
		if err != nil {
			return fmt.Errorf("list webhooks of authorization %s: %w", a.ID, err)
		}
		for _, w := range hooks {
			if !a.InScope(w.EndpointURL) {
				outside = append(outside, fmt.Sprintf("%q (%s)", w.Name, w.EndpointURL))
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(outside) > 0 {
		return &Error{Code: EInvalid, Message: "validation failed", Fields: []FieldError{{Field: "endpoint",
			Message: "would no longer cover webhooks using this authorization: " + strings.Join(outside, ", ")}}}
	}
	return nil
}

// DeleteAuthorization deletes an authorization no webhook uses (else EConflict).
func (s *Service) DeleteAuthorization(ctx context.Context, workspaceID, id string) error {
	if err := s.Store.DeleteAuthorization(ctx, workspaceID, id); err != nil {
		return err
	}
	s.RecordAudit(ctx, workspaceID, "authorization.delete", "authorization", id, "")
	return nil
}

// checkWebhook runs every save-time check and returns all field errors at
// once, so a form shows each problem next to its field in one round trip.
func (s *Service) checkWebhook(ctx context.Context, workspaceID string, spec *WebhookSpec) ([]FieldError, error) {
	spec.Normalize()
	var v Validation
	if err := spec.Validate(); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return nil, err
		}
		v.Fields = append(v.Fields, e.Fields...)
	}
	var warnings []FieldError
	types, w, err := s.resolveEvents(ctx, workspaceID, spec, &v)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	if spec.AuthorizationEnabled && ValidID(spec.AuthorizationID) {
		a, err := s.Store.Authorization(ctx, workspaceID, spec.AuthorizationID)
		switch {
		case err == nil:
			if spec.EndpointURL != "" && !a.InScope(spec.EndpointURL) {
				v.Add("endpoint_url", "lies outside the authorization's endpoint %s; its credentials are sent only there", a.Endpoint)
			}
		case ErrorCodeOf(err) == ENotFound:
			v.Add("authorization_id", "no such authorization")
		default:
			return nil, err
		}
	}
	if s.Templates != nil && len(v.Fields) == 0 && len(spec.Events) > 0 {
		if len(types) > 0 {
			w, errs, err := s.checkTemplates(spec, types, s.Location(ctx, workspaceID))
			if err != nil {
				return nil, err
			}
			warnings = append(warnings, w...)
			v.Fields = append(v.Fields, errs...)
		} else {
			// Only patterns that match no type yet: the templates and
			// conditions must still compile (against an empty event; its
			// warnings would only repeat that nothing is provided).
			_, errs, err := s.checkTemplates(spec, []*EventType{{Key: spec.Events[0], Sample: map[string]any{}}}, s.Location(ctx, workspaceID))
			if err != nil {
				return nil, err
			}
			v.Fields = append(v.Fields, errs...)
		}
	}
	if len(v.Fields) == 0 {
		spec.Event = SingleEvent(spec.Events)
	}
	return warnings, v.Err()
}

// resolveEvents checks each entry of spec.Events against the workspace's
// event types (an unknown key is an error with a did-you-mean, a pattern
// that matches no type a warning) and returns the types the list covers.
func (s *Service) resolveEvents(ctx context.Context, workspaceID string, spec *WebhookSpec, v *Validation) ([]*EventType, []FieldError, error) {
	if len(spec.Events) == 0 {
		return nil, nil, nil
	}
	all, err := s.EventTypes(ctx, workspaceID)
	if err != nil {
		return nil, nil, err
	}
	var warnings []FieldError
	var covered []*EventType
	for i, e := range spec.Events {
		if e == "" || strings.Contains(e, "*") && !IsEventPattern(e) {
			continue // Validate named it
		}
		n := 0
		for _, t := range all {
			if EventMatches(e, t.Key) {
				n++
			}
		}
		switch {
		case n > 0:
		case IsEventPattern(e):
			warnings = append(warnings, FieldError{Field: spec.EventField(i), Message: fmt.Sprintf("%q matches no event type yet; it receives the types added later that it matches", e)})
		default:
			msg := fmt.Sprintf("unknown event type %q", e)
			if near := Closest(e, eventKeys(all)); near != "" {
				msg += fmt.Sprintf(" — did you mean %q?", near)
			}
			v.Add(spec.EventField(i), "%s", msg)
		}
	}
	for _, t := range all {
		if EventsCover(spec.Events, t.Key) {
			covered = append(covered, t)
		}
	}
	return covered, warnings, nil
}

// checkTemplates runs the template check against the sample of every
// covered type. A problem that only some types have names the type; one
// that all share (a syntax error) is reported once.
func (s *Service) checkTemplates(spec *WebhookSpec, types []*EventType, loc *time.Location) (warnings, errs []FieldError, err error) {
	type seenAt struct {
		i     int
		count int
		typ   string
	}
	collect := func(out *[]FieldError, seen map[FieldError]*seenAt, fe []FieldError, typ string) {
		for _, f := range fe {
			if at, ok := seen[f]; ok {
				at.count++
				continue
			}
			seen[f] = &seenAt{i: len(*out), count: 1, typ: typ}
			*out = append(*out, f)
		}
	}
	seenW, seenE := map[FieldError]*seenAt{}, map[FieldError]*seenAt{}
	for _, t := range types {
		w, cerr := s.Templates.CheckWebhook(spec, t, loc)
		if cerr != nil {
			var e *Error
			if !errors.As(cerr, &e) {
				return nil, nil, cerr
			}
			collect(&errs, seenE, e.Fields, t.Key)
		}
		collect(&warnings, seenW, w, t.Key)
	}
	name := func(out []FieldError, seen map[FieldError]*seenAt) {
		if len(types) < 2 {
			return
		}
		for _, at := range seen {
			if at.count < len(types) {
				out[at.i].Message = fmt.Sprintf("for event type %q: %s", at.typ, out[at.i].Message)
			}
		}
	}
	name(errs, seenE)
	name(warnings, seenW)
	return warnings, errs, nil
}

// CreateWebhook validates spec and stores a new, unpublished webhook with
// a fresh signing secret. Warnings do not block the save.
func (s *Service) CreateWebhook(ctx context.Context, workspaceID string, spec WebhookSpec) (*Webhook, []FieldError, error) {
	warnings, err := s.checkWebhook(ctx, workspaceID, &spec)
	if err != nil {
		return nil, warnings, err
	}
	now := s.now()
	w := &Webhook{ID: NewID(), WorkspaceID: workspaceID, WebhookSpec: spec, Status: Unpublished, Revision: 1,
		SigningSecret: NewSigningSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateWebhook(ctx, w); err != nil {
		return nil, warnings, fmt.Errorf("create webhook: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "webhook.create", "webhook", w.ID, w.Name)
	return w, warnings, nil
}

// UpdateWebhook applies change to the stored spec, checks it and saves it
// as the next revision. A published webhook stays published.
//
// change sees the stored webhook (read-only) and edits a copy of its spec;
// an error from change aborts the update.
func (s *Service) UpdateWebhook(ctx context.Context, workspaceID, id string, change func(current *Webhook, spec *WebhookSpec) error) (*Webhook, []FieldError, error) {
	w, err := s.Store.Webhook(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	spec := w.WebhookSpec
	spec.CustomHeaders = append([]Header(nil), w.CustomHeaders...)
	spec.Events = append([]string(nil), w.Events...)
	spec.SuccessStatuses = append(StatusList(nil), w.SuccessStatuses...)
	if err := change(w, &spec); err != nil {
		return nil, nil, err
	}
	// A change of the compatibility field alone ("event": "x") replaces
	// the list; a change of both must agree (Validate says so if not).
	if spec.Event != w.Event && spec.Event != "" && slices.Equal(spec.Events, w.Events) {
		spec.Events = []string{spec.Event}
	}
	if spec.Event == w.Event && w.Event != "" && len(spec.Events) > 0 && !slices.Equal(spec.Events, w.Events) {
		spec.Event = "" // the list changed; the old single key no longer speaks for it
	}
	warnings, err := s.checkWebhook(ctx, workspaceID, &spec)
	if err != nil {
		return nil, warnings, err
	}
	before := w.WebhookSpec
	w.WebhookSpec = spec
	w.Revision++
	w.UpdatedAt = s.now()
	if err := s.Store.UpdateWebhook(ctx, w); err != nil {
		return nil, warnings, fmt.Errorf("update webhook %s: %w", id, err)
	}
	s.RecordAudit(ctx, workspaceID, "webhook.update", "webhook", w.ID, fmt.Sprintf("revision %d; %s", w.Revision, changeSummary(&before, &spec)))
	return w, warnings, nil
}

// PublishWebhook starts delivering events to the webhook. Its spec is
// checked again: the catalog or the authorization may have changed since
// it was saved.
func (s *Service) PublishWebhook(ctx context.Context, workspaceID, id string) (*Webhook, error) {
	w, err := s.Store.Webhook(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	spec := w.WebhookSpec
	if _, err := s.checkWebhook(ctx, workspaceID, &spec); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == EInvalid {
			e.Code, e.Message = EConflict, "the webhook cannot be published until its configuration is fixed"
		}
		return nil, err
	}
	w, err = s.Store.SetWebhookStatus(ctx, workspaceID, id, Published, "")
	if err == nil {
		s.RecordAudit(ctx, workspaceID, "webhook.publish", "webhook", id, w.Name)
	}
	return w, err
}

// UnpublishWebhook stops deliveries; reason is recorded for the admin, and
// pending deliveries are canceled with it (re-publishing does not bring
// them back; a replay does).
func (s *Service) UnpublishWebhook(ctx context.Context, workspaceID, id, reason string) (*Webhook, error) {
	w, err := s.Store.SetWebhookStatus(ctx, workspaceID, id, Unpublished, reason)
	if err != nil {
		return nil, err
	}
	if s.Canceler != nil {
		msg := "webhook unpublished"
		if reason != "" {
			msg += ": " + reason
		}
		if _, err := s.Canceler.CancelPending(ctx, id, msg, s.now()); err != nil {
			return nil, fmt.Errorf("cancel deliveries of webhook %s: %w", id, err)
		}
	}
	s.RecordAudit(ctx, workspaceID, "webhook.unpublish", "webhook", id, reason)
	return w, nil
}

// DuplicateWebhook creates an unpublished copy named "… (copy)" with its
// own signing secret.
func (s *Service) DuplicateWebhook(ctx context.Context, workspaceID, id string) (*Webhook, error) {
	w, err := s.Store.Webhook(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	spec := w.WebhookSpec
	spec.CustomHeaders = append([]Header(nil), w.CustomHeaders...)
	base := copyBase(w.Name)
	taken := map[string]bool{}
	// Every candidate name starts with the base cut for the longest suffix.
	f := WebhookFilter{Name: cutBytes(base, MaxNameLength-len(" (copy 999999)")), Limit: 500}
	for {
		hooks, next, err := s.Store.ListWebhooks(ctx, workspaceID, f)
		if err != nil {
			return nil, fmt.Errorf("duplicate webhook %s: %w", id, err)
		}
		for _, h := range hooks {
			taken[h.Name] = true
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	spec.Name = copyName(base, taken)
	now := s.now()
	c := &Webhook{ID: NewID(), WorkspaceID: workspaceID, WebhookSpec: spec, Status: Unpublished, Revision: 1,
		SigningSecret: NewSigningSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateWebhook(ctx, c); err != nil {
		return nil, fmt.Errorf("duplicate webhook %s: %w", id, err)
	}
	s.RecordAudit(ctx, workspaceID, "webhook.duplicate", "webhook", c.ID, "copy of "+id)
	return c, nil
}

// DeleteWebhook deletes a webhook after canceling its pending deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	if s.Canceler != nil {
		if _, err := s.Store.Webhook(ctx, workspaceID, id); err != nil {
			return err
		}
		if _, err := s.Canceler.CancelPending(ctx, id, "webhook deleted", s.now()); err != nil {
			return fmt.Errorf("cancel deliveries of webhook %s: %w", id, err)
		}
	}
	if err := s.Store.DeleteWebhook(ctx, workspaceID, id); err != nil {
		return err
	}
	s.RecordAudit(ctx, workspaceID, "webhook.delete", "webhook", id, "")
	return nil
}

// changeSummary names the fields that an update changed.
func changeSummary(before, after any) string {
	if f := changedFields(before, after); f != "" {
		return "changed " + f
	}
	return "no change"
}

var copySuffix = regexp.MustCompile(` \(copy(?: [0-9]+)?\)$`)

// copyBase is a name without its " (copy)" or " (copy N)" suffix, so a
// copy of a copy is numbered rather than "(copy) (copy)".
func copyBase(name string) string { return copySuffix.ReplaceAllString(name, "") }

// copyName is the first free "base (copy)", "base (copy 2)", "base (copy 3)"
// …, the base shortened (at a character boundary) to keep within the
// MaxNameLength bytes that validation allows.
func copyName(base string, taken map[string]bool) string {
	for n := 1; ; n++ {
		suffix := " (copy)"
		if n > 1 {
			suffix = fmt.Sprintf(" (copy %d)", n)
		}
		name := cutBytes(base, MaxNameLength-len(suffix)) + suffix
		if !taken[name] {
			return name
		}
	}
}

// cutBytes shortens s to at most n bytes at a character boundary.
func cutBytes(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func eventKeys(types []*EventType) []string {
	keys := make([]string, len(types))
	for i, t := range types {
		keys[i] = t.Key
	}
	return keys
}

// Closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a plausible typo ("" otherwise): the "did you mean"
// of event types, commands and the like.
func Closest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CoveredEventTypes returns the workspace's event types that events
// covers, sorted by key.
func (s *Service) CoveredEventTypes(ctx context.Context, workspaceID string, events []string) ([]*EventType, error) {
	all, err := s.EventTypes(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	var out []*EventType
	for _, t := range all {
		if EventsCover(events, t.Key) {
			out = append(out, t)
		}
	}
	return out, nil
}
