-- The warm pool (stamp.TenantSpec.Pooled) and the runtime a tenant claimed
-- from it (stamp.TenantStatus.Runtime) are kept in columns of their own:
-- listings leave pooled stamps out, the pool's own listing reads only
-- them, and the store refuses to give one runtime to two tenants. NULL
-- (the tenant's own name) may repeat.
ALTER TABLE tenants ADD COLUMN pooled boolean NOT NULL DEFAULT false;
ALTER TABLE tenants ADD COLUMN runtime text;
CREATE UNIQUE INDEX tenants_runtime ON tenants (runtime);
CREATE INDEX tenants_pooled ON tenants (name) WHERE pooled;
