package delivery

// Auto-disable and herald's own alerts (herald.webhook.failing, herald.webhook.disabled, herald.delivery.exhausted).

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// disable unpublishes a webhook (410 Gone or failing too long), cancels
// its pending deliveries and raises herald.webhook.disabled.
func (e *Engine) disable(w *herald.Webhook, reason string) {
	if _, busy := e.disabling.LoadOrStore(w.ID, struct{}{}); busy {
		return
	}
	started := e.background(func(ctx context.Context) {
		defer e.disabling.Delete(w.ID)
		ctx = herald.WithActor(ctx, "herald")
		if _, err := e.svc.UnpublishWebhook(ctx, w.WorkspaceID, w.ID, reason); err != nil {
			e.log.Error("auto-disable webhook", "webhook", w.ID, "err", err)
			return
		}
		e.log.Warn("webhook disabled", "webhook", w.ID, "reason", reason)
		e.alert(ctx, w.WorkspaceID, "herald.webhook.disabled", map[string]any{"webhook": webhookInfo(w), "reason": reason})
	})
	if !started {
		e.disabling.Delete(w.ID)
		e.log.Warn("webhook not disabled: shutting down; the next process disables it", "webhook", w.ID, "reason", reason)
	}
}

func (e *Engine) beingDisabled(webhookID string) bool {
	_, busy := e.disabling.Load(webhookID)
	return busy
}

func (e *Engine) maybeFailingAlert(w *herald.Webhook, now time.Time) {
	if w.FailingSince == nil || now.Sub(*w.FailingSince) < e.cfg.FailingAlertAfter || alertsOnly(w.Events) {
		return
	}
	if _, done := e.alerted.LoadOrStore(w.ID, struct{}{}); done {
		return
	}
	e.log.Warn("webhook failing: no delivery has succeeded for a while", "webhook", w.ID, "name", w.Name,
		"failing_since", w.FailingSince.UTC().Format(time.RFC3339), "disabled_after", e.cfg.DisableAfter)
	e.raise(w.WorkspaceID, "herald.webhook.failing", map[string]any{"webhook": webhookInfo(w),
		"failing_since": w.FailingSince.UTC().Format(time.RFC3339)})
}

func (e *Engine) exhausted(j *job, rec *herald.OutcomeRecord) {
	if strings.HasPrefix(j.event.Type, "herald.") {
		return // no alert about an alert: that could loop
	}
	data := map[string]any{"webhook": webhookInfo(j.hook), "delivery": map[string]any{"id": j.claim.ID, "event_id": j.event.ID,
		"event_type": j.event.Type, "attempts": j.claim.Attempts + 1, "last_status": rec.LastStatus, "last_error": rec.LastError}}
	e.raise(j.claim.WorkspaceID, "herald.delivery.exhausted", data)
}

func webhookInfo(w *herald.Webhook) map[string]any {
	events := make([]any, len(w.Events))
	for i, e := range w.Events {
		events[i] = e
	}
	return map[string]any{"id": w.ID, "name": w.Name, "event": w.Event, "events": events, "endpoint_url": w.EndpointURL}
}

// alertsOnly reports whether a webhook receives only herald's own alerts
// (no alert is raised about it: that could loop).
func alertsOnly(events []string) bool {
	for _, e := range events {
		if !strings.HasPrefix(e, herald.AlertPrefix) {
			return false
		}
	}
	return len(events) > 0
}

// raise raises an alert in the background (see Engine.background), so
// the worker that noticed it goes on; during shutdown it is logged and
// dropped.
func (e *Engine) raise(workspaceID, typ string, data map[string]any) {
	if !e.background(func(ctx context.Context) { e.alert(ctx, workspaceID, typ, data) }) {
		e.log.Warn("alert not raised: shutting down", "type", typ)
	}
}

// alert raises one of herald's own events in the workspace; admins
// subscribe to them like to any other event type.
func (e *Engine) alert(ctx context.Context, workspaceID, typ string, data map[string]any) {
	raw, err := json.Marshal(data)
	if err == nil {
		_, err = e.ingest(ctx, workspaceID, []herald.EventInput{{Type: typ, Data: raw}}, true)
	}
	if err != nil {
		e.log.Error("raise alert", "type", typ, "err", err)
	}
}
