package router

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/stamphq/stamp"
)

const (
	// eventPage is how many events one ListEvents call asks for.
	eventPage = 500
	// maxEventPages bounds one Sync's reading of the log so that a flood of
	// events cannot hold the table stale forever; the rest waits for the
	// next Sync.
	maxEventPages = 100
)

// Sync brings the route table up to date. The first successful call loads
// every tenant; later calls read the events after the last one seen and
// re-read each tenant they name (a tenant gone is a route removed). It is
// safe to call concurrently; calls are serialised. On error the table and
// the position in the log are left as they were, so the next call retries.
func (r *Router) Sync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routes.Load() == nil {
		return r.reload(ctx)
	}
	return r.update(ctx)
}

// fullSync reloads every tenant, healing whatever the event-driven updates
// missed (an event read before the tenant write it announces was visible).
func (r *Router) fullSync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(ctx)
}

// reload replaces the table with one built from every tenant.
func (r *Router) reload(ctx context.Context) error {
	// Take the position in the log before listing: an event written while
	// the list is read is then read again by the next Sync, never skipped.
	seq, err := r.src.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("load routes: last event seq: %w", err)
	}
	tenants, err := r.src.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("load routes: list tenants: %w", err)
	}
	var old map[string]*route
	if p := r.routes.Load(); p != nil {
		old = *p
	}
	table := make(map[string]*route, len(tenants))
	for _, t := range tenants {
		if !t.Spec.Pooled { // a pooled stamp serves no one until claimed
			table[t.Name] = r.newRoute(t, old[t.Name])
		}
	}
	r.publish(table)
	r.sweepGauges(table)
	r.seq = seq
	r.log.Debug("router: routes loaded", "tenants", len(table), "seq", seq)
	return nil
}

// update applies the events after r.seq to a copy of the table.
func (r *Router) update(ctx context.Context) error {
	seq, names, err := r.readEvents(ctx, r.seq)
	if err != nil {
		return fmt.Errorf("update routes: %w", err)
	}
	if len(names) == 0 {
		r.seq = seq
		return nil
	}
	if err := r.refresh(ctx, names); err != nil {
		return err
	}
	r.seq = seq
	return nil
}

// SyncTenant reads one tenant again and serves what it finds, its route
// removed if it is gone, whatever the event log has said so far: the
// reconciler calls it before it reports a tenant ready or deleted.
func (r *Router) SyncTenant(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routes.Load() == nil {
		return r.reload(ctx)
	}
	return r.refresh(ctx, map[string]struct{}{name: {}})
}

// refresh reads the named tenants and swaps in a table with their routes
// changed. r.mu must be held and the table loaded.
func (r *Router) refresh(ctx context.Context, names map[string]struct{}) error {
	old := *r.routes.Load()
	changed := make(map[string]*route, len(names)) // nil: remove the route
	for name := range names {
		t, err := r.src.GetTenant(ctx, name)
		switch {
		case stamp.ErrorCode(err) == stamp.ENOTFOUND || err == nil && t.Spec.Pooled:
			changed[name] = nil
		case err != nil:
			return fmt.Errorf("update route of %s: %w", name, err)
		default:
			changed[name] = r.newRoute(t, old[name])
		}
	}
	table := maps.Clone(old)
	for name, rt := range changed {
		if rt == nil {
			delete(table, name)
			r.log.Debug("router: route removed", "tenant", name)
			continue
		}
		table[name] = rt
		r.log.Debug("router: route updated", "tenant", name, "phase", rt.phase, "endpoints", rt.endpoints, "serving", len(rt.targets) > 0)
	}
	r.publish(table)
	r.sweepGauges(table)
	return nil
}

// readEvents reads the log after seq, a page at a time, and returns the
// last seq read and the tenants named on the way. It stops at an empty page
// rather than a short one, so a store that caps page sizes below eventPage
// is still read to the end.
func (r *Router) readEvents(ctx context.Context, seq int64) (int64, map[string]struct{}, error) {
	names := make(map[string]struct{})
	for range maxEventPages {
		events, err := r.src.ListEvents(ctx, stamp.EventFilter{AfterSeq: seq, Limit: eventPage})
		if err != nil {
			return 0, nil, fmt.Errorf("list events after %d: %w", seq, err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Tenant != "" {
				names[e.Tenant] = struct{}{}
			}
			seq = max(seq, e.Seq)
		}
	}
	return seq, names, nil
}

// Run syncs every PollInterval, and reloads every tenant every 30s, until
// ctx ends; then it returns nil. A failing sync is logged once when it
// starts failing and once when it recovers, and retried at the next tick.
func (r *Router) Run(ctx context.Context) error {
	ticker := time.NewTicker(r.poll)
	defer ticker.Stop()
	var lastFull time.Time // zero: the first pass is a full load
	failing := false
	for {
		var err error
		if time.Since(lastFull) >= fullReloadInterval {
			if err = r.fullSync(ctx); err == nil {
				lastFull = time.Now()
			}
		} else {
			err = r.Sync(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			failing = true
			r.log.Warn("router: cannot sync routes; serving the last known routes and retrying", "err", err)
		case err == nil && failing:
			failing = false
			r.log.Info("router: routes in sync again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
