-- A realm's user storage providers and their mappers are part of its configuration: any change
-- moves `configuration_version`, so every node's realm cache reads the realm again — and with
-- it whether the realm has directories to ask at sign-in (RealmSQL's `has_user_federation`).
CREATE TRIGGER configuration_version_storage_components_insert AFTER INSERT ON storage_components
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_storage_components_update AFTER UPDATE ON storage_components
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_storage_components_delete AFTER DELETE ON storage_components
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;
