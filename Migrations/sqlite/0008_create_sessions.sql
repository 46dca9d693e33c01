-- Login sessions behind refresh tokens. Only a SHA-256 of each refresh token is stored, so a
-- copy of the database cannot be replayed as tokens. A session dies with its user or client.
CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    realm_id            TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    refresh_token_hash  TEXT NOT NULL UNIQUE,
    scope               TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    last_refresh        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
