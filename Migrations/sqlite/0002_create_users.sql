-- Users and their credentials. Usernames and emails are stored lower-cased (Keycloak's rule),
-- so the unique constraints are case-insensitive for every caller.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    realm_id          TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    username          TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 255 AND username = lower(username)),
    email             TEXT CHECK (email IS NULL OR (length(email) BETWEEN 1 AND 254 AND email = lower(email))),
    email_verified    INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    first_name        TEXT,
    last_name         TEXT,
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at        INTEGER NOT NULL,
    not_before        INTEGER NOT NULL,
    attributes        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    required_actions  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(required_actions)),
    UNIQUE (realm_id, username),
    UNIQUE (id, realm_id)
) STRICT;

CREATE INDEX users_by_email ON users(realm_id, email);

-- Unique email per realm unless the realm allows duplicates. The rule depends on another
-- table's row, so it is a trigger rather than an index; SQLite serializes writers, so the
-- check cannot race.
CREATE TRIGGER users_email_unique_on_insert BEFORE INSERT ON users
WHEN NEW.email IS NOT NULL
 AND (SELECT duplicate_emails_allowed FROM realms WHERE id = NEW.realm_id) = 0
 AND EXISTS (SELECT 1 FROM users WHERE realm_id = NEW.realm_id AND email = NEW.email)
BEGIN
    SELECT RAISE(ABORT, 'keyport.conflict: User exists with same email');
END;

CREATE TRIGGER users_email_unique_on_update BEFORE UPDATE OF email ON users
WHEN NEW.email IS NOT NULL
 AND (SELECT duplicate_emails_allowed FROM realms WHERE id = NEW.realm_id) = 0
 AND EXISTS (SELECT 1 FROM users WHERE realm_id = NEW.realm_id AND email = NEW.email AND id <> NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'keyport.conflict: User exists with same email');
END;

-- Turning "duplicate emails allowed" off while duplicates exist would leave the rule broken.
CREATE TRIGGER realms_duplicate_emails_off BEFORE UPDATE OF duplicate_emails_allowed ON realms
WHEN NEW.duplicate_emails_allowed = 0 AND OLD.duplicate_emails_allowed = 1
 AND EXISTS (SELECT 1 FROM users WHERE realm_id = NEW.id AND email IS NOT NULL
             GROUP BY email HAVING count(*) > 1)
BEGIN
    SELECT RAISE(ABORT, 'keyport.conflict: Realm has users sharing an email; duplicate emails cannot be disallowed');
END;

CREATE TABLE credentials (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
    secret      TEXT NOT NULL,
    user_label  TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, type)
) STRICT;
