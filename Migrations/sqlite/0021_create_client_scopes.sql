-- Keycloak's client scopes: named sets of protocol mappers and role scope mappings that clients
-- take on as default scopes (always) or optional ones (when a token request names them).
-- Realms made before get Keycloak's built-in scopes when the server starts
-- (`realm_builtin_client_scopes` lists the realms that have had them).
CREATE TABLE client_scopes (
    id               TEXT PRIMARY KEY NOT NULL,
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description      TEXT,
    protocol         TEXT NOT NULL DEFAULT 'openid-connect',
    attributes       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    protocol_mappers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(protocol_mappers)),
    UNIQUE (realm_id, name),
    UNIQUE (id, realm_id)
) STRICT;

-- The scopes a realm gives its new clients. (Mapping tables put their key columns first:
-- see 0012 on SQLite 3.40's integrity check.)
CREATE TABLE realm_client_scopes (
    realm_id      TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    default_scope INTEGER NOT NULL CHECK (default_scope IN (0, 1)),
    PRIMARY KEY (realm_id, scope_id),
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- A client's default and optional scopes.
CREATE TABLE client_client_scopes (
    client_id     TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    realm_id      TEXT NOT NULL,
    default_scope INTEGER NOT NULL CHECK (default_scope IN (0, 1)),
    PRIMARY KEY (client_id, scope_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX client_client_scopes_by_scope ON client_client_scopes(scope_id);

-- Role scope mappings: the roles a client scope lets into tokens.
CREATE TABLE client_scope_roles (
    scope_id TEXT NOT NULL,
    role_id  TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    PRIMARY KEY (scope_id, role_id),
    FOREIGN KEY (scope_id, realm_id) REFERENCES client_scopes(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX client_scope_roles_by_role ON client_scope_roles(role_id);

-- A client's own role scope mappings (what it lets into tokens when fullScopeAllowed is off).
CREATE TABLE client_scope_mappings (
    client_id TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    realm_id  TEXT NOT NULL,
    PRIMARY KEY (client_id, role_id),
    FOREIGN KEY (client_id, realm_id) REFERENCES clients(id, realm_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, realm_id) REFERENCES roles(id, realm_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX client_scope_mappings_by_role ON client_scope_mappings(role_id);

ALTER TABLE clients ADD COLUMN full_scope_allowed INTEGER NOT NULL DEFAULT 1 CHECK (full_scope_allowed IN (0, 1));
-- Keycloak's webOrigins (CORS origins, and the allowed-origins claim of the web-origins scope).
ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(web_origins));
-- Keycloak's realm settings Keyport keeps without using them (themes, registration switches, …), echoed back as given.
ALTER TABLE realms ADD COLUMN keycloak_settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(keycloak_settings));
-- What a realm file carried that Keyport keeps without running (SAML clients, authorization
-- settings, flows, identity providers, …): written back by an export, never served.
ALTER TABLE realms ADD COLUMN keycloak_content TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(keycloak_content));
-- A realm listed here has had Keycloak's built-in scopes (new realms from the start; older
-- ones at the server's next start), so a scope an administrator deletes stays deleted.
CREATE TABLE realm_builtin_client_scopes (
    realm_id TEXT PRIMARY KEY NOT NULL REFERENCES realms(id) ON DELETE CASCADE
) STRICT;
