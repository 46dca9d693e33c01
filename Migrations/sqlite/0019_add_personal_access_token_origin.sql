-- Which door made a personal access token: 'admin' (the admin API: it survives its owner's
-- password reset) or 'account' (self-service with the owner's own login: a password reset or
-- change ends it, so a leaked password cannot leave a credential behind). Tokens made before
-- this migration are taken as self-service: the safe reading when the door is unknown.
ALTER TABLE personal_access_tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'account' CHECK (origin IN ('admin', 'account'));
