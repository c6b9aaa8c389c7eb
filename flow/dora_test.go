package flow

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// incident is an incident of tenant opened and resolved at those
// minutes (resolved never: still open), resolved for resolution.
func incident(tenant string, opened, resolved int, resolution string) *stamp.Incident {
	inc := &stamp.Incident{Tenant: tenant, OpenedAt: mins(opened), Resolution: resolution}
	if resolved != never {
		inc.ResolvedAt = mins(resolved)
	}
	return inc
}

// incidentFixture: in the window, acme's 20 minutes and globex's 10,
// one closed because its tenant was deleted (no time to restore) and
// one open; in the window before, 60 minutes.
func incidentFixture() []*stamp.Incident {
	return []*stamp.Incident{
		incident("acme", -120, -60, ""),
		incident("acme", 10, 30, ""),
		incident("globex", 60, 70, ""),
		incident("globex", 90, 95, stamp.ResolutionTenantDeleted),
		incident("initech", 100, never, ""),
	}
}

func TestDORA(t *testing.T) {
	pipeline, releases := deliveryFixture()
	d := ComputeDORA(pipeline, releases, incidentFixture(), Filter{Since: t0, Until: t0.Add(24 * time.Hour)})
	if d.Days != 1 {
		t.Errorf("days %v, want 1", d.Days)
	}
	// Releases ended in the window: 1.1.0 and 1.2.0 succeeded, 1.3.0
	// failed, 1.4.0 aborted (neither); before it, 1.0.0 succeeded.
	if want := (Figure[float64]{Current: 2, Previous: 1, Count: 2, PreviousCount: 1}); d.DeployFrequency != want {
		t.Errorf("deploy frequency %+v, want %+v", d.DeployFrequency, want)
	}
	if want := (Figure[float64]{Current: 1.0 / 3, Previous: 0, Count: 3, PreviousCount: 1}); d.ChangeFailureRate != want {
		t.Errorf("change failure rate %+v, want %+v", d.ChangeFailureRate, want)
	}
	// Leads 70 and 40 minutes (median 40, nearest rank); before, 50.
	if want := (Figure[time.Duration]{Current: dur(40), Previous: dur(50), Count: 2, PreviousCount: 1}); d.LeadTime != want {
		t.Errorf("lead time %+v, want %+v", d.LeadTime, want)
	}
	if want := (Figure[time.Duration]{Current: dur(10), Previous: dur(60), Count: 2, PreviousCount: 1}); d.TimeToRestore != want {
		t.Errorf("time to restore %+v, want %+v", d.TimeToRestore, want)
	}
	if d.OpenIncidents != 1 {
		t.Errorf("open incidents %d, want 1", d.OpenIncidents)
	}
	// More deploys, a shorter lead, more failures, a shorter restore.
	if a, b, c, e := d.Trends(); a != "better" || b != "better" || c != "worse" || e != "better" {
		t.Errorf("trends %q %q %q %q, want better better worse better", a, b, c, e)
	}
}

// TestDORAOfTenants counts the releases that took on a tenant named and
// those tenants' incidents only.
func TestDORAOfTenants(t *testing.T) {
	pipeline, releases := deliveryFixture()
	d := ComputeDORA(pipeline, releases, incidentFixture(), Filter{Since: t0, Until: t0.Add(24 * time.Hour), Tenants: map[string]bool{"acme": true}})
	if d.DeployFrequency.Count != 1 || d.ChangeFailureRate.Current != 0.5 || d.LeadTime.Current != dur(70) {
		t.Errorf("deploys %d, failure rate %v, lead %v; want 1, 0.5, 70m", d.DeployFrequency.Count, d.ChangeFailureRate.Current, d.LeadTime.Current)
	}
	if d.TimeToRestore.Current != dur(20) || d.OpenIncidents != 0 {
		t.Errorf("time to restore %v, open %d; want 20m, 0", d.TimeToRestore.Current, d.OpenIncidents)
	}
}

// TestDORAOfNothing: a window with nothing in it has figures of 0 with
// counts of 0, not NaN.
func TestDORAOfNothing(t *testing.T) {
	d := ComputeDORA(nil, nil, nil, Filter{Since: t0, Until: t0.Add(7 * 24 * time.Hour)})
	if d != (DORA{Days: 7}) {
		t.Errorf("empty window: %+v", d)
	}
	if a, b, c, e := d.Trends(); a+b+c+e != "" {
		t.Errorf("trends of nothing: %q %q %q %q, want none", a, b, c, e)
	}
}
