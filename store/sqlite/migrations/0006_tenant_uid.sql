-- Each tenant's Unix user (stamp.TenantStatus.UID) is kept in a column of
-- its own, so that the store refuses to give one uid to two tenants. NULL
-- (no uid) may repeat.
ALTER TABLE tenants ADD COLUMN uid INTEGER;
UPDATE tenants SET uid = json_extract(status, '$.uid') WHERE json_extract(status, '$.uid') > 0;
CREATE UNIQUE INDEX tenants_uid ON tenants (uid);
