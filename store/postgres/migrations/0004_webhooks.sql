-- Webhooks: subscriptions to the event log. The whole webhook, its secret
-- included, is json (see 0001 for why not jsonb): its times keep their
-- nanoseconds there. resource_version, created_at and updated_at are set
-- by the store only; seq orders webhooks created at the same instant by
-- creation.
CREATE TABLE webhooks (
	id               text        NOT NULL,
	seq              bigint      GENERATED ALWAYS AS IDENTITY,
	webhook          json        NOT NULL, -- stamp.Webhook
	resource_version bigint      NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	CONSTRAINT webhooks_pkey PRIMARY KEY (id)
);

-- Delivery attempts, deleted with their webhook. seq is the order of
-- appending, which ListDeliveryAttempts reads backwards.
CREATE TABLE webhook_attempts (
	seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	webhook     text        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_seq   bigint      NOT NULL,
	attempt     integer     NOT NULL,
	at          timestamptz NOT NULL,
	status      integer     NOT NULL,
	error       text        NOT NULL,
	duration_ns bigint      NOT NULL
);

-- Serves ListDeliveryAttempts (webhook = $1 ORDER BY seq DESC) without
-- sorting, and the cascade of a deleted webhook without a scan.
CREATE INDEX webhook_attempts_webhook_seq ON webhook_attempts (webhook, seq);
