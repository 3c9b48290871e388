-- herald:foreign-keys-off
-- Authorization types bearer, query and oauth2_client_credentials, and a
-- client certificate on any type. SQLite cannot change a CHECK constraint,
-- so the table is rebuilt the documented way (sqlite.org/lang_altertable.html
-- §7): with foreign keys off (the migrator sets it before BEGIN and runs
-- PRAGMA foreign_key_check before COMMIT), create the new table, copy,
-- drop the old one, rename. The webhooks' foreign key names
-- "authorizations" and holds again once the new table has that name.
-- `secret` stays the one sealed secret of the type (header value, basic
-- password, bearer token, query value, OAuth2 client secret); the client
-- certificate's private key is sealed in its own column.
CREATE TABLE authorizations_new (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id),
    name               TEXT NOT NULL,
    endpoint           TEXT NOT NULL,
    type               TEXT NOT NULL CHECK (type IN ('header', 'basic', 'bearer', 'query', 'oauth2_client_credentials')),
    header_key         TEXT,
    header_visibility  TEXT CHECK (header_visibility IN ('SECRET', 'PUBLIC')),
    basic_username     TEXT,
    secret             BLOB,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    query_key          TEXT,
    query_visibility   TEXT CHECK (query_visibility IN ('SECRET', 'PUBLIC')),
    oauth2_token_url   TEXT,
    oauth2_client_id   TEXT,
    oauth2_scope       TEXT,
    oauth2_audience    TEXT,
    oauth2_client_auth TEXT CHECK (oauth2_client_auth IN ('basic', 'body')),
    tls_certificate    TEXT,
    tls_private_key    BLOB,
    CHECK (type <> 'header' OR (header_key IS NOT NULL AND header_visibility IS NOT NULL)),
    CHECK (type <> 'basic' OR basic_username IS NOT NULL),
    CHECK (type <> 'query' OR (query_key IS NOT NULL AND query_visibility IS NOT NULL)),
    CHECK (type <> 'oauth2_client_credentials' OR (oauth2_token_url IS NOT NULL AND oauth2_client_id IS NOT NULL AND oauth2_client_auth IS NOT NULL)),
    CHECK ((tls_certificate IS NULL) = (tls_private_key IS NULL))
);
INSERT INTO authorizations_new (id, workspace_id, name, endpoint, type, header_key, header_visibility, basic_username, secret, created_at, updated_at)
    SELECT id, workspace_id, name, endpoint, type, header_key, header_visibility, basic_username, secret, created_at, updated_at FROM authorizations;
DROP TABLE authorizations;
ALTER TABLE authorizations_new RENAME TO authorizations;
CREATE INDEX authorizations_workspace ON authorizations (workspace_id, id);
