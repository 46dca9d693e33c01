-- Realm roles (client_id NULL) and client roles. The composite foreign keys make a role, its
-- client, its composites and its holders belong to one realm: the database refuses a
-- cross-realm reference, whatever the code above it does.
CREATE TABLE roles (
    id           TEXT PRIMARY KEY NOT NULL,
    realm_id     TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id    TEXT,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description  TEXT,
    attributes   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    UNIQUE (id, realm_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
) STRICT;

CREATE UNIQUE INDEX roles_realm_role_name ON roles(realm_id, name) WHERE client_id IS NULL;
CREATE UNIQUE INDEX roles_client_role_name ON roles(client_id, name) WHERE client_id IS NOT NULL;

CREATE TABLE role_composites (
    realm_id        TEXT NOT NULL,
    parent_role_id  TEXT NOT NULL,
    child_role_id   TEXT NOT NULL,
    PRIMARY KEY (parent_role_id, child_role_id),
    CHECK (parent_role_id <> child_role_id),
    FOREIGN KEY (parent_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (child_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX role_composites_by_child ON role_composites(child_role_id);

CREATE TABLE user_roles (
    realm_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX user_roles_by_role ON user_roles(role_id);
