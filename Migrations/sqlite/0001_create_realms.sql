-- Realms: isolated namespaces. Booleans are 0/1; times are epoch milliseconds;
-- attributes are JSON objects checked for validity by the database itself.
CREATE TABLE realms (
    id                                TEXT PRIMARY KEY NOT NULL,
    name                              TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    display_name                      TEXT,
    enabled                           INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    access_token_lifespan             INTEGER NOT NULL DEFAULT 300 CHECK (access_token_lifespan > 0),
    refresh_token_lifespan            INTEGER NOT NULL DEFAULT 1800 CHECK (refresh_token_lifespan > 0),
    duplicate_emails_allowed          INTEGER NOT NULL DEFAULT 0 CHECK (duplicate_emails_allowed IN (0, 1)),
    docker_v2_enabled                 INTEGER NOT NULL DEFAULT 0 CHECK (docker_v2_enabled IN (0, 1)),
    brute_force_protected             INTEGER NOT NULL DEFAULT 0 CHECK (brute_force_protected IN (0, 1)),
    failure_factor                    INTEGER NOT NULL DEFAULT 30,
    wait_increment_seconds            INTEGER NOT NULL DEFAULT 60,
    max_failure_wait_seconds          INTEGER NOT NULL DEFAULT 900,
    quick_login_check_milliseconds    INTEGER NOT NULL DEFAULT 1000,
    minimum_quick_login_wait_seconds  INTEGER NOT NULL DEFAULT 60,
    max_delta_time_seconds            INTEGER NOT NULL DEFAULT 43200,
    permanent_lockout                 INTEGER NOT NULL DEFAULT 0 CHECK (permanent_lockout IN (0, 1)),
    password_policy                   TEXT,
    argon2_memory_kib                 INTEGER NOT NULL DEFAULT 7168 CHECK (argon2_memory_kib BETWEEN 1024 AND 1048576),
    argon2_iterations                 INTEGER NOT NULL DEFAULT 5 CHECK (argon2_iterations BETWEEN 1 AND 64),
    argon2_parallelism                INTEGER NOT NULL DEFAULT 1 CHECK (argon2_parallelism BETWEEN 1 AND 16),
    argon2_hash_length                INTEGER NOT NULL DEFAULT 32 CHECK (argon2_hash_length BETWEEN 16 AND 64),
    argon2_salt_length                INTEGER NOT NULL DEFAULT 16 CHECK (argon2_salt_length BETWEEN 8 AND 64),
    events_expiration_seconds         INTEGER CHECK (events_expiration_seconds IS NULL OR events_expiration_seconds > 0),
    attributes                        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    created_at                        INTEGER NOT NULL
) STRICT;
