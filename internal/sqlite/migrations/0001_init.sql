-- herald's configuration tables. Times are Unix microseconds; ids are ULIDs
-- (time-ordered text), so ORDER BY id is creation order.
CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

-- The header value (SECRET or PUBLIC) or the basic password is the one
-- secret of an authorization, sealed with AES-256-GCM.
CREATE TABLE authorizations (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    name              TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    type              TEXT NOT NULL CHECK (type IN ('header', 'basic')),
    header_key        TEXT,
    header_visibility TEXT CHECK (header_visibility IN ('SECRET', 'PUBLIC')),
    basic_username    TEXT,
    secret            BLOB,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CHECK (type = 'basic' OR (header_key IS NOT NULL AND header_visibility IS NOT NULL)),
    CHECK (type = 'header' OR basic_username IS NOT NULL)
);
CREATE INDEX authorizations_workspace ON authorizations (workspace_id, id);

CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    event            TEXT NOT NULL,
    -- NULL when authorization is disabled; RESTRICT backs the store's check.
    authorization_id TEXT REFERENCES authorizations (id) ON DELETE RESTRICT,
    endpoint_url     TEXT NOT NULL,
    method           TEXT NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE', 'GET')),
    log_only_errors  BOOLEAN NOT NULL DEFAULT 0,
    custom_headers   TEXT NOT NULL DEFAULT '[]',
    payload_type     TEXT NOT NULL CHECK (payload_type IN ('JSON', 'XML', 'PLAIN', 'FORM')),
    payload          TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('unpublished', 'published')),
    status_reason    TEXT NOT NULL DEFAULT '',
    revision         INTEGER NOT NULL CHECK (revision > 0),
    signing_secret   BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK (method <> 'GET' OR payload_type = 'FORM')
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, id);
-- Ingest looks up the published webhooks of one event type.
CREATE INDEX webhooks_event ON webhooks (workspace_id, event, status);
CREATE INDEX webhooks_authorization ON webhooks (authorization_id);

CREATE TABLE event_types (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    event_key    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    variables    TEXT NOT NULL,
    sample       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, event_key)
);
