package check

import (
	"testing"

	"github.com/stamphq/stamp"
)

func TestAtRest(t *testing.T) {
	named := func(name string, t *stamp.Tenant) *stamp.Tenant {
		t.Name = name
		return t
	}
	withState := func(state string) *stamp.Release {
		r := succeeded()
		r.Status.Tenants[0].State = state
		return r
	}
	for _, tc := range []struct {
		name     string
		tenants  []*stamp.Tenant
		releases []*stamp.Release
		want     []string
	}{
		{name: "every tenant upgraded", tenants: []*stamp.Tenant{named("a", upgraded()), named("b", upgraded()), named("pinned", ready("1.0.0", 1))},
			releases: []*stamp.Release{succeeded()}},
		{name: "a tenant still moving", tenants: []*stamp.Tenant{named("a", moving(stamp.PhaseUpgrading)), named("b", upgraded())},
			releases: []*stamp.Release{succeeded()},
			want:     []string{"tenant a: phase upgrading, generation 2 (observed 1), spec 2.0.0, serving 1.0.0, move 1.0.0 to 2.0.0 under way: not at rest"}},
		{name: "upgraded in the release, old version served", tenants: []*stamp.Tenant{named("a", ready("1.0.0", 2)), named("b", upgraded())},
			releases: []*stamp.Release{succeeded()},
			want:     []string{"tenant a: phase ready, generation 2 (observed 2), spec 1.0.0, serving 1.0.0, but release rel-1 says it is upgraded, so it should serve 2.0.0"}},
		{name: "rolled back in the release", tenants: []*stamp.Tenant{named("a", rolledBack()), named("b", upgraded())},
			releases: []*stamp.Release{withState(stamp.ReleaseTenantRolledBack)}},
		{name: "failed in the release, still on the new version", tenants: []*stamp.Tenant{named("a", upgraded()), named("b", upgraded())},
			releases: []*stamp.Release{withState(stamp.ReleaseTenantFailed)},
			want:     []string{"release rel-1 says it is failed, so it should serve 1.0.0"}},
		{name: "running release", tenants: []*stamp.Tenant{named("a", upgraded())},
			releases: []*stamp.Release{func() *stamp.Release {
				r := succeeded()
				r.Status.State = stamp.ReleaseRunning
				return r
			}()},
			want: []string{"release rel-1: state running at wave index 2: not ended"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFindings(t, AtRest(tc.tenants, tc.releases), KindUnsettled, tc.want)
		})
	}
}
