-- Authorization types bearer, query and oauth2_client_credentials, and a
-- client certificate on any type. The CHECK constraints of 0001 were
-- unnamed; they are dropped by looking them up and replaced by named ones.
-- `secret` stays the one sealed secret of the type (header value, basic
-- password, bearer token, query value, OAuth2 client secret); the client
-- certificate's private key is sealed in its own column.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'authorizations'::regclass AND contype = 'c' LOOP
        EXECUTE format('ALTER TABLE authorizations DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE authorizations
    ADD COLUMN query_key          TEXT,
    ADD COLUMN query_visibility   TEXT,
    ADD COLUMN oauth2_token_url   TEXT,
    ADD COLUMN oauth2_client_id   TEXT,
    ADD COLUMN oauth2_scope       TEXT,
    ADD COLUMN oauth2_audience    TEXT,
    ADD COLUMN oauth2_client_auth TEXT,
    ADD COLUMN tls_certificate    TEXT,
    ADD COLUMN tls_private_key    BYTEA,
    ADD CONSTRAINT authorizations_type_check CHECK (type IN ('header', 'basic', 'bearer', 'query', 'oauth2_client_credentials')),
    ADD CONSTRAINT authorizations_header_visibility_check CHECK (header_visibility IN ('SECRET', 'PUBLIC')),
    ADD CONSTRAINT authorizations_query_visibility_check CHECK (query_visibility IN ('SECRET', 'PUBLIC')),
    ADD CONSTRAINT authorizations_oauth2_client_auth_check CHECK (oauth2_client_auth IN ('basic', 'body')),
    ADD CONSTRAINT authorizations_header_check CHECK (type <> 'header' OR (header_key IS NOT NULL AND header_visibility IS NOT NULL)),
    ADD CONSTRAINT authorizations_basic_check CHECK (type <> 'basic' OR basic_username IS NOT NULL),
    ADD CONSTRAINT authorizations_query_check CHECK (type <> 'query' OR (query_key IS NOT NULL AND query_visibility IS NOT NULL)),
    ADD CONSTRAINT authorizations_oauth2_check CHECK (type <> 'oauth2_client_credentials' OR (oauth2_token_url IS NOT NULL AND oauth2_client_id IS NOT NULL AND oauth2_client_auth IS NOT NULL)),
    ADD CONSTRAINT authorizations_tls_check CHECK ((tls_certificate IS NULL) = (tls_private_key IS NULL));
