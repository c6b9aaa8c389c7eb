-- Releases roll a blueprint version out over tenants; stored like tenants
-- (json spec and status, see 0001). seq orders releases created at the
-- same instant by creation.
CREATE TABLE releases (
	id               text        NOT NULL,
	seq              bigint      GENERATED ALWAYS AS IDENTITY,
	spec             json        NOT NULL, -- stamp.ReleaseSpec
	status           json        NOT NULL, -- stamp.ReleaseStatus
	resource_version bigint      NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	CONSTRAINT releases_pkey PRIMARY KEY (id)
);

-- The release an event is part of; empty for the events of none, as for
-- tenant. A constant default adds the column without rewriting the table.
ALTER TABLE events ADD COLUMN release text NOT NULL DEFAULT '';

CREATE INDEX events_release_seq ON events (release, seq);
