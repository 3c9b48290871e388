package amqpsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sourcetest"
	"github.com/heraldhq/herald/internal/storetest"
)

// broker is a connection to a RabbitMQ and a queue of the test's own,
// deleted when the test ends.
type broker struct {
	t     *testing.T
	url   string
	queue string
	conn  *amqp.Connection
	ch    *amqp.Channel
}

func newBroker(t *testing.T, url string) *broker {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	br := &broker{t: t, url: url, queue: "herald-test-" + hex.EncodeToString(b[:])}
	br.connect()
	if _, err := br.ch.QueueDeclare(br.queue, true, false, false, false, nil); err != nil {
		t.Fatalf("declare: %v", err)
	}
	t.Cleanup(func() {
		br.connect()
		br.ch.QueueDelete(br.queue, false, false, false)
		br.conn.Close()
	})
	return br
}

// connect (re)opens the connection and a channel in confirm mode.
func (br *broker) connect() {
	br.t.Helper()
	if br.conn != nil && !br.conn.IsClosed() && !br.ch.IsClosed() {
		return
	}
	conn, err := amqp.Dial(br.url)
	if err != nil {
		br.t.Fatalf("dial %s: %v", br.url, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		br.t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		br.t.Fatal(err)
	}
	br.conn, br.ch = conn, ch
}

// publish sends persistent messages and waits for the broker's confirms.
func (br *broker) publish(msgs ...amqp.Publishing) {
	br.t.Helper()
	br.connect()
	ctx := context.Background()
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		m.DeliveryMode = amqp.Persistent
		dc, err := br.ch.PublishWithDeferredConfirmWithContext(ctx, "", br.queue, false, false, m)
		if err != nil {
			br.t.Fatalf("publish: %v", err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			br.t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

// numbered returns n messages with bodies {"n": from..from+n-1}; with ids,
// each has message-id "m-<n>".
func numbered(from, n int, ids bool) []amqp.Publishing {
	out := make([]amqp.Publishing, n)
	for i := range out {
		out[i] = amqp.Publishing{ContentType: "application/json", Body: fmt.Appendf(nil, `{"n": %d}`, from+i)}
		if ids {
			out[i].MessageId = fmt.Sprintf("m-%d", from+i)
		}
	}
	return out
}

// ready is the queue's count of messages waiting (not handed to a consumer).
func (br *broker) ready() int {
	br.t.Helper()
	br.connect()
	q, err := br.ch.QueueDeclarePassive(br.queue, true, false, false, false, nil)
	if err != nil {
		br.t.Fatalf("inspect queue: %v", err)
	}
	return q.Messages
}

func (br *broker) source(prefetch int) *herald.Source {
	return &herald.Source{ID: "src-test", Name: "test", Type: herald.SourceAMQP, URL: br.url,
		AMQP: &herald.AMQPSource{Queue: br.queue, Prefetch: prefetch}}
}

// running is a consumer's Run in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(c *Consumer, src *herald.Source, sink *sourcetest.StoreSink) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, src, sink) }()
	return r
}

// stop ends Run and returns what it returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of its context ending")
		return nil
	}
}

func TestTenThousandMessagesAreIngestedOnceAndAcknowledged(t *testing.T) {
	br := newBroker(t, sourcetest.RabbitURL(t))
	const n = 10000
	br.publish(numbered(0, n/2, true)...)
	br.publish(numbered(n/2, n/2, false)...) // stable ids from the body
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	began := time.Now()
	r := start(&Consumer{}, br.source(0), sink)
	st, ok := sink.WaitFor(2*time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= n })
	t.Logf("%d messages consumed into SQLite in %s (%d batches)", st.Fresh, time.Since(began).Round(time.Millisecond), st.Batches)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run returned %v after its context ended; want nil", err)
	}
	if !ok || st.Fresh != n || len(st.Twice) > 0 {
		t.Fatalf("ingested %d distinct messages (%d keys twice); want %d", st.Fresh, len(st.Twice), n)
	}
	if st.Connected != 1 {
		t.Errorf("Connected called %d times; want 1", st.Connected)
	}
	// Every message was acknowledged: none came back to the queue when
	// the consumer's connection closed.
	if got := br.ready(); got != 0 {
		t.Fatalf("%d messages back in the queue after the consumer stopped; want 0 (all acknowledged)", got)
	}
}

func TestRefusedBatchIsNotAcknowledged(t *testing.T) {
	br := newBroker(t, sourcetest.RabbitURL(t))
	br.publish(numbered(0, 50, true)...)
	refuse := errors.New("database unavailable")
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	sink.Refuse = func(int, []herald.SourceMessage) error { return refuse }
	r := start(&Consumer{RetryWait: 10 * time.Millisecond}, br.source(0), sink)
	if _, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Refused >= 150 }); !ok {
		t.Fatalf("the refused batch was not offered again: %+v", sink.Stats())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Fresh != 0 {
		t.Fatalf("%d messages ingested although every batch was refused", st.Fresh)
	}
	if got := br.ready(); got != 50 {
		t.Fatalf("%d messages in the queue after every batch was refused; want all 50 (none acknowledged)", got)
	}

	// The same messages, accepted now: all there, once.
	sink.Refuse = nil
	r = start(&Consumer{}, br.source(0), sink)
	st, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Fresh >= 50 })
	r.stop(t)
	if !ok || st.Fresh != 50 || len(st.Twice) > 0 {
		t.Fatalf("after the refusals: %d distinct ingested, %d twice; want 50, 0", st.Fresh, len(st.Twice))
	}
	if got := br.ready(); got != 0 {
		t.Fatalf("%d messages left; want 0", got)
	}
}

func TestRedeliveryIsIngestedOnce(t *testing.T) {
	br := newBroker(t, sourcetest.RabbitURL(t))
	br.publish(numbered(0, 300, true)...)
	br.publish(numbered(300, 300, false)...)
	br.publish(numbered(0, 100, true)...) // published twice by the platform
	// The first three batches are committed but "the acknowledgement is
	// lost": Accept reports an error after the commit, so the broker
	// redelivers what herald already has.
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	sink.AfterCommit = func(batch int) error {
		if batch <= 3 {
			return errors.New("crash after commit")
		}
		return nil
	}
	r := start(&Consumer{RetryWait: 10 * time.Millisecond}, br.source(64), sink)
	st, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Fresh >= 600 && s.Duplicates >= 100+3*64 })
	r.stop(t)
	if !ok || st.Fresh != 600 || len(st.Twice) > 0 {
		t.Fatalf("%d distinct ingested (%d twice), %d duplicates recognised; want 600, 0, ≥ %d", st.Fresh, len(st.Twice), st.Duplicates, 100+3*64)
	}
	if got := br.ready(); got != 0 {
		t.Fatalf("%d messages left; want 0", got)
	}
}

func TestMessageCarriesPropertiesAndHeaders(t *testing.T) {
	br := newBroker(t, sourcetest.RabbitURL(t))
	at := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	br.publish(
		amqp.Publishing{MessageId: "evt-1", Type: "member.verified", Timestamp: at, ContentType: "application/json",
			Headers: amqp.Table{"event-type": "member.verified", "attempt": int32(3), "ok": true, "nested": amqp.Table{"a": "b"}},
			Body:    []byte(`{"member": {"id": "m-1"}}`)},
		amqp.Publishing{Body: []byte(`{"member": {"id": "m-2"}}`)},
	)
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	sink.Record = true
	r := start(&Consumer{}, br.source(0), sink)
	_, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Fresh >= 2 })
	r.stop(t)
	msgs := sink.Messages()
	if !ok || len(msgs) != 2 {
		t.Fatalf("got %d messages; want 2", len(msgs))
	}
	m := msgs[0]
	if m.ID != "evt-1" || m.Subject != br.queue || !m.PublishedAt.Equal(at) || string(m.Body) != `{"member": {"id": "m-1"}}` {
		t.Errorf("message = %+v", m)
	}
	want := map[string]string{"event-type": "member.verified", "attempt": "3", "ok": "true", "nested": `{"a":"b"}`,
		"amqp.type": "member.verified", "amqp.content_type": "application/json", "amqp.routing_key": br.queue}
	for k, v := range want {
		if m.Headers[k] != v {
			t.Errorf("header %q = %q; want %q", k, m.Headers[k], v)
		}
	}
	if got, want := msgs[1].ID, StableID(br.queue, []byte(`{"member": {"id": "m-2"}}`)); got != want {
		t.Errorf("id of a message without message-id = %q; want %q", got, want)
	}
}

func TestLagIsReported(t *testing.T) {
	br := newBroker(t, sourcetest.RabbitURL(t))
	br.publish(numbered(0, 100, true)...)
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	sink.Refuse = func(int, []herald.SourceMessage) error { return errors.New("not now") }
	r := start(&Consumer{LagEvery: 20 * time.Millisecond, RetryWait: 5 * time.Millisecond}, br.source(10), sink)
	st, ok := sink.WaitFor(20*time.Second, func(s sourcetest.Stats) bool {
		for _, n := range s.Lag {
			if n >= 50 { // 100 − 4 channels × prefetch 10 = 60 wait in the queue
				return true
			}
		}
		return false
	})
	r.stop(t)
	if !ok {
		t.Fatalf("no lag of at least 50 of the 100 waiting messages reported (prefetch 10 on 4 channels): %v", st.Lag[:min(len(st.Lag), 20)])
	}
}

func TestDeclaresTheQueueWhenAsked(t *testing.T) {
	url := sourcetest.RabbitURL(t)
	br := newBroker(t, url)
	queue := br.queue + "-declared"
	src := &herald.Source{ID: "s", Name: "declare", URL: url, AMQP: &herald.AMQPSource{Queue: queue, Declare: true}}
	t.Cleanup(func() { br.connect(); br.ch.QueueDelete(queue, false, false, false) })
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	r := start(&Consumer{}, src, sink)
	if _, ok := sink.WaitFor(15*time.Second, func(s sourcetest.Stats) bool { return s.Connected == 1 }); !ok {
		t.Fatalf("the consumer did not connect: %v", r.stop(t))
	}
	r.stop(t)
	br.connect()
	if _, err := br.ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
		t.Fatalf("queue %q was not declared: %v", queue, err)
	}

	// Without Declare, a missing queue is an error Run returns.
	src = &herald.Source{ID: "s", Name: "missing", URL: url, AMQP: &herald.AMQPSource{Queue: br.queue + "-missing"}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := (&Consumer{}).Run(ctx, src, sink); err == nil || ctx.Err() != nil {
		t.Fatalf("Run on a missing queue returned %v; want an error naming it", err)
	}
}

func TestConnectErrorHidesThePassword(t *testing.T) {
	port := sourcetest.FreePort(t) // nobody listens
	src := &herald.Source{Name: "x", URL: fmt.Sprintf("amqp://guest:s3cret-pw@127.0.0.1:%d/", port), AMQP: &herald.AMQPSource{Queue: "q"}}
	err := (&Consumer{}).Run(context.Background(), src, &sourcetest.StoreSink{})
	if err == nil {
		t.Fatal("Run connected to a port nobody listens on")
	}
	if s := err.Error(); contains(s, "s3cret-pw") {
		t.Fatalf("error shows the password: %s", s)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBrokerRestart stops the test's own RabbitMQ node mid-stream and
// starts it again: Run returns the error, is run again (as the runner
// does, with backoff), and every message is ingested once.
func TestBrokerRestart(t *testing.T) {
	sourcetest.RabbitURL(t) // skip where there is no RabbitMQ at all
	node := sourcetest.StartRabbit(t)
	br := newBroker(t, node.URL)
	const n = 3000
	br.publish(numbered(0, n, true)...)
	sink := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	// Slow enough that the restart falls mid-stream.
	sink.AfterCommit = func(int) error { time.Sleep(20 * time.Millisecond); return nil }

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErrs []error
	wg.Add(1)
	go func() { // the runner's loop, in small
		defer wg.Done()
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			err := (&Consumer{}).Run(ctx, br.source(50), sink)
			if err != nil {
				mu.Lock()
				runErrs = append(runErrs, err)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	if _, ok := sink.WaitFor(time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= 500 }); !ok {
		t.Fatalf("not started: %+v", sink.Stats())
	}
	node.Stop()
	mid := sink.Stats().Fresh
	if mid >= n {
		t.Fatalf("all %d messages were ingested before the broker stopped; the test proves nothing", n)
	}
	node.Start()
	br.publish(numbered(n, 500, true)...) // the stream goes on after the restart
	st, ok := sink.WaitFor(2*time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= n+500 })
	cancel()
	wg.Wait()
	if !ok || st.Fresh != n+500 || len(st.Twice) > 0 {
		t.Fatalf("after the restart: %d distinct ingested (%d twice); want %d, 0 (%d before the stop)", st.Fresh, len(st.Twice), n+500, mid)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runErrs) == 0 || st.Connected < 2 {
		t.Fatalf("Run returned no error when the broker stopped (errors %v, connected %d times)", runErrs, st.Connected)
	}
	t.Logf("%d ingested before the stop; Run returned %v; %d duplicates recognised", mid, runErrs[0], st.Duplicates)
}
