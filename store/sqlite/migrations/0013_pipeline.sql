-- Pipeline events (stamp.PipelineEvent): the stages CI systems report
-- for a commit of a blueprint version. Rows are only ever inserted.
-- Times are Unix nanoseconds, as everywhere in this store.
CREATE TABLE pipeline_events (
	seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	blueprint   TEXT    NOT NULL,
	version     TEXT    NOT NULL,
	commit_id   TEXT    NOT NULL,
	stage       TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER NOT NULL,
	recorded_at INTEGER NOT NULL
);

CREATE INDEX pipeline_events_finished ON pipeline_events (finished_at);
