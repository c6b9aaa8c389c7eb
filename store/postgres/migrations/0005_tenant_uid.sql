-- Each tenant's Unix user (stamp.TenantStatus.UID) is kept in a column of
-- its own, so that the store refuses to give one uid to two tenants. NULL
-- (no uid) may repeat.
ALTER TABLE tenants ADD COLUMN uid integer;
UPDATE tenants SET uid = (status->>'uid')::integer WHERE (status->>'uid')::integer > 0;
CREATE UNIQUE INDEX tenants_uid ON tenants (uid);
