-- What registries report doing with Keyport's tokens (see Migrations/sqlite/0025).
CREATE TABLE registry_events (
    id                TEXT PRIMARY KEY,
    realm_id          TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    registry_event_id TEXT NOT NULL,
    time              BIGINT NOT NULL,
    received          BIGINT NOT NULL,
    action            TEXT NOT NULL,
    actor             TEXT,
    repository        TEXT,
    tag               TEXT,
    digest            TEXT,
    media_type        TEXT,
    size              BIGINT,
    from_repository   TEXT,
    source_address    TEXT,
    source_host       TEXT,
    request_id        TEXT,
    user_agent        TEXT,
    credential_kind   TEXT,
    credential_id     TEXT
);

-- A registry retries an envelope it thinks failed: each of its events is kept once.
CREATE UNIQUE INDEX registry_events_once ON registry_events(realm_id, client_id, registry_event_id);
CREATE INDEX registry_events_by_realm_time ON registry_events(realm_id, time);
CREATE INDEX registry_events_by_repository ON registry_events(realm_id, repository, time);
CREATE INDEX registry_events_by_actor ON registry_events(realm_id, actor, time);
-- The credential inference asks, per user, for the token events shortly before a registry event.
CREATE INDEX events_by_realm_user_time ON events(realm_id, user_id, time);
