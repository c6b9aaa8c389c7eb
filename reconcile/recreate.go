package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// stop is the step of a recreate upgrade (a service of the new version
// chose upgrade: recreate) that ends the old version before the new one
// starts, so that two versions never share the service's data. Routers
// are told first (the tenant's endpoints go, tenant.holding is recorded
// with it): from then on they hold the tenant's requests until the new
// version serves, rather than fail them. Requests in flight to the old
// version end before it stops.
func (p *pass) stop(ctx context.Context) error {
	u := p.t.Status.Upgrade
	if !u.Stopped {
		err := p.updateWith(ctx, func(st *stamp.TenantStatus) {
			st.Upgrade.Stopped = true
			st.Endpoints = nil
		}, &stamp.Event{Type: stamp.EventTenantHolding,
			Message: fmt.Sprintf("version %s stops before %s starts; requests wait for %s", u.FromRevision(), u.ToRevision(), u.ToRevision())})
		if err != nil {
			return err
		}
		if err := p.syncRoute(ctx); err != nil {
			return err
		}
		err = p.drain(ctx, func() error { return p.waitInFlight(ctx, u.FromRevision()) })
		if err != nil {
			return err
		}
	}
	return p.stopInstances(ctx)
}

// drain waits, aside (see waitAside), for routers to stop sending to
// instances a write just took out of the route: the drain delay, which
// routers of other servers get to follow the event log as in a switch,
// then inFlight, the wait for this server's requests to them to end.
func (p *pass) drain(ctx context.Context, inFlight func() error) error {
	return p.r.waitAside(func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.r.cfg.DrainDelay):
		}
		return inFlight()
	})
}

// stopInstances stops every instance of the tenant: the spec's version
// is applied with no replicas, then every other version is retired.
// Stopping what is stopped already changes nothing.
func (p *pass) stopInstances(ctx context.Context) error {
	rt, err := p.render()
	if err != nil {
		return err
	}
	for i := range rt.Services {
		rt.Services[i].Replicas = 0
	}
	if err := p.r.cfg.Driver.Apply(ctx, rt); err != nil {
		return fmt.Errorf("stop instances of version %s: %w", rt.Revision, err)
	}
	if err := p.r.cfg.Driver.Retire(ctx, p.t.RuntimeName(), rt.Revision); err != nil {
		return fmt.Errorf("stop instances of other versions: %w", err)
	}
	return nil
}

// rollbackStopped undoes a recreate upgrade that failed after the old
// version stopped: the new version's instances stop too, the snapshot is
// restored if the migration started, and the tenant is stamped out again
// on the old version by the next pass (it is provisioning meanwhile).
func (p *pass) rollbackStopped(ctx context.Context) error {
	u := p.t.Status.Upgrade
	if err := p.secrets(ctx); err != nil {
		return err
	}
	if err := p.databases(ctx); err != nil {
		return err
	}
	if err := p.stopInstances(ctx); err != nil {
		return err
	}
	if err := p.restoreIfMigrating(ctx); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	p.mu.Lock()
	p.t.Spec.Version = u.From
	restoreConfig(&p.t.Spec, u)
	p.t.Generation++
	p.mu.Unlock()
	err := p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Phase = stamp.PhaseProvisioning
		st.ObservedGeneration = p.t.Generation
		st.Upgrade.Result, st.Upgrade.FinishedAt = stamp.UpgradeRolledBack, now
	}, &stamp.Event{Type: stamp.EventTenantRolledBack, Step: u.FailedStep, Status: stamp.StatusFailed,
		Message: fmt.Sprintf("%s from %s to %s failed at %s and was undone; %s starts again: %s", moveKind(u.From, u.To), u.FromRevision(), u.ToRevision(), u.FailedStep, u.FromRevision(), u.Message)})
	if err != nil {
		return err
	}
	p.r.queue.add(p.t.Name)
	err = p.syncRoute(ctx)
	p.moved()
	return err
}

// seedAfterHealthy reports whether the tenant's blueprint runs its seed
// once the services are healthy (hooks.seed.after: healthy) rather than
// beside start. The blueprint is loaded by the steps before seed.
func (p *pass) seedAfterHealthy() bool {
	return p.bp != nil && p.bp.Hooks.SeedAfter == blueprint.SeedAfterHealthy
}
