-- Webhooks deliver audit records too (stamp.DeliveryAttempt.AuditSeq): an
-- attempt at one names it here, its event_seq 0. Webhooks made before
-- start from the audit log's end, as a new webhook starts from now.
ALTER TABLE webhook_attempts ADD COLUMN audit_seq bigint NOT NULL DEFAULT 0;
UPDATE webhooks SET webhook = jsonb_set(webhook::jsonb, '{auditDelivered}', to_jsonb((SELECT coalesce(max(seq), 0) FROM audit)))::json;
