package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// janitor enforces retention continuously: every purgeInterval it deletes
// what has aged out in small transactions with a pause between them (on
// SQLite ingest waits for the one writer, so no transaction may be long),
// then gives freed space back when much of the file is free.
func (e *Engine) janitor(ctx context.Context) {
	for ctx.Err() == nil {
		e.purgeOnce(ctx)
		e.reclaimSpace(ctx)
		sleep(ctx, e.purgeInterval())
	}
}

// purgeInterval follows the retention window: a twentieth of it, between
// a second and a minute, so what ages out goes within about 5 % of the
// window, and an hour's retention does not wait an hour.
func (e *Engine) purgeInterval() time.Duration {
	if e.cfg.Retention < 0 {
		return time.Minute // workspaces may still have their own
	}
	return min(max(e.cfg.Retention/20, time.Second), time.Minute)
}

// purgeOnce runs one retention pass to its end and reports it.
func (e *Engine) purgeOnce(ctx context.Context) {
	start := time.Now()
	now := e.clock.Now()
	var cut herald.PurgeCutoffs
	if e.cfg.Retention >= 0 {
		cut.Default = now.Add(-e.cfg.Retention)
	}
	overrides, err := e.queue.RetentionOverrides(ctx)
	if err != nil {
		e.purgeFailed(ctx, err)
		return
	}
	if len(overrides) > 0 {
		cut.Workspaces = make(map[string]time.Time, len(overrides))
		for id, d := range overrides {
			cut.Workspaces[id] = now.Add(-d)
		}
	}
	if cut.Default.IsZero() && len(cut.Workspaces) == 0 {
		return
	}
	var total herald.PurgeResult
	batches := 0
	for ctx.Err() == nil {
		r, err := e.queue.Purge(ctx, cut, e.cfg.PurgeBatch)
		if err != nil {
			e.purgeFailed(ctx, err)
			break
		}
		batches++
		total.Attempts += r.Attempts
		total.Events += r.Events
		total.Deliveries += r.Deliveries
		e.metrics.PurgedRows.WithLabelValues("attempts").Add(float64(r.Attempts))
		e.metrics.PurgedRows.WithLabelValues("events").Add(float64(r.Events))
		e.metrics.PurgedRows.WithLabelValues("deliveries").Add(float64(r.Deliveries))
		if r.Attempts < e.cfg.PurgeBatch && r.Events < e.cfg.PurgeBatch {
			break
		}
		sleep(ctx, e.cfg.PurgePause)
	}
	rows := total.Attempts + total.Events + total.Deliveries
	took := time.Since(start)
	e.metrics.PurgeSeconds.Observe(took.Seconds())
	if rows > 0 {
		e.log.Info("retention: purged old attempts and events", "attempts", total.Attempts, "events", total.Events,
			"deliveries", total.Deliveries, "transactions", batches, "duration", took.Round(time.Millisecond),
			"older_than", e.cfg.Retention, "workspace_overrides", len(overrides))
	}
}

// reclaimSpace gives freed space back (SQLite) or vacuums (PostgreSQL
// without autovacuum) after every run, even one that deleted nothing: on
// PostgreSQL the queue's own updates leave dead rows.
func (e *Engine) reclaimSpace(ctx context.Context) {
	freed, err := e.queue.ReclaimSpace(ctx)
	switch {
	case err != nil:
		e.purgeFailed(ctx, err)
	case freed > 0:
		e.log.Info("retention: gave free space back to the file system", "bytes", freed)
	}
}

func (e *Engine) purgeFailed(ctx context.Context, err error) {
	if ctx.Err() == nil {
		e.logStoreError("retention: purge failed; trying again at the next run", err)
	}
}
