package client

import (
	"encoding/json"
	"time"
)

// Event is one event to send to herald (POST /events). Type is the event
// type's key, e.g. "member.verified"; Data holds its variables (a JSON
// object: a map, a struct or a json.RawMessage), e.g.
// map[string]any{"member": …}.
type Event struct {
	Type string `json:"type"`
	Data any    `json:"data,omitempty"`
	// OccurredAt is when the event happened; zero means when herald
	// receives it.
	OccurredAt time.Time `json:"occurred_at,omitzero"`
	// ID is your platform's own id of the event. herald uses it as the
	// idempotency key when IdempotencyKey is empty.
	ID string `json:"id,omitempty"`
	// IdempotencyKey makes sending the same event twice harmless: herald
	// remembers a key for 24 hours and answers a repeat with the first
	// event's result (Duplicate set). At most 255 characters. When it and
	// ID are both empty, the client generates a random key, so its own
	// retries can never duplicate the event.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// IngestResult is herald's answer to one accepted event.
type IngestResult struct {
	// ID is the event's id in herald (GetEvent reads it back).
	ID string `json:"id"`
	// Deliveries is how many published webhooks will receive the event.
	Deliveries int `json:"deliveries"`
	// Duplicate is true when an event with the same idempotency key was
	// accepted in the last 24 hours: nothing new was stored.
	Duplicate bool `json:"duplicate,omitempty"`
}

// StoredEvent is an event as herald stored it (GET /events/{id}).
type StoredEvent struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     time.Time       `json:"occurred_at"`
	ReceivedAt     time.Time       `json:"received_at"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	// Test marks the sample events of test sends.
	Test bool `json:"test,omitempty"`
}

// Header is one HTTP header of a webhook's requests; Value may be a template.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Payload types of a webhook.
const (
	PayloadJSON  = "JSON"
	PayloadXML   = "XML"
	PayloadPlain = "PLAIN"
	PayloadForm  = "FORM"
)

// Webhook statuses: a webhook receives events only while published.
const (
	StatusPublished   = "published"
	StatusUnpublished = "unpublished"
)

// WebhookInput is what CreateWebhook sends: everything an administrator
// sets on a webhook.
type WebhookInput struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Events lists event-type keys and patterns ("coupon.redeemed",
	// "member.*", "*": every type but herald's alerts). Event is the older
	// form of a list of one key; set one of them.
	Events []string `json:"events,omitempty"`
	Event  string   `json:"event,omitempty"`
	// Condition is a Twig expression over the event's variables; events
	// for which it is false are not sent. Empty: every event.
	Condition            string `json:"condition,omitempty"`
	AuthorizationEnabled bool   `json:"authorization_enabled"`
	AuthorizationID      string `json:"authorization_id,omitempty"`
	EndpointURL          string `json:"endpoint_url"`
	// Method is POST, PUT, PATCH, DELETE or GET.
	Method        string   `json:"method"`
	LogOnlyErrors bool     `json:"log_only_errors"`
	CustomHeaders []Header `json:"custom_headers,omitempty"`
	// PayloadType is PayloadJSON, PayloadXML, PayloadPlain or PayloadForm.
	PayloadType string `json:"payload_type"`
	// Payload is the body template, e.g. {"email": "{{ member.email }}"}.
	Payload string `json:"payload"`
	// Ordered delivers one event at a time, in order.
	Ordered bool `json:"ordered,omitempty"`
	// TimeoutSeconds bounds each attempt; 0 means the server default.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// RetrySchedule sets the delays between attempts as Go durations
	// ("0s", "5s", "5m", …); empty means the server default.
	RetrySchedule []string `json:"retry_schedule,omitempty"`
	// SuccessStatuses are the statuses that count as delivered: codes
	// ("200"), classes ("2xx") and ranges ("200-299"); empty means 2xx.
	SuccessStatuses []string `json:"success_statuses,omitempty"`
	// SuccessCondition is a Twig expression over response.status,
	// response.headers, response.json and response.body that a response
	// must also pass; one that fails is a failed attempt (rejected).
	SuccessCondition string `json:"success_condition,omitempty"`
}

// Webhook is a webhook as herald shows it.
type Webhook struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
	// Event is set while Events holds one plain key: that key.
	Event                string   `json:"event,omitempty"`
	Condition            string   `json:"condition"`
	AuthorizationEnabled bool     `json:"authorization_enabled"`
	AuthorizationID      string   `json:"authorization_id,omitempty"`
	EndpointURL          string   `json:"endpoint_url"`
	Method               string   `json:"method"`
	LogOnlyErrors        bool     `json:"log_only_errors"`
	CustomHeaders        []Header `json:"custom_headers"`
	PayloadType          string   `json:"payload_type"`
	Payload              string   `json:"payload"`
	Ordered              bool     `json:"ordered"`
	TimeoutSeconds       int      `json:"timeout_seconds"`
	RetrySchedule        []string `json:"retry_schedule,omitempty"`
	SuccessStatuses      []string `json:"success_statuses"`
	SuccessCondition     string   `json:"success_condition"`
	// Status is StatusPublished or StatusUnpublished; StatusReason says
	// why herald unpublished it, if it did.
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	// Revision increases with every change.
	Revision                int        `json:"revision"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// FailingSince is when deliveries started failing; nil while healthy.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// Warnings are set on the answer to a save, e.g. a template variable
	// the event type does not provide.
	Warnings []FieldError `json:"warnings,omitempty"`
}

// WebhookFilter narrows ListWebhooks; empty fields match everything.
type WebhookFilter struct {
	Name     string // substring of the name, case-insensitive
	Event    string // an event type key: the webhooks whose events cover it
	Status   string // StatusPublished or StatusUnpublished
	Endpoint string // substring of the endpoint URL, case-insensitive
	Cursor   string // Page.NextCursor of the previous page
	Limit    int    // 1 to 200; 0 means the server default
}

// Page is one page of a list. NextCursor, when not empty, is the Cursor
// that reads the next page.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCanceled  = "canceled"
)

// Delivery is one event to one webhook. Its ID is the webhook-id header of
// every attempt, so receivers can deduplicate.
type Delivery struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	WebhookID     string     `json:"webhook_id"`
	Status        string     `json:"status"`
	StatusReason  string     `json:"status_reason,omitempty"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastStatus    int        `json:"last_status_code,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// DeliveryFilter narrows ListDeliveries.
type DeliveryFilter struct {
	Status string // one of the Delivery* statuses; empty for all
	Cursor string
	Limit  int
}

// Attempt outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Attempt is one HTTP call to a webhook's endpoint: the request as sent
// (secrets redacted) and the response or the error.
type Attempt struct {
	ID         string    `json:"id"`
	DeliveryID string    `json:"delivery_id"`
	WebhookID  string    `json:"webhook_id"`
	EventID    string    `json:"event_id"`
	Number     int       `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Outcome    string    `json:"outcome"`
	// ErrorClass says why a failed attempt failed: dns, connect, tls,
	// timeout, http_status, template, blocked or network.
	ErrorClass      string   `json:"error_class,omitempty"`
	Error           string   `json:"error,omitempty"`
	RequestMethod   string   `json:"request_method"`
	RequestURL      string   `json:"request_url"`
	RequestHeaders  []Header `json:"request_headers"`
	RequestBody     string   `json:"request_body"`
	ResponseStatus  int      `json:"response_status,omitempty"`
	ResponseHeaders []Header `json:"response_headers,omitempty"`
	ResponseBody    string   `json:"response_body,omitempty"`
}

// AttemptFilter narrows ListAttempts; zero fields match everything.
type AttemptFilter struct {
	Outcome string // OutcomeSuccess or OutcomeFailure
	Since   time.Time
	Until   time.Time
	Cursor  string
	Limit   int
}

// Authorization types and header visibilities.
const (
	AuthHeader = "header"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthQuery  = "query"
	AuthOAuth2 = "oauth2_client_credentials"

	VisibilitySecret = "SECRET" // write-only: shown masked after save
	VisibilityPublic = "PUBLIC" // shown back in clear
)

// HeaderCredential is a header credential, e.g. X-Api-Key: ….
type HeaderCredential struct {
	Key        string `json:"key"`
	Value      string `json:"value"`
	Visibility string `json:"visibility,omitempty"` // default VisibilitySecret
}

// BasicCredential is an HTTP basic-auth credential.
type BasicCredential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// BearerCredential is a static bearer token.
type BearerCredential struct {
	Token string `json:"token"`
}

// QueryCredential is a query parameter added to every request URL.
type QueryCredential struct {
	Key        string `json:"key"`
	Value      string `json:"value"`
	Visibility string `json:"visibility,omitempty"` // default VisibilitySecret
}

// OAuth2Credential is an OAuth 2.0 client-credentials grant; herald
// fetches and caches the access tokens.
type OAuth2Credential struct {
	TokenURL     string `json:"token_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope,omitempty"`
	Audience     string `json:"audience,omitempty"`
	ClientAuth   string `json:"client_auth,omitempty"` // "basic" (default) or "body"
}

// TLSClientCredential is a client certificate (PEM) and its private key.
type TLSClientCredential struct {
	CertificatePEM string `json:"certificate_pem"`
	PrivateKeyPEM  string `json:"private_key_pem"`
}

// AuthorizationInput is what CreateAuthorization sends. Set the field
// named by Type (Header, Basic, Bearer, Query or OAuth2); any type may add
// TLSClient. The credentials are sent only to URLs under Endpoint.
type AuthorizationInput struct {
	Name      string               `json:"name,omitempty"`
	Endpoint  string               `json:"endpoint"`
	Type      string               `json:"type"`
	Header    *HeaderCredential    `json:"header,omitempty"`
	Basic     *BasicCredential     `json:"basic,omitempty"`
	Bearer    *BearerCredential    `json:"bearer,omitempty"`
	Query     *QueryCredential     `json:"query,omitempty"`
	OAuth2    *OAuth2Credential    `json:"oauth2,omitempty"`
	TLSClient *TLSClientCredential `json:"tls_client,omitempty"`
}

// Authorization is an authorization as herald shows it: secret values
// are masked.
type Authorization struct {
	ID        string                  `json:"id"`
	Name      string                  `json:"name"`
	Endpoint  string                  `json:"endpoint"`
	Type      string                  `json:"type"`
	Header    *AuthorizationHeader    `json:"header,omitempty"`
	Basic     *AuthorizationBasic     `json:"basic,omitempty"`
	Bearer    *AuthorizationBearer    `json:"bearer,omitempty"`
	Query     *AuthorizationQuery     `json:"query,omitempty"`
	OAuth2    *AuthorizationOAuth2    `json:"oauth2,omitempty"`
	TLSClient *AuthorizationTLSClient `json:"tls_client,omitempty"`
	CreatedAt time.Time               `json:"created_at"`
	UpdatedAt time.Time               `json:"updated_at"`
}

// AuthorizationBearer is a stored bearer token; Token is masked.
type AuthorizationBearer struct {
	Token    string `json:"token"`
	TokenSet bool   `json:"token_set"`
}

// AuthorizationQuery is a stored query credential; Value is masked unless
// its visibility is PUBLIC.
type AuthorizationQuery struct {
	Key        string `json:"key"`
	Value      string `json:"value"`
	ValueSet   bool   `json:"value_set"`
	Visibility string `json:"visibility"`
}

// AuthorizationOAuth2 is a stored client-credentials grant; ClientSecret
// is masked.
type AuthorizationOAuth2 struct {
	TokenURL        string `json:"token_url"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	ClientSecretSet bool   `json:"client_secret_set"`
	Scope           string `json:"scope"`
	Audience        string `json:"audience"`
	ClientAuth      string `json:"client_auth"`
}

// AuthorizationTLSClient is a stored client certificate; the key is masked.
type AuthorizationTLSClient struct {
	CertificatePEM string    `json:"certificate_pem"`
	PrivateKeyPEM  string    `json:"private_key_pem"`
	PrivateKeySet  bool      `json:"private_key_set"`
	Subject        string    `json:"subject"`
	NotAfter       time.Time `json:"not_after"`
	ExpiresSoon    bool      `json:"expires_soon"`
}

// AuthorizationHeader is a stored header credential; Value is masked
// unless its visibility is PUBLIC.
type AuthorizationHeader struct {
	Key        string `json:"key"`
	Value      string `json:"value"`
	ValueSet   bool   `json:"value_set"`
	Visibility string `json:"visibility"`
}

// AuthorizationBasic is a stored basic credential; Password is masked.
type AuthorizationBasic struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	PasswordSet bool   `json:"password_set"`
}

// MatchEvent is an event to try against a webhook (MatchWebhook); Data
// nil means the type's sample.
type MatchEvent struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
}

// MatchResult says whether a webhook would receive an event, and why not.
type MatchResult struct {
	Matches bool   `json:"matches"`
	Reason  string `json:"reason"`
}
