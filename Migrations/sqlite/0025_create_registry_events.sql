-- What registries report doing with Keyport's tokens (distribution's notifications): pushes,
-- pulls, deletes and mounts, as the registry told them; whoever holds a registry client's
-- notification secret can send them. credential_* is Keyport's inference from its own token
-- events (same user, address and client, shortly before), not the registry's word.
CREATE TABLE registry_events (
    id                TEXT PRIMARY KEY NOT NULL,
    realm_id          TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    registry_event_id TEXT NOT NULL,
    time              INTEGER NOT NULL,
    received          INTEGER NOT NULL,
    action            TEXT NOT NULL,
    actor             TEXT,
    repository        TEXT,
    tag               TEXT,
    digest            TEXT,
    media_type        TEXT,
    size              INTEGER,
    from_repository   TEXT,
    source_address    TEXT,
    source_host       TEXT,
    request_id        TEXT,
    user_agent        TEXT,
    credential_kind   TEXT,
    credential_id     TEXT
) STRICT;

-- A registry retries an envelope it thinks failed: each of its events is kept once.
CREATE UNIQUE INDEX registry_events_once ON registry_events(realm_id, client_id, registry_event_id);
CREATE INDEX registry_events_by_realm_time ON registry_events(realm_id, time);
CREATE INDEX registry_events_by_repository ON registry_events(realm_id, repository, time);
CREATE INDEX registry_events_by_actor ON registry_events(realm_id, actor, time);
-- The credential inference asks, per user, for the token events shortly before a registry event.
CREATE INDEX events_by_realm_user_time ON events(realm_id, user_id, time);
