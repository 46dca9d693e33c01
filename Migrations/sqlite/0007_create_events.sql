CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    realm_id    TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    time        INTEGER NOT NULL,
    type        TEXT NOT NULL,
    client_id   TEXT,
    user_id     TEXT,
    ip_address  TEXT,
    error       TEXT,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;

CREATE INDEX events_by_realm_time ON events(realm_id, time);
