package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Purge deletes one bounded batch of what retention lets go: attempts
// older than their workspace's cutoff, and events none of whose
// deliveries is pending, with their deliveries. Each batch is one short
// transaction, so ingest (on SQLite, waiting for the one writer) never
// waits long; the caller repeats until a batch comes back short.
func (s *Store) Purge(ctx context.Context, c herald.PurgeCutoffs, limit int) (herald.PurgeResult, error) {
	var res herald.PurgeResult
	if limit <= 0 {
		return res, nil
	}
	type scope struct {
		cond   string // on the table's workspace_id
		args   []any
		before time.Time
	}
	ids := make([]string, 0, len(c.Workspaces))
	for id := range c.Workspaces {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var scopes []scope
	if !c.Default.IsZero() {
		sc := scope{cond: "1 = 1", before: c.Default}
		if len(ids) > 0 {
			marks, args := inList(ids)
			sc.cond, sc.args = "workspace_id NOT IN ("+marks+")", args
		}
		scopes = append(scopes, sc)
	}
	for _, id := range ids {
		scopes = append(scopes, scope{cond: "workspace_id = ?", args: []any{id}, before: c.Workspaces[id]})
	}
	tx, err := s.begin(ctx, Relaxed)
	if err != nil {
		return res, fmt.Errorf("purge: %w", err)
	}
	defer tx.Close()
	for _, sc := range scopes {
		left := limit - res.Attempts
		if left <= 0 {
			break
		}
		args := append(append([]any{micros(sc.before)}, sc.args...), left)
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE started_at < ? AND `+sc.cond+` ORDER BY started_at LIMIT ?)`), args...)
		if err != nil {
			return res, fmt.Errorf("purge attempts: %w", s.mapErr(err))
		}
		n, _ := r.RowsAffected()
		res.Attempts += int(n)
	}
	for _, sc := range scopes {
		left := limit - res.Events
		if left <= 0 {
			break
		}
		args := append(append([]any{micros(sc.before)}, sc.args...), left)
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM events WHERE received_at < ? AND `+sc.cond+` AND NOT EXISTS (
			SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id AND deliveries.status = 'pending') ORDER BY received_at LIMIT ?`), args...)
		if err != nil {
			return res, fmt.Errorf("purge events: %w", s.mapErr(err))
		}
		var evs []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return res, s.mapErr(err)
			}
			evs = append(evs, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, s.mapErr(err)
		}
		for len(evs) > 0 {
			chunk := evs[:min(len(evs), 500)]
			evs = evs[len(chunk):]
			marks, args := inList(chunk)
			r, err := tx.ExecContext(ctx, s.q(`DELETE FROM deliveries WHERE event_id IN (`+marks+`) AND status <> 'pending'`), args...)
			if err != nil {
				return res, fmt.Errorf("purge deliveries: %w", s.mapErr(err))
			}
			n, _ := r.RowsAffected()
			res.Deliveries += int(n)
			// A delivery made pending meanwhile (a resend) keeps its event.
			r, err = tx.ExecContext(ctx, s.q(`DELETE FROM events WHERE id IN (`+marks+`) AND NOT EXISTS (
				SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id AND deliveries.status = 'pending')`), args...)
			if err != nil {
				return res, fmt.Errorf("purge events: %w", s.mapErr(err))
			}
			n, _ = r.RowsAffected()
			res.Events += int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit purge: %w", s.mapErr(err))
	}
	return res, nil
}

// RetentionOverrides returns the workspaces with a retention of their own.
func (s *Store) RetentionOverrides(ctx context.Context) (map[string]time.Duration, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, retention_seconds FROM workspaces WHERE retention_seconds IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("workspace retention: %w", s.mapErr(err))
	}
	defer rows.Close()
	out := map[string]time.Duration{}
	for rows.Next() {
		var id string
		var secs int64
		if err := rows.Scan(&id, &secs); err != nil {
			return nil, s.mapErr(err)
		}
		out[id] = time.Duration(secs) * time.Second
	}
	return out, s.mapErr(rows.Err())
}

// SetWorkspaceRetention stores the workspace's own retention (nil: the
// server's default).
func (s *Store) SetWorkspaceRetention(ctx context.Context, id string, retention *time.Duration) error {
	var secs sql.NullInt64
	if retention != nil {
		secs = sql.NullInt64{Int64: int64(*retention / time.Second), Valid: true}
	}
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE workspaces SET retention_seconds = ? WHERE id = ?`), secs, id)
	return s.expectOne(res, err)
}

// PendingByWebhook groups the pending deliveries by webhook.
func (s *Store) PendingByWebhook(ctx context.Context) ([]herald.PendingStat, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT d.webhook_id, d.workspace_id, COALESCE(MAX(w.endpoint_url), ''), COUNT(*), MIN(d.created_at),
		SUM(CASE WHEN d.next_attempt_at = ? THEN 1 ELSE 0 END)
		FROM deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' GROUP BY d.webhook_id, d.workspace_id`), micros(herald.HeldUntil))
	if err != nil {
		return nil, fmt.Errorf("pending by webhook: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []herald.PendingStat
	for rows.Next() {
		var p herald.PendingStat
		var oldest int64
		if err := rows.Scan(&p.WebhookID, &p.WorkspaceID, &p.EndpointURL, &p.Pending, &oldest, &p.Held); err != nil {
			return nil, s.mapErr(err)
		}
		p.OldestCreatedAt = fromMicros(oldest)
		out = append(out, p)
	}
	return out, s.mapErr(rows.Err())
}

// DatabaseSize reports the size of herald's data (the dialect says how).
func (s *Store) DatabaseSize(ctx context.Context) (herald.DatabaseSize, error) {
	var d herald.DatabaseSize
	if s.dialect.SizeQuery == "" {
		return d, nil
	}
	if err := s.read.QueryRowContext(ctx, s.dialect.SizeQuery).Scan(&d.Bytes, &d.FreeBytes); err != nil {
		return d, fmt.Errorf("database size: %w", s.mapErr(err))
	}
	return d, nil
}

// reclaimStep is how many pages one incremental vacuum statement frees:
// small, so the write lock it takes stays short.
const reclaimStep = 2000

// ReclaimSpace gives free pages back to the file system once more than a
// quarter of the file is free, down to an eighth (the rest is reused by
// new rows without growing the file), in short steps.
func (s *Store) ReclaimSpace(ctx context.Context) (int64, error) {
	if len(s.dialect.Vacuum) > 0 {
		return 0, s.vacuum(ctx)
	}
	if s.dialect.ReclaimSpace == nil {
		return 0, nil
	}
	var freed int64
	for i, share := 0, int64(4); i < 1000 && ctx.Err() == nil; i, share = i+1, 8 {
		size, err := s.DatabaseSize(ctx)
		if err != nil || size.Bytes == 0 || size.FreeBytes*share <= size.Bytes {
			return freed, err
		}
		var pageSize int64
		if err := s.read.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil || pageSize == 0 {
			return freed, s.mapErr(err)
		}
		pages := int((size.FreeBytes - size.Bytes/8) / pageSize)
		pages = min(max(pages, 1), reclaimStep)
		conn, err := s.write.Conn(ctx)
		if err != nil {
			return freed, s.mapErr(err)
		}
		_, err = conn.ExecContext(ctx, s.dialect.ReclaimSpace(pages))
		conn.Close()
		if err != nil {
			return freed, fmt.Errorf("reclaim space: %w", s.mapErr(err))
		}
		freed += int64(pages) * pageSize
		time.Sleep(10 * time.Millisecond) // let ingest in between
	}
	return freed, nil
}

// vacuumEvery is how often the store vacuums its own tables when the
// server's autovacuum is off: the queue's updates leave dead rows at the
// delivery rate, and nothing else would ever make their space reusable.
const vacuumEvery = 30 * time.Second

// vacuum runs the dialect's VACUUM statements when autovacuum is off on
// the server and the last run is vacuumEvery ago. VACUUM (not FULL)
// takes no lock that blocks reads or writes.
func (s *Store) vacuum(ctx context.Context) error {
	s.vacuumMu.Lock()
	defer s.vacuumMu.Unlock()
	if time.Since(s.lastVacuum) < vacuumEvery {
		return nil
	}
	s.lastVacuum = time.Now()
	var off bool
	if err := s.read.QueryRowContext(ctx, s.dialect.VacuumOff).Scan(&off); err != nil {
		return fmt.Errorf("autovacuum setting: %w", s.mapErr(err))
	}
	if !off {
		return nil // the server's autovacuum does it
	}
	if !s.vacuumNoted {
		s.vacuumNoted = true
		s.log().Warn("the database server's autovacuum is off: herald vacuums and analyzes its own tables every 30 s")
	}
	for _, q := range s.dialect.Vacuum {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("vacuum: %w", s.mapErr(err))
		}
	}
	return nil
}
