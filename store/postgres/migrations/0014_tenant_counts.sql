-- What a fleet is counted and filtered by (stamp.TenantFilter) is kept in
-- columns of its own, written with spec and status: the phase, the
-- current version (the routed one, else the one being made) and the
-- plan. The index covers CountTenants, so counting a fleet reads the
-- index, not every tenant's JSON.
ALTER TABLE tenants ADD COLUMN phase text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN version text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN plan text NOT NULL DEFAULT '';
UPDATE tenants SET
	phase = coalesce(status->>'phase', ''),
	version = coalesce(nullif(status->>'version', ''), spec->>'version', ''),
	plan = coalesce(spec->>'plan', '');
CREATE INDEX tenants_counts ON tenants (phase, version, plan, pooled);
