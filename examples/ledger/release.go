package main

import (
	"fmt"
	"strconv"
)

// release is the release of ledger this binary is, set at build time:
//
//	go build -ldflags "-X main.release=1" -o bin/ledger .
//
// A release decides which migrations the binary applies and requires and
// which features it serves, so one source tree yields the real binaries of
// every release, old ones included: a binary that knew every migration
// could not stand in for the old version in a blue/green upgrade test. A
// bare `go build` is the newest working release.
var release = "2"

// Releases of ledger. Migrations only ever expand the schema (new tables,
// new columns with defaults, backfills), so a binary of release N keeps
// serving on a database that release N+1 has migrated: that is what lets
// the old version serve while the new one's migration has run.
const (
	// releaseOne is the first schema: customers, invoices, settings.
	releaseOne = 1
	// releaseDueDates adds a due date to invoices (migration 0002).
	releaseDueDates = 2
	// releaseBroken is deliberately broken and exists only for Stamp's
	// rollback tests: its migration adds the payments table (0003), which a
	// rollback must undo, and its /healthz always answers 500.
	releaseBroken = 3
)

// migrationReleases maps each migration version to the release that
// introduced it. A binary applies and requires only the migrations of its
// release and earlier; loadMigrations refuses a migration file without an
// entry here, so a new file cannot slip into every release by accident.
var migrationReleases = map[int]int{
	1: releaseOne,
	2: releaseDueDates,
	3: releaseBroken,
}

// parseRelease returns the release number s names, or an error unless it
// is a release this source knows.
func parseRelease(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < releaseOne || n > releaseBroken {
		return 0, fmt.Errorf("release %q (set with -ldflags \"-X main.release=N\") is not one of %d to %d", s, releaseOne, releaseBroken)
	}
	return n, nil
}
