-- User storage providers and their mappers, and users' links to them (see Migrations/sqlite/0028).
CREATE TABLE storage_components (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    parent_id     TEXT REFERENCES storage_components(id) ON DELETE CASCADE,
    name          TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    provider_id   TEXT NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 255),
    provider_type TEXT NOT NULL CHECK (length(provider_type) BETWEEN 1 AND 255),
    sub_type      TEXT,
    config        TEXT NOT NULL DEFAULT '{}' CHECK (config::json IS NOT NULL),
    -- The role or group a mapper gives, by id (see identity_provider_mappers.target_id).
    target_id     TEXT,
    last_sync     BIGINT,
    CONSTRAINT storage_components_in_realm UNIQUE (id, realm_id)
);
CREATE INDEX storage_components_by_realm ON storage_components(realm_id, parent_id);
CREATE INDEX storage_components_by_parent ON storage_components(parent_id);

ALTER TABLE users ADD COLUMN federation_link TEXT;
ALTER TABLE users ADD COLUMN federation_id TEXT COLLATE "C"
    CHECK ((federation_id IS NULL) = (federation_link IS NULL) AND (federation_id IS NULL OR length(federation_id) BETWEEN 1 AND 255));
-- A user is linked only to a provider of its own realm.
ALTER TABLE users ADD CONSTRAINT users_federation_link_in_realm
    FOREIGN KEY (federation_link, realm_id) REFERENCES storage_components(id, realm_id) ON DELETE CASCADE;
CREATE UNIQUE INDEX users_by_federation ON users(federation_link, federation_id) WHERE federation_link IS NOT NULL;
