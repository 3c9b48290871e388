// Package source runs the sources herald consumes events from (NATS
// JetStream, AMQP, a PostgreSQL outbox). Each broker lives in its own
// package and implements Consumer; this package maps messages to events,
// commits them through the same ingest path as HTTP batch ingest, and only
// then lets the consumer acknowledge them.
package source

import (
	"context"

	"github.com/heraldhq/herald/internal/herald"
)

// Consumer reads one source's broker. Run connects, then repeatedly takes
// a batch of messages, hands it to sink.Accept, and acknowledges the batch
// (NATS ack, AMQP ack, outbox rows deleted) only when Accept returned nil.
// When Accept returns an error nothing of the batch is acknowledged; the
// broker redelivers it later. Run returns when ctx ends (nil) or when the
// connection fails (the error, which the runner logs, shows and retries
// with backoff).
type Consumer interface {
	Run(ctx context.Context, src *herald.Source, sink Sink) error
}

// Sink is where a consumer hands what it read. Its methods may be called
// from several goroutines at once (a consumer may accept a batch while it
// reads the next).
type Sink interface {
	// Accept maps each message to an event and commits the events (with
	// their deliveries) and the rejected messages (with their reason) to
	// herald's store. When it returns nil every message is on disk, one
	// way or the other, and may be acknowledged. A message herald
	// committed before (same idempotency key) is recognised, not
	// ingested twice.
	Accept(ctx context.Context, msgs []herald.SourceMessage) error
	// Connected reports that the consumer is connected and reading.
	Connected()
	// Lag reports how many messages wait in the broker, where it says.
	Lag(n int64)
}
