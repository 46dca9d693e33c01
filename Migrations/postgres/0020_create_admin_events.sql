-- Keycloak's admin events (see Migrations/sqlite/0020): off unless a realm turns them on.
ALTER TABLE realms ADD COLUMN admin_events_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE realms ADD COLUMN admin_events_details_enabled BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE admin_events (
    id              TEXT PRIMARY KEY,
    realm_id        TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    time            BIGINT NOT NULL,
    operation_type  TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_path   TEXT NOT NULL,
    representation  TEXT,
    error           TEXT,
    auth_realm_id   TEXT,
    auth_client_id  TEXT,
    auth_user_id    TEXT,
    auth_ip_address TEXT
);
CREATE INDEX admin_events_by_realm_time ON admin_events(realm_id, time);

CREATE INDEX sessions_by_client ON sessions(client_id, offline, created_at);
