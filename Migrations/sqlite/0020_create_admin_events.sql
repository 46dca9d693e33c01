-- Keycloak's admin events: who changed what through the admin API, from where. Off unless a
-- realm turns them on (adminEventsEnabled, Keycloak's default); the request's representation,
-- secrets redacted, only with adminEventsDetailsEnabled.
ALTER TABLE realms ADD COLUMN admin_events_enabled INTEGER NOT NULL DEFAULT 0 CHECK (admin_events_enabled IN (0, 1));
ALTER TABLE realms ADD COLUMN admin_events_details_enabled INTEGER NOT NULL DEFAULT 0 CHECK (admin_events_details_enabled IN (0, 1));

CREATE TABLE admin_events (
    id              TEXT PRIMARY KEY NOT NULL,
    realm_id        TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    time            INTEGER NOT NULL,
    operation_type  TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_path   TEXT NOT NULL,
    representation  TEXT,
    error           TEXT,
    auth_realm_id   TEXT,
    auth_client_id  TEXT,
    auth_user_id    TEXT,
    auth_ip_address TEXT
) STRICT;

CREATE INDEX admin_events_by_realm_time ON admin_events(realm_id, time);

-- A client's sessions, listed by the admin API (clients/{id}/user-sessions, offline-sessions).
CREATE INDEX sessions_by_client ON sessions(client_id, offline, created_at);
