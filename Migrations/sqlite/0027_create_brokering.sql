-- Signing people in through an identity provider (brokering): the provider's mappers, and the
-- links between realm users and their upstream accounts, keyed by provider and upstream subject.
CREATE TABLE identity_provider_mappers (
    id                   TEXT PRIMARY KEY NOT NULL,
    realm_id             TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL COLLATE BINARY CHECK (length(name) BETWEEN 1 AND 255),
    mapper_type          TEXT NOT NULL,
    -- The role or group the mapper gives, by id: resolved once, when an administrator who may
    -- grant it saved the mapper, so a later rename or a look-alike name never redirects it.
    target_id            TEXT,
    config               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    UNIQUE (identity_provider_id, name)
) STRICT;
CREATE INDEX identity_provider_mappers_by_realm ON identity_provider_mappers(realm_id);

CREATE TABLE federated_identities (
    realm_id             TEXT NOT NULL,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    upstream_user_id     TEXT NOT NULL COLLATE BINARY CHECK (length(upstream_user_id) BETWEEN 1 AND 255),
    upstream_username    TEXT NOT NULL,
    PRIMARY KEY (identity_provider_id, upstream_user_id),
    UNIQUE (user_id, identity_provider_id),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
) STRICT;
