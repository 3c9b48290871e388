package herald

import "time"

// SourceType names the broker or table a source reads events from.
type SourceType string

const (
	SourceNATS   SourceType = "nats"            // a NATS JetStream stream, through a durable consumer
	SourceAMQP   SourceType = "amqp"            // an AMQP 0-9-1 queue (RabbitMQ)
	SourceOutbox SourceType = "postgres_outbox" // an outbox table in the platform's PostgreSQL database
)

// SourceTypes lists every source type, in the order forms show them.
var SourceTypes = []SourceType{SourceNATS, SourceAMQP, SourceOutbox}

// Source is a broker (or outbox table) herald consumes a workspace's
// events from. URL may hold credentials: like an authorization's secrets
// it is write-only, kept encrypted, and shown masked.
type Source struct {
	ID          string        `json:"id"`
	WorkspaceID string        `json:"-"`
	Name        string        `json:"name"`
	Type        SourceType    `json:"type"`
	URL         string        `json:"url"`
	NATS        *NATSSource   `json:"nats,omitempty"`
	AMQP        *AMQPSource   `json:"amqp,omitempty"`
	Outbox      *OutboxSource `json:"outbox,omitempty"`
	Mapping     SourceMapping `json:"mapping"`
	Paused      bool          `json:"paused"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	// Status is what the runners last reported (state, counts, lag); the
	// store fills it on reads, configuration writes leave it alone.
	Status SourceStatus `json:"-"`
}

// NATSSource binds a JetStream stream through a durable pull consumer
// herald creates when it is missing.
type NATSSource struct {
	Stream   string   `json:"stream"`
	Consumer string   `json:"consumer"`
	Subjects []string `json:"subjects,omitempty"` // filter; empty means the whole stream
}

// AMQPSource reads one queue.
type AMQPSource struct {
	Queue    string `json:"queue"`
	Declare  bool   `json:"declare,omitempty"` // declare the queue (durable) when herald connects
	Prefetch int    `json:"prefetch,omitempty"`
}

// OutboxSource reads rows of an outbox table (DDL: herald outbox schema).
type OutboxSource struct {
	Table string `json:"table"`
}

// SourceMapping turns a message into an event.
//   - TypeFrom: "header:NAME", "field:PATH" (dotted path in the JSON body)
//     or "fixed:KEY".
//   - DataFrom: "body" (the whole JSON body) or "field:PATH".
//   - IDFrom: "message_id" (the broker's message id, the outbox row id),
//     "header:NAME" or "field:PATH"; it becomes the idempotency key.
type SourceMapping struct {
	TypeFrom string `json:"type_from"`
	DataFrom string `json:"data_from"`
	IDFrom   string `json:"id_from"`
}

// SourceMessage is one message as a broker (or an outbox row) delivered it,
// before mapping.
type SourceMessage struct {
	// ID is the broker's own id of the message: the Nats-Msg-Id header or,
	// without one, stream name and sequence; the AMQP message-id property
	// or, without one, the queue and a hash of the body; the outbox row id.
	ID      string
	Subject string // NATS subject, AMQP routing key, outbox row's type column
	Headers map[string]string
	Body    []byte
	// PublishedAt is when the broker took the message (zero if unknown).
	PublishedAt time.Time
}

// SourceState is how a source is doing, as the UI and /metrics show it.
type SourceState string

const (
	SourceConnecting SourceState = "connecting"
	SourceConnected  SourceState = "connected"
	SourcePaused     SourceState = "paused"
	SourceError      SourceState = "error"
)
