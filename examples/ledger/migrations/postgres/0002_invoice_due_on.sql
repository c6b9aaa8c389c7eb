-- Release 2: invoices get a due date (YYYY-MM-DD text, like created_at, so
-- both dialects hand the app the same values). Expand only, so release 1
-- keeps serving on this schema: it never names due_on, and the trigger fills
-- the column of every row it inserts. Existing invoices are backfilled with
-- the same rule as new ones that name no due date: 30 days after the UTC
-- issue date (paymentTermDays in db.go), whatever the session's time zone.

ALTER TABLE invoices ADD COLUMN due_on TEXT;

UPDATE invoices
SET due_on = to_char((created_at::timestamptz AT TIME ZONE 'UTC') + interval '30 days', 'YYYY-MM-DD');

CREATE FUNCTION invoices_default_due_on() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.due_on IS NULL THEN
        NEW.due_on := to_char((NEW.created_at::timestamptz AT TIME ZONE 'UTC') + interval '30 days', 'YYYY-MM-DD');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER invoices_default_due_on BEFORE INSERT ON invoices
FOR EACH ROW EXECUTE FUNCTION invoices_default_due_on();

ALTER TABLE invoices ALTER COLUMN due_on SET NOT NULL;
