-- Releases roll a blueprint version out over tenants; stored like tenants.
CREATE TABLE releases (
	id               TEXT    NOT NULL PRIMARY KEY,
	spec             TEXT    NOT NULL, -- JSON of stamp.ReleaseSpec
	status           TEXT    NOT NULL, -- JSON of stamp.ReleaseStatus
	resource_version INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;

-- The release an event is part of; empty for the events of none, as for
-- tenant.
ALTER TABLE events ADD COLUMN release TEXT NOT NULL DEFAULT '';

CREATE INDEX events_release_seq ON events (release, seq);
