-- Incidents: stretches of time a tenant was unhealthy. The whole incident
-- is json (see 0001 for why not jsonb); tenant, state and opened_at are
-- copies of its fields for the filters and the order of ListIncidents, and
-- resource_version and updated_at are set by the store only. seq orders
-- incidents opened at the same instant by creation.
CREATE TABLE incidents (
	id               text        NOT NULL,
	seq              bigint      GENERATED ALWAYS AS IDENTITY,
	tenant           text        NOT NULL,
	state            text        NOT NULL,
	opened_at        timestamptz NOT NULL,
	incident         json        NOT NULL, -- stamp.Incident
	resource_version bigint      NOT NULL,
	updated_at       timestamptz NOT NULL,
	CONSTRAINT incidents_pkey PRIMARY KEY (id)
);

-- Both indexes end with seq, so that they serve ORDER BY opened_at DESC,
-- seq DESC without sorting.
CREATE INDEX incidents_tenant_opened_at ON incidents (tenant, opened_at, seq);

-- Only the incidents not yet resolved, the few a monitor and an operator
-- look at.
CREATE INDEX incidents_open ON incidents (opened_at, seq) WHERE state IN ('open', 'acknowledged');

-- The incident an event is part of; empty for the events of none, as for
-- release. A constant default adds the column without rewriting the table.
ALTER TABLE events ADD COLUMN incident text NOT NULL DEFAULT '';
