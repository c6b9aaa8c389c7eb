package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// suspend stops the instances of a tenant an operator suspended, or
// deleted softly, and keeps the rest of it, as sleep does: routers are
// told first (the tenant is suspended or deleted, with no endpoints:
// they answer 503 or 404), requests in flight end, then the instances
// stop and its incidents are resolved. SuspendedAt is set only then,
// with tenant.suspended or tenant.soft-deleted: a stop cut short is
// taken again by the next pass (see Plan).
func (p *pass) suspend(ctx context.Context) error {
	started := p.r.cfg.Clock.Now()
	phase := stoppedPhase(p.t.Spec.Desired)
	resolution, done := stamp.ResolutionTenantSuspended, &stamp.Event{Type: stamp.EventTenantSuspended}
	if phase == stamp.PhaseSoftDeleted {
		resolution = stamp.ResolutionTenantSoftDeleted
		done = &stamp.Event{Type: stamp.EventTenantSoftDeleted, Message: "purged at " + p.t.Spec.PurgeAt.UTC().Format(time.RFC3339) + " unless undeleted"}
	}
	if err := p.stopOffRoute(ctx, phase, "suspend"); err != nil {
		return err
	}
	if err := p.resolveIncidents(ctx, resolution); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	return p.updateWith(ctx, func(st *stamp.TenantStatus) { st.SuspendedAt = now },
		&stamp.Event{Type: stamp.EventStep, Step: stamp.StepSuspend, Status: stamp.StatusOK, QueuedAt: p.queued, StartedAt: started, FinishedAt: now},
		done)
}

// stopOffRoute takes the tenant off its route in phase and stops its
// instances, keeping the rest: routers are told first (phase, no
// endpoints), requests in flight end, then the driver stops them. A
// tenant in phase already (a stop cut short) is only stopped again.
// what names what the stop is for, in errors.
func (p *pass) stopOffRoute(ctx context.Context, phase, what string) error {
	if p.t.Status.Phase != phase {
		endpoints := p.t.Status.Endpoints
		err := p.update(ctx, func(st *stamp.TenantStatus) {
			st.Phase, st.Endpoints = phase, nil
			st.SuspendedAt, st.SleptAt, st.WakeAt = time.Time{}, time.Time{}, time.Time{}
		})
		if err != nil {
			return err
		}
		if err := p.syncRoute(ctx); err != nil {
			return err
		}
		if err := p.drain(ctx, func() error { return p.waitEndpoints(ctx, endpoints) }); err != nil {
			return err
		}
	}
	stopper, ok := p.r.cfg.Driver.(stamp.Stopper)
	if !ok {
		return terminal("the driver cannot stop a tenant and keep it, so it cannot %s one", what)
	}
	if err := stopper.Stop(ctx, p.t.RuntimeName()); err != nil {
		return fmt.Errorf("stop the instances of %s to %s it: %w", p.t.Name, what, err)
	}
	return nil
}

// purge turns a soft-deleted tenant whose grace period is over into one
// being deleted, which this pass then removes.
func (r *Reconciler) purge(ctx context.Context, t *stamp.Tenant) (*stamp.Tenant, error) {
	t.Spec.Desired, t.Status.Phase = stamp.DesiredDeleted, stamp.PhaseDeleting
	t.Generation++
	ev := &stamp.Event{Type: stamp.EventTenantDeleting, Tenant: t.Name, Generation: t.Generation,
		Message: "purged: deleted since its grace period ended at " + t.Spec.PurgeAt.UTC().Format(time.RFC3339)}
	if err := r.cfg.Store.UpdateTenant(ctx, t, ev); err != nil {
		return nil, fmt.Errorf("purge tenant %s: %w", t.Name, err)
	}
	return t, nil
}
