// Package delivery is herald's delivery engine: it takes due deliveries
// from the queue (the delivery rows in the database), renders and sends
// each request, and records what happened.
//
// Guarantees
//
//   - At least once. An event answered 202 is on disk with one pending
//     delivery per published webhook of its type. A delivery leaves
//     "pending" only when an outcome is recorded; a worker that dies holds
//     its claim only until the lease expires, then any process takes it
//     over. The receiver may see a delivery more than once and
//     deduplicates by the webhook-id header, which is the delivery id and
//     the same on every attempt.
//   - No database connection is held during an HTTP call: a batch of
//     deliveries is claimed (one statement), the connection goes back to
//     the pool, the calls run, and outcomes are written in batches.
//   - Isolation: each endpoint (scheme, host, port) has a concurrency
//     limit, an optional rate limit and a circuit breaker, so a slow or
//     dead receiver holds only its own slots; other endpoints keep their
//     pace. Deliveries that must wait are deferred in the queue (not
//     counted as attempts).
//   - Unordered by default; a webhook in ordered mode gets one delivery
//     at a time in event order.
//
// States
//
//	pending ──2xx──────────────────────────▶ succeeded
//	   │ ├─failure, attempts left──▶ pending (next attempt per RetryPolicy)
//	   │ ├─failure, last attempt──▶ failed  (alert herald.delivery.exhausted)
//	   │ ├─410 Gone──▶ failed, webhook unpublished (alert herald.webhook.disabled)
//	   └─webhook unpublished/deleted──▶ canceled
package delivery
