-- Event sources (issue 13): brokers and outbox tables herald consumes a
-- workspace's events from. The connection URL may hold a password: it is
-- sealed like an authorization's secret (AES-256-GCM), never in clear.
-- config is the per-type object as JSON ({"stream", "consumer",
-- "subjects"} for nats, {"queue", "declare", "prefetch"} for amqp,
-- {"table"} for postgres_outbox).
CREATE TABLE sources (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    name            TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('nats', 'amqp', 'postgres_outbox')),
    url             BYTEA NOT NULL,
    config          TEXT NOT NULL,
    type_from       TEXT NOT NULL,
    data_from       TEXT NOT NULL,
    id_from         TEXT NOT NULL,
    paused          BOOLEAN NOT NULL DEFAULT false,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- status, written by the runners (every process adds to the counts)
    state           TEXT NOT NULL DEFAULT 'connecting' CHECK (state IN ('connecting', 'connected', 'paused', 'error')),
    last_error      TEXT NOT NULL DEFAULT '',
    state_at        BIGINT NOT NULL DEFAULT 0,
    ingested        BIGINT NOT NULL DEFAULT 0,
    rejected        BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT NOT NULL DEFAULT 0,
    lag             BIGINT NOT NULL DEFAULT -1
);
CREATE UNIQUE INDEX sources_name ON sources (workspace_id, name);

-- Messages a source could not turn into an event (bad JSON, unknown
-- type, a mapping that finds nothing): the reason and the first 4 KiB of
-- the raw message, at most 1,000 per source (the store deletes the
-- oldest beyond that when it adds one). One row per message id, so a
-- redelivered reject is neither stored nor counted twice.
CREATE TABLE source_rejects (
    id          TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    raw         BYTEA NOT NULL,
    raw_size    BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX source_rejects_message ON source_rejects (source_id, message_id);
CREATE INDEX source_rejects_source ON source_rejects (source_id, id);
