package herald

import (
	"context"
	"encoding/json"
	"math"
	"time"
)

// HeldUntil is the next_attempt_at of a held delivery: one of an ordered
// webhook that waits for an earlier delivery to finish.
var HeldUntil = time.UnixMicro(math.MaxInt64).UTC()

// IngestRequest is one event to store with its deliveries; the store
// fills Result.
type IngestRequest struct {
	Event *Event
	// Router evaluates the conditions of webhooks that set one; nil
	// evaluates none (a webhook with a condition then gets a failed
	// delivery saying so).
	Router Router
	// ClaimLease, if positive, leases the event's new due deliveries to
	// the caller in the ingest transaction itself (as ClaimDeliveries
	// would right after it); they come back in Claims. Held (ordered) and
	// failed deliveries are not claimed.
	ClaimLease time.Duration
	Claims     []*Claim
	Result     IngestResult
}

// IngestResult is the answer to one ingested event (the 202 body).
type IngestResult struct {
	EventID    string `json:"id"`
	Deliveries int    `json:"deliveries"`
	// Duplicate is true when an event with the same idempotency key was
	// accepted in the last 24 hours: nothing new was stored.
	Duplicate bool `json:"duplicate,omitempty"`
	// Matched and Filtered list the webhooks whose condition held and
	// did not (a condition that failed to evaluate counts as matched: its
	// delivery is created failed). Webhooks without a condition are in neither.
	Matched  []string `json:"-"`
	Filtered []string `json:"-"`
}

// IdempotencyWindow is how long an idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Claim is a delivery a worker holds until Token's lease expires.
type Claim struct {
	Delivery
	Token string
}

// OutcomeRecord is what a worker reports for one claim.
type OutcomeRecord struct {
	DeliveryID string
	WebhookID  string
	Token      string
	Status     DeliveryStatus
	Reason     string
	// NextAttemptAt is set when Status is pending (a retry or a deferral).
	NextAttemptAt time.Time
	// Counted is false for a deferral (no request was sent), so the attempt
	// count does not change.
	Counted    bool
	LastStatus int
	LastError  string
	// Attempt is the log entry; nil when it is not kept (log_only_errors
	// and a success, or a deferral).
	Attempt *Attempt
	// Ordered releases the webhook's next held delivery when this one is final.
	Ordered bool
	At      time.Time
}

// Queue is the durable delivery queue: events, deliveries and attempts in
// the same database as the configuration. Implemented by internal/sqlstore
// for SQLite and PostgreSQL and checked by the conformance suite.
type Queue interface {
	DeliveryReader
	EventLister
	// Ingest stores each event and one pending delivery per published
	// webhook of its type, all in one transaction (concurrent calls are
	// grouped into one commit), and fills each request's Result. When it
	// returns nil, every event is on disk; when it returns EUnavailable
	// (the database is unreachable or full), none of them is.
	Ingest(ctx context.Context, reqs []*IngestRequest) error
	// ClaimDeliveries takes up to limit due deliveries, leasing each until
	// now+lease; no other claim returns them before then.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Claim, error)
	// PostponeDue moves up to limit of the due, unclaimed deliveries of
	// the given webhooks (the soonest due first) to until — their endpoint
	// is saturated: claiming them now would only hand them back — and
	// returns how many moved.
	PostponeDue(ctx context.Context, webhookIDs []string, now, until time.Time, limit int) (int, error)
	// RecordOutcomes applies workers' reports in one transaction. A report
	// whose claim was lost (lease expired and reclaimed) still logs its
	// attempt but does not change the delivery.
	RecordOutcomes(ctx context.Context, recs []*OutcomeRecord) error
	// EventsByID, WebhooksByID and AuthorizationsByID load what a batch
	// of claims needs, across workspaces. WebhooksByID may answer from a
	// cache (a write through the store empties it; another process's
	// write is seen within a second): the webhooks it returns are shared
	// and must not be modified.
	EventsByID(ctx context.Context, ids []string) (map[string]*Event, error)
	WebhooksByID(ctx context.Context, ids []string) (map[string]*Webhook, error)
	AuthorizationsByID(ctx context.Context, ids []string) (map[string]*Authorization, error)
	// CancelPending cancels the webhook's pending deliveries with reason.
	CancelPending(ctx context.Context, webhookID, reason string, now time.Time) (int, error)
	// RetryDelivery makes a delivery due at now (failed and canceled
	// deliveries become pending again).
	RetryDelivery(ctx context.Context, workspaceID, id string, now time.Time) (*Delivery, error)
	// CreateDelivery adds a pending delivery of a stored event to a webhook.
	CreateDelivery(ctx context.Context, workspaceID, eventID, webhookID string, now time.Time) (*Delivery, error)
	// CreateClaimedDelivery adds a delivery already claimed by the caller
	// (for a test send made at once), leased until now+lease.
	CreateClaimedDelivery(ctx context.Context, workspaceID, eventID, webhookID string, now time.Time, lease time.Duration) (*Claim, error)
	// ReplayFailed makes the webhook's failed deliveries created in
	// [since, until) due at now.
	ReplayFailed(ctx context.Context, workspaceID, webhookID string, since, until, now time.Time) (int, error)
	// SetSigningSecrets stores a rotation: the new secret and the previous
	// one, valid until expires.
	SetSigningSecrets(ctx context.Context, workspaceID, id, current, previous string, expires time.Time) error
	// QueueStats reports pending deliveries and the oldest due time.
	QueueStats(ctx context.Context) (pending int, oldestDue time.Time, err error)
	// PendingByWebhook reports each webhook's pending deliveries (held
	// and postponed ones included) and the oldest one's creation time.
	PendingByWebhook(ctx context.Context) ([]PendingStat, error)
	// Purge deletes, in one short transaction, up to limit attempts and up
	// to limit events (with their deliveries) older than their workspace's
	// cutoff; an event with a pending delivery is never purged.
	Purge(ctx context.Context, c PurgeCutoffs, limit int) (PurgeResult, error)
	// RetentionOverrides returns the workspaces that set their own
	// retention, by id.
	RetentionOverrides(ctx context.Context) (map[string]time.Duration, error)
	// DatabaseSize reports the space herald's data takes.
	DatabaseSize(ctx context.Context) (DatabaseSize, error)
	// ReclaimSpace gives free space back to the file system when much of
	// the database is free (SQLite); it returns the bytes given back.
	ReclaimSpace(ctx context.Context) (int64, error)
}

// PendingStat is one webhook's share of the queue.
type PendingStat struct {
	WebhookID   string
	WorkspaceID string
	EndpointURL string // the webhook's endpoint URL (template)
	Pending     int    // pending deliveries, held ones included
	Held        int    // of those, held behind an earlier one (ordered webhooks)
	// OldestCreatedAt is when the oldest pending delivery was created.
	OldestCreatedAt time.Time
}

// PurgeCutoffs say what is old enough to purge: what was created before
// Default (zero: keep everything), or before the workspace's own cutoff.
type PurgeCutoffs struct {
	Default    time.Time
	Workspaces map[string]time.Time
}

// PurgeResult counts the rows one purge batch deleted.
type PurgeResult struct {
	Attempts   int
	Events     int
	Deliveries int
}

// DatabaseSize is the space the database takes, in bytes: all of it, and
// the part free for reuse.
type DatabaseSize struct {
	Bytes     int64
	FreeBytes int64
}

// EventInput is one event as a platform sends it.
type EventInput struct {
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	OccurredAt *time.Time      `json:"occurred_at,omitempty"`
	// ID is the platform's own id of the event; it doubles as the
	// idempotency key when no other is given.
	ID             string `json:"id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Ingester accepts events: validated, stored with their deliveries, and
// on disk when it returns (the API answers 202 only then). It returns
// EInvalid naming the field at fault (events[i].… in a batch of more than
// one: data must be a JSON object of valid UTF-8, not null), and
// EUnavailable, with nothing stored, while the database cannot take them.
type Ingester interface {
	Ingest(ctx context.Context, workspaceID string, events []EventInput) ([]IngestResult, error)
}
