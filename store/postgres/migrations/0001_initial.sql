-- Times are timestamptz: microseconds, compared with now() by the database
-- itself (leases), and readable in psql. Optional times are NULL when zero.
-- Every table lives in the connection's default schema (search_path).

CREATE TABLE bundles (
	-- seq orders bundles created at the same instant by creation.
	seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text        NOT NULL,
	version     text        NOT NULL,
	digest      text        NOT NULL,
	size        bigint      NOT NULL,
	description text        NOT NULL,
	created_at  timestamptz NOT NULL,
	content     bytea       NOT NULL,
	CONSTRAINT bundles_name_version_key UNIQUE (name, version)
);

CREATE INDEX bundles_digest ON bundles (digest);

-- spec and status are json, not jsonb: the store never looks inside them,
-- json returns the text as written (no re-serialising on every read), and it
-- accepts every string Go encodes, "\u0000" included, which jsonb refuses.
CREATE TABLE tenants (
	name             text        NOT NULL,
	spec             json        NOT NULL, -- stamp.TenantSpec
	status           json        NOT NULL, -- stamp.TenantStatus
	generation       bigint      NOT NULL,
	resource_version bigint      NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	CONSTRAINT tenants_pkey PRIMARY KEY (name)
);

CREATE TABLE secrets (
	tenant text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
	name   text NOT NULL,
	value  text NOT NULL,
	PRIMARY KEY (tenant, name)
);

-- An identity never hands out a number twice, even after the newest events
-- are deleted or an append is rolled back (which leaves a gap).
CREATE TABLE events (
	seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time        timestamptz NOT NULL,
	type        text        NOT NULL,
	tenant      text        NOT NULL,
	generation  bigint      NOT NULL,
	step        text        NOT NULL,
	status      text        NOT NULL,
	message     text        NOT NULL,
	queued_at   timestamptz,
	started_at  timestamptz,
	finished_at timestamptz
);

CREATE INDEX events_tenant_seq ON events (tenant, seq);

CREATE TABLE tokens (
	id         text        NOT NULL,
	name       text        NOT NULL,
	hash       text        NOT NULL,
	created_at timestamptz NOT NULL,
	CONSTRAINT tokens_pkey PRIMARY KEY (id),
	CONSTRAINT tokens_hash_key UNIQUE (hash)
);

-- Leases arbitrate which control-plane process works on what (a tenant).
CREATE TABLE leases (
	key        text        NOT NULL PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX leases_holder ON leases (holder);
