-- A yanked blueprint version (stamp.Bundle.Yanked) is recorded beside its
-- bundle rather than in it: a bundle never changes once pushed.
CREATE TABLE bundle_yanks (
	name      text        NOT NULL,
	version   text        NOT NULL,
	yanked_at timestamptz NOT NULL,
	reason    text        NOT NULL,
	PRIMARY KEY (name, version),
	FOREIGN KEY (name, version) REFERENCES bundles (name, version)
);
