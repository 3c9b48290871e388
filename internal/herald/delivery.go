package herald

import (
	"context"
	"time"
)

// Event is one thing that happened on the platform. Data holds its
// variables (member, coupon, …); templates also see event.id, event.type
// and event.created_at (= OccurredAt).
type Event struct {
	ID             string         `json:"id"`
	WorkspaceID    string         `json:"-"`
	Type           string         `json:"type"`
	OccurredAt     time.Time      `json:"occurred_at"`
	ReceivedAt     time.Time      `json:"received_at"`
	Data           map[string]any `json:"data"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	// RawData is Data as received (JSON), stored as is.
	RawData []byte `json:"-"`
	// Test marks the sample events of test sends.
	Test bool `json:"test,omitempty"`
}

// DeliveryStatus is where a delivery stands.
//
//	pending ──2xx──▶ succeeded
//	   │ └─other outcome, attempts left─▶ pending (next_attempt_at later)
//	   ├─last attempt failed──▶ failed
//	   └─webhook unpublished/deleted──▶ canceled
//
// failed and canceled deliveries become pending again only by an explicit
// retry, resend or replay.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryCanceled  DeliveryStatus = "canceled"
)

// Delivery is one event to one webhook. Its ID is the webhook-id header on
// every attempt, so receivers can deduplicate.
type Delivery struct {
	ID            string         `json:"id"`
	WorkspaceID   string         `json:"-"`
	EventID       string         `json:"event_id"`
	EventType     string         `json:"event_type"`
	WebhookID     string         `json:"webhook_id"`
	Status        DeliveryStatus `json:"status"`
	StatusReason  string         `json:"status_reason,omitempty"`
	Attempts      int            `json:"attempts"`
	NextAttemptAt *time.Time     `json:"next_attempt_at,omitempty"`
	// Held is true for a delivery of an ordered webhook waiting for an
	// earlier one to finish; it has no next attempt time until then.
	Held       bool      `json:"held,omitempty"`
	LastStatus int       `json:"last_status_code,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Outcome of one attempt.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// ErrorClass says why an attempt failed; empty on success.
type ErrorClass string

const (
	ErrClassNone     ErrorClass = ""
	ErrClassDNS      ErrorClass = "dns"
	ErrClassConnect  ErrorClass = "connect"
	ErrClassTLS      ErrorClass = "tls"
	ErrClassTimeout  ErrorClass = "timeout"
	ErrClassHTTP     ErrorClass = "http_status" // the receiver answered with a status outside success_statuses
	ErrClassRejected ErrorClass = "rejected"    // the status was a success, but the response failed success_condition
	ErrClassTemplate ErrorClass = "template"    // the request could not be rendered
	ErrClassBlocked  ErrorClass = "blocked"     // the SSRF guard refused the address
	ErrClassNetwork  ErrorClass = "network"     // any other transport failure
	ErrClassAuth     ErrorClass = "auth"        // credentials could not be obtained (an OAuth2 token fetch failed)
)

// Attempt is one HTTP call (the Logs tab): the request as sent, with
// secrets redacted, and the response or the error.
type Attempt struct {
	ID              string     `json:"id"`
	WorkspaceID     string     `json:"-"`
	DeliveryID      string     `json:"delivery_id"`
	WebhookID       string     `json:"webhook_id"`
	EventID         string     `json:"event_id"`
	Number          int        `json:"attempt"`
	StartedAt       time.Time  `json:"started_at"`
	DurationMS      float64    `json:"duration_ms"`
	Outcome         Outcome    `json:"outcome"`
	ErrorClass      ErrorClass `json:"error_class,omitempty"`
	Error           string     `json:"error,omitempty"`
	RequestMethod   string     `json:"request_method"`
	RequestURL      string     `json:"request_url"`
	RequestHeaders  []Header   `json:"request_headers"`
	RequestBody     string     `json:"request_body"`
	ResponseStatus  int        `json:"response_status,omitempty"`
	ResponseHeaders []Header   `json:"response_headers,omitempty"`
	ResponseBody    string     `json:"response_body,omitempty"`
	// RequestBodySize and ResponseBodySize are the bodies' sizes in bytes
	// as sent and received; the stored bodies are capped (log_body_bytes)
	// and may be shorter.
	RequestBodySize  int `json:"request_body_size"`
	ResponseBodySize int `json:"response_body_size"`
}

// AttemptFilter narrows the Logs tab.
type AttemptFilter struct {
	Outcome Outcome
	Since   time.Time
	Until   time.Time
	Cursor  string
	Limit   int
}

// DeliveryFilter narrows a webhook's deliveries.
type DeliveryFilter struct {
	Status DeliveryStatus
	Cursor string
	Limit  int
}

// AttemptStats counts a webhook's attempts per hour, for the Logs chart.
type AttemptStats struct {
	Hour      time.Time `json:"hour"`
	Successes int       `json:"successes"`
	Failures  int       `json:"failures"`
}

// DeliveryReader is what the admin UI and the API read of deliveries; the
// stores implement it beside Store.
type DeliveryReader interface {
	Event(ctx context.Context, workspaceID, id string) (*Event, error)
	Delivery(ctx context.Context, workspaceID, id string) (*Delivery, error)
	ListDeliveries(ctx context.Context, workspaceID, webhookID string, f DeliveryFilter) ([]*Delivery, string, error)
	Attempt(ctx context.Context, workspaceID, id string) (*Attempt, error)
	ListAttempts(ctx context.Context, workspaceID, webhookID string, f AttemptFilter) ([]*Attempt, string, error)
	// AttemptStats returns hourly counts from since to now.
	AttemptStats(ctx context.Context, workspaceID, webhookID string, since time.Time) ([]AttemptStats, error)
}

// DeliveryControl is the delivery engine's manual controls (D4), used by
// the API and the admin UI.
type DeliveryControl interface {
	// SendTest renders the webhook with its event type's sample event,
	// sends it now (published or not) and returns the attempt.
	SendTest(ctx context.Context, workspaceID, webhookID string) (*Attempt, error)
	// RetryDelivery makes a delivery due now (a failed or canceled one
	// becomes pending again).
	RetryDelivery(ctx context.Context, workspaceID, deliveryID string) (*Delivery, error)
	// ResendEvent creates a new delivery of a stored event to a webhook.
	ResendEvent(ctx context.Context, workspaceID, eventID, webhookID string) (*Delivery, error)
	// ReplayFailed makes every failed delivery of the webhook created in
	// [since, until) pending again and returns how many.
	ReplayFailed(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (int, error)
}

// Previewer renders a payload template for preview (the API's
// POST /templates/render and the UI's live preview).
type Previewer interface {
	// Preview renders src as payloadType against vars (the event's data
	// plus "event"); et, if set, is the event type whose variables are
	// checked for warnings. A template that does not parse or renders a
	// malformed body returns an EInvalid *Error with line/column.
	// loc is where date-only values are read (the workspace's zone).
	Preview(payloadType PayloadType, src string, et *EventType, vars map[string]any, loc *time.Location) (body []byte, warnings []FieldError, err error)
}

// EventFilter narrows a list of events.
type EventFilter struct {
	TypePrefix string    // e.g. "herald." for herald's own alerts
	Since      time.Time // received at or after
	Limit      int
}

// EventLister lists a workspace's events, newest first (the admin UI's
// alerts panel).
type EventLister interface {
	ListEvents(ctx context.Context, workspaceID string, f EventFilter) ([]*Event, error)
}
