-- A client's client scopes and their protocol mappers decide what its tokens and userinfo
-- carry; token requests keep them per realm configuration version (AssignedClientScopesCache).
-- Any change to a client scope (its mappers and attributes are columns of its row) or to a
-- client's assignments moves `configuration_version` in the same transaction, so every node
-- reads them again at its next request.
CREATE TRIGGER configuration_version_client_scopes AFTER INSERT OR UPDATE OR DELETE ON client_scopes
    FOR EACH ROW EXECUTE FUNCTION keyport_move_configuration_version();
CREATE TRIGGER configuration_version_client_client_scopes AFTER INSERT OR UPDATE OR DELETE ON client_client_scopes
    FOR EACH ROW EXECUTE FUNCTION keyport_move_configuration_version();
