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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/source"
)

// Consumer implements source.Consumer for sources of type nats.
type Consumer struct {
	// Batch is the most messages handed to the sink at once (256).
	Batch int
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

func (c *Consumer) defaults() (batch int, linger, ackWait, dial time.Duration) {
	batch, linger, ackWait, dial = c.Batch, c.Linger, c.AckWait, c.ConnectTimeout
	if batch <= 0 {
		batch = 256
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
	batch, linger, ackWait, dial := c.defaults()
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
	stream := src.NATS.Stream
	msgs := make([]jetstream.Msg, 0, batch)
	out := make([]herald.SourceMessage, 0, batch)
	lastInfo := time.Now()
	for {
		msgs, out = msgs[:0], out[:0]
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				continue
			}
			return fmt.Errorf("read from consumer %s: %w", src.NATS.Consumer, err)
		}
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
		var pending int64 = -1
		for _, m := range msgs {
			sm := herald.SourceMessage{Subject: m.Subject(), Body: m.Data(), Headers: headers(m.Headers())}
			if md, err := m.Metadata(); err == nil {
				sm.ID = fmt.Sprintf("%s:%d", stream, md.Sequence.Stream)
				sm.PublishedAt = md.Timestamp
				pending = int64(md.NumPending)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
				sm.ID = id
			}
			out = append(out, sm)
		}
		if pending >= 0 {
			sink.Lag(pending)
			lastInfo = time.Now()
		}
		if err := sink.Accept(ctx, out); err != nil {
			// Nothing of the batch is acknowledged: ask for it again a
			// little later (or it comes back after AckWait anyway).
			for _, m := range msgs {
				m.NakWithDelay(2 * time.Second)
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept a batch: %w", err)
		}
		for _, m := range msgs {
			if err := m.Ack(); err != nil {
				return fmt.Errorf("acknowledge: %w (the batch is committed; JetStream redelivers it and herald recognises it)", err)
			}
		}
		if readErr != nil {
			return fmt.Errorf("read from consumer %s: %w", src.NATS.Consumer, readErr)
		}
		if time.Since(lastInfo) > 5*time.Second {
			lastInfo = time.Now()
			ictx, cancel := context.WithTimeout(ctx, dial)
			if info, err := cons.Info(ictx); err == nil {
				sink.Lag(int64(info.NumPending))
			}
			cancel()
		}
	}
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
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 4096, DeliverPolicy: jetstream.DeliverAllPolicy}
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
