-- Tokens get a role, an optional tenant they are confined to, an expiry
-- and a revocation (stamp.Token). Tokens made before roles keep what
-- they could do: the admin token stays admin; any other could do all
-- but read secrets, which is an operator's part now (webhooks, keys and
-- tokens are admin's).
ALTER TABLE tokens ADD COLUMN role text NOT NULL DEFAULT 'operator';
UPDATE tokens SET role = 'admin' WHERE name = 'admin';
ALTER TABLE tokens ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE tokens ADD COLUMN revoked_at timestamptz;
CREATE INDEX tokens_name ON tokens (name);
