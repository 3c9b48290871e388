package herald

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PayloadType is the body format of a webhook's requests.
type PayloadType string

const (
	PayloadJSON  PayloadType = "JSON"
	PayloadXML   PayloadType = "XML"
	PayloadPlain PayloadType = "PLAIN"
	PayloadForm  PayloadType = "FORM"
)

// ContentType is the Content-Type header sent with a payload type.
func (p PayloadType) ContentType() string {
	switch p {
	case PayloadJSON:
		return "application/json"
	case PayloadXML:
		return "application/xml"
	case PayloadForm:
		return "application/x-www-form-urlencoded"
	default:
		return "text/plain; charset=utf-8"
	}
}

// Methods are the HTTP methods a webhook may use, in the order the UI lists them.
var Methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet}

// PayloadTypes in the order the UI lists them.
var PayloadTypes = []PayloadType{PayloadJSON, PayloadXML, PayloadPlain, PayloadForm}

// WebhookStatus is a webhook's lifecycle state. Webhooks are created
// unpublished and receive events only while published.
type WebhookStatus string

const (
	Unpublished WebhookStatus = "unpublished"
	Published   WebhookStatus = "published"
)

// Limits on webhook fields.
const (
	MaxDescriptionLength = 2000
	MaxCustomHeaders     = 50
	MaxHeaderValueLength = 8192
	DefaultMaxTemplate   = 64 << 10
	MaxTimeoutSeconds    = 120
	MaxLogBodyBytes      = 64 << 10
	MaxRetrySchedule     = 30
)

// Header is one custom header; Value may be a template.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WebhookSpec is everything an administrator sets on a webhook.
type WebhookSpec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Events lists the event-type keys and patterns the webhook receives
	// (see routing.go).
	Events []string `json:"events"`
	// Event is the compatibility form of Events: accepted on input as a
	// list of one key, and returned while Events holds one plain key.
	Event string `json:"event,omitempty"`
	// Condition is a Twig expression over the event's variables; an event
	// for which it is false is not sent. Empty: every event.
	Condition            string      `json:"condition"`
	AuthorizationEnabled bool        `json:"authorization_enabled"`
	AuthorizationID      string      `json:"authorization_id,omitempty"`
	EndpointURL          string      `json:"endpoint_url"`
	Method               string      `json:"method"`
	LogOnlyErrors        bool        `json:"log_only_errors"`
	CustomHeaders        []Header    `json:"custom_headers"`
	PayloadType          PayloadType `json:"payload_type"`
	Payload              string      `json:"payload"`
	// Ordered delivers one at a time in event order (D7); default unordered.
	Ordered bool `json:"ordered"`
	// TimeoutSeconds bounds each attempt; 0 means the server default (15 s).
	TimeoutSeconds int `json:"timeout_seconds"`
	// RetrySchedule overrides the default delays between attempts, as Go
	// durations ("0s", "5s", "5m", …); empty means the server default.
	RetrySchedule []string `json:"retry_schedule,omitempty"`
	// LogBodyBytes caps the request and response bodies each attempt
	// keeps in the log; nil means the server's default (4 KiB), 0 keeps
	// none. Successes keep at most the server's smaller success cap.
	LogBodyBytes *int `json:"log_body_bytes,omitempty"`
	// SuccessStatuses are the response statuses that count as delivered
	// (default 2xx).
	SuccessStatuses StatusList `json:"success_statuses"`
	// SuccessCondition, when set, is a Twig expression over response.status,
	// response.headers, response.json and response.body that must hold as
	// well; a response that fails it is a failed attempt of class rejected.
	SuccessCondition string `json:"success_condition"`
}

// Webhook forwards events of one type to one endpoint.
type Webhook struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	WebhookSpec
	Status       WebhookStatus `json:"status"`
	StatusReason string        `json:"status_reason,omitempty"`
	// Revision increases with every change of the spec; compiled templates
	// are cached per (id, revision).
	Revision int `json:"revision"`
	// SigningSecret signs every request (Standard Webhooks). Plaintext in
	// memory only; never serialized by accident.
	SigningSecret string `json:"-"`
	// PreviousSigningSecret still signs, beside the current one, until
	// PreviousSecretExpiresAt: receivers have time to switch after a rotation.
	PreviousSigningSecret   string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// FailingSince is when deliveries started failing without a success
	// since; nil while healthy. Drives auto-disable.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// WebhookFilter narrows a list of webhooks. Empty fields match everything.
type WebhookFilter struct {
	Name            string // substring of the name, case-insensitive
	Event           string // an event type key: webhooks whose Events cover it
	Status          WebhookStatus
	Endpoint        string // substring of the endpoint URL, case-insensitive
	AuthorizationID string
	Cursor          string
	Limit           int
}

// Normalize trims input and upper-cases enumerations before validation.
func (s *WebhookSpec) Normalize() {
	s.Name = strings.TrimSpace(s.Name)
	s.Description = strings.TrimSpace(s.Description)
	s.Event = strings.TrimSpace(s.Event)
	if s.Event != "" && len(s.Events) == 0 {
		s.Events = []string{s.Event}
	}
	for i := range s.Events {
		s.Events[i] = strings.TrimSpace(s.Events[i])
	}
	s.Condition = strings.TrimSpace(s.Condition)
	s.SuccessCondition = strings.TrimSpace(s.SuccessCondition)
	for i := range s.SuccessStatuses {
		s.SuccessStatuses[i] = strings.ToLower(strings.TrimSpace(s.SuccessStatuses[i]))
	}
	if len(s.SuccessStatuses) == 0 {
		s.SuccessStatuses = append(StatusList(nil), DefaultSuccessStatuses...)
	}
	s.EndpointURL = strings.TrimSpace(s.EndpointURL)
	s.Method = strings.ToUpper(strings.TrimSpace(s.Method))
	s.PayloadType = PayloadType(strings.ToUpper(strings.TrimSpace(string(s.PayloadType))))
	s.AuthorizationID = strings.TrimSpace(s.AuthorizationID)
	if !s.AuthorizationEnabled {
		s.AuthorizationID = ""
	}
	for i := range s.CustomHeaders {
		s.CustomHeaders[i].Name = strings.TrimSpace(s.CustomHeaders[i].Name)
	}
	if s.CustomHeaders == nil {
		s.CustomHeaders = []Header{}
	}
	if len(s.RetrySchedule) == 0 {
		s.RetrySchedule = nil
	}
	for i := range s.RetrySchedule {
		s.RetrySchedule[i] = strings.TrimSpace(s.RetrySchedule[i])
	}
}

// Validate checks the rules that need nothing but the spec itself. The
// service adds the checks that need the store: the event type exists, the
// authorization exists and covers the endpoint, and the templates compile.
func (s *WebhookSpec) Validate() error {
	var v Validation
	switch {
	case s.Name == "":
		v.Add("name", "is required")
	case len(s.Name) > MaxNameLength:
		v.Add("name", "must be at most %d characters", MaxNameLength)
	}
	if len(s.Description) > MaxDescriptionLength {
		v.Add("description", "must be at most %d characters", MaxDescriptionLength)
	}
	s.validateEvents(&v)
	if len(s.Condition) > MaxConditionLength {
		v.Add("condition", "must be at most %d bytes", MaxConditionLength)
	}
	if len(s.SuccessCondition) > MaxConditionLength {
		v.Add("success_condition", "must be at most %d bytes", MaxConditionLength)
	}
	if len(s.SuccessStatuses) > MaxSuccessStatuses {
		v.Add("success_statuses", "at most %d codes, classes and ranges", MaxSuccessStatuses)
	}
	for i, item := range s.SuccessStatuses {
		if _, _, ok := parseStatusItem(item); !ok {
			v.Add("success_statuses["+strconv.Itoa(i)+"]", "%q is not a status code (100–599), a class such as \"2xx\" or a range such as \"200-299\"", item)
		}
	}
	if s.AuthorizationEnabled && s.AuthorizationID == "" {
		v.Add("authorization_id", "is required when authorization is enabled")
	} else if s.AuthorizationEnabled && !ValidID(s.AuthorizationID) {
		v.Add("authorization_id", "is not a valid id")
	}
	if s.EndpointURL == "" {
		v.Add("endpoint_url", "is required")
	} else if _, err := ParseEndpoint(s.EndpointURL); err != nil {
		v.Add("endpoint_url", "%s", err.Error())
	}
	methodOK := false
	for _, m := range Methods {
		methodOK = methodOK || s.Method == m
	}
	if s.Method == "" {
		v.Add("method", "is required (POST, PUT, PATCH, DELETE or GET)")
	} else if !methodOK {
		v.Add("method", "must be one of POST, PUT, PATCH, DELETE, GET")
	}
	typeOK := false
	for _, p := range PayloadTypes {
		typeOK = typeOK || s.PayloadType == p
	}
	switch {
	case s.PayloadType == "":
		v.Add("payload_type", "is required (JSON, XML, PLAIN or FORM)")
	case !typeOK:
		v.Add("payload_type", "must be one of JSON, XML, PLAIN, FORM")
	case s.Method == http.MethodGet && s.PayloadType != PayloadForm:
		v.Add("payload_type", "a GET request carries no body: use FORM, whose fields become the query string, or another method")
	}
	if len(s.Payload) > DefaultMaxTemplate {
		v.Add("payload", "must be at most %d bytes", DefaultMaxTemplate)
	} else if strings.TrimSpace(s.Payload) == "" && s.Method != http.MethodGet {
		v.Add("payload", "is required")
	}
	if len(s.CustomHeaders) > MaxCustomHeaders {
		v.Add("custom_headers", "at most %d headers", MaxCustomHeaders)
	}
	if s.LogBodyBytes != nil && (*s.LogBodyBytes < 0 || *s.LogBodyBytes > MaxLogBodyBytes) {
		v.Add("log_body_bytes", "must be from 0 to %d bytes (empty or null for the server's default)", MaxLogBodyBytes)
	}
	if s.TimeoutSeconds < 0 || s.TimeoutSeconds > MaxTimeoutSeconds {
		v.Add("timeout_seconds", "must be from 1 to %d (0 for the default)", MaxTimeoutSeconds)
	}
	if len(s.RetrySchedule) > MaxRetrySchedule {
		v.Add("retry_schedule", "at most %d attempts", MaxRetrySchedule)
	}
	for i, d := range s.RetrySchedule {
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 || dur > 7*24*time.Hour {
			v.Add("retry_schedule["+strconv.Itoa(i)+"]", "must be a duration such as 30s, 5m or 2h, at most 168h")
		}
	}
	for i, h := range s.CustomHeaders {
		field := "custom_headers[" + strconv.Itoa(i) + "]"
		validateHeaderName(&v, field+".name", h.Name)
		if bad, why := ForbiddenCustomHeader(h.Name); bad && h.Name != "" {
			v.Add(field+".name", "%q %s", h.Name, why)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			v.Add(field+".value", "must not contain line breaks or NUL")
		} else if len(h.Value) > MaxHeaderValueLength {
			v.Add(field+".value", "must be at most %d bytes", MaxHeaderValueLength)
		}
	}
	return v.Err()
}

// EventField names the field of the i-th entry of Events in errors:
// "event" when the spec came in through the compatibility field.
func (s *WebhookSpec) EventField(i int) string {
	if s.Event != "" && len(s.Events) == 1 {
		return "event"
	}
	return "events[" + strconv.Itoa(i) + "]"
}

func (s *WebhookSpec) validateEvents(v *Validation) {
	if len(s.Events) == 0 {
		if s.Events == nil {
			v.Add("event", "is required")
		} else {
			v.Add("events", "is required: at least one event type or pattern")
		}
		return
	}
	if s.Event != "" && !(len(s.Events) == 1 && s.Events[0] == s.Event) {
		v.Add("event", "is %q but events is %q: send one of them", s.Event, s.Events)
		return
	}
	if len(s.Events) > MaxEvents {
		v.Add("events", "at most %d event types and patterns", MaxEvents)
		return
	}
	seen := map[string]bool{}
	for i, e := range s.Events {
		f := s.EventField(i)
		switch {
		case e == "":
			v.Add(f, "is required")
		case seen[e]:
			v.Add(f, "%q is listed twice", e)
		case strings.Contains(e, "*") && !IsEventPattern(e):
			v.Add(f, "%q is not a pattern: use \"*\" or a prefix such as \"member.*\" (the * stands for one segment or more)", e)
		}
		seen[e] = true
	}
}

// NewSigningSecret returns a fresh Standard Webhooks secret: "whsec_" and
// the base64 of 32 random bytes.
func NewSigningSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("herald: crypto/rand failed: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}
