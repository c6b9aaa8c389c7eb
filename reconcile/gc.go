package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"

	stamp "github.com/stamphq/stamp"
)

// CollectGarbage finds what the driver and the engines hold that no
// tenant owns any more (a deletion cut short, a store put back to an
// older copy) and removes it, unless dryRun. What they hold is listed
// before the store's tenants, so a tenant made meanwhile is never taken
// for an orphan. Orphans past the bound a resync keeps to (a tenth of
// what is held, at least 3) of one kind look like a store that lost its
// tenants, not like deletions cut short: they are only reported, with
// an error, unless force.
func (r *Reconciler) CollectGarbage(ctx context.Context, dryRun, force bool) (*stamp.GCReport, error) {
	runtimes, err := r.cfg.Driver.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list what the driver holds: %w", err)
	}
	collectors := map[string]stamp.Collector{}
	for name, e := range r.cfg.Engines {
		if c, ok := e.(stamp.Collector); ok {
			collectors[name] = c
		}
	}
	keep, err := r.owned(ctx)
	if err != nil {
		return nil, err
	}
	// Everything is found and bounded before anything is removed.
	report := &stamp.GCReport{DryRun: dryRun, Removed: []stamp.GCItem{}}
	var orphanRuntimes []string
	for _, rt := range runtimes {
		if _, ok := keep[rt]; !ok {
			orphanRuntimes = append(orphanRuntimes, rt)
		}
	}
	if err := r.bounded("runtimes the driver holds", len(orphanRuntimes), len(runtimes), force); err != nil {
		return nil, err
	}
	orphanDBs := map[string][]string{}
	for engine, c := range collectors {
		orphans, held, err := c.Orphans(ctx, keep)
		if err != nil {
			return nil, fmt.Errorf("list the %s engine's databases: %w", engine, err)
		}
		if err := r.bounded("databases of the "+engine+" engine", len(orphans), held, force); err != nil {
			return nil, err
		}
		orphanDBs[engine] = orphans
	}
	for _, rt := range orphanRuntimes {
		if !dryRun {
			if err := r.cfg.Driver.Remove(ctx, rt); err != nil {
				return report, fmt.Errorf("remove runtime %s: %w", rt, err)
			}
		}
		report.Removed = append(report.Removed, stamp.GCItem{Kind: "runtime", Name: rt})
	}
	for _, engine := range slices.Sorted(maps.Keys(orphanDBs)) {
		for _, o := range orphanDBs[engine] {
			if !dryRun {
				if err := collectors[engine].DropOrphan(ctx, o); err != nil {
					return report, fmt.Errorf("drop %s database %s: %w", engine, o, err)
				}
			}
			report.Removed = append(report.Removed, stamp.GCItem{Kind: "database", Name: o, Engine: engine})
		}
	}
	if r.cfg.Backups != nil {
		stale, err := r.cfg.Backups.StaleUploads(ctx, staleUpload, dryRun)
		for _, key := range stale {
			report.Removed = append(report.Removed, stamp.GCItem{Kind: "upload", Name: key})
		}
		if err != nil {
			return report, err
		}
	}
	if len(report.Removed) > 0 && !dryRun {
		r.cfg.Logger.Info("garbage collected", "removed", len(report.Removed))
	}
	return report, nil
}

// owned maps the runtime of every tenant the store knows (pooled,
// suspended and deleted softly ones too) to the database names any
// pushed version of its blueprint declares: a database an older
// version had is the tenant's still.
func (r *Reconciler) owned(ctx context.Context) (map[string][]string, error) {
	tenants, err := r.cfg.Store.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	bundles, err := r.cfg.Store.ListBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	dbs := map[string][]string{} // by blueprint
	for _, b := range bundles {
		bp, err := r.Blueprint(ctx, b.Name, b.Version)
		if err != nil {
			return nil, err
		}
		for name := range bp.Databases {
			if !slices.Contains(dbs[b.Name], name) {
				dbs[b.Name] = append(dbs[b.Name], name)
			}
		}
	}
	keep := make(map[string][]string, len(tenants))
	for _, t := range tenants {
		keep[t.RuntimeName()] = dbs[t.Spec.Blueprint]
	}
	return keep, nil
}

// bounded refuses, unless force, to remove more orphans of what than a
// resync would: so many at once look like a store that lost tenants.
func (r *Reconciler) bounded(what string, orphans, held int, force bool) error {
	if force || orphans <= maxLeftovers(held) {
		return nil
	}
	return stamp.Errorf(stamp.ECONFLICT, "%d of the %d %s belong to no tenant the store knows: too many to be deletions cut short; nothing was removed. Check that the server runs on the right store, whole; if they are garbage, collect with --force",
		orphans, held, what)
}
