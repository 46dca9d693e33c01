-- The group tree. A group's parent lives in the same realm (composite foreign key); names are
-- unique among siblings. Moving a group under its own subtree is refused by the store, which
-- checks within the same transaction (SQLite allows no recursive query inside a trigger).
CREATE TABLE realm_groups (
    id          TEXT PRIMARY KEY NOT NULL,
    realm_id    TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    parent_id   TEXT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    attributes  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    UNIQUE (id, realm_id),
    CHECK (parent_id IS NULL OR parent_id <> id),
    FOREIGN KEY (parent_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE
) STRICT;

CREATE UNIQUE INDEX realm_groups_top_level_name ON realm_groups(realm_id, name) WHERE parent_id IS NULL;
CREATE UNIQUE INDEX realm_groups_sibling_name ON realm_groups(parent_id, name) WHERE parent_id IS NOT NULL;

CREATE TABLE group_members (
    realm_id  TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE group_roles (
    realm_id  TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    PRIMARY KEY (group_id, role_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX group_roles_by_role ON group_roles(role_id);
