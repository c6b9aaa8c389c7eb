-- Times are Unix nanoseconds (INTEGER), so they round-trip exactly; optional
-- times are NULL when zero.

CREATE TABLE bundles (
	name        TEXT    NOT NULL,
	version     TEXT    NOT NULL,
	digest      TEXT    NOT NULL,
	size        INTEGER NOT NULL,
	description TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	-- content stays the last column: SQLite decodes a row left to right, so
	-- queries that stop before it never read its overflow pages.
	content     BLOB    NOT NULL,
	UNIQUE (name, version)
) STRICT;

CREATE INDEX bundles_digest ON bundles (digest);

CREATE TABLE tenants (
	name             TEXT    NOT NULL PRIMARY KEY,
	spec             TEXT    NOT NULL, -- JSON of stamp.TenantSpec
	status           TEXT    NOT NULL, -- JSON of stamp.TenantStatus
	generation       INTEGER NOT NULL,
	resource_version INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE secrets (
	tenant TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
	name   TEXT NOT NULL,
	value  TEXT NOT NULL,
	PRIMARY KEY (tenant, name)
) STRICT;

-- AUTOINCREMENT: a sequence number is never handed out twice, even after
-- the newest events are deleted.
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	time        INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	tenant      TEXT    NOT NULL,
	generation  INTEGER NOT NULL,
	step        TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	message     TEXT    NOT NULL,
	queued_at   INTEGER,
	started_at  INTEGER,
	finished_at INTEGER
) STRICT;

CREATE INDEX events_tenant_seq ON events (tenant, seq);

CREATE TABLE tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	hash       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;
