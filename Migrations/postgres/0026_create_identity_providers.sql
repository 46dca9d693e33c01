-- Keycloak's identity providers and the client assertions used once (see Migrations/sqlite/0026).
CREATE TABLE identity_providers (
    id                            TEXT PRIMARY KEY,
    realm_id                      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    alias                         TEXT COLLATE "C" NOT NULL CHECK (length(alias) BETWEEN 1 AND 255),
    provider_id                   TEXT NOT NULL,
    display_name                  TEXT,
    enabled                       BOOLEAN NOT NULL,
    trust_email                   BOOLEAN NOT NULL DEFAULT FALSE,
    store_token                   BOOLEAN NOT NULL DEFAULT FALSE,
    link_only                     BOOLEAN NOT NULL DEFAULT FALSE,
    hide_on_login                 BOOLEAN NOT NULL DEFAULT FALSE,
    first_broker_login_flow_alias TEXT,
    post_broker_login_flow_alias  TEXT,
    config                        TEXT NOT NULL DEFAULT '{}' CHECK (config::json IS NOT NULL),
    CONSTRAINT identity_providers_alias_unique UNIQUE (realm_id, alias)
);

CREATE TABLE used_client_assertions (
    realm_id   TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    assertion_key TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (realm_id, assertion_key)
);
CREATE INDEX used_client_assertions_by_expiry ON used_client_assertions(expires_at);
