-- Portal sessions (issue 12): a one-time link into one workspace's
-- webhook and authorization screens, for an iframe of the platform's
-- admin. link_hash is the SHA-256 of the link's token; session_hash that
-- of the browser's cookie, set when the link is redeemed (once: the
-- UPDATE that redeems it requires redeemed_at IS NULL). allowed_events is
-- a JSON array of event-type keys and patterns, or NULL for all.
CREATE TABLE portal_sessions (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    return_url     TEXT NOT NULL DEFAULT '',
    allowed_events TEXT,
    link_hash      BLOB NOT NULL UNIQUE,
    session_hash   BLOB UNIQUE,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL CHECK (expires_at > created_at),
    redeemed_at    INTEGER,
    CHECK ((redeemed_at IS NULL) = (session_hash IS NULL))
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
