-- The audit log (stamp.AuditRecord): who did what through the API. Rows
-- are only ever inserted.
CREATE TABLE audit (
	seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	at           INTEGER NOT NULL,
	token_id     TEXT    NOT NULL,
	token_name   TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	token_tenant TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	resource     TEXT    NOT NULL,
	tenant       TEXT    NOT NULL,
	remote       TEXT    NOT NULL,
	request_id   TEXT    NOT NULL,
	status       INTEGER NOT NULL,
	outcome      TEXT    NOT NULL,
	error        TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_tenant ON audit (tenant, seq);
CREATE INDEX audit_token ON audit (token_name, seq);
CREATE INDEX audit_at ON audit (at);
