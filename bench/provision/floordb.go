package main

import (
	"context"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// postgresFloor is benchkit's PostgresFloor as a benchkit.FloorDB: the
// sample's directory plays no part in its database.
type postgresFloor struct{ pf *benchkit.PostgresFloor }

func (f postgresFloor) Create(ctx context.Context, _ string, n int64) (string, error) {
	return f.pf.Create(ctx, n)
}

func (f postgresFloor) Drop(ctx context.Context, n int64) error { return f.pf.Drop(ctx, n) }

var _ benchkit.FloorDB = postgresFloor{}
