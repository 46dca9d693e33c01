-- Signing keys. At most one active key per realm and algorithm signs; passive keys still
-- verify, so a rotation never invalidates tokens in flight.
CREATE TABLE realm_keys (
    id               TEXT PRIMARY KEY NOT NULL,
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    algorithm        TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'passive', 'disabled')),
    private_key_pem  TEXT NOT NULL,
    certificate_der  BLOB NOT NULL,
    libtrust_key_id  TEXT NOT NULL,
    thumbprint       TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 100,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX realm_keys_by_realm ON realm_keys(realm_id);
CREATE UNIQUE INDEX realm_keys_one_active ON realm_keys(realm_id, algorithm) WHERE status = 'active';
