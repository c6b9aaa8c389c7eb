-- When each tenant last had traffic through a router, for scale to zero:
-- one row per tenant that has had any, deleted with its tenant, so that a
-- tenant created again under the same name starts with none.
CREATE TABLE tenant_activity (
	tenant      text        NOT NULL PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
	last_active timestamptz NOT NULL
);
