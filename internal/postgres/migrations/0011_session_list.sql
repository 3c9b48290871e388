-- Sessions listed per user (issue 12): each session gets an id to name it
-- in the list (sign out one without the token's hash leaving the server),
-- and what the last request made with it looked like. last_seen_at is
-- updated at most once a minute per session (herald.SessionTouchInterval).
-- Sessions that exist already get their hash in hex as id (unique, and
-- never shown: new ids are ULIDs).
ALTER TABLE sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE sessions SET id = encode(token_hash, 'hex');
CREATE UNIQUE INDEX sessions_id ON sessions (id);
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
