-- The first schema of ledger: customers, their invoices, and the tenant's
-- settings (written once by `ledger seed`). The same tables as
-- migrations/sqlite/0001_init.sql; created_at stays RFC 3339 text so both
-- dialects hand the app the same values.

CREATE TABLE customers (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  TEXT NOT NULL,
    email TEXT NOT NULL
);

CREATE TABLE invoices (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    currency     TEXT   NOT NULL,
    status       TEXT   NOT NULL DEFAULT 'open',
    created_at   TEXT   NOT NULL
);

CREATE INDEX invoices_customer_id ON invoices (customer_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
