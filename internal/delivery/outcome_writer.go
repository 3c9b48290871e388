package delivery

// The outcome writer: records attempts and delivery states in batches.

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// emit hands an outcome to the writer.
func (e *Engine) emit(rec *herald.OutcomeRecord) { e.outcomes <- rec }

// writeLoop records outcomes in batches: one transaction for all that
// are waiting. A failed write is retried (the outcomes are not dropped;
// meanwhile leases may expire, which at worst repeats a delivery). The
// writes themselves do not run on the engine's context: the outcomes of
// attempts that shutdown aborted must still be written after it is
// canceled. Once it is canceled a failed write is not retried.
func (e *Engine) writeLoop() {
	defer close(e.writerDone)
	batch := make([]*herald.OutcomeRecord, 0, 512)
	var lastWrite time.Time
	gather := time.NewTimer(0)
	<-gather.C
	defer gather.Stop()
	for rec := range e.outcomes {
		batch = append(batch[:0], rec)
		closed := false
	fill:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-e.outcomes:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		// Events that arrive one by one finish one by one: rather than a
		// transaction per outcome, write at most one batch per
		// outcomeGather while busy — the first outcome after a quiet spell
		// is written at once. Receipt latency is not affected (the
		// receiver already has the delivery); an ordered webhook's next
		// delivery, or one handed back due now, is not kept waiting.
		if wait := outcomeGather - time.Since(lastWrite); wait > 0 && !closed && !e.stopping.Load() && !mayBeDue(batch, e.clock.Now()) {
			gather.Reset(wait)
		collect:
			for len(batch) < cap(batch) {
				select {
				case r, ok := <-e.outcomes:
					if !ok {
						break collect
					}
					batch = append(batch, r)
					if r.Ordered || (r.Status == herald.DeliveryPending && !r.NextAttemptAt.After(e.clock.Now())) {
						break collect
					}
				case <-gather.C:
					break collect
				}
			}
			if !gather.Stop() {
				select {
				case <-gather.C:
				default:
				}
			}
		}
		lastWrite = time.Now()
		for try, wait := 1, 100*time.Millisecond; ; try, wait = try+1, min(2*wait, 10*time.Second) {
			err := e.queue.RecordOutcomes(context.Background(), batch)
			if err == nil {
				break
			}
			if (e.stopping.Load() && try >= 5) || e.ctx.Err() != nil {
				// Shutting down with the database away: these deliveries
				// are still pending under their lease and go out again
				// after it (at least once, never lost).
				e.log.Error("record delivery outcomes; giving up at shutdown, the deliveries will be retried after their lease", "err", err, "count", len(batch))
				break
			}
			e.logStoreError("record delivery outcomes; retrying", err, "count", len(batch))
			sleep(e.ctx, wait)
		}
		if mayBeDue(batch, e.clock.Now()) {
			e.Wake()
		}
	}
}

// outcomeGather is the least time between two outcome transactions
// while outcomes keep coming (see writeLoop). At a steady 200 events/s a
// transaction per outcome was a fifth of herald's CPU; 20 ms gathers
// four of them there and twenty at 1,000/s. What waits is only the log's
// view of a finished delivery (and, after a crash, at most 20 ms more of
// deliveries sent again under at-least-once).
const outcomeGather = 20 * time.Millisecond

// mayBeDue reports whether recording these outcomes may have made work
// due now: an ordered webhook's next held delivery was released, or a
// delivery was handed back due now. A success or a retry later needs no
// claim (the poll finds retries); waking for every batch cost an empty
// claim transaction per delivery at a steady rate.
func mayBeDue(batch []*herald.OutcomeRecord, now time.Time) bool {
	for _, r := range batch {
		if r.Ordered || (r.Status == herald.DeliveryPending && !r.NextAttemptAt.After(now)) {
			return true
		}
	}
	return false
}
