-- A client's service account is a user that belongs to the client: it is hidden from user
-- lists and goes away with its client.
ALTER TABLE users ADD COLUMN service_account_client_id TEXT REFERENCES clients(id) ON DELETE CASCADE;

CREATE UNIQUE INDEX users_one_service_account_per_client ON users(service_account_client_id) WHERE service_account_client_id IS NOT NULL;
