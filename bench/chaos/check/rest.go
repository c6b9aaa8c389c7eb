package check

import (
	"maps"
	"slices"

	"github.com/stamphq/stamp"
)

// AtRest checks a fleet that should have come to rest: every release has
// ended (finished, or paused for an operator), every tenant has observed
// its generation with no move under way and is ready or failed, and each
// tenant serves what the last release that moved it says: the release's
// version if upgraded, the version it came from if rolled back or failed.
func AtRest(tenants []*stamp.Tenant, releases []*stamp.Release) []Finding {
	var out []Finding
	store := map[string]*stamp.Tenant{}
	for _, t := range tenants {
		store[t.Name] = t
		st := t.Status
		if t.Upgrading() || st.ObservedGeneration != t.Generation || (st.Phase != stamp.PhaseReady && st.Phase != stamp.PhaseFailed) {
			out = append(out, finding(KindUnsettled, "tenant "+t.Name, "%s: not at rest", describeTenant(t)))
		}
	}
	// The last release to move each tenant says where it should be.
	ordered := slices.Clone(releases)
	slices.SortStableFunc(ordered, func(a, b *stamp.Release) int { return a.CreatedAt.Compare(b.CreatedAt) })
	type verdict struct {
		release string
		rt      stamp.ReleaseTenant
		version string
	}
	last := map[string]verdict{}
	for _, r := range ordered {
		if !r.Finished() && r.Status.State != stamp.ReleasePaused {
			out = append(out, finding(KindUnsettled, "release "+r.ID, "state %s at wave index %d: not ended", r.Status.State, r.Status.Wave))
		}
		for _, rt := range r.Status.Tenants {
			if rt.Generation > 0 {
				last[rt.Name] = verdict{release: r.ID, rt: rt, version: r.Spec.Version}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(last)) {
		v := last[name]
		t := store[name]
		if t == nil || t.Status.Phase != stamp.PhaseReady {
			continue
		}
		want := ""
		switch v.rt.State {
		case stamp.ReleaseTenantUpgraded:
			want = v.version
		case stamp.ReleaseTenantRolledBack, stamp.ReleaseTenantFailed:
			want = v.rt.From
		}
		if want != "" && t.Status.Version != want {
			out = append(out, finding(KindUnsettled, "tenant "+name, "%s, but release %s says it is %s, so it should serve %s", describeTenant(t), v.release, v.rt.State, want))
		}
	}
	return out
}
