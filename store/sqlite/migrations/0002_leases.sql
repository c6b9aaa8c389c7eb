-- Leases arbitrate which control-plane process works on what (a tenant).
CREATE TABLE leases (
	key        TEXT    NOT NULL PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX leases_holder ON leases (holder);
