package delivery

// Manual controls (herald.DeliveryControl): test sends, retries, resends, replays, secret rotation.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// SendTest implements herald.DeliveryControl: the catalog's sample event,
// sent now, logged, never retried.
func (e *Engine) SendTest(ctx context.Context, workspaceID, webhookID string) (*herald.Attempt, error) {
	w, err := e.store.Webhook(ctx, workspaceID, webhookID)
	if err != nil {
		return nil, err
	}
	types, err := e.svc.CoveredEventTypes(ctx, workspaceID, w.Events)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, &herald.Error{Code: herald.EConflict, Message: "the webhook's event types match no known type: there is no sample to send"}
	}
	et := types[0]
	raw, err := json.Marshal(et.Sample)
	if err != nil {
		return nil, fmt.Errorf("encode sample: %w", err)
	}
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	ev := &herald.Event{ID: herald.NewID(), WorkspaceID: workspaceID, Type: et.Key, OccurredAt: now, ReceivedAt: now, RawData: raw, Test: true}
	if err := e.queue.Ingest(ctx, []*herald.IngestRequest{{Event: ev}}); err != nil {
		return nil, fmt.Errorf("store test event: %w", err)
	}
	if err := herald.DecodeJSON(raw, &ev.Data); err != nil {
		return nil, err
	}
	claim, err := e.queue.CreateClaimedDelivery(ctx, workspaceID, ev.ID, w.ID, now, e.cfg.Lease)
	if err != nil {
		return nil, fmt.Errorf("create test delivery: %w", err)
	}
	j := &job{claim: claim, event: ev, vars: eventVars(ev), hook: w}
	if w.AuthorizationEnabled {
		if j.auth, err = e.store.Authorization(ctx, workspaceID, w.AuthorizationID); err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
			return nil, err
		}
	}
	rec, next := e.attempt(j, true)
	if next != nil {
		// The test's release handed its slot to a parked job: a worker
		// of its own sends it.
		e.spawn(nil, next)
	}
	if rec.Status == herald.DeliveryPending {
		// Not sent (endpoint busy or circuit open): a test is now or never.
		rec.Status, rec.Reason, rec.NextAttemptAt = herald.DeliveryCanceled, "test not sent: "+rec.LastError, time.Time{}
	}
	if err := e.queue.RecordOutcomes(ctx, []*herald.OutcomeRecord{rec}); err != nil {
		return nil, fmt.Errorf("record test attempt: %w", err)
	}
	if rec.Attempt == nil {
		return nil, &herald.Error{Code: herald.EConflict, Message: "the test was not sent: " + rec.LastError}
	}
	return rec.Attempt, nil
}

// RetryDelivery implements herald.DeliveryControl.
func (e *Engine) RetryDelivery(ctx context.Context, workspaceID, deliveryID string) (*herald.Delivery, error) {
	d, err := e.queue.RetryDelivery(ctx, workspaceID, deliveryID, e.clock.Now())
	e.Wake()
	return d, err
}

// ResendEvent implements herald.DeliveryControl.
func (e *Engine) ResendEvent(ctx context.Context, workspaceID, eventID, webhookID string) (*herald.Delivery, error) {
	d, err := e.queue.CreateDelivery(ctx, workspaceID, eventID, webhookID, e.clock.Now())
	e.Wake()
	return d, err
}

// ReplayFailed implements herald.DeliveryControl.
func (e *Engine) ReplayFailed(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (int, error) {
	if _, err := e.store.Webhook(ctx, workspaceID, webhookID); err != nil {
		return 0, err
	}
	n, err := e.queue.ReplayFailed(ctx, workspaceID, webhookID, since, until, e.clock.Now())
	e.Wake()
	return n, err
}

// RotateSecret gives the webhook a new signing secret; the old one keeps
// signing (a second signature) for the overlap period.
func (e *Engine) RotateSecret(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error) {
	w, err := e.store.Webhook(ctx, workspaceID, webhookID)
	if err != nil {
		return nil, err
	}
	fresh := herald.NewSigningSecret()
	expires := e.clock.Now().Add(e.cfg.SecretOverlap).UTC().Truncate(time.Microsecond)
	if err := e.queue.SetSigningSecrets(ctx, workspaceID, webhookID, fresh, w.SigningSecret, expires); err != nil {
		return nil, fmt.Errorf("rotate secret of %s: %w", webhookID, err)
	}
	e.svc.RecordAudit(ctx, workspaceID, "webhook.rotate_secret", "webhook", webhookID, "previous secret valid until "+expires.Format(time.RFC3339))
	return e.store.Webhook(ctx, workspaceID, webhookID)
}
