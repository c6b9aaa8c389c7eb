-- The flow index (stamp.FlowRun): a row per tenant create or upgrade,
-- read from the event log, so a value stream report reads runs, not
-- events. flow_index holds the Seq of the last event read into it.
-- Durations are nanoseconds.
CREATE TABLE flow_runs (
	kind      text        NOT NULL,
	begin_seq bigint      NOT NULL,
	tenant    text        NOT NULL,
	start     timestamptz NOT NULL,
	state     text        NOT NULL,
	lead      bigint      NOT NULL,
	steps     bytea       NOT NULL,
	PRIMARY KEY (kind, begin_seq)
);

CREATE INDEX flow_runs_start ON flow_runs (start);
CREATE INDEX flow_runs_open ON flow_runs (state) WHERE state = 'in-progress';

CREATE TABLE flow_index (
	id  integer NOT NULL PRIMARY KEY CHECK (id = 1),
	seq bigint  NOT NULL
);

INSERT INTO flow_index (id, seq) VALUES (1, 0);
