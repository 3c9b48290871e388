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
	Name                 string      `json:"name"`
	Description          string      `json:"description"`
	Event                string      `json:"event"`
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
	Event           string // exact event type key
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
	if s.Event == "" {
		v.Add("event", "is required")
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

// NewSigningSecret returns a fresh Standard Webhooks secret: "whsec_" and
// the base64 of 32 random bytes.
func NewSigningSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("herald: crypto/rand failed: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}
