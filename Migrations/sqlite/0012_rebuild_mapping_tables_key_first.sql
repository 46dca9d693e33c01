-- The mapping tables again, with their primary-key columns first. SQLite 3.40 (Debian 12's,
-- the library Keyport links) reports "NULL value in <table>.realm_id" from
-- PRAGMA integrity_check on a STRICT, WITHOUT ROWID table whose first column is not part of
-- the primary key; the data was sound, the check was wrong. Same columns, constraints and
-- indexes; only the column order changes, so an operator's integrity check says "ok".
CREATE TABLE role_composites_new (
    parent_role_id  TEXT NOT NULL,
    child_role_id   TEXT NOT NULL,
    realm_id        TEXT NOT NULL,
    PRIMARY KEY (parent_role_id, child_role_id),
    CHECK (parent_role_id <> child_role_id),
    FOREIGN KEY (parent_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (child_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO role_composites_new (parent_role_id, child_role_id, realm_id) SELECT parent_role_id, child_role_id, realm_id FROM role_composites;
DROP TABLE role_composites;
ALTER TABLE role_composites_new RENAME TO role_composites;
CREATE INDEX role_composites_by_child ON role_composites(child_role_id);

CREATE TABLE user_roles_new (
    user_id   TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO user_roles_new (user_id, role_id, realm_id) SELECT user_id, role_id, realm_id FROM user_roles;
DROP TABLE user_roles;
ALTER TABLE user_roles_new RENAME TO user_roles;
CREATE INDEX user_roles_by_role ON user_roles(role_id);

CREATE TABLE group_members_new (
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO group_members_new (group_id, user_id, realm_id) SELECT group_id, user_id, realm_id FROM group_members;
DROP TABLE group_members;
ALTER TABLE group_members_new RENAME TO group_members;
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE group_roles_new (
    group_id  TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, role_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO group_roles_new (group_id, role_id, realm_id) SELECT group_id, role_id, realm_id FROM group_roles;
DROP TABLE group_roles;
ALTER TABLE group_roles_new RENAME TO group_roles;
CREATE INDEX group_roles_by_role ON group_roles(role_id);
