package main

import (
	"fmt"
	"slices"
	"time"

	stamp "github.com/stamphq/stamp"
)

// upgrade is one tenant's move between versions as the event log tells it.
type upgrade struct {
	tenant string
	// asked is when the move was asked for: just before the bench's API
	// call for a lone tenant; for a tenant of the release, the controller
	// round that started it (its ReleaseTenant startedAt), which then
	// writes the release and the tenant's spec.
	asked time.Time
	// upgrading and upgraded are the reconciler's tenant.upgrading and
	// tenant.upgraded events.
	upgrading, upgraded time.Time
	// steps are the upgrade's successful tenant.step events, in the order
	// they started; retire is the last.
	steps []*stamp.Event
	// slotEnd is when the release saw the tenant upgraded (its
	// ReleaseTenant finishedAt); zero for a lone tenant.
	slotEnd time.Time
}

// took is the per-tenant figure from the request: from asked to the
// tenant.upgraded event.
func (u upgrade) took() time.Duration { return u.upgraded.Sub(u.asked) }

// reconciled is the reconciler's own figure: from its tenant.upgrading
// event to its tenant.upgraded event.
func (u upgrade) reconciled() time.Duration { return u.upgraded.Sub(u.upgrading) }

// serving is from asked to the route serving the new version: the end
// of the route step, before the old version drains and retires.
func (u upgrade) serving() time.Duration {
	if e := u.step(stamp.StepRoute); e != nil {
		return e.FinishedAt.Sub(u.asked)
	}
	return 0
}

// slot is how long the tenant held one of the release's parallel slots.
func (u upgrade) slot() time.Duration { return u.slotEnd.Sub(u.asked) }

// step returns the upgrade's event of step, or nil.
func (u upgrade) step(name string) *stamp.Event {
	for _, e := range u.steps {
		if e.Step == name {
			return e
		}
	}
	return nil
}

// oddities are events of a release or of lone upgrades that should not
// happen in a clean run: each names a tenant and what it did.
type oddities struct {
	upgradedTwice []string // more than one tenant.upgraded for one request
	rolledBack    []string // tenant.rolled-back
	failedSteps   []string // tenant.step with status failed
	retries       []string // tenant.retry: a transient error, retried
	// requestedLate are tenants whose tenant.upgrade-requested event
	// comes after the reconciler's tenant.upgrading in the log.
	requestedLate []string
}

// add appends the oddities of p to o.
func (o *oddities) add(p *oddities) {
	o.upgradedTwice = append(o.upgradedTwice, p.upgradedTwice...)
	o.rolledBack = append(o.rolledBack, p.rolledBack...)
	o.failedSteps = append(o.failedSteps, p.failedSteps...)
	o.retries = append(o.retries, p.retries...)
	o.requestedLate = append(o.requestedLate, p.requestedLate...)
}

// upgradesOf reads, for each tenant, its upgrade requested by release
// (empty for an API call) out of events, the event log in Seq order. The
// upgrade's events are those of the generation the request made: the
// reconciler may record them before the request itself, so Seq order is
// not relied on. asked is left for the caller to set. Besides the
// upgrades it returns what was odd on the way (see oddities); a tenant
// whose upgrade is incomplete in the log is an error.
func upgradesOf(events []*stamp.Event, tenants []string, release string) ([]upgrade, *oddities, error) {
	byTenant := map[string][]*stamp.Event{}
	for _, e := range events {
		byTenant[e.Tenant] = append(byTenant[e.Tenant], e)
	}
	odd := &oddities{}
	ups := make([]upgrade, 0, len(tenants))
	for _, name := range tenants {
		evs := byTenant[name]
		i := slices.IndexFunc(evs, func(e *stamp.Event) bool {
			return e.Type == stamp.EventTenantUpgradeRequested && e.Release == release
		})
		if i < 0 {
			return nil, nil, fmt.Errorf("events of %s: no %s event of release %q", name, stamp.EventTenantUpgradeRequested, release)
		}
		req := evs[i]
		u := upgrade{tenant: name}
		upgradedN := 0
		for _, e := range evs {
			if e.Generation != req.Generation {
				continue
			}
			switch {
			case e.Type == stamp.EventTenantUpgrading && u.upgrading.IsZero():
				u.upgrading = e.Time
				if e.Seq < req.Seq {
					odd.requestedLate = append(odd.requestedLate, name)
				}
			case e.Type == stamp.EventStep && e.Status == stamp.StatusOK && u.upgraded.IsZero():
				u.steps = append(u.steps, e)
			case e.Type == stamp.EventStep && e.Status == stamp.StatusFailed:
				odd.failedSteps = append(odd.failedSteps, fmt.Sprintf("%s: %s: %s", name, e.Step, e.Message))
			case e.Type == stamp.EventRetry:
				odd.retries = append(odd.retries, fmt.Sprintf("%s: %s", name, e.Message))
			case e.Type == stamp.EventTenantRolledBack:
				odd.rolledBack = append(odd.rolledBack, fmt.Sprintf("%s: %s", name, e.Message))
			case e.Type == stamp.EventTenantUpgraded:
				upgradedN++
				if u.upgraded.IsZero() {
					u.upgraded = e.Time
				}
			}
		}
		if upgradedN > 1 {
			odd.upgradedTwice = append(odd.upgradedTwice, fmt.Sprintf("%s: %d tenant.upgraded events for one request", name, upgradedN))
		}
		if u.upgrading.IsZero() || u.upgraded.IsZero() {
			return nil, nil, fmt.Errorf("events of %s: the upgrade requested at %s (generation %d) lacks its %s or %s event",
				name, req.Time.Format(time.RFC3339Nano), req.Generation, stamp.EventTenantUpgrading, stamp.EventTenantUpgraded)
		}
		slices.SortStableFunc(u.steps, func(a, b *stamp.Event) int { return a.StartedAt.Compare(b.StartedAt) })
		if len(u.steps) < 2 || u.steps[len(u.steps)-1].Step != stamp.StepRetire {
			return nil, nil, fmt.Errorf("events of %s: the upgrade's steps %v do not end with %s", name, stepNames(u.steps), stamp.StepRetire)
		}
		ups = append(ups, u)
	}
	return ups, odd, nil
}

func stepNames(steps []*stamp.Event) []string {
	var names []string
	for _, e := range steps {
		names = append(names, e.Step)
	}
	return names
}

// withSlots sets each upgrade's asked time and slot end from the
// release's record of its tenant, and fails for a tenant the release does
// not show upgraded.
func withSlots(ups []upgrade, r *stamp.Release) error {
	byName := map[string]stamp.ReleaseTenant{}
	for _, rt := range r.Status.Tenants {
		byName[rt.Name] = rt
	}
	for i := range ups {
		rt, ok := byName[ups[i].tenant]
		if !ok || rt.State != stamp.ReleaseTenantUpgraded || rt.StartedAt.IsZero() || rt.FinishedAt.IsZero() {
			return fmt.Errorf("release %s shows tenant %s as %q (%s), want upgraded with start and finish times", r.ID, ups[i].tenant, rt.State, rt.Message)
		}
		ups[i].asked, ups[i].slotEnd = rt.StartedAt, rt.FinishedAt
	}
	return nil
}

// segment is one stretch of an upgrade's path: the segments of a lone
// upgrade add up to took, those of a release's tenant to slot.
type segment struct {
	name string
	wait bool // waiting (a queue, a timer) rather than working
	// release marks segments that exist only within a release.
	release bool
	of      func(u upgrade) time.Duration
}

// segments returns the path of an upgrade whose middle steps are steps
// (its steps but retire, in order), from the request to the release
// seeing it upgraded.
func segments(steps []string) []segment {
	segs := []segment{
		{name: "request to first step started (spec write, reconcile queue, read, plan, record)", wait: true,
			of: func(u upgrade) time.Duration { return u.steps[0].StartedAt.Sub(u.asked) }},
	}
	for _, name := range steps {
		segs = append(segs, segment{name: name, of: func(u upgrade) time.Duration {
			if e := u.step(name); e != nil {
				return e.FinishedAt.Sub(e.StartedAt)
			}
			return 0
		}})
	}
	return append(segs,
		segment{name: "between steps (status writes, events)", wait: true, of: func(u upgrade) time.Duration {
			var d time.Duration
			mid := u.steps[:len(u.steps)-1]
			for i := 1; i < len(mid); i++ {
				d += mid[i].StartedAt.Sub(mid[i-1].FinishedAt)
			}
			return d
		}},
		segment{name: "drain: last step done to retire queued", wait: true, of: func(u upgrade) time.Duration {
			return u.steps[len(u.steps)-1].QueuedAt.Sub(u.steps[len(u.steps)-2].FinishedAt)
		}},
		segment{name: "retire queued to started (reconcile queue)", wait: true, of: func(u upgrade) time.Duration {
			r := u.steps[len(u.steps)-1]
			return r.StartedAt.Sub(r.QueuedAt)
		}},
		segment{name: stamp.StepRetire, of: func(u upgrade) time.Duration {
			r := u.steps[len(u.steps)-1]
			return r.FinishedAt.Sub(r.StartedAt)
		}},
		segment{name: "retire done to the tenant.upgraded event", wait: true, of: func(u upgrade) time.Duration {
			return u.upgraded.Sub(u.steps[len(u.steps)-1].FinishedAt)
		}},
		segment{name: "tenant.upgraded to the release seeing it", wait: true, release: true,
			of: func(u upgrade) time.Duration { return u.slotEnd.Sub(u.upgraded) }},
	)
}

// middleSteps returns the names of the steps between the first and
// retire that any upgrade took, in the order the first upgrade took them.
func middleSteps(groups ...[]upgrade) []string {
	var names []string
	for _, ups := range groups {
		for _, u := range ups {
			for _, e := range u.steps[:len(u.steps)-1] {
				if !slices.Contains(names, e.Step) {
					names = append(names, e.Step)
				}
			}
		}
	}
	return names
}

// wave is one wave of a release as its tenants' times tell it.
type wave struct {
	tenants    int
	start, end time.Time // first tenant started, last seen upgraded
}

// wavesOf groups the release's tenants by wave.
func wavesOf(r *stamp.Release) []wave {
	ws := make([]wave, len(r.Spec.Waves))
	for _, rt := range r.Status.Tenants {
		if rt.Wave < 0 || rt.Wave >= len(ws) || rt.StartedAt.IsZero() {
			continue
		}
		w := &ws[rt.Wave]
		w.tenants++
		if w.start.IsZero() || rt.StartedAt.Before(w.start) {
			w.start = rt.StartedAt
		}
		if rt.FinishedAt.After(w.end) {
			w.end = rt.FinishedAt
		}
	}
	return ws
}
