-- The audit log (stamp.AuditRecord): who did what through the API. Rows
-- are only ever inserted.
CREATE TABLE audit (
	seq          bigserial   NOT NULL PRIMARY KEY,
	at           timestamptz NOT NULL,
	token_id     text        NOT NULL,
	token_name   text        NOT NULL,
	role         text        NOT NULL,
	token_tenant text        NOT NULL,
	action       text        NOT NULL,
	resource     text        NOT NULL,
	tenant       text        NOT NULL,
	remote       text        NOT NULL,
	request_id   text        NOT NULL,
	status       integer     NOT NULL,
	outcome      text        NOT NULL,
	error        text        NOT NULL
);

CREATE INDEX audit_tenant ON audit (tenant, seq);
CREATE INDEX audit_token ON audit (token_name, seq);
CREATE INDEX audit_at ON audit (at);
