package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/source"
)

// DefaultBatch is how many rows one transaction takes at most.
const DefaultBatch = 500

// Consumer is the source.Consumer for herald.SourceOutbox. The zero value
// is ready to use, with the defaults documented on each field.
type Consumer struct {
	// Batch is how many rows one transaction takes (default DefaultBatch).
	// While rows wait, batches follow each other without pause.
	Batch int
	// Poll is how often the table is looked at when no notification came
	// (default 200 ms): the safety net for a table without the trigger,
	// or a notification lost with a connection.
	Poll time.Duration
	// LagEvery is how often the rows waiting are counted (default 2 s).
	LagEvery time.Duration
	// RetryWait is the pause after the sink refused a batch (default 1 s).
	RetryWait time.Duration
	// Log receives what the consumer has to say; nil discards it.
	Log *slog.Logger
}

var _ source.Consumer = (*Consumer)(nil)

func (c *Consumer) batch() int {
	if c.Batch > 0 {
		return c.Batch
	}
	return DefaultBatch
}

func (c *Consumer) poll() time.Duration {
	if c.Poll > 0 {
		return c.Poll
	}
	return 200 * time.Millisecond
}

func (c *Consumer) lagEvery() time.Duration {
	if c.LagEvery > 0 {
		return c.LagEvery
	}
	return 2 * time.Second
}

func (c *Consumer) retryWait() time.Duration {
	if c.RetryWait > 0 {
		return c.RetryWait
	}
	return time.Second
}

func (c *Consumer) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// lagCap bounds the count of waiting rows: beyond it the lag reads "at
// least lagCap", and counting stays cheap however long the backlog.
const lagCap = 100000

// Run connects to the platform's database (src.URL, a postgres:// URL),
// listens on the table's channel, and takes rows until ctx ends (nil) or
// the connection fails (the error; the runner reconnects with backoff).
//
// Each batch is one transaction: the rows are selected FOR UPDATE SKIP
// LOCKED (another herald process takes other rows), handed to the sink,
// and deleted in the same transaction, committed only after the sink
// returned nil. A crash in between rolls the transaction back: the rows
// come again and herald recognises them by their idempotency key.
func (c *Consumer) Run(ctx context.Context, src *herald.Source, sink source.Sink) error {
	if src.Outbox == nil {
		return errors.New("outbox source: no table configured")
	}
	table := src.Outbox.Table
	if table == "" {
		table = DefaultTable
	}
	if err := ValidTable(table); err != nil {
		return fmt.Errorf("outbox source: %w", err)
	}
	cfg, err := pgx.ParseConfig(src.URL)
	if err != nil {
		return fmt.Errorf("outbox source: the URL is not a PostgreSQL URL: %v", redact(err, src.URL))
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "herald source " + src.Name
	}
	work, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return c.failed(ctx, fmt.Errorf("outbox connect: %w", redact(err, src.URL)))
	}
	defer work.Close(context.Background())
	listen, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return c.failed(ctx, fmt.Errorf("outbox connect: %w", redact(err, src.URL)))
	}
	defer listen.Close(context.Background())
	if _, err := listen.Exec(ctx, "LISTEN "+pgx.Identifier{Channel(table)}.Sanitize()); err != nil {
		return c.failed(ctx, fmt.Errorf("outbox listen: %w", err))
	}
	r := &reader{c: c, table: table, q: quoted(table), conn: work, sink: sink}
	// The table must be there, with the columns herald reads.
	if _, err := work.Exec(ctx, `SELECT id, event_type, payload, headers, created_at FROM `+r.q+` LIMIT 0`); err != nil {
		return c.failed(ctx, fmt.Errorf("outbox table %s: %w (create it with the DDL of: herald outbox schema --table %s)", table, err, table))
	}
	sink.Connected()
	r.reportLag(ctx)
	nextLag := time.Now().Add(c.lagEvery())
	for {
		n, err := r.take(ctx)
		if err != nil {
			return c.failed(ctx, err)
		}
		if time.Now().After(nextLag) {
			r.reportLag(ctx)
			nextLag = time.Now().Add(c.lagEvery())
		}
		if n == c.batch() {
			continue // more rows wait: no pause
		}
		if n < 0 { // refused: let the cause pass
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.retryWait()):
			}
			continue
		}
		// Wait for a notification or the next poll.
		wctx, cancel := context.WithTimeout(ctx, c.poll())
		_, err = listen.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !errors.Is(err, context.DeadlineExceeded) && !listen.PgConn().IsClosed():
			return fmt.Errorf("outbox listen: %w", err)
		case err != nil && listen.PgConn().IsClosed():
			return c.failed(ctx, fmt.Errorf("outbox listen: connection lost: %w", err))
		}
	}
}

// failed is what Run returns when the database went away: nil if ctx
// ended, else err.
func (c *Consumer) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type reader struct {
	c     *Consumer
	table string
	q     string
	conn  *pgx.Conn
	sink  source.Sink
	ids   []int64
	msgs  []herald.SourceMessage
}

// take runs one batch's transaction and returns how many rows it took
// and deleted (-1 when the sink refused them).
func (r *reader) take(ctx context.Context) (int, error) {
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	rows, err := tx.Query(ctx, `SELECT id, event_type, payload, headers, created_at FROM `+r.q+
		` ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, r.c.batch())
	if err != nil {
		return 0, fmt.Errorf("outbox select: %w", err)
	}
	r.ids, r.msgs = r.ids[:0], r.msgs[:0]
	for rows.Next() {
		var (
			id        int64
			typ       string
			payload   []byte
			headers   []byte
			createdAt time.Time
		)
		if err := rows.Scan(&id, &typ, &payload, &headers, &createdAt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox read row: %w", err)
		}
		r.ids = append(r.ids, id)
		r.msgs = append(r.msgs, message(r.table, id, typ, payload, headers, createdAt))
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox select: %w", err)
	}
	if len(r.ids) == 0 {
		return 0, nil
	}
	if err := r.sink.Accept(ctx, r.msgs); err != nil {
		if ctx.Err() == nil {
			r.c.log().Warn("outbox source: batch not accepted; the rows stay", "table", r.table, "rows", len(r.ids), "error", err)
		}
		return -1, nil // the deferred rollback releases the rows
	}
	// The events are in herald's store: the rows may go. Finish even when
	// ctx ends now — a shutdown should not cause a needless redelivery.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := tx.Exec(dctx, `DELETE FROM `+r.q+` WHERE id = ANY($1)`, r.ids); err != nil {
		return 0, fmt.Errorf("outbox delete: %w", err)
	}
	if err := tx.Commit(dctx); err != nil {
		return 0, fmt.Errorf("outbox commit: %w", err)
	}
	return len(r.ids), nil
}

func (r *reader) reportLag(ctx context.Context) {
	var n int64
	err := r.conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+r.q+` LIMIT `+strconv.Itoa(lagCap)+`) AS waiting`).Scan(&n)
	if err == nil {
		r.sink.Lag(n)
	}
}

// MessageID is the id of an outbox row as herald sees it, the default
// idempotency key: the table's name and the row id ("herald_outbox:17"),
// so that two outbox tables feeding one workspace do not collide.
func MessageID(table string, id int64) string {
	return table + ":" + strconv.FormatInt(id, 10)
}

// message turns a row into a herald.SourceMessage: the event_type column
// is the subject and the header event_type (so the mapping type_from:
// "header:event_type" reads it), the headers column's keys are headers
// (strings as they are, other values as JSON), the payload is the body.
func message(table string, id int64, typ string, payload, headers []byte, createdAt time.Time) herald.SourceMessage {
	m := herald.SourceMessage{
		ID:          MessageID(table, id),
		Subject:     typ,
		Body:        payload,
		PublishedAt: createdAt,
		Headers:     map[string]string{},
	}
	if len(headers) > 0 {
		var h map[string]json.RawMessage
		if json.Unmarshal(headers, &h) == nil {
			for k, v := range h {
				var s string
				if json.Unmarshal(v, &s) == nil {
					m.Headers[k] = s
				} else if string(v) != "null" {
					m.Headers[k] = string(v)
				}
			}
		}
	}
	m.Headers["event_type"] = typ
	m.Headers["outbox.id"] = strconv.FormatInt(id, 10)
	return m
}

// redact hides the URL's password in an error that may quote the URL.
func redact(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	return &redactedError{err: err, secret: pw}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e *redactedError) Unwrap() error { return e.err }
