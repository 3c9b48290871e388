-- Events, deliveries and attempts. The delivery row is the queue's job:
-- there is no separate job table that could drift from what the UI shows.

-- Per-webhook delivery settings and signing-secret rotation.
ALTER TABLE webhooks ADD COLUMN ordered BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE webhooks ADD COLUMN timeout_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN retry_schedule TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_signing_secret BYTEA;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at BIGINT;
-- When the webhook's failures started (cleared by a success); drives
-- auto-disable after a configurable time.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    type            TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    data            TEXT NOT NULL,
    idempotency_key TEXT,
    -- how many deliveries ingest created: the 202's answer, returned again
    -- to a repeat with the same idempotency key
    deliveries      BIGINT NOT NULL,
    is_test         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX events_idempotency ON events (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_received ON events (received_at);

-- next_attempt_at is the due time while pending, and doubles as the lease:
-- a claim moves it to now + lease, so work of a crashed process becomes due
-- again by itself. claim_token guards the outcome: only the holder of the
-- current claim records it. A held delivery (ordered webhooks: waiting for
-- an earlier one) has next_attempt_at = 9223372036854775807.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    status_reason   TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT,
    claim_token     TEXT,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    delivery_id      TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    number           INTEGER NOT NULL,
    started_at       BIGINT NOT NULL,
    duration_us      BIGINT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    error_class      TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    request_method   TEXT NOT NULL,
    request_url      TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_headers TEXT NOT NULL DEFAULT '[]',
    response_body    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_webhook ON attempts (webhook_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_started ON attempts (started_at);
