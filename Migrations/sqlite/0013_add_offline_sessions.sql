-- Offline sessions: the sessions behind docker-v2 identity tokens (Keycloak's offline tokens).
-- They live by the realm's offline-session settings (Keycloak's names and defaults: 30 days
-- idle, no maximum unless enabled), not by the online session's ten hours.
ALTER TABLE realms ADD COLUMN offline_session_idle_timeout INTEGER NOT NULL DEFAULT 2592000
    CHECK (offline_session_idle_timeout BETWEEN 1 AND 315360000);
ALTER TABLE realms ADD COLUMN offline_session_max_lifespan_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (offline_session_max_lifespan_enabled IN (0, 1));
ALTER TABLE realms ADD COLUMN offline_session_max_lifespan INTEGER NOT NULL DEFAULT 5184000
    CHECK (offline_session_max_lifespan BETWEEN 1 AND 315360000);

ALTER TABLE sessions ADD COLUMN offline INTEGER NOT NULL DEFAULT 0 CHECK (offline IN (0, 1));
-- Where the session was last used from (Keycloak's ipAddress of a session); never a secret.
ALTER TABLE sessions ADD COLUMN ip_address TEXT CHECK (ip_address IS NULL OR length(ip_address) <= 64);

-- Listing and capping a user's sessions of one client, and the sweep of idle offline sessions.
CREATE INDEX sessions_by_user_client ON sessions(user_id, client_id, offline, last_refresh);
CREATE INDEX sessions_offline_by_realm ON sessions(realm_id, offline, last_refresh);
