package delivery

// One attempt of a delivery and the outcome records it produces.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// eventVars is what a template sees: the data plus "event".
func eventVars(ev *herald.Event) map[string]any {
	vars := make(map[string]any, len(ev.Data)+1)
	for k, v := range ev.Data {
		vars[k] = v
	}
	vars["event"] = map[string]any{"id": ev.ID, "type": ev.Type, "created_at": ev.OccurredAt.UTC().Format(time.RFC3339)}
	return vars
}

func deferral(c *herald.Claim, hook *herald.Webhook, until time.Time) *herald.OutcomeRecord {
	return &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: herald.DeliveryPending, NextAttemptAt: until,
		LastStatus: c.LastStatus, LastError: c.LastError, At: until, Ordered: hook != nil && hook.Ordered}
}

func final(c *herald.Claim, hook *herald.Webhook, status herald.DeliveryStatus, reason string, at time.Time) *herald.OutcomeRecord {
	return &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: status, Reason: reason,
		LastStatus: c.LastStatus, LastError: c.LastError, At: at, Ordered: hook != nil && hook.Ordered}
}

// attempt decides and, when it may, makes one attempt of a delivery. A
// test send (test=true) is never retried and always logged; it waits for
// a busy endpoint's slot itself. A worker's job that has to wait for one
// is parked instead (rec nil: the job is still in hand, and the release
// that frees a slot hands it to a worker). next is a parked job the
// attempt's own release handed its slot to: the caller runs it (resume).
func (e *Engine) attempt(j *job, test bool) (rec *herald.OutcomeRecord, next *waiter) {
	c, w := j.claim, j.hook
	now := e.clock.Now()
	switch {
	case j.event == nil:
		return final(c, w, herald.DeliveryCanceled, "the event no longer exists", now), nil
	case w == nil:
		return final(c, w, herald.DeliveryCanceled, "webhook deleted", now), nil
	case w.Status != herald.Published && !test && !j.event.Test:
		return final(c, w, herald.DeliveryCanceled, "webhook unpublished", now), nil
	case !test && e.beingDisabled(w.ID):
		// Unpublished a moment ago (410 Gone, or failing too long) by a
		// goroutine that may not have committed yet: this claim loaded
		// the webhook before.
		return final(c, w, herald.DeliveryCanceled, "webhook unpublished", now), nil
	case !test && w.FailingSince != nil && e.cfg.DisableAfter > 0 && now.Sub(*w.FailingSince) >= e.cfg.DisableAfter:
		reason := fmt.Sprintf("disabled automatically: every delivery failed since %s (more than %s)", w.FailingSince.UTC().Format(time.RFC3339), e.cfg.DisableAfter)
		e.disable(w, reason)
		return final(c, w, herald.DeliveryCanceled, reason, now), nil
	}
	compiled, err := e.cache.Get(w, e.svc.Location(context.Background(), w.WorkspaceID))
	var req *payload.Request
	if err == nil {
		req, err = compiled.Render(j.vars)
	}
	if err != nil {
		// A template that cannot render this event will not render it
		// on a retry either: fail for good and say why.
		return e.unsendable(j, herald.ErrClassTemplate, err.Error(), now, test), nil
	}
	if w.AuthorizationEnabled {
		if j.auth == nil {
			return e.unsendable(j, herald.ErrClassBlocked, "the webhook's authorization no longer exists", now, test), nil
		}
		if !j.auth.InScope(req.URL) {
			return e.unsendable(j, herald.ErrClassBlocked, fmt.Sprintf("the rendered URL %s lies outside the authorization's endpoint %s; credentials are not sent there", req.URL, j.auth.Endpoint), now, test), nil
		}
	}
	key := endpointKey(req.URL)
	e.hookEndpoint.Store(w.ID, key)
	var adm admission
	if test {
		adm = e.eps.acquire(key, now, c.Attempts > 0, e.ctx.Done())
	} else {
		var parked bool
		if adm, parked = e.eps.admit(key, now, c.Attempts > 0, &waiter{j: j, req: req}); parked {
			return nil, nil
		}
	}
	if !adm.ok {
		e.metrics.Deliveries.WithLabelValues("deferred").Inc()
		rec := deferral(c, w, adm.deferUntil)
		rec.LastError = adm.reason
		return rec, nil
	}
	return e.sendAdmitted(j, req, key, adm.probe, test)
}

// resume runs a parked job that a release handed a slot to.
func (e *Engine) resume(w *waiter) (*herald.OutcomeRecord, *waiter) {
	return e.sendAdmitted(w.j, w.req, w.key, w.probe, false)
}

// handBack returns a parked job that got no slot to the queue.
func (e *Engine) handBack(w *waiter, until time.Time, reason string) {
	if until.IsZero() {
		until = e.clock.Now()
	}
	e.metrics.Deliveries.WithLabelValues("deferred").Inc()
	rec := deferral(w.j.claim, w.j.hook, until)
	rec.LastError = reason
	e.emit(rec)
	e.finished()
}

// sendAdmitted makes an admitted attempt (it holds a slot of the endpoint key)
// and says what became of the delivery.
func (e *Engine) sendAdmitted(j *job, req *payload.Request, key string, probe, test bool) (*herald.OutcomeRecord, *waiter) {
	c, w := j.claim, j.hook
	if !j.leaseEnd.IsZero() && time.Until(j.leaseEnd.Add(-e.cfg.Lease/4)) < e.attemptTimeout(w) {
		// Too little of the lease is left for a whole attempt (the claim
		// or the load came back late, or the slot took long): another
		// process may take the delivery over before the attempt ends.
		// Hand it back instead; if it is still ours, it is due at once.
		next := e.eps.release(key, e.clock.Now(), probe, false, false)
		e.metrics.Deliveries.WithLabelValues("deferred").Inc()
		return deferral(c, w, e.clock.Now()), next
	}
	e.metrics.InFlight.Inc()
	s := e.send(e.ctx, req, c, w, j.auth)
	e.metrics.InFlight.Dec()
	done := e.clock.Now()
	next := e.eps.release(key, done, probe, s.success, s.health)
	if e.ctx.Err() != nil && !s.success {
		// Shutdown aborted the call: hand the delivery back, due now.
		return deferral(c, w, done), next
	}
	e.metrics.AttemptSeconds.WithLabelValues(string(s.attempt.Outcome)).Observe(s.attempt.DurationMS / 1000)
	e.metrics.Attempts.WithLabelValues(string(s.attempt.Outcome), string(s.attempt.ErrorClass)).Inc()
	rec := &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Counted: true, LastStatus: s.status,
		LastError: s.attempt.Error, At: done, Ordered: w.Ordered}
	if !s.success || !w.LogOnlyErrors || test {
		rec.Attempt = s.attempt
	}
	switch {
	case s.success:
		rec.Status = herald.DeliverySucceeded
		e.metrics.Deliveries.WithLabelValues("succeeded").Inc()
		e.alerted.Delete(w.ID)
	case s.status == http.StatusGone && !test:
		rec.Status, rec.Reason = herald.DeliveryFailed, "the receiver answered 410 Gone"
		e.metrics.Deliveries.WithLabelValues("failed").Inc()
		e.disable(w, "unpublished: the receiver answered 410 Gone for delivery "+c.ID)
	default:
		delay, ok := e.policy.Next(ParseScheduleOr(w.RetrySchedule, e.cfg.Schedule), c.Attempts+1, s.retryAfter)
		if ok && !test && !j.event.Test {
			rec.Status, rec.NextAttemptAt = herald.DeliveryPending, done.Add(delay)
			e.metrics.Deliveries.WithLabelValues("retried").Inc()
			e.maybeFailingAlert(w, done)
		} else {
			rec.Status = herald.DeliveryFailed
			if !test && !j.event.Test {
				rec.Reason = fmt.Sprintf("failed after %d attempts", c.Attempts+1)
				e.exhausted(j, rec)
			}
			e.metrics.Deliveries.WithLabelValues("failed").Inc()
		}
	}
	return rec, next
}

// ParseScheduleOr is ParseSchedule with the engine's default.
func ParseScheduleOr(s []string, def []time.Duration) []time.Duration {
	if len(s) == 0 {
		return def
	}
	return ParseSchedule(s)
}

// unsendable records a delivery that cannot be sent as configured.
func (e *Engine) unsendable(j *job, class herald.ErrorClass, msg string, now time.Time, test bool) *herald.OutcomeRecord {
	c := j.claim
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: c.Attempts + 1, StartedAt: now.UTC(), Outcome: herald.OutcomeFailure, ErrorClass: class, Error: msg, RequestMethod: j.hook.Method,
		RequestURL: j.hook.EndpointURL, RequestHeaders: []herald.Header{}}
	rec := final(c, j.hook, herald.DeliveryFailed, msg, now)
	rec.Counted, rec.LastError, rec.Attempt = true, msg, a
	e.metrics.Deliveries.WithLabelValues("failed").Inc()
	e.metrics.Attempts.WithLabelValues(string(a.Outcome), string(class)).Inc()
	if !test && !j.event.Test {
		e.exhausted(j, rec)
	}
	return rec
}

// endpointKey is scheme://host:port, the unit of isolation.
func endpointKey(raw string) string { return herald.EndpointKey(raw) }
