-- Which door made a personal access token (see Migrations/sqlite/0019): 'admin' survives the
-- owner's password reset, 'account' (self-service) does not.
ALTER TABLE personal_access_tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'account' CHECK (origin IN ('admin', 'account'));
