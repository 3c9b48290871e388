package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald/internal/outbox"
)

// benchPublishAMQP publishes n persistent messages {"n": i, "t": now}
// (message-id bench-<i>) to queue over `publishers` connections, each in
// confirm mode, and returns how many the broker confirmed.
func benchPublishAMQP(ctx context.Context, url, queue string, n, publishers int) (int, error) {
	var next, confirmed atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := amqp.Dial(url)
			if err != nil {
				fail(fmt.Errorf("amqp connect: %w", err))
				return
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err == nil {
				err = ch.Confirm(false)
			}
			if err != nil {
				fail(err)
				return
			}
			const window = 200 // confirms outstanding at most
			pending := make([]*amqp.DeferredConfirmation, 0, window)
			flush := func() bool {
				for _, dc := range pending {
					if ok, err := dc.WaitContext(ctx); err != nil || !ok {
						fail(fmt.Errorf("amqp publish not confirmed: %v", err))
						return false
					}
					confirmed.Add(1)
				}
				pending = pending[:0]
				return true
			}
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, amqp.Publishing{
					MessageId: fmt.Sprintf("bench-%d", i), ContentType: "application/json", DeliveryMode: amqp.Persistent,
					Timestamp: time.Now(), Body: fmt.Appendf(nil, `{"n": %d, "t": %d}`, i, time.Now().UnixNano())})
				if err != nil {
					fail(fmt.Errorf("amqp publish: %w", err))
					return
				}
				if pending = append(pending, dc); len(pending) == window && !flush() {
					return
				}
			}
			flush()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return int(confirmed.Load()), firstErr
	}
	return int(confirmed.Load()), ctx.Err()
}

// benchDeclareQueue declares a durable queue (and purges it).
func benchDeclareQueue(url, queue string) (func(), error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, fmt.Errorf("amqp connect %s: %w", url, err)
	}
	ch, err := conn.Channel()
	if err == nil {
		_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("amqp declare %s: %w", queue, err)
	}
	return func() {
		ch.QueueDelete(queue, false, false, false)
		conn.Close()
	}, nil
}

// benchInsertOutbox inserts n rows {"n": i, "t": now} into the outbox
// table over `writers` connections, `per` rows per transaction (a
// platform's transactions each carry a few), and returns how many were
// committed.
func benchInsertOutbox(ctx context.Context, url, table string, n, writers, per int) (int, error) {
	var next, committed atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				fail(fmt.Errorf("outbox connect: %w", err))
				return
			}
			defer conn.Close(context.Background())
			for ctx.Err() == nil {
				first := int(next.Add(int64(per))) - per
				if first >= n {
					return
				}
				last := min(first+per, n)
				b := &pgx.Batch{}
				for i := first; i < last; i++ {
					b.Queue(`INSERT INTO `+table+` (event_type, payload) VALUES ('member.verified', $1)`,
						fmt.Sprintf(`{"n": %d, "t": %d}`, i, time.Now().UnixNano()))
				}
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
				if err != nil {
					fail(fmt.Errorf("outbox insert: %w", err))
					return
				}
				committed.Add(int64(last - first))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return int(committed.Load()), firstErr
	}
	return int(committed.Load()), ctx.Err()
}

// benchCreateOutbox applies `herald outbox schema` to the database.
func benchCreateOutbox(ctx context.Context, url, table string) error {
	ddl, err := outbox.Schema(table)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("outbox database %s: %w", url, err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, ddl)
	return err
}

// benchCreateSource creates the source in herald and waits until herald
// is connected to it.
func benchCreateSource(ctx context.Context, url, key string, spec map[string]any) error {
	body, _ := json.Marshal(spec)
	src, err := benchDo(ctx, url, key, "POST", "/api/v1/sources", body)
	if err != nil {
		return err
	}
	id, _ := src["id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := benchDo(ctx, url, key, "GET", "/api/v1/sources/"+id, nil)
		if err == nil && got["state"] == "connected" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("herald did not connect to the %s source within 30 s: %v %v", spec["type"], got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchAMQP is `herald bench --source amqp`: a durable queue of its own
// (herald-bench-<random>, deleted by close) on --amqp-url.
type benchAMQP struct {
	url, queue string
	drop       func()
}

func startBenchAMQP(ctx context.Context, c benchConfig, url, key string) (benchSource, error) {
	b := &benchAMQP{url: c.amqpURL, queue: "herald-bench-" + randomHex(6)}
	drop, err := benchDeclareQueue(b.url, b.queue)
	if err != nil {
		return nil, err
	}
	b.drop = drop
	err = benchCreateSource(ctx, url, key, map[string]any{"name": "bench", "type": "amqp", "url": b.url,
		"amqp":    map[string]any{"queue": b.queue},
		"mapping": map[string]any{"type_from": "fixed:member.verified", "data_from": "body", "id_from": "message_id"}})
	if err != nil {
		drop()
		return nil, err
	}
	return b, nil
}

func (b *benchAMQP) publish(ctx context.Context, c benchConfig) (int, error) {
	return benchPublishAMQP(ctx, b.url, b.queue, c.events, 4)
}

func (b *benchAMQP) close() { b.drop() }

// benchOutbox is `herald bench --source outbox`: an outbox table (made
// from herald outbox schema's DDL) in a schema of its own on --outbox-url.
type benchOutbox struct {
	url  string
	drop func()
}

func startBenchOutbox(ctx context.Context, c benchConfig, url, key string) (benchSource, error) {
	platform, drop, err := freshSchema(ctx, c.outboxURL)
	if err != nil {
		return nil, fmt.Errorf("outbox database %s: %w", c.outboxURL, err)
	}
	b := &benchOutbox{url: platform, drop: drop}
	if err := benchCreateOutbox(ctx, platform, outbox.DefaultTable); err != nil {
		drop()
		return nil, err
	}
	err = benchCreateSource(ctx, url, key, map[string]any{"name": "bench", "type": "postgres_outbox", "url": platform,
		"outbox":  map[string]any{"table": outbox.DefaultTable},
		"mapping": map[string]any{"type_from": "header:event_type", "data_from": "body", "id_from": "message_id"}})
	if err != nil {
		drop()
		return nil, err
	}
	return b, nil
}

// publish inserts the rows over 4 connections, 50 rows per transaction
// (so that the inserting, not herald, is rarely the bound).
func (b *benchOutbox) publish(ctx context.Context, c benchConfig) (int, error) {
	return benchInsertOutbox(ctx, b.url, outbox.DefaultTable, c.events, 4, 50)
}

func (b *benchOutbox) close() { b.drop() }
