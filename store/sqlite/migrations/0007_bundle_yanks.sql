-- A yanked blueprint version (stamp.Bundle.Yanked) is recorded beside its
-- bundle rather than in it: a bundle never changes once pushed, and its
-- content stays the last column of its row.
CREATE TABLE bundle_yanks (
	name      TEXT    NOT NULL,
	version   TEXT    NOT NULL,
	yanked_at INTEGER NOT NULL,
	reason    TEXT    NOT NULL,
	PRIMARY KEY (name, version),
	FOREIGN KEY (name, version) REFERENCES bundles (name, version)
) STRICT;
