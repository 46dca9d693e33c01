-- Keyport's schema on PostgreSQL, as SQLite's reached it at migration 0018: PostgreSQL starts
-- here (there is no older PostgreSQL database to bring forward), and every later migration carries
-- the same number in Migrations/sqlite and Migrations/postgres. The same invariants as SQLite's:
-- realm-scoped composite foreign keys (a cross-realm reference is impossible), the same CHECKs
-- and uniqueness rules, under the constraint names the store maps to its conflicts. Times are
-- epoch milliseconds; JSON columns are text that must parse. Names sort as SQLite sorts them
-- (byte order, COLLATE "C"), whatever the database's locale.

CREATE TABLE realms (
    id                                   TEXT PRIMARY KEY,
    name                                 TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    display_name                         TEXT,
    enabled                              BOOLEAN NOT NULL DEFAULT FALSE,
    access_token_lifespan                BIGINT NOT NULL DEFAULT 300 CHECK (access_token_lifespan > 0),
    refresh_token_lifespan               BIGINT NOT NULL DEFAULT 1800 CHECK (refresh_token_lifespan > 0),
    duplicate_emails_allowed             BOOLEAN NOT NULL DEFAULT FALSE,
    docker_v2_enabled                    BOOLEAN NOT NULL DEFAULT FALSE,
    brute_force_protected                BOOLEAN NOT NULL DEFAULT FALSE,
    failure_factor                       BIGINT NOT NULL DEFAULT 30,
    wait_increment_seconds               BIGINT NOT NULL DEFAULT 60,
    max_failure_wait_seconds             BIGINT NOT NULL DEFAULT 900,
    quick_login_check_milliseconds       BIGINT NOT NULL DEFAULT 1000,
    minimum_quick_login_wait_seconds     BIGINT NOT NULL DEFAULT 60,
    max_delta_time_seconds               BIGINT NOT NULL DEFAULT 43200,
    permanent_lockout                    BOOLEAN NOT NULL DEFAULT FALSE,
    password_policy                      TEXT,
    argon2_memory_kib                    BIGINT NOT NULL DEFAULT 7168 CHECK (argon2_memory_kib BETWEEN 1024 AND 1048576),
    argon2_iterations                    BIGINT NOT NULL DEFAULT 5 CHECK (argon2_iterations BETWEEN 1 AND 64),
    argon2_parallelism                   BIGINT NOT NULL DEFAULT 1 CHECK (argon2_parallelism BETWEEN 1 AND 16),
    argon2_hash_length                   BIGINT NOT NULL DEFAULT 32 CHECK (argon2_hash_length BETWEEN 16 AND 64),
    argon2_salt_length                   BIGINT NOT NULL DEFAULT 16 CHECK (argon2_salt_length BETWEEN 8 AND 64),
    events_expiration_seconds            BIGINT CHECK (events_expiration_seconds IS NULL OR events_expiration_seconds > 0),
    attributes                           TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    created_at                           BIGINT NOT NULL,
    events_enabled                       BOOLEAN NOT NULL DEFAULT TRUE,
    enabled_event_types                  TEXT NOT NULL DEFAULT '[]' CHECK (enabled_event_types::json IS NOT NULL),
    offline_session_idle_timeout         BIGINT NOT NULL DEFAULT 2592000 CHECK (offline_session_idle_timeout BETWEEN 1 AND 315360000),
    offline_session_max_lifespan_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    offline_session_max_lifespan         BIGINT NOT NULL DEFAULT 5184000 CHECK (offline_session_max_lifespan BETWEEN 1 AND 315360000),
    personal_access_token_max_lifespan   BIGINT CHECK (personal_access_token_max_lifespan IS NULL OR personal_access_token_max_lifespan BETWEEN 1 AND 315360000),
    CONSTRAINT realms_name_unique UNIQUE (name)
);

CREATE TABLE clients (
    id                            TEXT PRIMARY KEY,
    realm_id                      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id                     TEXT COLLATE "C" NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
    name                          TEXT,
    description                   TEXT,
    enabled                       BOOLEAN NOT NULL DEFAULT TRUE,
    protocol                      TEXT NOT NULL DEFAULT 'openid-connect' CHECK (protocol IN ('openid-connect', 'docker-v2')),
    public_client                 BOOLEAN NOT NULL DEFAULT FALSE,
    secret                        TEXT,
    direct_access_grants_enabled  BOOLEAN NOT NULL DEFAULT FALSE,
    service_accounts_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    standard_flow_enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    redirect_uris                 TEXT NOT NULL DEFAULT '[]' CHECK (redirect_uris::json IS NOT NULL),
    attributes                    TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    protocol_mappers              TEXT NOT NULL DEFAULT '[]' CHECK (protocol_mappers::json IS NOT NULL),
    created_at                    BIGINT NOT NULL,
    CONSTRAINT clients_client_id_unique UNIQUE (realm_id, client_id),
    UNIQUE (id, realm_id)
);

-- Usernames and emails are stored lower-cased (Keycloak's rule).
CREATE TABLE users (
    id                         TEXT PRIMARY KEY,
    realm_id                   TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    username                   TEXT COLLATE "C" NOT NULL CHECK (length(username) BETWEEN 1 AND 255 AND username = lower(username)),
    email                      TEXT COLLATE "C" CHECK (email IS NULL OR (length(email) BETWEEN 1 AND 254 AND email = lower(email))),
    email_verified             BOOLEAN NOT NULL DEFAULT FALSE,
    first_name                 TEXT,
    last_name                  TEXT,
    enabled                    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                 BIGINT NOT NULL,
    not_before                 BIGINT NOT NULL,
    attributes                 TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    required_actions           TEXT NOT NULL DEFAULT '[]' CHECK (required_actions::json IS NOT NULL),
    service_account_client_id  TEXT REFERENCES clients(id) ON DELETE CASCADE,
    CONSTRAINT users_username_unique UNIQUE (realm_id, username),
    UNIQUE (id, realm_id)
);
CREATE INDEX users_by_email ON users(realm_id, email);
CREATE UNIQUE INDEX users_one_service_account_per_client ON users(service_account_client_id) WHERE service_account_client_id IS NOT NULL;

-- Unique email per realm unless the realm allows duplicates: the rule reads another table, so it
-- is a trigger. The realm row is read FOR SHARE and the email is locked for the transaction, so
-- two nodes inserting the same email, or one inserting while another turns duplicates off, are
-- serialized: the check cannot race.
CREATE FUNCTION keyport_users_email_unique() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed BOOLEAN;
BEGIN
    IF NEW.email IS NULL THEN RETURN NEW; END IF;
    SELECT duplicate_emails_allowed INTO allowed FROM realms WHERE id = NEW.realm_id FOR SHARE;
    IF allowed THEN RETURN NEW; END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.realm_id || '/' || NEW.email, 17));
    IF EXISTS (SELECT 1 FROM users WHERE realm_id = NEW.realm_id AND email = NEW.email AND id <> NEW.id) THEN
        RAISE EXCEPTION 'keyport.conflict: User exists with same email';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_email_unique_on_insert BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION keyport_users_email_unique();
CREATE TRIGGER users_email_unique_on_update BEFORE UPDATE OF email ON users FOR EACH ROW EXECUTE FUNCTION keyport_users_email_unique();

CREATE FUNCTION keyport_realms_duplicate_emails_off() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.duplicate_emails_allowed AND OLD.duplicate_emails_allowed
       AND EXISTS (SELECT 1 FROM users WHERE realm_id = NEW.id AND email IS NOT NULL GROUP BY email HAVING count(*) > 1) THEN
        RAISE EXCEPTION 'keyport.conflict: Realm has users sharing an email; duplicate emails cannot be disallowed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER realms_duplicate_emails_off BEFORE UPDATE OF duplicate_emails_allowed ON realms
    FOR EACH ROW EXECUTE FUNCTION keyport_realms_duplicate_emails_off();

CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
    secret      TEXT NOT NULL,
    user_label  TEXT,
    created_at  BIGINT NOT NULL,
    CONSTRAINT credentials_type_unique UNIQUE (user_id, type)
);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    realm_id     TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id    TEXT,
    name         TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description  TEXT,
    attributes   TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    UNIQUE (id, realm_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX roles_realm_role_name ON roles(realm_id, name) WHERE client_id IS NULL;
CREATE UNIQUE INDEX roles_client_role_name ON roles(client_id, name) WHERE client_id IS NOT NULL;

CREATE TABLE role_composites (
    parent_role_id  TEXT NOT NULL,
    child_role_id   TEXT NOT NULL,
    realm_id        TEXT NOT NULL,
    PRIMARY KEY (parent_role_id, child_role_id),
    CHECK (parent_role_id <> child_role_id),
    FOREIGN KEY (parent_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (child_role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX role_composites_by_child ON role_composites(child_role_id);

CREATE TABLE user_roles (
    user_id   TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX user_roles_by_role ON user_roles(role_id);

CREATE TABLE realm_groups (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    parent_id   TEXT,
    name        TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    attributes  TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    UNIQUE (id, realm_id),
    CHECK (parent_id IS NULL OR parent_id <> id),
    FOREIGN KEY (parent_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX realm_groups_top_level_name ON realm_groups(realm_id, name) WHERE parent_id IS NULL;
CREATE UNIQUE INDEX realm_groups_sibling_name ON realm_groups(parent_id, name) WHERE parent_id IS NOT NULL;

CREATE TABLE group_members (
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE group_roles (
    group_id  TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, role_id),
    FOREIGN KEY (group_id, realm_id) REFERENCES realm_groups(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX group_roles_by_role ON group_roles(role_id);

CREATE TABLE realm_keys (
    id               TEXT PRIMARY KEY,
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    algorithm        TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'passive', 'disabled')),
    private_key_pem  TEXT NOT NULL,
    certificate_der  BYTEA NOT NULL,
    libtrust_key_id  TEXT NOT NULL,
    thumbprint       TEXT NOT NULL,
    priority         BIGINT NOT NULL DEFAULT 100,
    created_at       BIGINT NOT NULL,
    name             TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 255)
);
CREATE INDEX realm_keys_by_realm ON realm_keys(realm_id);
CREATE INDEX realm_keys_signing ON realm_keys(realm_id, algorithm, status, priority);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    time        BIGINT NOT NULL,
    type        TEXT NOT NULL,
    client_id   TEXT,
    user_id     TEXT,
    ip_address  TEXT,
    error       TEXT,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (details::json IS NOT NULL)
);
CREATE INDEX events_by_realm_time ON events(realm_id, time);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    realm_id            TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    refresh_token_hash  TEXT NOT NULL UNIQUE,
    scope               TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    last_refresh        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    offline             BOOLEAN NOT NULL DEFAULT FALSE,
    ip_address          TEXT CHECK (ip_address IS NULL OR length(ip_address) <= 64),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE INDEX sessions_by_user_client ON sessions(user_id, client_id, offline, last_refresh);
CREATE INDEX sessions_offline_by_realm ON sessions(realm_id, offline, last_refresh);

CREATE TABLE login_failures (
    user_id       TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL,
    num_failures  BIGINT NOT NULL DEFAULT 0,
    last_failure  BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT NOT NULL DEFAULT 0,
    last_ip       TEXT,
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE
);

CREATE TABLE personal_access_tokens (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash   TEXT NOT NULL UNIQUE,
    grants        TEXT CHECK (grants IS NULL OR grants::json IS NOT NULL),
    expires_at    BIGINT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    last_used_ip  TEXT CHECK (last_used_ip IS NULL OR length(last_used_ip) <= 64),
    CONSTRAINT personal_access_tokens_name_unique UNIQUE (user_id, name),
    FOREIGN KEY (user_id, realm_id) REFERENCES users(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX personal_access_tokens_by_realm_expiry ON personal_access_tokens(realm_id, expires_at);

-- A realm's two versions (see Migrations/sqlite/0015 and 0016): `version` moves with everything
-- that decides effective roles, `configuration_version` with the realm's settings, clients and
-- keys, in the transaction of the change. Values come from one sequence, so no value is ever
-- handed out twice — a cache comparing versions for equality is never fooled, on any node.
CREATE SEQUENCE authorization_clock;

CREATE TABLE authorization_versions (
    realm_id               TEXT PRIMARY KEY REFERENCES realms(id) ON DELETE CASCADE,
    version                BIGINT NOT NULL,
    configuration_version  BIGINT NOT NULL
);

CREATE FUNCTION keyport_new_realm_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v BIGINT := nextval('authorization_clock');
BEGIN
    INSERT INTO authorization_versions (realm_id, version, configuration_version) VALUES (NEW.id, v, v);
    RETURN NULL;
END $$;
CREATE TRIGGER authorization_version_new_realm AFTER INSERT ON realms FOR EACH ROW EXECUTE FUNCTION keyport_new_realm_versions();

CREATE FUNCTION keyport_move_authorization_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE authorization_versions SET version = nextval('authorization_clock') WHERE realm_id = OLD.realm_id;
    ELSE
        UPDATE authorization_versions SET version = nextval('authorization_clock') WHERE realm_id = NEW.realm_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER authorization_version_user_roles AFTER INSERT OR DELETE ON user_roles FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_group_roles AFTER INSERT OR DELETE ON group_roles FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_group_members AFTER INSERT OR DELETE ON group_members FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_role_composites AFTER INSERT OR DELETE ON role_composites FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_roles AFTER UPDATE OR DELETE ON roles FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_groups_move AFTER UPDATE OF parent_id ON realm_groups FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();
CREATE TRIGGER authorization_version_groups_delete AFTER DELETE ON realm_groups FOR EACH ROW EXECUTE FUNCTION keyport_move_authorization_version();

CREATE FUNCTION keyport_move_configuration_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE authorization_versions SET configuration_version = nextval('authorization_clock') WHERE realm_id = OLD.realm_id;
    ELSE
        UPDATE authorization_versions SET configuration_version = nextval('authorization_clock') WHERE realm_id = NEW.realm_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER configuration_version_clients AFTER INSERT OR UPDATE OR DELETE ON clients FOR EACH ROW EXECUTE FUNCTION keyport_move_configuration_version();
CREATE TRIGGER configuration_version_realm_keys AFTER INSERT OR UPDATE OR DELETE ON realm_keys FOR EACH ROW EXECUTE FUNCTION keyport_move_configuration_version();

CREATE FUNCTION keyport_move_realm_configuration_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE authorization_versions SET configuration_version = nextval('authorization_clock') WHERE realm_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER configuration_version_realm_update AFTER UPDATE ON realms FOR EACH ROW EXECUTE FUNCTION keyport_move_realm_configuration_version();
