-- Keys become Keycloak's key-provider components (`/admin/realms/{realm}/components`): each key
-- has a name, and several keys of one algorithm may be active at once — the one with the highest
-- priority signs, the others still verify — which is how Keycloak rotates: add a new key with a
-- higher priority, then make the old one passive, then disable or delete it. That no change
-- leaves an algorithm without an active key is checked by the store, in the same transaction.
ALTER TABLE realm_keys ADD COLUMN name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 255);
UPDATE realm_keys SET name = CASE algorithm WHEN 'RS256' THEN 'rsa-generated' ELSE 'ecdsa-generated' END;
DROP INDEX realm_keys_one_active;
CREATE INDEX realm_keys_signing ON realm_keys(realm_id, algorithm, status, priority);
