-- Keycloak's client scopes (see Migrations/sqlite/0021): named sets of protocol mappers and role scope mappings that clients
-- take on as default scopes (always) or optional ones (when a token request names them).
-- Realms made before get Keycloak's built-in scopes when the server starts
-- (`realm_builtin_client_scopes` lists the realms that have had them).
CREATE TABLE client_scopes (
    id               TEXT PRIMARY KEY,
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    name             TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description      TEXT,
    protocol         TEXT NOT NULL DEFAULT 'openid-connect',
    attributes       TEXT NOT NULL DEFAULT '{}' CHECK (attributes::json IS NOT NULL),
    protocol_mappers TEXT NOT NULL DEFAULT '[]' CHECK (protocol_mappers::json IS NOT NULL),
    CONSTRAINT client_scopes_name_unique UNIQUE (realm_id, name),
    UNIQUE (id, realm_id)
);

-- The scopes a realm gives its new clients.
CREATE TABLE realm_client_scopes (
    realm_id      TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    default_scope BOOLEAN NOT NULL,
    PRIMARY KEY (realm_id, scope_id),
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE
);

-- A client's default and optional scopes.
CREATE TABLE client_client_scopes (
    client_id     TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    realm_id      TEXT NOT NULL,
    default_scope BOOLEAN NOT NULL,
    PRIMARY KEY (client_id, scope_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX client_client_scopes_by_scope ON client_client_scopes(scope_id);

-- Role scope mappings: the roles a client scope lets into tokens.
CREATE TABLE client_scope_roles (
    scope_id TEXT NOT NULL,
    role_id  TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    PRIMARY KEY (scope_id, role_id),
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX client_scope_roles_by_role ON client_scope_roles(role_id);

-- A client's own role scope mappings (what it lets into tokens when fullScopeAllowed is off).
CREATE TABLE client_scope_mappings (
    client_id TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (client_id, role_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
);
CREATE INDEX client_scope_mappings_by_role ON client_scope_mappings(role_id);

ALTER TABLE clients ADD COLUMN full_scope_allowed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]' CHECK (web_origins::json IS NOT NULL);
ALTER TABLE realms ADD COLUMN keycloak_settings TEXT NOT NULL DEFAULT '{}' CHECK (keycloak_settings::json IS NOT NULL);
ALTER TABLE realms ADD COLUMN keycloak_content TEXT NOT NULL DEFAULT '{}' CHECK (keycloak_content::json IS NOT NULL);
CREATE TABLE realm_builtin_client_scopes (
    realm_id TEXT PRIMARY KEY REFERENCES realms(id) ON DELETE CASCADE
);
