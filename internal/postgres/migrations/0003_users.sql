-- Admin users of the web UI and their sessions. Emails are stored
-- lower-case and are unique across the installation, so signing in needs
-- no workspace name. Sessions keep only the SHA-256 of the cookie token.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    email         TEXT NOT NULL UNIQUE CHECK (email <> ''),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user ON sessions (user_id);
-- The API keys page lists a workspace's keys.
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, id);
