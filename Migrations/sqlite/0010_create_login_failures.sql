-- Brute-force detection (Keycloak's): consecutive failed logins per user and how long the
-- user is locked out. Cleared by a successful login or by an administrator.
CREATE TABLE login_failures (
    user_id       TEXT PRIMARY KEY NOT NULL,
    realm_id      TEXT NOT NULL,
    num_failures  INTEGER NOT NULL DEFAULT 0,
    last_failure  INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    last_ip       TEXT,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
