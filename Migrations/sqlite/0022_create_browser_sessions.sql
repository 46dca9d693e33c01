-- Browser sign-in (the authorization code flow). A browser session is Keycloak's user session:
-- what the session cookie stands for (only its SHA-256 is stored). The refresh-token sessions
-- of the clients it signed in, and its pending authorization codes, end with it.
CREATE TABLE browser_sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    realm_id     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    cookie_hash  TEXT NOT NULL UNIQUE,
    auth_time    INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip_address   TEXT CHECK (ip_address IS NULL OR length(ip_address) <= 64),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX browser_sessions_by_user ON browser_sessions(user_id, last_seen);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions(expires_at);

-- Authorization codes: single-use (redeemed_session_id is set by the one redemption that wins),
-- bound to client, redirect URI and PKCE challenge. Only a SHA-256 of each code is stored.
CREATE TABLE authorization_codes (
    code_hash              TEXT PRIMARY KEY NOT NULL,
    realm_id               TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    user_id                TEXT NOT NULL,
    browser_session_id     TEXT NOT NULL REFERENCES browser_sessions(id) ON DELETE CASCADE,
    redirect_uri           TEXT NOT NULL CHECK (length(redirect_uri) <= 2048),
    scope                  TEXT NOT NULL CHECK (length(scope) <= 2048),
    nonce                  TEXT CHECK (nonce IS NULL OR length(nonce) <= 512),
    code_challenge         TEXT CHECK (code_challenge IS NULL OR length(code_challenge) <= 128),
    code_challenge_method  TEXT CHECK (code_challenge_method IS NULL OR code_challenge_method IN ('S256', 'plain')),
    created_at             INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    redeemed_session_id    TEXT,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX authorization_codes_by_browser_session ON authorization_codes(browser_session_id, created_at);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes(expires_at);

-- The browser session a refresh-token session was signed in through (none for a password grant).
ALTER TABLE sessions ADD COLUMN browser_session_id TEXT REFERENCES browser_sessions(id) ON DELETE CASCADE;
CREATE INDEX sessions_by_browser_session ON sessions(browser_session_id);
