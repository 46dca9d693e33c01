-- Keycloak's built-in clients and roles, added to every realm made before Keyport created them
-- (new realms get them from RealmProvisioner): `account` with its roles (two of which the
-- realm's default role holds), `account-console`, `security-admin-console`, `broker` with
-- `read-token`, and the realm-management roles Keycloak has for features Keyport lacks. They
-- grant nothing Keyport does not implement; they exist so that realm files and scripts written
-- for Keycloak find what they refer to. Nothing a realm already has is touched.

CREATE TEMP TABLE builtin_clients (client_id TEXT, public_client INTEGER, attributes TEXT);
INSERT INTO builtin_clients VALUES
    ('account', 1, '{}'), ('account-console', 1, '{}'), ('security-admin-console', 1, '{}'),
    ('broker', 0, '{"bearer-only":"true"}');

CREATE TEMP TABLE builtin_roles (client_id TEXT, name TEXT);
INSERT INTO builtin_roles VALUES
    ('account', 'view-profile'), ('account', 'manage-account-links'), ('account', 'manage-account'),
    ('account', 'view-applications'), ('account', 'view-consent'), ('account', 'manage-consent'),
    ('account', 'view-groups'), ('account', 'delete-account'), ('broker', 'read-token'),
    ('realm-management', 'view-authorization'), ('realm-management', 'manage-authorization'),
    ('realm-management', 'view-identity-providers'), ('realm-management', 'manage-identity-providers'),
    ('realm-management', 'impersonation');

CREATE TEMP TABLE builtin_composites (client_id TEXT, parent TEXT, child TEXT);
INSERT INTO builtin_composites VALUES
    ('account', 'manage-account', 'manage-account-links'), ('account', 'manage-consent', 'view-consent'),
    ('realm-management', 'realm-admin', 'view-authorization'), ('realm-management', 'realm-admin', 'manage-authorization'),
    ('realm-management', 'realm-admin', 'view-identity-providers'), ('realm-management', 'realm-admin', 'manage-identity-providers'),
    ('realm-management', 'realm-admin', 'impersonation');

-- Ids are random (version 4) UUIDs, as the server makes them, computed per row.
INSERT INTO clients (id, realm_id, client_id, name, enabled, protocol, public_client, direct_access_grants_enabled,
                     service_accounts_enabled, standard_flow_enabled, attributes, created_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
       || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       r.id, b.client_id, '${client_' || b.client_id || '}', 1, 'openid-connect', b.public_client, 0,
       0, b.public_client, b.attributes, CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM realms r CROSS JOIN builtin_clients b
WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.realm_id = r.id AND c.client_id = b.client_id);

INSERT INTO roles (id, realm_id, client_id, name, description, attributes)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
       || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       c.realm_id, c.id, b.name, '${role_' || b.name || '}', '{}'
FROM clients c JOIN builtin_roles b ON b.client_id = c.client_id
WHERE NOT EXISTS (SELECT 1 FROM roles x WHERE x.client_id = c.id AND x.name = b.name);

INSERT OR IGNORE INTO role_composites (parent_role_id, child_role_id, realm_id)
SELECT p.id, ch.id, c.realm_id
FROM builtin_composites b
JOIN clients c ON c.client_id = b.client_id
JOIN roles p ON p.client_id = c.id AND p.name = b.parent
JOIN roles ch ON ch.client_id = c.id AND ch.name = b.child;

-- The default role of each realm holds account's view-profile and manage-account, as Keycloak's does.
INSERT OR IGNORE INTO role_composites (parent_role_id, child_role_id, realm_id)
SELECT d.id, a.id, r.id
FROM realms r
JOIN roles d ON d.realm_id = r.id AND d.client_id IS NULL AND d.name = 'default-roles-' || r.name
JOIN clients c ON c.realm_id = r.id AND c.client_id = 'account'
JOIN roles a ON a.client_id = c.id AND a.name IN ('view-profile', 'manage-account');

DROP TABLE builtin_composites;
DROP TABLE builtin_roles;
DROP TABLE builtin_clients;
