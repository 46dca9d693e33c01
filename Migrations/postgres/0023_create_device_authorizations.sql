-- The OAuth 2.0 Device Authorization Grant (RFC 8628); see Migrations/sqlite/0023.
CREATE TABLE device_authorizations (
    device_code_hash    TEXT PRIMARY KEY,
    user_code_hash      TEXT NOT NULL UNIQUE,
    realm_id            TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL,
    scope               TEXT NOT NULL CHECK (length(scope) <= 2048),
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    poll_interval       INTEGER NOT NULL CHECK (poll_interval BETWEEN 1 AND 3600),
    last_polled_at      BIGINT,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    user_id             TEXT,
    browser_session_id  TEXT REFERENCES browser_sessions(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX device_authorizations_by_realm ON device_authorizations(realm_id);
CREATE INDEX device_authorizations_by_expiry ON device_authorizations(expires_at);
