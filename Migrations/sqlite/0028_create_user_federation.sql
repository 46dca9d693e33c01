-- Keycloak's user federation: LDAP user storage providers (parent_id NULL: the realm's) and their
-- mappers (parent_id: the provider), with Keycloak's multi-valued config; and, on a user imported
-- from a directory, its provider and its entry's id. Removing a provider removes the users it
-- imported (as Keycloak does), and its mappers with it.
CREATE TABLE storage_components (
    id            TEXT PRIMARY KEY NOT NULL,
    realm_id      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    parent_id     TEXT REFERENCES storage_components(id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    provider_id   TEXT NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 255),
    provider_type TEXT NOT NULL CHECK (length(provider_type) BETWEEN 1 AND 255),
    sub_type      TEXT,
    config        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    -- The role or group a mapper gives, by id (see identity_provider_mappers.target_id).
    target_id     TEXT,
    last_sync     INTEGER
) STRICT;
CREATE INDEX storage_components_by_realm ON storage_components(realm_id, parent_id);
CREATE INDEX storage_components_by_parent ON storage_components(parent_id);

ALTER TABLE users ADD COLUMN federation_link TEXT REFERENCES storage_components(id) ON DELETE CASCADE;
-- The entry's id, exactly when there is a provider.
ALTER TABLE users ADD COLUMN federation_id TEXT
    CHECK ((federation_id IS NULL) = (federation_link IS NULL) AND (federation_id IS NULL OR length(federation_id) BETWEEN 1 AND 255));
-- One user per directory entry of a provider.
CREATE UNIQUE INDEX users_by_federation ON users(federation_link, federation_id) WHERE federation_link IS NOT NULL;
-- A user is linked only to a provider of its own realm (a column added by ALTER TABLE cannot
-- carry the two-column reference PostgreSQL's schema has; these triggers hold the same rule).
CREATE TRIGGER users_federation_link_in_realm_on_insert BEFORE INSERT ON users
WHEN NEW.federation_link IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM storage_components c WHERE c.id = NEW.federation_link AND c.realm_id = NEW.realm_id)
BEGIN
    SELECT RAISE(ABORT, 'keyport.invalid: a user is linked only to a user storage provider of its realm');
END;
CREATE TRIGGER users_federation_link_in_realm_on_update BEFORE UPDATE OF federation_link ON users
WHEN NEW.federation_link IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM storage_components c WHERE c.id = NEW.federation_link AND c.realm_id = NEW.realm_id)
BEGIN
    SELECT RAISE(ABORT, 'keyport.invalid: a user is linked only to a user storage provider of its realm');
END;
