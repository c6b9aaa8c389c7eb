-- Release 3 is deliberately broken and exists only for Stamp's rollback
-- tests (its /healthz always answers 500). This migration is its real schema
-- change, the one a rollback must undo: a payments table, which no code
-- reads or writes.

CREATE TABLE payments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id   BIGINT NOT NULL REFERENCES invoices (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    paid_at      TEXT   NOT NULL
);
