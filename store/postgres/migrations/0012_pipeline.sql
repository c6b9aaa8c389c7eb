-- Pipeline events (stamp.PipelineEvent): the stages CI systems report
-- for a commit of a blueprint version. Rows are only ever inserted.
CREATE TABLE pipeline_events (
	seq         bigserial   NOT NULL PRIMARY KEY,
	blueprint   text        NOT NULL,
	version     text        NOT NULL,
	commit_id   text        NOT NULL,
	stage       text        NOT NULL,
	status      text        NOT NULL,
	started_at  timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL
);

CREATE INDEX pipeline_events_finished ON pipeline_events (finished_at);
