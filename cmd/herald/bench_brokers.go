package main

import (
	"context"
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
