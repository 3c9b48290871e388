// Package amqpsource reads a herald source from an AMQP 0-9-1 queue
// (RabbitMQ). It implements source.Consumer: messages are taken with
// manual acknowledgements, handed to the sink in batches, and
// acknowledged only once the sink returned nil — that is, once herald
// committed their events (or recorded them as rejected). A batch the sink
// refused is handed back to the broker (nack with requeue) and comes
// again; the idempotency key recognises what herald already has.
package amqpsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/source"
)

// DefaultPrefetch is how many unacknowledged messages the broker hands
// herald at once when the source sets no prefetch; it is also the
// largest batch.
const DefaultPrefetch = 256

// Consumer is the source.Consumer for herald.SourceAMQP. The zero value
// is ready to use, with the defaults documented on each field.
type Consumer struct {
	// BatchWait is how long a batch stays open after its first message
	// for more to arrive (default 5 ms). A full batch (prefetch
	// messages) goes at once.
	BatchWait time.Duration
	// LagEvery is how often the queue's message count is asked for and
	// reported as lag (default 2 s).
	LagEvery time.Duration
	// Channels is how many channels consume the queue at once (default
	// 4), each with the source's prefetch: while one channel's batch
	// waits for herald's commit, the others' are read, and concurrent
	// batches share herald's group commit. Order across them is not kept.
	Channels int
	// RetryWait is the pause after the sink refused a batch, before the
	// next one is taken (default 1 s): a database that cannot take the
	// batch now would refuse its immediate redelivery too.
	RetryWait time.Duration
	// Log receives what the consumer has to say; nil discards it.
	Log *slog.Logger
}

var _ source.Consumer = (*Consumer)(nil)

func (c *Consumer) batchWait() time.Duration {
	if c.BatchWait > 0 {
		return c.BatchWait
	}
	return 5 * time.Millisecond
}

func (c *Consumer) lagEvery() time.Duration {
	if c.LagEvery > 0 {
		return c.LagEvery
	}
	return 2 * time.Second
}

func (c *Consumer) channels() int {
	if c.Channels > 0 {
		return c.Channels
	}
	return 4
}

func (c *Consumer) retryWait() time.Duration {
	if c.RetryWait > 0 {
		return c.RetryWait
	}
	return time.Second
}

// Run connects to src.URL, declares the queue when src.AMQP.Declare is
// set (durable, not auto-deleted), and consumes it until ctx ends (it
// returns nil) or the connection or channel closes (it returns why; the
// runner reconnects with backoff). Unacknowledged messages go back to
// the queue when the connection closes, as the broker does for any
// consumer.
func (c *Consumer) Run(ctx context.Context, src *herald.Source, sink source.Sink) error {
	if src.AMQP == nil || src.AMQP.Queue == "" {
		return errors.New("amqp source: no queue configured")
	}
	queue := src.AMQP.Queue
	prefetch := src.AMQP.Prefetch
	if prefetch <= 0 {
		prefetch = DefaultPrefetch
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("herald source " + src.Name)
	conn, err := amqp.DialConfig(src.URL, amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: props,
		Dial:       amqp.DefaultDial(10 * time.Second),
	})
	if err != nil {
		return fmt.Errorf("amqp connect: %w", redact(err, src.URL))
	}
	defer conn.Close()
	// Closing the connection when ctx ends unblocks every call below.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	if src.AMQP.Declare {
		ch, err := conn.Channel()
		if err == nil {
			_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
		}
		if err != nil {
			return c.closed(ctx, fmt.Errorf("amqp declare queue %q: %w", queue, err))
		}
		ch.Close()
	}
	readers := make([]*reader, c.channels())
	for i := range readers {
		ch, err := conn.Channel()
		if err != nil {
			return c.closed(ctx, fmt.Errorf("amqp channel: %w", err))
		}
		r := &reader{c: c, src: src, queue: queue, prefetch: prefetch, ch: ch, sink: sink,
			chClosed: ch.NotifyClose(make(chan *amqp.Error, 1))}
		if err := ch.Qos(prefetch, 0, false); err != nil {
			return c.closed(ctx, fmt.Errorf("amqp qos: %w", err))
		}
		r.deliveries, err = ch.Consume(queue, fmt.Sprintf("herald-%s-%d", src.ID, i), false, false, false, false, nil)
		if err != nil {
			return c.closed(ctx, fmt.Errorf("amqp consume queue %q: %w", queue, err))
		}
		readers[i] = r
	}
	sink.Connected()

	lag := &lagProbe{conn: conn, queue: queue}
	defer lag.close()
	lag.report(sink)
	lagTick := time.NewTicker(c.lagEvery())
	defer lagTick.Stop()

	errc := make(chan error, len(readers))
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- r.consume(ctx)
		}()
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			conn.Close()
			return nil
		case err := <-errc:
			// One channel ended: end them all (the runner reconnects).
			select {
			case e, ok := <-connClosed:
				if ok && e != nil {
					err = fmt.Errorf("amqp connection lost: %w", e)
				}
			case <-time.After(100 * time.Millisecond):
			}
			conn.Close()
			if err == nil {
				err = errors.New("amqp connection lost")
			}
			return c.closed(ctx, err)
		case <-lagTick.C:
			lag.report(sink)
		}
	}
}

// reader consumes the queue on one channel of the connection.
type reader struct {
	c          *Consumer
	src        *herald.Source
	queue      string
	prefetch   int
	ch         *amqp.Channel
	chClosed   chan *amqp.Error
	deliveries <-chan amqp.Delivery
	sink       source.Sink
}

// consume gathers batches, hands each to the sink and acknowledges it,
// until ctx ends (nil) or the channel closes (why).
func (r *reader) consume(ctx context.Context) error {
	batch := make([]amqp.Delivery, 0, r.prefetch)
	msgs := make([]herald.SourceMessage, 0, r.prefetch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-r.deliveries:
			if !ok {
				return r.closeReason()
			}
			batch = append(batch, d)
		}
		open := true
		timer := time.NewTimer(r.c.batchWait())
	gather:
		for len(batch) < r.prefetch {
			select {
			case d, ok := <-r.deliveries:
				if !ok {
					open = false
					break gather
				}
				batch = append(batch, d)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		msgs = msgs[:0]
		for i := range batch {
			msgs = append(msgs, message(r.queue, &batch[i]))
		}
		last := &batch[len(batch)-1]
		if err := r.sink.Accept(ctx, msgs); err != nil {
			// Nothing of the batch is acknowledged: back to the queue.
			if nerr := last.Nack(true, true); nerr != nil || !open {
				return r.closeReason()
			}
			if ctx.Err() != nil {
				return nil
			}
			r.c.log().Warn("amqp source: batch not accepted; handed back to the queue", "source", r.src.Name, "messages", len(batch), "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.c.retryWait()):
			}
			continue
		}
		// Every message of this channel up to the last one's tag — this
		// batch — is on disk.
		if err := last.Ack(true); err != nil {
			return fmt.Errorf("amqp ack: %w", err)
		}
		if !open {
			return r.closeReason()
		}
	}
}

// closeReason says why the deliveries stopped: the channel's close
// error, if the library reported one.
func (r *reader) closeReason() error {
	select {
	case e, ok := <-r.chClosed:
		if ok && e != nil {
			return fmt.Errorf("amqp channel closed: %w", e)
		}
	case <-time.After(100 * time.Millisecond):
	}
	return errors.New("amqp connection lost")
}

func (c *Consumer) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// closed is what Run returns when the broker went away: nil if that was
// ctx ending (Run closed the connection itself), else err.
func (c *Consumer) closed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// message turns a delivery into a herald.SourceMessage.
func message(queue string, d *amqp.Delivery) herald.SourceMessage {
	m := herald.SourceMessage{
		ID:          d.MessageId,
		Subject:     d.RoutingKey,
		Body:        d.Body,
		PublishedAt: d.Timestamp,
		Headers:     make(map[string]string, len(d.Headers)+4),
	}
	if m.ID == "" {
		m.ID = StableID(queue, d.Body)
	}
	for k, v := range d.Headers {
		m.Headers[k] = headerString(v)
	}
	// The message's properties, under names no application header takes.
	set := func(k, v string) {
		if v != "" {
			m.Headers[k] = v
		}
	}
	set("amqp.type", d.Type)
	set("amqp.content_type", d.ContentType)
	set("amqp.correlation_id", d.CorrelationId)
	set("amqp.app_id", d.AppId)
	set("amqp.exchange", d.Exchange)
	set("amqp.routing_key", d.RoutingKey)
	return m
}

// StableID is the id of a message published without a message-id: the
// same for every redelivery of it (the redelivered flag is left out), so
// herald recognises a message it committed before. Two messages with the
// same body in one queue share it too — publishers that may send
// identical bodies should set message-id.
func StableID(queue string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(queue))
	h.Write([]byte{0})
	h.Write(body)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// headerString renders an AMQP table value as text: strings as they are,
// numbers in decimal, times in RFC 3339, tables and arrays as JSON.
func headerString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case amqp.Decimal:
		s := strconv.FormatInt(int64(v.Value), 10)
		if v.Scale > 0 {
			for len(s) <= int(v.Scale) {
				s = "0" + s
			}
			s = s[:len(s)-int(v.Scale)] + "." + s[len(s)-int(v.Scale):]
		}
		return s
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonable makes nested tables and arrays marshal as JSON objects and
// arrays, with byte slices as strings.
func jsonable(v any) any {
	switch v := v.(type) {
	case amqp.Table:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonable(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = jsonable(x)
		}
		return a
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	}
	return v
}

// lagProbe asks for the queue's message count on a channel of its own: a
// passive declare of a missing queue closes its channel, which must not
// be the one consuming.
type lagProbe struct {
	conn  *amqp.Connection
	queue string
	ch    *amqp.Channel
}

func (p *lagProbe) report(sink source.Sink) {
	if p.ch == nil || p.ch.IsClosed() {
		ch, err := p.conn.Channel()
		if err != nil {
			return
		}
		p.ch = ch
	}
	q, err := p.ch.QueueDeclarePassive(p.queue, true, false, false, false, nil)
	if err != nil {
		return
	}
	sink.Lag(int64(q.Messages))
}

func (p *lagProbe) close() {
	if p.ch != nil {
		p.ch.Close()
	}
}

// redact removes the URL's password from a dial error, which may quote
// the URL.
func redact(err error, rawURL string) error {
	u, perr := amqp.ParseURI(rawURL)
	if perr != nil || u.Password == "" {
		return err
	}
	return &redactedError{err: err, secret: u.Password}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e *redactedError) Unwrap() error { return e.err }
