-- herald:foreign-keys-off
-- Tenants: workspaces managed as objects (their portal's allowed origins),
-- instance keys bound to no workspace, instance owners, and memberships
-- with a role per workspace (owner, admin, viewer), invitations included.
--
-- api_keys is rebuilt (SQLite cannot drop a NOT NULL): an instance key has
-- no workspace_id and the scope "instance", and only it.
CREATE TABLE api_keys_new (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    CHECK ((workspace_id IS NULL) = (scopes = 'instance'))
);
INSERT INTO api_keys_new (id, workspace_id, name, prefix, hash, scopes, created_at, revoked_at)
    SELECT id, workspace_id, name, prefix, hash, scopes, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, id);

ALTER TABLE workspaces ADD COLUMN portal_allowed_origins TEXT NOT NULL DEFAULT '[]';

-- The first user is the instance owner (manages every workspace).
ALTER TABLE users ADD COLUMN instance_owner INTEGER NOT NULL DEFAULT 0;
UPDATE users SET instance_owner = 1 WHERE id = (SELECT MIN(id) FROM users);

-- A membership (user_id set, accepted) or a pending invitation (user_id
-- NULL; only the SHA-256 of its token). users.workspace_id stays as the
-- workspace a sign-in starts in.
CREATE TABLE members (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    email             TEXT NOT NULL CHECK (email <> ''),
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    invite_hash       BLOB UNIQUE,
    invite_expires_at INTEGER,
    created_at        INTEGER NOT NULL,
    accepted_at       INTEGER,
    UNIQUE (workspace_id, email),
    CHECK ((user_id IS NULL) = (accepted_at IS NULL)),
    CHECK (user_id IS NOT NULL OR invite_hash IS NOT NULL)
);
CREATE UNIQUE INDEX members_user ON members (user_id, workspace_id) WHERE user_id IS NOT NULL;

-- Every existing user was a full admin of their one workspace: its owner.
INSERT INTO members (id, workspace_id, user_id, email, role, created_at, accepted_at)
    SELECT id, workspace_id, id, email, 'owner', created_at, created_at FROM users;
