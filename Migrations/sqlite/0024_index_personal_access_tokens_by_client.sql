-- The token inventory of a registry client (`clients/{id}/docker-v2-tokens`) pages through its
-- personal access tokens, every owner's, oldest first.
CREATE INDEX personal_access_tokens_by_client ON personal_access_tokens(client_id, created_at);
