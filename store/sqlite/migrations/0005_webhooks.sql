-- Webhooks: subscriptions to the event log. The whole webhook, its secret
-- included, is JSON; resource_version, created_at and updated_at are set
-- by the store only. The rowid orders webhooks created at the same instant
-- by creation.
CREATE TABLE webhooks (
	id               TEXT    NOT NULL PRIMARY KEY,
	webhook          TEXT    NOT NULL, -- JSON of stamp.Webhook
	resource_version INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;

-- Delivery attempts, deleted with their webhook. seq is an alias of the
-- rowid, declared so that VACUUM keeps it: it is the order of appending,
-- which ListDeliveryAttempts reads backwards.
CREATE TABLE webhook_attempts (
	seq         INTEGER PRIMARY KEY,
	webhook     TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_seq   INTEGER NOT NULL,
	attempt     INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	error       TEXT    NOT NULL,
	duration_ns INTEGER NOT NULL
) STRICT;

-- Serves ListDeliveryAttempts (webhook = ? ORDER BY seq DESC) without
-- sorting, and the cascade of a deleted webhook without a scan.
CREATE INDEX webhook_attempts_webhook_seq ON webhook_attempts (webhook, seq);
