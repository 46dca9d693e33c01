-- One version per realm of everything that decides a user's effective roles: role mappings of
-- users and groups, group membership, composites, the group tree, and the roles themselves (their
-- attributes carry docker.grant). Every change moves it in the same transaction (triggers), so a
-- cache of effective roles that reads the version at each request is never stale once the change
-- commits — on this node or any other sharing the database. Versions come from one clock that
-- only moves forward, so a realm deleted and made again never repeats a version of the old one.
CREATE TABLE authorization_clock (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  INTEGER NOT NULL
) STRICT;
INSERT INTO authorization_clock (id, value) VALUES (1, 1);

CREATE TABLE authorization_versions (
    realm_id  TEXT PRIMARY KEY NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    version   INTEGER NOT NULL
) STRICT;

INSERT INTO authorization_versions (realm_id, version) SELECT id, 1 FROM realms;

CREATE TRIGGER authorization_version_new_realm AFTER INSERT ON realms
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO authorization_versions (realm_id, version) VALUES (NEW.id, (SELECT value FROM authorization_clock WHERE id = 1));
END;

CREATE TRIGGER authorization_version_user_roles_insert AFTER INSERT ON user_roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_user_roles_delete AFTER DELETE ON user_roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER authorization_version_group_roles_insert AFTER INSERT ON group_roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_group_roles_delete AFTER DELETE ON group_roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER authorization_version_group_members_insert AFTER INSERT ON group_members
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_group_members_delete AFTER DELETE ON group_members
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER authorization_version_role_composites_insert AFTER INSERT ON role_composites
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_role_composites_delete AFTER DELETE ON role_composites
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER authorization_version_roles_update AFTER UPDATE ON roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_roles_delete AFTER DELETE ON roles
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;

CREATE TRIGGER authorization_version_groups_move AFTER UPDATE OF parent_id ON realm_groups
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = NEW.realm_id;
END;

CREATE TRIGGER authorization_version_groups_delete AFTER DELETE ON realm_groups
BEGIN
    UPDATE authorization_clock SET value = value + 1 WHERE id = 1;
    UPDATE authorization_versions SET version = (SELECT value FROM authorization_clock WHERE id = 1) WHERE realm_id = OLD.realm_id;
END;
