-- A realm's user storage providers and their mappers are part of its configuration: any change
-- moves `configuration_version`, so every node's realm cache reads the realm again — and with
-- it whether the realm has directories to ask at sign-in (RealmSQL's `has_user_federation`).
CREATE TRIGGER configuration_version_storage_components AFTER INSERT OR UPDATE OR DELETE ON storage_components
    FOR EACH ROW EXECUTE FUNCTION keyport_move_configuration_version();
