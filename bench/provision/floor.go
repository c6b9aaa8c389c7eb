package main

import (
	"context"
	"time"
)

// sample is one measured provisioning: from just before the first action
// (start) to the first 200 (end), for the floor also the seed done.
type sample struct {
	name       string // the tenant's name; empty for the floor
	start, end time.Time
	// created is when the database was made, migrated when `ledger
	// migrate` finished, healthy when `ledger serve` first answered 200
	// and seeded when `ledger seed` exited, for the floor.
	created, migrated, healthy, seeded time.Time
}

func (s sample) took() time.Duration { return s.end.Sub(s.start) }

// floorSample starts the app by hand in a fresh directory, as its own
// cold start (benchkit.Floor.Sample: migrate, then seed beside serve
// until /healthz answers 200 and the seed has exited), within -timeout.
func (b *bench) floorSample(ctx context.Context, n int64) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	s, err := b.floor.Sample(ctx, n)
	if err != nil {
		return sample{}, err
	}
	return sample{start: s.Start, end: s.End, created: s.Created, migrated: s.Migrated, healthy: s.Healthy, seeded: s.Seeded}, nil
}
