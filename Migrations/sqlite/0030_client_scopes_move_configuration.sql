-- A client's client scopes and their protocol mappers decide what its tokens and userinfo
-- carry; token requests keep them per realm configuration version (AssignedClientScopesCache).
-- Any change to a client scope (its mappers and attributes are columns of its row) or to a
-- client's assignments moves `configuration_version` in the same transaction, so every node
-- reads them again at its next request.
CREATE TRIGGER configuration_version_client_scopes_insert AFTER INSERT ON client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_client_scopes_update AFTER UPDATE ON client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_client_scopes_delete AFTER DELETE ON client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;
CREATE TRIGGER configuration_version_client_client_scopes_insert AFTER INSERT ON client_client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_client_client_scopes_update AFTER UPDATE ON client_client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;
CREATE TRIGGER configuration_version_client_client_scopes_delete AFTER DELETE ON client_client_scopes
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET configuration_version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;
