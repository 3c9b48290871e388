package herald

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Limits of a source's configuration.
const (
	MaxSourceURLLength  = 2048
	MaxSourceSubjects   = 32
	MaxSourceSubjectLen = 255
	MaxSourcePrefetch   = 10000
	// MaxRejectRaw bounds the raw content kept of a rejected message.
	MaxRejectRaw = 4096
	// MaxRejectsPerSource bounds how many rejected messages a source keeps
	// (the oldest go first).
	MaxRejectsPerSource = 1000
	// DefaultNATSConsumer is the durable consumer's name when none is set.
	DefaultNATSConsumer = "herald"
)

// SourceStatus is how a source is doing: what the runner last reported.
// The counts are kept in the store, so every process adds to them.
type SourceStatus struct {
	State         SourceState `json:"state"`
	LastError     string      `json:"last_error"`
	StateAt       time.Time   `json:"state_at,omitzero"`
	Ingested      int64       `json:"ingested"`
	Rejected      int64       `json:"rejected"`
	LastMessageAt time.Time   `json:"last_message_at,omitzero"`
	// Lag is how many messages wait in the broker (-1: it does not say).
	Lag int64 `json:"lag"`
}

// SourceProgress is what one accepted batch adds to a source's status.
type SourceProgress struct {
	Ingested      int64
	LastMessageAt time.Time
	Lag           int64 // -1 leaves the stored lag as it is
}

// SourceReject is a message that could not be turned into an event: kept
// (its first MaxRejectRaw bytes) with the reason, and acknowledged.
type SourceReject struct {
	ID        string    `json:"id"`
	SourceID  string    `json:"source_id"`
	MessageID string    `json:"message_id"`
	Subject   string    `json:"subject,omitempty"`
	Reason    string    `json:"reason"`
	Raw       []byte    `json:"-"`
	RawSize   int       `json:"raw_size"`
	At        time.Time `json:"at"`
}

// SourceFilter selects sources in a list.
type SourceFilter struct {
	Type   SourceType
	Cursor string
	Limit  int
}

// RejectFilter pages through a source's rejected messages.
type RejectFilter struct {
	Cursor string
	Limit  int
}

// SourceStore keeps sources, their status and their rejected messages
// (internal/sqlstore; checked by storetest.RunSources). Methods taking a
// workspaceID act inside it only (ENotFound otherwise).
type SourceStore interface {
	// CreateSource stores a source with its URL sealed; EConflict if the
	// workspace has a source of that name.
	CreateSource(ctx context.Context, src *Source) error
	// Source returns one source with its status.
	Source(ctx context.Context, workspaceID, id string) (*Source, error)
	// ListSources returns one page, newest first, and the next cursor.
	ListSources(ctx context.Context, workspaceID string, f SourceFilter) ([]*Source, string, error)
	// UpdateSource writes the configuration (and Paused, UpdatedAt).
	UpdateSource(ctx context.Context, src *Source) error
	// DeleteSource deletes the source and its rejected messages.
	DeleteSource(ctx context.Context, workspaceID, id string) error
	// AllSources returns every source of every workspace (for the runner).
	AllSources(ctx context.Context) ([]*Source, error)
	// SetSourceState records a state change (and its error, "" if none).
	SetSourceState(ctx context.Context, id string, state SourceState, lastError string, at time.Time) error
	// RecordSourceProgress adds what one batch ingested.
	RecordSourceProgress(ctx context.Context, id string, p SourceProgress) error
	// RecordRejects stores rejected messages (one already stored with the
	// same message id is not stored or counted again), adds them to the
	// source's rejected count and keeps at most MaxRejectsPerSource; it
	// returns how many were new.
	RecordRejects(ctx context.Context, sourceID string, rejects []*SourceReject) (int, error)
	// ListRejects returns one page of the source's rejected messages, newest first.
	ListRejects(ctx context.Context, workspaceID, sourceID string, f RejectFilter) ([]*SourceReject, string, error)
}

// Normalize trims the configuration and fills defaults.
func (s *Source) Normalize() {
	s.Name = strings.TrimSpace(s.Name)
	s.Type = SourceType(strings.TrimSpace(string(s.Type)))
	s.URL = strings.TrimSpace(s.URL)
	if s.NATS != nil {
		s.NATS.Stream = strings.TrimSpace(s.NATS.Stream)
		s.NATS.Consumer = strings.TrimSpace(s.NATS.Consumer)
		if s.NATS.Consumer == "" {
			s.NATS.Consumer = DefaultNATSConsumer
		}
		subs := s.NATS.Subjects[:0:0]
		for _, sub := range s.NATS.Subjects {
			if sub = strings.TrimSpace(sub); sub != "" {
				subs = append(subs, sub)
			}
		}
		if len(subs) == 0 {
			subs = nil
		}
		s.NATS.Subjects = subs
	}
	if s.AMQP != nil {
		s.AMQP.Queue = strings.TrimSpace(s.AMQP.Queue)
	}
	if s.Outbox != nil {
		s.Outbox.Table = strings.TrimSpace(s.Outbox.Table)
	}
	m := &s.Mapping
	m.TypeFrom, m.DataFrom, m.IDFrom = strings.TrimSpace(m.TypeFrom), strings.TrimSpace(m.DataFrom), strings.TrimSpace(m.IDFrom)
	if m.DataFrom == "" {
		m.DataFrom = "body"
	}
	if m.IDFrom == "" {
		m.IDFrom = "message_id"
	}
}

// ValidSourceType reports whether t is a source type herald knows.
func ValidSourceType(t SourceType) bool {
	for _, k := range SourceTypes {
		if k == t {
			return true
		}
	}
	return false
}

var (
	// A JetStream stream or consumer name: no whitespace, '.', '*', '>',
	// path separators.
	natsName = regexp.MustCompile(`^[^\s.*>/\\]{1,255}$`)
	// An outbox table: an identifier, optionally schema-qualified.
	sqlIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)
	// A header name (RFC 9110 token).
	headerToken = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,128}$")
	// A dotted path in a JSON body: keys of letters, digits, _ and -.
	fieldPath = regexp.MustCompile(`^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+){0,15}$`)
)

// Validate checks the configuration (after Normalize) and names every
// field at fault.
func (s *Source) Validate() error {
	var v Validation
	switch {
	case s.Name == "":
		v.Add("name", "is required")
	case len(s.Name) > MaxNameLength:
		v.Add("name", "must be at most %d characters", MaxNameLength)
	}
	if !ValidSourceType(s.Type) {
		v.Add("type", "must be nats, amqp or postgres_outbox")
	}
	s.validateURL(&v)
	if s.NATS != nil && s.Type != SourceNATS {
		v.Add("nats", "is set but type is %q; send nats only with type nats", s.Type)
	}
	if s.AMQP != nil && s.Type != SourceAMQP {
		v.Add("amqp", "is set but type is %q; send amqp only with type amqp", s.Type)
	}
	if s.Outbox != nil && s.Type != SourceOutbox {
		v.Add("outbox", "is set but type is %q; send outbox only with type postgres_outbox", s.Type)
	}
	switch s.Type {
	case SourceNATS:
		n := s.NATS
		if n == nil {
			v.Add("nats.stream", "is required: the JetStream stream to read")
			break
		}
		if n.Stream == "" {
			v.Add("nats.stream", "is required: the JetStream stream to read")
		} else if !natsName.MatchString(n.Stream) {
			v.Add("nats.stream", "must not contain spaces, '.', '*', '>', '/' or '\\'")
		}
		if !natsName.MatchString(n.Consumer) {
			v.Add("nats.consumer", "must not contain spaces, '.', '*', '>', '/' or '\\'")
		}
		if len(n.Subjects) > MaxSourceSubjects {
			v.Add("nats.subjects", "at most %d subjects", MaxSourceSubjects)
		}
		for i, sub := range n.Subjects {
			if len(sub) > MaxSourceSubjectLen || strings.ContainsAny(sub, " \t\r\n") || strings.HasPrefix(sub, ".") || strings.HasSuffix(sub, ".") || strings.Contains(sub, "..") {
				v.Add(fieldIndex("nats.subjects", i), "is not a NATS subject (tokens separated by '.', wildcards * and >)")
			}
		}
	case SourceAMQP:
		a := s.AMQP
		if a == nil || a.Queue == "" {
			v.Add("amqp.queue", "is required: the queue to consume")
			break
		}
		if len(a.Queue) > 255 {
			v.Add("amqp.queue", "must be at most 255 characters")
		}
		if a.Prefetch < 0 || a.Prefetch > MaxSourcePrefetch {
			v.Add("amqp.prefetch", "must be from 0 (herald's default) to %d", MaxSourcePrefetch)
		}
	case SourceOutbox:
		o := s.Outbox
		if o == nil || o.Table == "" {
			v.Add("outbox.table", "is required: the outbox table (herald outbox schema prints its DDL)")
		} else if !sqlIdent.MatchString(o.Table) {
			v.Add("outbox.table", "must be a table name such as herald_outbox or app.herald_outbox")
		}
	}
	s.Mapping.validate(&v)
	return v.Err()
}

func fieldIndex(field string, i int) string {
	return field + "[" + itoa(i) + "]"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

// sourceSchemes lists the URL schemes each type accepts.
var sourceSchemes = map[SourceType][]string{
	SourceNATS:   {"nats", "tls", "ws", "wss"},
	SourceAMQP:   {"amqp", "amqps"},
	SourceOutbox: {"postgres", "postgresql"},
}

func (s *Source) validateURL(v *Validation) {
	if s.URL == "" {
		v.Add("url", "is required: where herald connects, e.g. %s", exampleURL(s.Type))
		return
	}
	if len(s.URL) > MaxSourceURLLength {
		v.Add("url", "must be at most %d characters", MaxSourceURLLength)
		return
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		v.Add("url", "is not a URL with a host, e.g. %s", exampleURL(s.Type))
		return
	}
	if schemes, ok := sourceSchemes[s.Type]; ok {
		for _, sc := range schemes {
			if strings.EqualFold(u.Scheme, sc) {
				return
			}
		}
		v.Add("url", "must start with %s:// for a %s source, e.g. %s", strings.Join(schemes, ":// or "), s.Type, exampleURL(s.Type))
	}
}

func exampleURL(t SourceType) string {
	switch t {
	case SourceAMQP:
		return "amqp://user:password@rabbitmq:5672/"
	case SourceOutbox:
		return "postgres://user:password@db:5432/app"
	}
	return "nats://127.0.0.1:4222"
}

// MappingRule is one parsed rule of a SourceMapping: its kind (header,
// field, fixed, body, message_id) and argument.
type MappingRule struct {
	Kind string
	Arg  string
	Path []string // Arg split at dots, for kind field
}

// ParseMappingRule parses "kind:arg" (or a bare kind such as "body").
func ParseMappingRule(rule string) MappingRule {
	kind, arg, _ := strings.Cut(rule, ":")
	r := MappingRule{Kind: kind, Arg: arg}
	if kind == "field" {
		r.Path = strings.Split(arg, ".")
	}
	return r
}

func (m *SourceMapping) validate(v *Validation) {
	t := ParseMappingRule(m.TypeFrom)
	switch {
	case m.TypeFrom == "":
		v.Add("mapping.type_from", "is required: header:NAME, field:PATH or fixed:KEY")
	case t.Kind == "header" && headerToken.MatchString(t.Arg):
	case t.Kind == "field" && fieldPath.MatchString(t.Arg):
	case t.Kind == "fixed" && t.Arg != "" && len(t.Arg) <= 128 && !strings.ContainsAny(t.Arg, " \t\r\n"):
	default:
		v.Add("mapping.type_from", "must be header:NAME (a header's value), field:PATH (a dotted path in the JSON body, e.g. field:type) or fixed:KEY (one event type), not %q", m.TypeFrom)
	}
	d := ParseMappingRule(m.DataFrom)
	switch {
	case m.DataFrom == "body":
	case d.Kind == "field" && fieldPath.MatchString(d.Arg):
	default:
		v.Add("mapping.data_from", "must be body (the whole JSON body) or field:PATH (e.g. field:data), not %q", m.DataFrom)
	}
	i := ParseMappingRule(m.IDFrom)
	switch {
	case m.IDFrom == "message_id":
	case i.Kind == "header" && headerToken.MatchString(i.Arg):
	case i.Kind == "field" && fieldPath.MatchString(i.Arg):
	default:
		v.Add("mapping.id_from", "must be message_id (the broker's id of the message), header:NAME or field:PATH, not %q", m.IDFrom)
	}
}

// MaskedURL is the URL as herald shows it: a password (in the user info,
// or a query parameter such as password=) replaced by ••••.
func (s *Source) MaskedURL() string { return MaskURL(s.URL) }

// MaskURL replaces the secrets of a connection URL with ••••.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if raw == "" {
			return ""
		}
		return "••••"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "MASKEDPASSWORD")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if secretParam(k) {
				q[k] = []string{"MASKEDPASSWORD"}
			}
		}
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), "MASKEDPASSWORD", "••••")
}

func secretParam(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token") || k == "pass" || k == "nkey"
}

// unmaskURL returns next with every •••• its secrets show replaced by
// the value old has there, so a form or client that sends back the masked
// URL (perhaps with another host) keeps the stored password.
func unmaskURL(next, old string) string {
	if !strings.Contains(next, "••••") {
		return next
	}
	if next == MaskURL(old) {
		return old
	}
	nu, err1 := url.Parse(strings.ReplaceAll(next, "••••", "MASKEDPASSWORD"))
	ou, err2 := url.Parse(old)
	if err1 != nil || err2 != nil {
		return next
	}
	if nu.User != nil {
		if p, ok := nu.User.Password(); ok && p == "MASKEDPASSWORD" && ou.User != nil {
			if op, ok := ou.User.Password(); ok {
				nu.User = url.UserPassword(nu.User.Username(), op)
			}
		}
	}
	if nu.RawQuery != "" {
		q, oq := nu.Query(), ou.Query()
		for k, vals := range q {
			if len(vals) == 1 && vals[0] == "MASKEDPASSWORD" && oq.Get(k) != "" {
				q.Set(k, oq.Get(k))
			}
		}
		nu.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(nu.String(), "MASKEDPASSWORD", "••••")
}

// Effective is the state to show: paused wins over what a runner last
// reported.
func (s *Source) Effective() SourceState {
	if s.Paused {
		return SourcePaused
	}
	if s.Status.State == "" {
		return SourceConnecting
	}
	return s.Status.State
}
