-- Identity provider mappers and federated identities (see Migrations/sqlite/0027).
CREATE TABLE identity_provider_mappers (
    id                   TEXT PRIMARY KEY,
    realm_id             TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    name                 TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    mapper_type          TEXT NOT NULL,
    -- The role or group the mapper gives, by id: resolved once, when an administrator who may
    -- grant it saved the mapper, so a later rename or a look-alike name never redirects it.
    target_id            TEXT,
    config               TEXT NOT NULL DEFAULT '{}' CHECK (config::json IS NOT NULL),
    CONSTRAINT identity_provider_mappers_name_unique UNIQUE (identity_provider_id, name)
);
CREATE INDEX identity_provider_mappers_by_realm ON identity_provider_mappers(realm_id);

CREATE TABLE federated_identities (
    realm_id             TEXT NOT NULL,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    upstream_user_id     TEXT COLLATE "C" NOT NULL CHECK (length(upstream_user_id) BETWEEN 1 AND 255),
    upstream_username    TEXT NOT NULL,
    CONSTRAINT federated_identities_upstream_unique PRIMARY KEY (identity_provider_id, upstream_user_id),
    CONSTRAINT federated_identities_user_unique UNIQUE (user_id, identity_provider_id),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
);
