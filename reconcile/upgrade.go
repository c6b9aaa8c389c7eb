package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/health"
)

// snapshotName is the name of the copy of each database taken before an
// upgrade. Each upgrade replaces the last one's: the copy a rollback to
// the version before restores.
const snapshotName = "pre-upgrade"

// isUpgrade reports whether steps move a tenant between versions.
func isUpgrade(steps []string) bool {
	for _, s := range steps {
		if s == stamp.StepRetire || s == stamp.StepRollback {
			return true
		}
	}
	return false
}

// moveKind is "downgrade" for a move to an older version, else "upgrade".
func moveKind(from, to string) string {
	if blueprint.CompareVersions(to, from) < 0 {
		return "downgrade"
	}
	return "upgrade"
}

// moveMessage describes a move in an event: "from X to Y" for an upgrade,
// which the event's type names, and "<downgrade> from X to Y" for a
// downgrade, so that no one reads a move back as an upgrade.
func moveMessage(downgrade string, u *stamp.Upgrade) string {
	if moveKind(u.From, u.To) == "downgrade" {
		return fmt.Sprintf("%s from %s to %s", downgrade, u.FromRevision(), u.ToRevision())
	}
	return fmt.Sprintf("from %s to %s", u.FromRevision(), u.ToRevision())
}

// beginUpgrade records the start of the move Plan chose (nextUpgrade).
func (p *pass) beginUpgrade(ctx context.Context) error {
	// A tenant made before tenants had users of their own gets one
	// here: the new version runs as it.
	if err := p.ensureUID(ctx); err != nil {
		return err
	}
	u := nextUpgrade(p.t, p.r.cfg.Clock.Now())
	to, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, u.To)
	if err != nil {
		return err
	}
	// Either side's word is enough: a move back from a version that
	// recreates must not run two writers on its data either.
	from, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, u.From)
	if err != nil {
		return err
	}
	u.Recreate = to.Recreates() || from.Recreates()
	asleep := p.t.Status.Phase == stamp.PhaseSleeping
	if asleep {
		// Nothing runs to check or to serve beside the new version: it
		// moves as a recreate whose old version has stopped already,
		// requests held until the new one serves. It goes back to sleep
		// after, unless a request is waiting for it.
		u.Recreate, u.Stopped = true, true
		u.Asleep = p.t.Status.WakeAt.IsZero()
	}
	return p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Upgrade = u
		st.FailedStep, st.Message = "", ""
		if asleep {
			st.Phase = stamp.PhaseUpgrading
			st.SleptAt, st.WakeAt = time.Time{}, time.Time{}
		}
	}, &stamp.Event{Type: stamp.EventTenantUpgrading, Message: moveMessage("downgrading", u)})
}

// check makes sure the serving version is healthy before anything
// changes: a tenant that is down is reported, not upgraded blind.
func (p *pass) check(ctx context.Context) error {
	u := p.t.Status.Upgrade
	// Upgrading means this check passed before, in a pass that crashed.
	if st := p.t.Status; st.Phase != stamp.PhaseReady && st.Phase != stamp.PhaseUpgrading {
		msg := ""
		if st.Message != "" {
			msg = " (" + st.Message + ")"
		}
		return terminal("tenant is %s%s and is not upgraded while it does not serve", st.Phase, msg)
	}
	bp, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, u.From)
	if err != nil {
		return err
	}
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName())
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	for _, name := range bp.ServiceNames() {
		svc := bp.Services[name]
		so := obs.Services[name]
		var running []stamp.Instance
		if so != nil {
			running = instancesOf(so, u.FromRevision())
		}
		if len(running) == 0 {
			msg := fmt.Sprintf("service %s of version %s has no running instance", name, u.FromRevision())
			if so != nil && so.LastExit != "" {
				msg += fmt.Sprintf(" (it restarted %d times, last exit: %s)", so.Restarts, so.LastExit)
			}
			return terminal("%s; the tenant is not upgraded while it is down", msg)
		}
		if svc.Health == nil || stamp.IsRemote(p.r.cfg.Driver) {
			continue
		}
		for _, inst := range running {
			url := "http://" + inst.Endpoint + svc.Health.HTTP
			if err := health.Probe(ctx, nil, url, svc.Health.Timeout); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return terminal("service %s (%s) of version %s is unhealthy: %s; the tenant is not upgraded while it is down", name, inst.ID, u.FromRevision(), err)
			}
		}
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.Phase = stamp.PhaseUpgrading })
}

// instancesOf returns the instances of so that belong to revision rev.
func instancesOf(so *stamp.ServiceObserved, rev string) []stamp.Instance {
	var out []stamp.Instance
	for _, inst := range so.Instances {
		if inst.Revision == rev {
			out = append(out, inst)
		}
	}
	return out
}

// snapshot copies each database of the tenant aside before the migration
// changes it.
func (p *pass) snapshot(ctx context.Context) error {
	for name, db := range p.bp.Databases {
		snap, err := p.snapshotter(name, db.Engine)
		if err != nil {
			return err
		}
		if err := snap.Snapshot(ctx, p.database(name), snapshotName); err != nil {
			return fmt.Errorf("snapshot database %s: %w", name, err)
		}
	}
	if ds, ok := p.r.cfg.Driver.(stamp.DataSnapshotter); ok {
		if err := ds.SnapshotData(ctx, p.t.RuntimeName(), snapshotName); err != nil {
			return fmt.Errorf("snapshot data directory: %w", err)
		}
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.Upgrade.Snapshot = snapshotName })
}

// restore gives each database its pre-upgrade snapshot back, going back to
// the version the snapshot was taken for.
func (p *pass) restore(ctx context.Context) error {
	u := p.t.Status.Upgrade
	err := p.update(ctx, func(st *stamp.TenantStatus) { st.Upgrade.Migrating = true })
	if err != nil {
		return err
	}
	if err := p.restoreDatabases(ctx, p.bp, u.Snapshot); err != nil {
		return err
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.MigratedVersion = u.To })
}

// restoreDatabases restores snapshot into each database of bp.
func (p *pass) restoreDatabases(ctx context.Context, bp *blueprint.Blueprint, snapshot string) error {
	for name, db := range bp.Databases {
		snap, err := p.snapshotter(name, db.Engine)
		if err != nil {
			return err
		}
		err = snap.Restore(ctx, p.database(name), snapshot)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return terminal("restore database %s: %s", name, stamp.ErrorMessage(err))
		}
		if err != nil {
			return fmt.Errorf("restore database %s: %w", name, err)
		}
	}
	if ds, ok := p.r.cfg.Driver.(stamp.DataSnapshotter); ok {
		err := ds.RestoreData(ctx, p.t.RuntimeName(), snapshot)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			// Taken by a server from before tenants had data directories:
			// there was none to copy, and there is nothing to put back.
			p.log.Warn("no snapshot of the data directory; it is left as it is", "snapshot", snapshot)
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore data directory: %w", err)
		}
	}
	return nil
}

// snapshotter returns the engine of database name as a Snapshotter.
func (p *pass) snapshotter(name, engine string) (stamp.Snapshotter, error) {
	e, err := p.r.engine(name, engine)
	if err != nil {
		return nil, err
	}
	snap, ok := e.(stamp.Snapshotter)
	if !ok {
		return nil, terminal("database %s: the %s engine cannot snapshot, so an upgrade could not be undone", name, engine)
	}
	return snap, nil
}

// drainLeft is how long the old version must still run after the route
// switched, for routers to follow the switch and requests in flight to end.
func (p *pass) drainLeft() time.Duration {
	u := p.t.Status.Upgrade
	if u == nil || u.SwitchedAt.IsZero() || u.Stopped {
		return 0 // a recreate drained the old version before it stopped
	}
	return max(0, u.SwitchedAt.Add(p.r.cfg.DrainDelay).Sub(p.r.cfg.Clock.Now()))
}

// retire stops the old version once the new one serves, and ends the
// upgrade. The snapshot is kept: a rollback to the old version restores it.
func (p *pass) retire(ctx context.Context) error {
	started := p.r.cfg.Clock.Now()
	u := p.t.Status.Upgrade
	if err := p.r.waitAside(func() error { return p.waitInFlight(ctx, u.FromRevision()) }); err != nil {
		return err
	}
	if err := p.r.cfg.Driver.Retire(ctx, p.t.RuntimeName(), u.ToRevision()); err != nil {
		return fmt.Errorf("retire version %s: %w", u.FromRevision(), err)
	}
	if err := p.settleConnectionLimit(ctx); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	// The step's event and tenant.upgraded are written with the status
	// that ends the upgrade: a crash after it leaves nothing to redo, so
	// without them the upgrade would have no record.
	err := p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Phase = stamp.PhaseReady
		st.ObservedGeneration = p.t.Generation
		st.Upgrade.Result = stamp.UpgradeSucceeded
		st.Upgrade.FinishedAt = now
		st.Upgrade.Migrating = false
	},
		&stamp.Event{Type: stamp.EventStep, Step: stamp.StepRetire, Status: stamp.StatusOK, QueuedAt: p.queued, StartedAt: started, FinishedAt: now},
		&stamp.Event{Type: stamp.EventTenantUpgraded, Message: moveMessage("downgraded", u)})
	if err != nil {
		return err
	}
	return p.syncRoute(ctx)
}

// maxInFlightWait bounds how long a retire waits for requests this
// server's router still proxies to the old version; the instances then get
// SIGTERM and the driver's stop timeout to finish what is left.
const maxInFlightWait = 30 * time.Second

// waitInFlight waits until this server's router proxies no request to an
// instance of revision rev, or maxInFlightWait has passed.
func (p *pass) waitInFlight(ctx context.Context, rev string) error {
	if _, ok := p.r.cfg.Routes.(InFlightCounter); !ok {
		return nil
	}
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName())
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	var endpoints []string
	for _, so := range obs.Services {
		for _, inst := range instancesOf(so, rev) {
			if inst.Endpoint != "" {
				endpoints = append(endpoints, inst.Endpoint)
			}
		}
	}
	return p.waitEndpoints(ctx, endpoints)
}

// waitEndpoints waits until this server's router proxies no request to
// endpoints, or maxInFlightWait has passed.
func (p *pass) waitEndpoints(ctx context.Context, endpoints []string) error {
	counter, ok := p.r.cfg.Routes.(InFlightCounter)
	if !ok {
		return nil
	}
	deadline := time.Now().Add(maxInFlightWait)
	for {
		n := 0
		for _, ep := range endpoints {
			n += counter.InFlight(ep)
		}
		if n == 0 || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// restoreIfMigrating gives the databases their snapshot back if the
// failed upgrade's migration started.
func (p *pass) restoreIfMigrating(ctx context.Context) error {
	u := p.t.Status.Upgrade
	if !u.Migrating {
		return nil
	}
	bp, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, u.From)
	if err != nil {
		return err
	}
	if err := p.restoreDatabases(ctx, bp, u.Snapshot); err != nil {
		return err
	}
	return p.update(ctx, func(st *stamp.TenantStatus) {
		st.Upgrade.Migrating = false
		st.MigratedVersion = u.From
	})
}

// failUpgrade handles a step of an upgrade that failed for good before
// the route switched: the old version never stopped serving, so the move
// is undone. A move back to a snapshot cannot be undone (the database may
// be half restored): the tenant is failed for an operator instead.
func (p *pass) failUpgrade(ctx context.Context, step, msg string) error {
	if p.t.Status.Upgrade.Restore {
		now := p.r.cfg.Clock.Now()
		msg += "\n" + p.stopFailed(ctx) // neither version serves a half-restored database
		err := p.updateWith(ctx, func(st *stamp.TenantStatus) {
			st.Phase = stamp.PhaseFailed
			st.Endpoints = nil
			st.FailedStep, st.Message = step, msg
			st.ObservedGeneration = p.t.Generation
			st.Upgrade.FailedStep, st.Upgrade.Message = step, msg
			st.Upgrade.Result, st.Upgrade.FinishedAt = stamp.UpgradeFailed, now
		}, &stamp.Event{Type: stamp.EventTenantFailed, Step: step, Status: stamp.StatusFailed, Message: msg})
		if err != nil {
			return err
		}
		p.moved()
		return errFailed
	}
	err := p.update(ctx, func(st *stamp.TenantStatus) {
		st.Upgrade.FailedStep, st.Upgrade.Message = step, msg
	})
	if err != nil {
		return err
	}
	if err := p.step(ctx, stamp.StepRollback, p.r.cfg.Clock.Now()); err != nil {
		return err
	}
	return errFailed
}

// rollback undoes a failed upgrade: the new version's instances go, the
// databases get their snapshot back if the migration started, and the
// spec names the old version again (a new generation), which serves on.
func (p *pass) rollback(ctx context.Context) error {
	u := p.t.Status.Upgrade
	if u.Stopped {
		return p.rollbackStopped(ctx)
	}
	if err := p.r.cfg.Driver.Retire(ctx, p.t.RuntimeName(), u.FromRevision()); err != nil {
		return fmt.Errorf("remove the instances of version %s: %w", u.ToRevision(), err)
	}
	if err := p.restoreIfMigrating(ctx); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	checked := u.FailedStep != stamp.StepCheck
	p.mu.Lock()
	p.t.Spec.Version = u.From
	restoreConfig(&p.t.Spec, u)
	p.t.Generation++
	p.mu.Unlock()
	err := p.updateWith(ctx, func(st *stamp.TenantStatus) {
		if checked {
			st.Phase = stamp.PhaseReady
		}
		st.ObservedGeneration = p.t.Generation
		st.Upgrade.Result, st.Upgrade.FinishedAt = stamp.UpgradeRolledBack, now
	}, &stamp.Event{Type: stamp.EventTenantRolledBack, Step: u.FailedStep, Status: stamp.StatusFailed,
		Message: fmt.Sprintf("%s from %s to %s failed at %s and was undone; %s serves: %s", moveKind(u.From, u.To), u.FromRevision(), u.ToRevision(), u.FailedStep, u.FromRevision(), u.Message)})
	if err != nil {
		return err
	}
	err = p.syncRoute(ctx)
	p.moved()
	return err
}
