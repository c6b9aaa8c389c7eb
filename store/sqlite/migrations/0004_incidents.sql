-- Incidents: stretches of time a tenant was unhealthy. The whole incident
-- is JSON; tenant, state and opened_at are copies of its fields for the
-- filters and the order of ListIncidents, and resource_version and
-- updated_at are set by the store only.
CREATE TABLE incidents (
	id               TEXT    NOT NULL PRIMARY KEY,
	tenant           TEXT    NOT NULL,
	state            TEXT    NOT NULL,
	opened_at        INTEGER NOT NULL,
	incident         TEXT    NOT NULL, -- JSON of stamp.Incident
	resource_version INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;

-- Every index ends with the rowid, so both serve ORDER BY opened_at DESC,
-- rowid DESC without sorting.
CREATE INDEX incidents_tenant_opened_at ON incidents (tenant, opened_at);

-- Only the incidents not yet resolved, the few a monitor and an operator
-- look at; the condition must stay word for word the one ListIncidents
-- writes, or SQLite does not use the index.
CREATE INDEX incidents_open ON incidents (opened_at) WHERE state IN ('open', 'acknowledged');

-- The incident an event is part of; empty for the events of none, as for
-- release.
ALTER TABLE events ADD COLUMN incident TEXT NOT NULL DEFAULT '';
