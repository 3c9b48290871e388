-- What an attempt keeps is capped: a webhook may set its own cap on the
-- stored request and response bodies (NULL: the server's default), and
-- each attempt records the bodies' full sizes.
ALTER TABLE webhooks ADD COLUMN log_body_bytes INTEGER;
ALTER TABLE attempts ADD COLUMN request_body_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN response_body_size INTEGER NOT NULL DEFAULT 0;
-- A workspace's own retention of attempts and finished events, in
-- seconds; NULL means the server's --retention.
ALTER TABLE workspaces ADD COLUMN retention_seconds BIGINT;
