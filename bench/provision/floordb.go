package main

import (
	"context"
	"path/filepath"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// floorDB makes the database of one floor sample by hand, as an operator
// would without Stamp, and takes it away afterwards.
type floorDB interface {
	// create makes the database of floor sample n, whose directory is dir,
	// and returns the DATABASE_URL the app is given.
	create(ctx context.Context, dir string, n int64) (string, error)
	// drop removes the database of sample n once its app has stopped. It
	// is safe after a create that failed half way.
	drop(ctx context.Context, n int64) error
	// close releases what the floorDB holds.
	close()
}

// sqliteFloor gives each sample an SQLite path in its directory: the app
// creates the file, and removing the directory removes it.
type sqliteFloor struct{}

func (sqliteFloor) create(_ context.Context, dir string, _ int64) (string, error) {
	return "sqlite:" + filepath.Join(dir, "ledger.db"), nil
}

func (sqliteFloor) drop(context.Context, int64) error { return nil }

func (sqliteFloor) close() {}

// postgresFloor is benchkit's PostgresFloor as a floorDB: the sample's
// directory plays no part in its database.
type postgresFloor struct{ *benchkit.PostgresFloor }

func (f postgresFloor) create(ctx context.Context, _ string, n int64) (string, error) {
	return f.Create(ctx, n)
}

func (f postgresFloor) drop(ctx context.Context, n int64) error { return f.Drop(ctx, n) }

func (f postgresFloor) close() { f.Close() }
