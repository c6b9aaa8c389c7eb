package reconcile

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// The warm pool: each plan with `pool: N` of a blueprint's latest version
// keeps N stamps made ahead (database, migration, processes; no seed, no
// route) as tenant records marked Spec.Pooled, named PoolPrefix and a
// random suffix. A create of that version and plan claims one (Claim): the
// new tenant runs under the stamp's runtime from then on, and the pool is
// filled again. Stamps of a version that is no longer the latest, or of a
// plan that no longer pools, are deleted, not claimed.

// poolLease is the lease of the process that fills the pools, so that
// several servers on one store do not each fill them.
const poolLease = "pool"

// poolKey names one pool.
type poolKey struct{ blueprint, version, plan string }

func keyOf(t *stamp.Tenant) poolKey {
	return poolKey{t.Spec.Blueprint, t.Spec.Version, t.Spec.Plan}
}

// noteRuntime remembers the runtime of t, a tenant this process holds, if
// it is not t's own name: the driver knows t by it.
func (r *Reconciler) noteRuntime(t *stamp.Tenant) {
	if t.Status.Runtime == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runtimes[t.Name] = t.Status.Runtime
}

// runtimeOf returns the name the driver knows held tenant by.
func (r *Reconciler) runtimeOf(tenant string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cmp.Or(r.runtimes[tenant], tenant)
}

// RuntimeOf returns the name the driver knows tenant by, for a tenant this
// process holds: the pooled stamp's it claimed, or its own.
func (r *Reconciler) RuntimeOf(tenant string) string { return r.runtimeOf(tenant) }

// gone handles a pass over a name the store has no tenant of. Nothing
// should exist for it, and the driver may hold leftovers of a tenant
// deleted by a crashed pass: those are removed. Unless the name is the
// runtime a tenant claimed from the pool: that runtime is the tenant's.
func (r *Reconciler) gone(ctx context.Context, name string) error {
	_, err := r.cfg.Store.TenantByRuntime(ctx, name)
	switch {
	case err == nil:
		r.give(ctx, name)
		return nil
	case stamp.ErrorCode(err) != stamp.ENOTFOUND:
		return fmt.Errorf("find the tenant running %q: %w", name, err)
	}
	if err := r.cfg.Driver.Remove(ctx, name); err != nil {
		return fmt.Errorf("remove leftovers of deleted tenant %q: %w", name, err)
	}
	r.give(ctx, name)
	return nil
}

// Claim gives the new tenant t (not yet stored) a ready pooled stamp of
// its blueprint version and plan that this process holds, storing t as
// ClaimTenant does with events; the message of its tenant.created event
// then names the stamp. It reports false, having stored nothing,
// when there is none to claim: t is then to be created as usual. An error
// is the claim's (ECONFLICT: a tenant of that name exists).
func (r *Reconciler) Claim(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) (bool, error) {
	bp, _, err := r.blueprint(ctx, t.Spec.Blueprint, t.Spec.Version)
	if err != nil {
		return false, err
	}
	if p := bp.Plans[t.Spec.Plan]; p == nil || p.Pool == 0 {
		return false, nil // no pool: no store read on a create's path
	}
	pooled, err := r.pooled(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range pooled {
		if keyOf(s) != keyOf(t) || !s.Ready() || s.Spec.Desired != stamp.DesiredRunning || !r.claimable(s.Name) {
			continue
		}
		claimed, err := r.claim(ctx, s, t, events)
		if claimed || err != nil {
			return claimed, err
		}
	}
	return false, nil
}

// claimable reports whether this process holds pooled stamp name and no
// pass works on it: the runtime goes on under the same supervision.
func (r *Reconciler) claimable(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, held := r.held[name]
	return held && r.passes[name] == nil
}

// claim hands pooled stamp s to t. It reports false with no error when s
// went meanwhile (claimed, deleted, changed): another may do.
func (r *Reconciler) claim(ctx context.Context, s, t *stamp.Tenant, events []*stamp.Event) (bool, error) {
	secrets, err := r.cfg.Store.Secrets(ctx, s.Name)
	if err != nil {
		return false, fmt.Errorf("read the secrets of pooled stamp %s: %w", s.Name, err)
	}
	// t's lease first: no other process may take t up before its
	// runtime is handed over, since this process's driver runs it.
	ok, err := r.cfg.Store.TryLease(ctx, leaseKey(t.Name), r.cfg.Holder, r.cfg.LeaseTTL)
	if err != nil || !ok {
		return false, err // a lease left by a deleted tenant of that name: create as usual
	}
	t.Status = stamp.TenantStatus{
		Phase:           stamp.PhaseProvisioning,
		Runtime:         s.RuntimeName(),
		UID:             s.Status.UID,
		MigratedVersion: s.Status.MigratedVersion,
		Limits:          s.Status.Limits,
	}
	r.mu.Lock()
	r.held[t.Name] = r.cfg.Clock.Now()
	r.runtimes[t.Name] = s.RuntimeName()
	r.mu.Unlock()
	created := map[*stamp.Event]string{} // their messages before the claim
	for _, e := range events {
		if e.Type == stamp.EventTenantCreated {
			created[e] = e.Message
			e.Message += ", claimed from the warm pool: " + s.Name
		}
	}
	err = r.cfg.Store.ClaimTenant(ctx, s.Name, s.ResourceVersion, t, secrets, events...)
	if err != nil {
		for e, msg := range created {
			e.Message = msg
		}
		t.Status = stamp.TenantStatus{}
		r.give(ctx, t.Name)
		switch stamp.ErrorCode(err) {
		case stamp.ENOTFOUND, stamp.EINVALID:
			return false, nil
		case stamp.ECONFLICT:
			if _, gerr := r.cfg.Store.GetTenant(ctx, t.Name); gerr != nil {
				return false, nil // the stamp changed, not t's name taken
			}
		}
		return false, err
	}
	r.give(ctx, s.Name)
	r.mu.Lock()
	r.claimed[t.Name] = true
	r.mu.Unlock()
	r.queue.addFirst(t.Name)
	return true, nil
}

// refillAfterClaim has the pools filled once the first pass over tenant
// ends, if tenant has just claimed a stamp: a new stamp made at once
// would take the machine from the claim's seed and start, which the
// customer waits for.
func (r *Reconciler) refillAfterClaim(tenant string) {
	r.mu.Lock()
	claimed := r.claimed[tenant]
	delete(r.claimed, tenant)
	r.mu.Unlock()
	if claimed {
		r.kickPools()
	}
}

// pooled returns every pooled stamp, in name order.
func (r *Reconciler) pooled(ctx context.Context) ([]*stamp.Tenant, error) {
	var all []*stamp.Tenant
	for after := ""; ; {
		page, next, err := r.cfg.Store.ListTenantsPage(ctx, stamp.TenantPage{Pooled: true, After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("list the pooled stamps: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

// kickPools has the pools filled now rather than at the next check.
func (r *Reconciler) kickPools() {
	select {
	case r.poolKick <- struct{}{}:
	default:
	}
}

// fillPools keeps the pools full until ctx ends: every PoolCheck, and
// once the tenant of a claim has had its first pass.
func (r *Reconciler) fillPools(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.PoolCheck)
	defer ticker.Stop()
	for {
		if err := r.fillPoolsOnce(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("fill the warm pools", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-r.poolKick:
		}
	}
}

// fillPoolsOnce makes the stamps the pools lack and deletes those no pool
// wants (surplus, failed, of an old version or a plan without a pool),
// if this process holds the pool lease.
func (r *Reconciler) fillPoolsOnce(ctx context.Context) error {
	want, err := r.poolSizes(ctx)
	if err != nil {
		return err
	}
	pooled, err := r.pooled(ctx)
	if err != nil {
		return err
	}
	if len(want) == 0 && len(pooled) == 0 {
		return nil
	}
	ok, err := r.cfg.Store.TryLease(ctx, poolLease, r.cfg.Holder, 3*r.cfg.PoolCheck)
	if err != nil || !ok {
		return err // another server fills them
	}
	have := map[poolKey]int{}
	for _, s := range pooled {
		if s.Spec.Desired == stamp.DesiredDeleted {
			continue
		}
		k := keyOf(s)
		failed := s.Status.Phase == stamp.PhaseFailed
		if s.Ready() {
			delete(r.poolWait, k) // the pool's stamps come up again
		}
		if !failed && have[k] < want[k] {
			have[k]++
			continue
		}
		if failed {
			r.backOffPool(k)
		}
		if err := r.dropPooled(ctx, s, failed); err != nil {
			return err
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(want), comparePoolKeys) {
		if !r.cfg.Clock.Now().After(r.poolRetry[k]) {
			continue
		}
		for range want[k] - have[k] {
			if err := r.makePooled(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// poolSizes returns how many stamps each pool wants: the plans with a
// pool of each blueprint's latest version.
func (r *Reconciler) poolSizes(ctx context.Context) (map[poolKey]int, error) {
	bundles, err := r.cfg.Store.ListBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	latest := map[string]string{}
	for _, b := range bundles {
		if !b.Yanked && blueprint.CompareVersions(b.Version, latest[b.Name]) > 0 {
			latest[b.Name] = b.Version
		}
	}
	want := map[poolKey]int{}
	for name, version := range latest {
		bp, _, err := r.blueprint(ctx, name, version)
		if err != nil {
			return nil, err
		}
		for plan, p := range bp.Plans {
			if p.Pool > 0 {
				want[poolKey{name, version, plan}] = p.Pool
			}
		}
	}
	return want, nil
}

// makePooled stores a new stamp of pool k and queues it.
func (r *Reconciler) makePooled(ctx context.Context, k poolKey) error {
	suffix := make([]byte, 5)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("name a pooled stamp: %w", err)
	}
	t := &stamp.Tenant{
		Name:       stamp.PoolPrefix + hex.EncodeToString(suffix),
		Spec:       stamp.TenantSpec{Blueprint: k.blueprint, Version: k.version, Plan: k.plan, Desired: stamp.DesiredRunning, Pooled: true},
		Status:     stamp.TenantStatus{Phase: stamp.PhaseProvisioning},
		Generation: 1,
	}
	ev := &stamp.Event{Time: r.cfg.Clock.Now(), Type: stamp.EventTenantCreated, Tenant: t.Name, Generation: 1,
		Message: fmt.Sprintf("pooled stamp of %s@%s plan %s", k.blueprint, k.version, k.plan)}
	if err := r.cfg.Store.CreateTenant(ctx, t, ev); err != nil {
		return fmt.Errorf("make a pooled stamp of %s@%s plan %s: %w", k.blueprint, k.version, k.plan, err)
	}
	r.queue.add(t.Name)
	return nil
}

// dropPooled deletes pooled stamp s, which no pool wants or which failed.
func (r *Reconciler) dropPooled(ctx context.Context, s *stamp.Tenant, failed bool) error {
	why := "no pool wants it"
	if failed {
		why = "it failed: " + s.Status.Message
		r.cfg.Logger.Warn("a pooled stamp failed; it is replaced", "stamp", s.Name, "step", s.Status.FailedStep, "message", s.Status.Message)
	}
	s.Spec.Desired = stamp.DesiredDeleted
	s.Generation++
	ev := &stamp.Event{Time: r.cfg.Clock.Now(), Type: stamp.EventTenantDeleting, Tenant: s.Name, Generation: s.Generation, Message: why}
	err := r.cfg.Store.UpdateTenant(ctx, s, ev)
	switch stamp.ErrorCode(err) {
	case "":
		r.queue.add(s.Name)
		return nil
	case stamp.ECONFLICT, stamp.ENOTFOUND:
		return nil // claimed or changed meanwhile: the next round sees it
	}
	return fmt.Errorf("delete pooled stamp %s: %w", s.Name, err)
}

// backOffPool waits longer before pool k is filled again after one of its
// stamps failed: a blueprint that cannot be stamped out must not be tried
// without end at every check.
func (r *Reconciler) backOffPool(k poolKey) {
	r.poolWait[k] = min(max(2*r.poolWait[k], r.cfg.PoolCheck), 5*time.Minute)
	r.poolRetry[k] = r.cfg.Clock.Now().Add(r.poolWait[k])
}

func comparePoolKeys(a, b poolKey) int {
	return cmp.Or(cmp.Compare(a.blueprint, b.blueprint), cmp.Compare(a.version, b.version), cmp.Compare(a.plan, b.plan))
}
