-- The flow index (stamp.FlowRun): a row per tenant create or upgrade,
-- read from the event log, so a value stream report reads runs, not
-- events. flow_index holds the Seq of the last event read into it.
-- Times are Unix nanoseconds, durations nanoseconds.
CREATE TABLE flow_runs (
	kind      TEXT    NOT NULL,
	begin_seq INTEGER NOT NULL,
	tenant    TEXT    NOT NULL,
	start     INTEGER NOT NULL,
	state     TEXT    NOT NULL,
	lead      INTEGER NOT NULL,
	steps     BLOB    NOT NULL,
	PRIMARY KEY (kind, begin_seq)
);

CREATE INDEX flow_runs_start ON flow_runs (start);
CREATE INDEX flow_runs_open ON flow_runs (state) WHERE state = 'in-progress';

CREATE TABLE flow_index (
	id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);

INSERT INTO flow_index (id, seq) VALUES (1, 0);
