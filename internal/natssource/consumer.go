// Package natssource reads a NATS JetStream stream for herald's source
// runner: a durable pull consumer (created when missing, shared by every
// herald process, so they compete for messages), batches of up to
// Batch messages, each acknowledged only after the runner's Sink
// committed the batch.
package natssource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/source"
)

// Consumer implements source.Consumer for sources of type nats.
type Consumer struct {
	// Batch is the most messages handed to the sink at once (500).
	Batch int
	// Parallel is how many batches are being accepted at once (4).
	Parallel int
	// Linger is how long a batch waits for more messages once it has one
	// (2 ms): enough to fill batches under load, unnoticeable otherwise.
	Linger time.Duration
	// AckWait is how long JetStream waits for an ack before it redelivers
	// a message (30 s), when herald creates the consumer.
	AckWait time.Duration
	// ConnectTimeout bounds the dial (5 s).
	ConnectTimeout time.Duration
}

var _ source.Consumer = (*Consumer)(nil)

func (c *Consumer) defaults() (batch, parallel int, linger, ackWait, dial time.Duration) {
	batch, parallel, linger, ackWait, dial = c.Batch, c.Parallel, c.Linger, c.AckWait, c.ConnectTimeout
	if batch <= 0 {
		batch = 500
	}
	if parallel <= 0 {
		parallel = 4
	}
	if linger <= 0 {
		linger = 2 * time.Millisecond
	}
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	if dial <= 0 {
		dial = 5 * time.Second
	}
	return
}

// Run connects, binds the durable consumer and hands batches to sink
// until ctx ends (nil) or the connection fails (the error). herald does
// not let the client reconnect by itself: the runner retries with
// backoff and shows the source's state meanwhile.
func (c *Consumer) Run(ctx context.Context, src *herald.Source, sink source.Sink) error {
	if src.NATS == nil {
		return errors.New("the source has no nats settings")
	}
	batch, parallel, linger, ackWait, dial := c.defaults()
	nc, err := nats.Connect(src.URL, nats.Name("herald source "+src.Name), nats.NoReconnect(), nats.Timeout(dial))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, dial)
	cons, err := bind(cctx, js, src.NATS, ackWait)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * batch))
	if err != nil {
		return fmt.Errorf("subscribe to consumer %s: %w", src.NATS.Consumer, err)
	}
	defer it.Stop()
	sink.Connected()

	// One goroutine reads batches; parallel ones accept and acknowledge
	// them, so the next batch is read and mapped while the last one's
	// commit waits for the disk (concurrent ingests share one group
	// commit). The first failure stops them all.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan []jetstream.Msg, parallel)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	fail := func(err error) {
		once.Do(func() { failed = err })
		stop()
	}
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msgs := range batches {
				if err := acceptBatch(rctx, src.NATS.Stream, msgs, sink); err != nil {
					fail(err)
				}
			}
		}()
	}
	readErr := readBatches(rctx, it, cons, batch, linger, dial, sink, batches)
	close(batches)
	wg.Wait()
	if ctx.Err() != nil {
		handBack(it, 2*batch)
		return nil
	}
	if failed != nil {
		return failed
	}
	if readErr != nil {
		return fmt.Errorf("read from consumer %s: %w", src.NATS.Consumer, readErr)
	}
	return nil
}

// readBatches fills batches until ctx ends (nil) or reading fails.
func readBatches(ctx context.Context, it jetstream.MessagesContext, cons jetstream.Consumer, batch int, linger, dial time.Duration,
	sink source.Sink, out chan<- []jetstream.Msg) error {
	lastInfo := time.Now()
	lag := func() {
		lastInfo = time.Now()
		ictx, cancel := context.WithTimeout(ctx, dial)
		if info, err := cons.Info(ictx); err == nil {
			sink.Lag(int64(info.NumPending))
		}
		cancel()
	}
	for {
		// Idle, the lag is asked of the consumer every 5 s.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				lag()
				continue
			}
			return err
		}
		msgs := make([]jetstream.Msg, 0, batch)
		msgs = append(msgs, m)
		var readErr error
		for len(msgs) < batch {
			m, err := it.Next(jetstream.NextMaxWait(linger))
			if err != nil {
				if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
					readErr = err // accept what was read, then reconnect
				}
				break
			}
			msgs = append(msgs, m)
		}
		if md, err := msgs[len(msgs)-1].Metadata(); err == nil {
			sink.Lag(int64(md.NumPending))
			lastInfo = time.Now()
		}
		select {
		case out <- msgs:
		case <-ctx.Done():
			return nil // not acknowledged: JetStream redelivers after AckWait
		}
		if readErr != nil {
			return readErr
		}
		if time.Since(lastInfo) > 5*time.Second {
			lag()
		}
	}
}

// handBack drains what the client holds of the consumer's messages
// (pulled, not yet read) and naks each, so a stopped or paused consumer's
// prefetched messages go to another herald process now, not after
// AckWait. Bounded: at most max messages, 100 ms each.
func handBack(it jetstream.MessagesContext, max int) {
	it.Drain()
	for i := 0; i < max; i++ {
		m, err := it.Next(jetstream.NextMaxWait(100 * time.Millisecond))
		if err != nil {
			return
		}
		m.Nak()
	}
}

// acceptBatch hands one batch to the sink and acknowledges each message
// once it returned nil.
func acceptBatch(ctx context.Context, stream string, msgs []jetstream.Msg, sink source.Sink) error {
	out := make([]herald.SourceMessage, 0, len(msgs))
	for _, m := range msgs {
		sm := herald.SourceMessage{Subject: m.Subject(), Body: m.Data(), Headers: headers(m.Headers())}
		if md, err := m.Metadata(); err == nil {
			sm.ID = fmt.Sprintf("%s:%d", stream, md.Sequence.Stream)
			sm.PublishedAt = md.Timestamp
		}
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
			sm.ID = id
		}
		out = append(out, sm)
	}
	if err := sink.Accept(ctx, out); err != nil {
		// Nothing of the batch is acknowledged: ask for it again a little
		// later (or it comes back after AckWait anyway).
		for _, m := range msgs {
			m.NakWithDelay(2 * time.Second)
		}
		return fmt.Errorf("accept a batch: %w", err)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			return fmt.Errorf("acknowledge: %w (the batch is committed; JetStream redelivers it and herald recognises it)", err)
		}
	}
	return nil
}

// bind returns the durable consumer, creating it when missing; an
// existing consumer whose filter differs from the source's is updated.
func bind(ctx context.Context, js jetstream.JetStream, n *herald.NATSSource, ackWait time.Duration) (jetstream.Consumer, error) {
	stream, err := js.Stream(ctx, n.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", n.Stream, err)
	}
	filter := func(cfg *jetstream.ConsumerConfig) {
		cfg.FilterSubject, cfg.FilterSubjects = "", nil
		switch len(n.Subjects) {
		case 0:
		case 1:
			cfg.FilterSubject = n.Subjects[0] // servers before 2.10 know only this one
		default:
			cfg.FilterSubjects = slices.Clone(n.Subjects)
		}
	}
	cons, err := stream.Consumer(ctx, n.Consumer)
	switch {
	case err == nil:
		cfg := cons.CachedInfo().Config
		have := cfg.FilterSubjects
		if cfg.FilterSubject != "" {
			have = []string{cfg.FilterSubject}
		}
		if !slices.Equal(have, n.Subjects) && !(len(have) == 0 && len(n.Subjects) == 0) {
			filter(&cfg)
			if cons, err = stream.UpdateConsumer(ctx, cfg); err != nil {
				return nil, fmt.Errorf("update the filter of consumer %s: %w", n.Consumer, err)
			}
		}
		return cons, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cfg := jetstream.ConsumerConfig{Durable: n.Consumer, Description: "herald event source",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 8192, DeliverPolicy: jetstream.DeliverAllPolicy}
		filter(&cfg)
		// CreateOrUpdate: another herald process may create it at the same time.
		cons, err := stream.CreateOrUpdateConsumer(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("create consumer %s on stream %s: %w", n.Consumer, n.Stream, err)
		}
		return cons, nil
	default:
		return nil, fmt.Errorf("consumer %s on stream %s: %w", n.Consumer, n.Stream, err)
	}
}

// headers flattens NATS headers to their first values.
func headers(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
