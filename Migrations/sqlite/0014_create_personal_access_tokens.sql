-- Personal access tokens: a user's (or a service account's) long random secrets for registry
-- clients, used instead of a password. Only a SHA-256 of each secret is stored. A token dies
-- with its owner and with its registry client.
CREATE TABLE personal_access_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    realm_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash     TEXT NOT NULL UNIQUE,
    grants          TEXT CHECK (grants IS NULL OR json_valid(grants)),
    expires_at      INTEGER,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    last_used_ip    TEXT CHECK (last_used_ip IS NULL OR length(last_used_ip) <= 64),
    UNIQUE (user_id, name),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX personal_access_tokens_by_realm_expiry ON personal_access_tokens(realm_id, expires_at);

-- Keyport: the longest a personal access token may live (NULL: no maximum).
ALTER TABLE realms ADD COLUMN personal_access_token_max_lifespan INTEGER
    CHECK (personal_access_token_max_lifespan IS NULL OR personal_access_token_max_lifespan BETWEEN 1 AND 315360000);
