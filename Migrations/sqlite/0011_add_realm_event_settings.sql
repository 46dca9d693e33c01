-- Keycloak's eventsEnabled and enabledEventTypes. Keyport stores login events unless a realm
-- turns them off (Keycloak's default is off; Keyport's registries rely on the audit trail).
ALTER TABLE realms ADD COLUMN events_enabled INTEGER NOT NULL DEFAULT 1 CHECK (events_enabled IN (0, 1));
ALTER TABLE realms ADD COLUMN enabled_event_types TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(enabled_event_types));
