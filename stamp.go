// Package stamp is the domain vocabulary of Stamp, a tenant factory for
// share-nothing SaaS: the resources it keeps (bundles, tenants, events,
// tokens), the errors it returns, and the interfaces its adapters implement
// (Store, Driver, Engine). It imports only the standard library; every
// dependency lives in a package of its own that imports this one.
package stamp

import (
	"context"
	"time"
)

// Step names, in the order the reconciler runs them when it stamps out a
// tenant. Each finished step is recorded as an event.
const (
	StepAllocate = "allocate" // tenant directory, bundle, ports
	StepSecrets  = "secrets"  // generated secrets
	StepDatabase = "database" // per-tenant databases
	StepMigrate  = "migrate"  // the blueprint's migrate hook
	StepSeed     = "seed"     // the blueprint's seed hook, once per tenant
	StepStart    = "start"    // service instances
	StepHealth   = "health"   // every health check passes
	StepRoute    = "route"    // the router sends traffic to the tenant
	StepRemove   = "remove"   // everything the tenant had is released
)

// Steps of an upgrade (a move to another version, see Upgrade), besides
// secrets, database, migrate, start, health and route.
const (
	StepCheck    = "check"    // the serving version is healthy: nothing is upgraded blind
	StepSnapshot = "snapshot" // each database is copied aside before the migration
	StepRestore  = "restore"  // going back: each database gets its pre-upgrade copy again
	StepRetire   = "retire"   // the old version's instances stop, after the drain
	StepRollback = "rollback" // a failed move is undone; the old version never stopped serving
	// StepStop stops the old version before the new one starts, in an
	// upgrade that recreates (a service chose upgrade: recreate); the
	// router holds requests meanwhile.
	StepStop = "stop"
)

// StepSleep stops the instances of a tenant whose plan scales to zero
// once it has had no request for the plan's idle time; its files,
// database and address stay, and the next request wakes it.
const StepSleep = "sleep"

// StepLoad fills a tenant's databases and data directory from a backup:
// a restore (its instances stopped first) or a new tenant made from one
// (in place of its seed).
const StepLoad = "load"

// StepSuspend stops the instances of a tenant an operator suspended; its
// files, database and address stay until it is resumed.
const StepSuspend = "suspend"

// Clock tells the time; tests inject a fixed one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// BundleSource hands out bundle archives by digest. The store implements it;
// drivers use it to extract a bundle the first time a tenant needs it.
type BundleSource interface {
	// BundleContent returns the archive whose sha256 is digest, or ENOTFOUND.
	BundleContent(ctx context.Context, digest string) ([]byte, error)
}
