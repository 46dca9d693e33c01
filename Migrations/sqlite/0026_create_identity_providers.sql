-- Keycloak's identity providers: other issuers the realm trusts. Keyport reads them for
-- federated client authentication (a CI job's signed JWT proves a client); config holds
-- Keycloak's keys as one JSON object, its clientSecret included (never answered back).
CREATE TABLE identity_providers (
    id                            TEXT PRIMARY KEY NOT NULL,
    realm_id                      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    alias                         TEXT NOT NULL COLLATE BINARY CHECK (length(alias) BETWEEN 1 AND 255),
    provider_id                   TEXT NOT NULL,
    display_name                  TEXT,
    enabled                       INTEGER NOT NULL,
    trust_email                   INTEGER NOT NULL DEFAULT 0,
    store_token                   INTEGER NOT NULL DEFAULT 0,
    link_only                     INTEGER NOT NULL DEFAULT 0,
    hide_on_login                 INTEGER NOT NULL DEFAULT 0,
    first_broker_login_flow_alias TEXT,
    post_broker_login_flow_alias  TEXT,
    config                        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    UNIQUE (realm_id, alias)
) STRICT;

-- The client assertions the token endpoint has accepted, kept until they expire so that each is
-- used once (Keycloak's single-use store): a hash of issuer and jti, never the token.
CREATE TABLE used_client_assertions (
    realm_id   TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    assertion_key TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (realm_id, assertion_key)
) STRICT;
CREATE INDEX used_client_assertions_by_expiry ON used_client_assertions(expires_at);
