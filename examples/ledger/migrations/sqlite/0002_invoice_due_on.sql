-- Release 2: invoices get a due date (YYYY-MM-DD). Expand only, so release 1
-- keeps serving on this schema: it never names due_on, and the trigger fills
-- the column of every row it inserts. Existing invoices are backfilled with
-- the same rule as new ones that name no due date: 30 days after the UTC
-- issue date (paymentTermDays in db.go).
--
-- SQLite cannot add a NOT NULL column without a constant default, nor can a
-- BEFORE trigger change the row it inserts: the column stays nullable and an
-- AFTER INSERT trigger completes the row in the same statement.

ALTER TABLE invoices ADD COLUMN due_on TEXT;

UPDATE invoices SET due_on = date(created_at, '+30 days');

CREATE TRIGGER invoices_default_due_on AFTER INSERT ON invoices
FOR EACH ROW WHEN NEW.due_on IS NULL
BEGIN
    UPDATE invoices SET due_on = date(NEW.created_at, '+30 days') WHERE id = NEW.id;
END;
