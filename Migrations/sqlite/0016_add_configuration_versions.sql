-- A second version per realm, for what a token request reads besides roles: the realm's own
-- settings, its clients and its signing keys. Triggers move it from the same forward-only clock
-- in the transaction of every change, so a cache of those rows that reads the version first is
-- never stale once a change commits (docker-v2 switched off, a client disabled, a key rotated).
ALTER TABLE authorization_versions ADD COLUMN configuration_version INTEGER NOT NULL DEFAULT 1;

UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1);

-- A realm made again under an old id must not start at a version the old one had.
DROP TRIGGER authorization_version_new_realm;
CREATE TRIGGER authorization_version_new_realm AFTER INSERT ON realms
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO authorization_versions (realm_id, version, configuration_version)
    VALUES (NEW.id, (SELECT value FROM authorization_clock WHERE id = 1), (SELECT value FROM authorization_clock WHERE id = 1));
END;

CREATE TRIGGER configuration_version_realm_update AFTER UPDATE ON realms
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.id;
END;

CREATE TRIGGER configuration_version_clients_insert AFTER INSERT ON clients
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER configuration_version_clients_update AFTER UPDATE ON clients
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER configuration_version_clients_delete AFTER DELETE ON clients
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER configuration_version_realm_keys_insert AFTER INSERT ON realm_keys
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER configuration_version_realm_keys_update AFTER UPDATE ON realm_keys
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER configuration_version_realm_keys_delete AFTER DELETE ON realm_keys
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;
