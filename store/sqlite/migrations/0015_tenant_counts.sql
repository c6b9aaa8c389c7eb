-- What a fleet is counted and filtered by (stamp.TenantFilter) is kept in
-- columns of its own, written with spec and status: the phase, the
-- current version (the routed one, else the one being made) and the
-- plan. The index covers CountTenants, so counting a fleet reads the
-- index, not every tenant's JSON.
ALTER TABLE tenants ADD COLUMN phase TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT '';
UPDATE tenants SET
	phase = coalesce(json_extract(status, '$.phase'), ''),
	version = coalesce(nullif(json_extract(status, '$.version'), ''), json_extract(spec, '$.version'), ''),
	plan = coalesce(json_extract(spec, '$.plan'), '');
CREATE INDEX tenants_counts ON tenants (phase, version, plan, pooled);
