-- Tenants: workspaces managed as objects (their portal's allowed origins),
-- instance keys bound to no workspace, instance owners, and memberships
-- with a role per workspace (owner, admin, viewer), invitations included.
--
-- An instance key has no workspace_id and the scope "instance", and only it.
ALTER TABLE api_keys ALTER COLUMN workspace_id DROP NOT NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_instance CHECK ((workspace_id IS NULL) = (scopes = 'instance'));

ALTER TABLE workspaces ADD COLUMN portal_allowed_origins TEXT NOT NULL DEFAULT '[]';

-- The first user is the instance owner (manages every workspace).
ALTER TABLE users ADD COLUMN instance_owner BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET instance_owner = TRUE WHERE id = (SELECT MIN(id) FROM users);

-- A membership (user_id set, accepted) or a pending invitation (user_id
-- NULL; only the SHA-256 of its token). users.workspace_id stays as the
-- workspace a sign-in starts in.
CREATE TABLE members (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    email             TEXT NOT NULL CHECK (email <> ''),
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    invite_hash       BYTEA UNIQUE,
    invite_expires_at BIGINT,
    created_at        BIGINT NOT NULL,
    accepted_at       BIGINT,
    UNIQUE (workspace_id, email),
    CHECK ((user_id IS NULL) = (accepted_at IS NULL)),
    CHECK (user_id IS NOT NULL OR invite_hash IS NOT NULL)
);
CREATE UNIQUE INDEX members_user ON members (user_id, workspace_id) WHERE user_id IS NOT NULL;

-- Every existing user was a full admin of their one workspace: its owner.
INSERT INTO members (id, workspace_id, user_id, email, role, created_at, accepted_at)
    SELECT id, workspace_id, id, email, 'owner', created_at, created_at FROM users;
