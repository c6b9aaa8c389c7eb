package reconcile

import (
	"cmp"
	"context"
	"errors"
	"time"

	stamp "github.com/stamphq/stamp"
)

// Ownership: a tenant is worked on by the one control-plane process that
// holds its lease in the store, so several servers can share a store
// without two of them reconciling (or supervising) the same tenant. A
// process lets go of its leases before they can expire when it cannot
// renew them; a process stalled longer than that (stopped by a debugger,
// say) may overlap with the new owner until it notices.
// A process keeps the leases it takes, renewing them all every LeaseTTL/3,
// until it dies or loses them; another process then takes a tenant over at
// its next try after the lease expired.

// leaseKey names the lease of a tenant.
func leaseKey(tenant string) string { return "tenant/" + tenant }

// take tries to take or renew the lease of tenant. On success the tenant is
// held from then on; when another process holds it, whatever this process
// still had of it is let go.
func (r *Reconciler) take(ctx context.Context, tenant string) (bool, error) {
	r.mu.Lock()
	releasing := r.releasing[tenant]
	r.mu.Unlock()
	if releasing {
		return false, nil // the driver has not let go of it yet
	}
	ok, err := r.cfg.Store.TryLease(ctx, leaseKey(tenant), r.cfg.Holder, r.cfg.LeaseTTL)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	_, had := r.held[tenant]
	if ok && !had {
		r.held[tenant] = r.cfg.Clock.Now()
	}
	r.mu.Unlock()
	if !ok && had {
		r.letGo(ctx, tenant)
	}
	return ok, nil
}

// Held returns the tenants this process holds the lease of: those it
// reconciles and, through its driver, supervises.
func (r *Reconciler) Held() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.held))
	for name := range r.held {
		out = append(out, name)
	}
	return out
}

// give hands the lease of tenant back, once nothing of it is left.
func (r *Reconciler) give(ctx context.Context, tenant string) {
	r.mu.Lock()
	delete(r.held, tenant)
	delete(r.idle, tenant)
	delete(r.runtimes, tenant)
	r.mu.Unlock()
	if err := r.cfg.Store.ReleaseLease(ctx, leaseKey(tenant), r.cfg.Holder); err != nil {
		// It expires by itself; nothing is lost but a little time.
		r.cfg.Logger.Warn("release lease", "tenant", tenant, "err", err)
	}
}

// rest lets go of a tenant that sleeps: the driver forgets it and its
// lease is given back, so that a sleeping tenant costs no lease renewal
// and nothing in the driver. The pass that wakes it takes it again.
func (r *Reconciler) rest(ctx context.Context, tenant string) {
	r.mu.Lock()
	rel, releases := r.cfg.Driver.(stamp.Releaser)
	r.mu.Unlock()
	if releases {
		if err := rel.Release(ctx, r.runtimeOf(tenant)); err != nil {
			// It keeps its lease: a driver that still watches over it
			// must not see it taken up by another process.
			r.cfg.Logger.Warn("release a sleeping tenant from the driver", "tenant", tenant, "err", err)
			return
		}
	}
	r.give(ctx, tenant)
}

// letGo forgets tenant after its lease was lost: a pass still running on it
// is cancelled and the driver stops watching over its instances. The
// driver lets go in the background (it may wait for a slow stop of that
// tenant), and the tenant is not taken again until it has.
func (r *Reconciler) letGo(ctx context.Context, tenant string) {
	r.mu.Lock()
	delete(r.held, tenant)
	delete(r.idle, tenant)
	runtime := cmp.Or(r.runtimes[tenant], tenant)
	delete(r.runtimes, tenant)
	run := r.passes[tenant]
	rel, releases := r.cfg.Driver.(stamp.Releaser)
	if releases {
		r.releasing[tenant] = true
	}
	r.mu.Unlock()
	if run != nil {
		run.cancel(errLostLease)
	}
	r.cfg.Logger.Info("lost the lease of a tenant; another server owns it now", "tenant", tenant)
	if !releases {
		return
	}
	r.releases.Add(1)
	go func() {
		defer r.releases.Done()
		if err := rel.Release(context.WithoutCancel(ctx), runtime); err != nil {
			r.cfg.Logger.Error("release tenant from driver", "tenant", tenant, "err", err)
		}
		r.mu.Lock()
		delete(r.releasing, tenant)
		r.mu.Unlock()
	}()
}

// renewLeases renews every lease this process holds, every LeaseTTL/3,
// until ctx ends. A lease missing from the renewal was lost. Each renewal
// may take at most LeaseTTL/3; if none has succeeded for 2/3 of LeaseTTL,
// every lease is given up before it can expire, since another process
// may own those tenants soon after.
func (r *Reconciler) renewLeases(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer ticker.Stop()
	lastOK := r.cfg.Clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		started := r.cfg.Clock.Now()
		callCtx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/3)
		keys, err := r.cfg.Store.RenewLeases(callCtx, r.cfg.Holder, r.cfg.LeaseTTL)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.cfg.Logger.Warn("renew leases", "err", err)
			if r.cfg.Clock.Now().Sub(lastOK) < 2*r.cfg.LeaseTTL/3 {
				continue
			}
			keys = nil // assume the worst: every lease has expired
		} else {
			lastOK = started
		}
		renewed := make(map[string]bool, len(keys))
		for _, k := range keys {
			renewed[k] = true
		}
		var lost []string
		r.mu.Lock()
		for tenant, since := range r.held {
			// A lease taken after this renewal began may not be in it.
			if !renewed[leaseKey(tenant)] && since.Before(started) {
				lost = append(lost, tenant)
			}
		}
		r.mu.Unlock()
		for _, tenant := range lost {
			r.letGo(ctx, tenant)
			r.queue.addAfter(tenant, r.cfg.LeaseTTL/2)
		}
	}
}

// cancelIfDeleting cancels the running pass of tenant if the tenant is
// still to be deleted: the event may be of an earlier tenant of the name,
// deleted and created again since, whose new pass must go on. A pass
// that removes the tenant is what the deletion asked for, and goes on.
func (r *Reconciler) cancelIfDeleting(ctx context.Context, tenant string) {
	r.mu.Lock()
	run := r.passes[tenant]
	r.mu.Unlock()
	if run == nil {
		return
	}
	t, err := r.cfg.Store.GetTenant(ctx, tenant)
	if err == nil && t.Spec.Desired != stamp.DesiredDeleted {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !run.removing {
		run.cancel(errDeleting)
	}
}

// Causes of a pass cancelled by another part of the reconciler.
var (
	errDeleting  = errors.New("the tenant is being deleted")
	errLostLease = errors.New("another server owns the tenant now")
)

// watch queues the tenants that events written by any process name as
// created, retrying or being deleted, so a tenant created through another server's
// API is picked up within WatchInterval. A deletion also cancels a pass
// still stamping the tenant out (a long migrate, say): the next pass
// removes it.
func (r *Reconciler) watch(ctx context.Context, after int64) {
	ticker := time.NewTicker(r.cfg.WatchInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		events, err := r.cfg.Store.ListEvents(ctx, stamp.EventFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.Logger.Warn("watch events", "err", err)
			}
			continue
		}
		for _, e := range events {
			after = e.Seq
			switch e.Type {
			case stamp.EventTenantDeleting:
				r.cancelIfDeleting(ctx, e.Tenant)
				r.queue.add(e.Tenant)
			case stamp.EventTenantCreated, stamp.EventTenantRetrying:
				r.queue.add(e.Tenant)
			case stamp.EventTenantWaking:
				// Asked for by a router of another process (or a
				// standby): a customer waits.
				r.queue.addFirst(e.Tenant)
			}
		}
	}
}
