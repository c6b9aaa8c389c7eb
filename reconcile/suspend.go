package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// suspend stops the instances of a tenant an operator suspended and
// keeps the rest of it, as sleep does: routers are told first (the
// tenant is suspended, with no endpoints: they answer 503), requests in
// flight end, then the instances stop and its incidents are resolved.
// SuspendedAt is set only then, with tenant.suspended: a suspension cut
// short is taken again by the next pass (see Plan).
func (p *pass) suspend(ctx context.Context) error {
	started, endpoints := p.r.cfg.Clock.Now(), p.t.Status.Endpoints
	if p.t.Status.Phase != stamp.PhaseSuspended {
		err := p.update(ctx, func(st *stamp.TenantStatus) {
			st.Phase = stamp.PhaseSuspended
			st.SuspendedAt, st.SleptAt, st.WakeAt = time.Time{}, time.Time{}, time.Time{}
			st.Endpoints = nil
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
		return terminal("the driver cannot stop a tenant and keep it, so it cannot suspend one")
	}
	if err := stopper.Stop(ctx, p.t.RuntimeName()); err != nil {
		return fmt.Errorf("stop the instances of suspended tenant %s: %w", p.t.Name, err)
	}
	if err := p.resolveIncidents(ctx, stamp.ResolutionTenantSuspended); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	return p.updateWith(ctx, func(st *stamp.TenantStatus) { st.SuspendedAt = now },
		&stamp.Event{Type: stamp.EventStep, Step: stamp.StepSuspend, Status: stamp.StatusOK, QueuedAt: p.queued, StartedAt: started, FinishedAt: now},
		&stamp.Event{Type: stamp.EventTenantSuspended})
}
