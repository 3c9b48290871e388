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
	"sync"
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
	// Workers is how many transactions take rows at once (default 4),
	// each on a connection of its own: while one waits for herald's
	// commit, the next batch is read, and concurrent batches share
	// herald's group commit. SKIP LOCKED keeps their rows apart. Order
	// is by id within a batch only.
	Workers int
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

func (c *Consumer) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 4
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
	connect := func() (*pgx.Conn, error) {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("outbox connect: %w", redact(err, src.URL))
		}
		return conn, nil
	}
	listen, err := connect()
	if err != nil {
		return c.failed(ctx, err)
	}
	defer listen.Close(context.Background())
	if _, err := listen.Exec(ctx, "LISTEN "+pgx.Identifier{Channel(table)}.Sanitize()); err != nil {
		return c.failed(ctx, fmt.Errorf("outbox listen: %w", err))
	}
	q := quoted(table)
	// The table must be there, with the columns herald reads.
	if _, err := listen.Exec(ctx, `SELECT id, event_type, payload, headers, created_at FROM `+q+` LIMIT 0`); err != nil {
		return c.failed(ctx, fmt.Errorf("outbox table %s: %w (create it with the DDL of: herald outbox schema --table %s)", table, err, table))
	}
	readers := make([]*reader, c.workers())
	for i := range readers {
		conn, err := connect()
		if err != nil {
			return c.failed(ctx, err)
		}
		defer conn.Close(context.Background())
		readers[i] = &reader{c: c, table: table, q: q, conn: conn, sink: sink, wake: make(chan struct{}, 1)}
	}
	sink.Connected()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(readers)+1)
	wakeAll := func(except *reader) {
		for _, r := range readers {
			if r != except {
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // notifications wake every reader
		defer wg.Done()
		for {
			if _, err := listen.WaitForNotification(rctx); err != nil {
				if rctx.Err() == nil {
					errc <- fmt.Errorf("outbox listen: %w", err)
				}
				return
			}
			wakeAll(nil)
		}
	}()
	for i, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.loop(rctx, i == 0, func() { wakeAll(r) }); err != nil && rctx.Err() == nil {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	return c.failed(ctx, err)
}

// loop takes batches until ctx ends or the connection fails. The first
// reader polls and reports the lag; the others wait to be woken (by a
// notification, or by a reader that took a full batch: more rows wait).
func (r *reader) loop(ctx context.Context, first bool, found func()) error {
	var poll <-chan time.Time
	var nextLag time.Time
	for {
		if first && !time.Now().Before(nextLag) {
			r.reportLag(ctx)
			nextLag = time.Now().Add(r.c.lagEvery())
		}
		n, err := r.take(ctx)
		switch {
		case err != nil:
			return err
		case n < 0: // refused: let the cause pass
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.c.retryWait()):
			}
			continue
		case n == r.c.batch():
			found() // more rows wait: the others help, and no pause
			continue
		}
		if first {
			poll = time.After(r.c.poll())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-poll:
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
	wake  chan struct{}
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
