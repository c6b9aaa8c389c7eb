package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
)

// releaseState returns the state release r must be in when e is the last
// of its events that sets one, and whether e sets one. The controller
// writes a release with the events of what it decided in one transaction
// (rollout.Controller.step), and the API creates one with release.created
// the same way, so the two can never disagree.
func releaseState(r *stamp.Release, e *stamp.Event) (string, bool) {
	switch e.Type {
	case stamp.EventReleaseCreated, stamp.EventReleaseResumed:
		return stamp.ReleaseRunning, true
	case stamp.EventReleasePaused:
		return stamp.ReleasePaused, true
	case stamp.EventReleaseSucceeded:
		return stamp.ReleaseSucceeded, true
	case stamp.EventReleaseFailed:
		return stamp.ReleaseFailed, true
	case stamp.EventReleaseAborted:
		return stamp.ReleaseAborted, true
	case stamp.EventReleaseGate:
		// A failed gate rolls back with no event of its own; on-failure
		// pause records release.paused right after it.
		if e.Status == stamp.StatusFailed && r.Spec.OnFailure == stamp.OnFailureRollback {
			return stamp.ReleaseRollingBack, true
		}
	}
	return "", false
}

// Releases checks every release of the store against the release.*
// events about it: one release.created, first; its state is what its
// last state-setting event says (releaseState); it has finished exactly
// when it has a finish time; its wave is the number of gates passed; each
// tenant's state in it is what its last release.tenant event says (a
// tenant with none is pending, or was left out when the release was
// made); a finished release moves no tenant; and each tenant it moved has
// the tenant.upgrade-requested event of that move. Events of a release
// the store lacks are findings too.
func Releases(releases []*stamp.Release, events []*stamp.Event) []Finding {
	evs := byRelease(events)
	moves := map[string]bool{} // "release/tenant/generation" of each upgrade-requested event
	for _, e := range events {
		if e.Type == stamp.EventTenantUpgradeRequested && e.Release != "" {
			moves[fmt.Sprintf("%s/%s/%d", e.Release, e.Tenant, e.Generation)] = true
		}
	}
	var out []Finding
	known := map[string]bool{}
	for _, r := range releases {
		known[r.ID] = true
		out = append(out, release(r, evs[r.ID], moves)...)
	}
	var unknown []string
	for id := range evs {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(unknown)
	for _, id := range unknown {
		out = append(out, finding(KindInconsistent, "release "+id, "not in the store, but it has %d release.* event(s), the first %s", len(evs[id]), describeEvent(evs[id][0])))
	}
	return out
}

// release checks one release against its events.
func release(r *stamp.Release, evs []*stamp.Event, moves map[string]bool) []Finding {
	subject := "release " + r.ID
	var out []Finding
	add := func(format string, args ...any) {
		out = append(out, finding(KindInconsistent, subject, format, args...))
	}
	if len(evs) == 0 || evs[0].Type != stamp.EventReleaseCreated {
		add("state %s, and its first event is not %s", r.Status.State, stamp.EventReleaseCreated)
	}
	var last *stamp.Event
	want := ""
	created, gatesPassed, wavesStarted := 0, 0, 0
	lastTenant := map[string]*stamp.Event{}
	for _, e := range evs {
		if s, ok := releaseState(r, e); ok {
			last, want = e, s
		}
		switch {
		case e.Type == stamp.EventReleaseCreated:
			created++
		case e.Type == stamp.EventReleaseGate && e.Status == stamp.StatusOK:
			gatesPassed++
			if prefix := fmt.Sprintf("wave %d ", gatesPassed); !strings.HasPrefix(e.Message, prefix) {
				add("gate passed #%d is %s, not of wave %d", gatesPassed, describeEvent(e), gatesPassed)
			}
		case e.Type == stamp.EventReleaseWave:
			wavesStarted++
		case e.Type == stamp.EventReleaseTenant:
			lastTenant[e.Tenant] = e
		}
	}
	if created > 1 {
		add("%d %s events, want one", created, stamp.EventReleaseCreated)
	}
	if last != nil && r.Status.State != want {
		add("state %s, but its last event that sets one, %s, wants %s", r.Status.State, describeEvent(last), want)
	}
	if r.Finished() == r.Status.FinishedAt.IsZero() {
		add("state %s with finish time %q: a release has one exactly when it has finished", r.Status.State, r.Status.FinishedAt)
	}
	if gatesPassed != r.Status.Wave {
		add("at wave index %d, but %d gate(s) passed", r.Status.Wave, gatesPassed)
	}
	if n := min(r.Status.Wave, len(r.Spec.Waves)-1); wavesStarted != n {
		add("at wave index %d of %d, so %d %s event(s), but it has %d", r.Status.Wave, len(r.Spec.Waves), n, stamp.EventReleaseWave, wavesStarted)
	}
	if r.Status.State == stamp.ReleaseSucceeded && r.Status.Wave != len(r.Spec.Waves) {
		add("succeeded at wave index %d of %d waves", r.Status.Wave, len(r.Spec.Waves))
	}
	targets := map[string]bool{}
	for _, rt := range r.Status.Tenants {
		targets[rt.Name] = true
		out = append(out, releaseTenant(r, rt, lastTenant[rt.Name], moves)...)
	}
	for _, name := range slices.Sorted(maps.Keys(lastTenant)) {
		if !targets[name] {
			add("it does not target tenant %s, but has %s about it", name, describeEvent(lastTenant[name]))
		}
	}
	return out
}

// releaseTenant checks one tenant of release r against e, the last
// release.tenant event about it (nil if none).
func releaseTenant(r *stamp.Release, rt stamp.ReleaseTenant, e *stamp.Event, moves map[string]bool) []Finding {
	subject := "release " + r.ID
	var out []Finding
	add := func(format string, args ...any) {
		out = append(out, finding(KindInconsistent, subject, format, args...))
	}
	switch {
	case e == nil && rt.State != stamp.ReleaseTenantPending && !(rt.State == stamp.ReleaseTenantSkipped && rt.Wave < 0):
		add("tenant %s is %s (wave index %d) with no release.tenant event about it", rt.Name, rt.State, rt.Wave)
	case e != nil:
		if state, _, _ := strings.Cut(e.Message, ": "); state != rt.State {
			add("tenant %s is %s, but its last release.tenant event, %s, says %s", rt.Name, rt.State, describeEvent(e), state)
		}
	}
	switch rt.State {
	case stamp.ReleaseTenantPending, stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantRollingBack:
		if r.Finished() {
			add("%s, but tenant %s is still %s in it", r.Status.State, rt.Name, rt.State)
		}
	}
	switch rt.State {
	case stamp.ReleaseTenantUpgraded, stamp.ReleaseTenantFailed, stamp.ReleaseTenantRolledBack:
		if rt.Generation > 0 && !moves[fmt.Sprintf("%s/%s/%d", r.ID, rt.Name, rt.Generation)] {
			add("tenant %s is %s after its move at generation %d, but no %s event of that move", rt.Name, rt.State, rt.Generation, stamp.EventTenantUpgradeRequested)
		}
	}
	return out
}
