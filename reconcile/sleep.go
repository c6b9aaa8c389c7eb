package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// Scale to zero. A tenant whose plan sets idle sleeps once no request has
// reached it for that long: its instances stop, its files, database and
// address stay, and its phase is sleeping. The next request wakes it:
// the router holds the request and asks for a wake (RequestWake), the
// pass that follows starts the instances, waits for their health and
// routes the tenant again.
//
// Only awake tenants cost anything here: the idle watch (watchIdle) keeps
// one entry per awake tenant with an idle plan held by this process, and
// a sleeping tenant has no entry, timer or goroutine.

// RequestWake records that a request is waiting for sleeping tenant name,
// with a tenant.waking event, so that the control plane that holds the
// tenant (this one or another sharing the store) wakes it. It returns
// once the request is recorded; a tenant that is not asleep, or whose
// wake is already asked for, is left as it is. A tenant that does not
// exist is ENOTFOUND.
func RequestWake(ctx context.Context, st stamp.TenantStore, name string, now time.Time) error {
	for {
		t, err := st.GetTenant(ctx, name)
		if err != nil {
			return err
		}
		if t.Status.Phase != stamp.PhaseSleeping || !t.Status.WakeAt.IsZero() {
			return nil
		}
		t.Status.WakeAt = now
		msg := "a request arrived while it was going to sleep"
		if !t.Status.SleptAt.IsZero() {
			msg = fmt.Sprintf("a request arrived after %s asleep", now.Sub(t.Status.SleptAt).Round(time.Second))
		}
		err = st.UpdateTenant(ctx, t, &stamp.Event{Type: stamp.EventTenantWaking, Tenant: name, Generation: t.Generation, Message: msg})
		if stamp.ErrorCode(err) != stamp.ECONFLICT {
			return err
		}
		// Changed meanwhile (a release, another router's wake): look again.
	}
}

// Wake asks for sleeping tenant name to be woken and puts it first in the
// queue: a customer waits on it. It returns once the wake is recorded.
func (r *Reconciler) Wake(ctx context.Context, name string) error {
	if err := RequestWake(ctx, r.cfg.Store, name, r.cfg.Clock.Now()); err != nil {
		return fmt.Errorf("wake tenant %s: %w", name, err)
	}
	r.queue.addFirst(name)
	return nil
}

// asleep reports whether t sleeps with nothing asked of it: no wake, no
// move, no deletion. Nothing of it runs and no pass has work to do.
func asleep(t *stamp.Tenant) bool {
	return t.Status.Phase == stamp.PhaseSleeping && len(Plan(t, nil)) == 0
}

// wakeSteps start a sleeping tenant again: its secrets and database URLs
// are read for the render, and nothing already done (allocate, migrate,
// seed) is done again.
var wakeSteps = []string{stamp.StepSecrets, stamp.StepDatabase, stamp.StepStart, stamp.StepHealth, stamp.StepRoute}

// idleTime returns how long tenant t may go without a request before it
// sleeps: its serving plan's idle, 0 for never.
func (r *Reconciler) idleTime(ctx context.Context, t *stamp.Tenant) (time.Duration, error) {
	bp, _, err := r.blueprint(ctx, t.Spec.Blueprint, t.Status.Version)
	if err != nil {
		return 0, err
	}
	plan := t.Spec.Plan
	if t.Status.Config != nil {
		plan = t.Status.Config.Plan
	}
	_, p, err := bp.ResolvePlan(plan)
	if err != nil {
		return 0, err
	}
	return p.Idle, nil
}

// idleSince is the earliest tenant t can count as idle from: when it last
// became ready, or when this reconciler started (traffic before that is
// not known here).
func (r *Reconciler) idleSince(t *stamp.Tenant) time.Time {
	if r.started.After(t.Status.ReadyAt) {
		return r.started
	}
	return t.Status.ReadyAt
}

// activeSince is when tenant name last had a request (Config.Activity),
// or since if that is later.
func (r *Reconciler) activeSince(name string, since time.Time) time.Time {
	if r.cfg.Activity != nil {
		if a := r.cfg.Activity(name); a.After(since) {
			return a
		}
	}
	return since
}

// sleepDue reports whether converged tenant t has been idle for its
// plan's idle time. A tenant that may sleep later is watched (watchIdle);
// one that never sleeps is not.
func (r *Reconciler) sleepDue(ctx context.Context, t *stamp.Tenant) bool {
	if t.Status.Phase != stamp.PhaseReady || t.Spec.Desired != stamp.DesiredRunning || t.Upgrading() || t.Spec.Pooled {
		// A pooled stamp has no traffic to wait for: it is kept warm.
		r.unwatchIdle(t.Name)
		return false
	}
	if _, ok := r.cfg.Driver.(stamp.Stopper); !ok {
		return false // a driver that cannot stop a tenant and keep it cannot sleep it
	}
	idle, err := r.idleTime(ctx, t)
	if err != nil || idle <= 0 {
		r.unwatchIdle(t.Name)
		return false
	}
	since := r.idleSince(t)
	due := r.activeSince(t.Name, since).Add(idle)
	if r.cfg.Clock.Now().Before(due) {
		r.watchIdle(t.Name, idleWatch{timeout: idle, due: due, since: since})
		return false
	}
	r.unwatchIdle(t.Name)
	return true
}

// idleWatch is an awake tenant that sleeps once idle for timeout.
type idleWatch struct {
	timeout time.Duration
	due     time.Time // when it sleeps if no request comes first
	since   time.Time // idle from here at the earliest (idleSince)
}

func (r *Reconciler) watchIdle(name string, w idleWatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle[name] = w
}

func (r *Reconciler) unwatchIdle(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.idle, name)
}

// watchIdleTenants queues, every IdleCheck until ctx ends, the watched
// tenants whose idle time is up, for a pass to put them to sleep. It
// reads only memory: the activity the router counts.
func (r *Reconciler) watchIdleTenants(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.IdleCheck)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		now := r.cfg.Clock.Now()
		var due []string
		r.mu.Lock()
		for name, w := range r.idle {
			if now.Before(w.due) {
				continue
			}
			if w.due = r.activeSince(name, w.since).Add(w.timeout); now.Before(w.due) {
				r.idle[name] = w
				continue
			}
			delete(r.idle, name)
			due = append(due, name)
		}
		r.mu.Unlock()
		for _, name := range due {
			r.queue.add(name)
		}
	}
}

// sleep stops the tenant's instances and keeps the rest of it. Routers
// are told first (the tenant is sleeping, with no endpoints), so a
// request from then on wakes it rather than reaching an instance being
// stopped; requests in flight end before the instances stop. SleptAt is
// set, its open incidents resolved, only once they have: a sleep cut
// short (an error, a crash, a lost lease) is taken again by the next pass
// (see Plan). A tenant woken only to move (Upgrade.Asleep) goes back to
// sleep unless a request reached it during the move or its new plan
// never sleeps.
func (p *pass) sleep(ctx context.Context) error {
	stopper, ok := p.r.cfg.Driver.(stamp.Stopper)
	if !ok {
		return nil
	}
	idle, err := p.r.idleTime(ctx, p.t)
	if err != nil {
		return err
	}
	u := p.t.Status.Upgrade
	moved := p.upgrade && u != nil && u.Asleep
	if moved && (idle <= 0 || p.r.activeSince(p.t.Name, time.Time{}).After(u.StartedAt)) {
		return nil // it stays awake: the idle watch takes it from here
	}
	started, endpoints := p.r.cfg.Clock.Now(), p.t.Status.Endpoints
	if p.t.Status.Phase != stamp.PhaseSleeping {
		msg := fmt.Sprintf("no request for %s (the plan's idle time)", idle)
		if moved {
			msg = fmt.Sprintf("back to sleep after its move to %s", u.ToRevision())
		}
		err = p.updateWith(ctx, func(st *stamp.TenantStatus) {
			st.Phase = stamp.PhaseSleeping
			st.SleptAt, st.WakeAt = time.Time{}, time.Time{}
			st.Endpoints = nil
		}, &stamp.Event{Type: stamp.EventTenantAsleep, Message: msg})
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
	if err := stopper.Stop(ctx, p.t.RuntimeName()); err != nil {
		return fmt.Errorf("stop the instances of idle tenant %s: %w", p.t.Name, err)
	}
	if err := p.resolveIncidents(ctx, stamp.ResolutionTenantAsleep); err != nil {
		return err
	}
	now := p.r.cfg.Clock.Now()
	return p.updateWith(ctx, func(st *stamp.TenantStatus) { st.SleptAt = now },
		&stamp.Event{Type: stamp.EventStep, Step: stamp.StepSleep, Status: stamp.StatusOK, QueuedAt: p.queued, StartedAt: started, FinishedAt: now})
}
