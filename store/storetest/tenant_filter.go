package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stamphq/stamp"
)

// filterFleet creates a fleet of 40 tenants of three phases, two
// versions, two plans and some labels, and two pooled stamps, and
// returns the tenants.
func filterFleet(t *testing.T, s stamp.Store) []*stamp.Tenant {
	var fleet []*stamp.Tenant
	for i := range 40 {
		tn := newTenant(fmt.Sprintf("f%02d", i))
		tn.Status.Phase = []string{stamp.PhaseReady, stamp.PhaseReady, stamp.PhaseFailed, stamp.PhaseSuspended}[i%4]
		tn.Spec.Plan = []string{"business", "starter"}[i%3%2]
		tn.Spec.Labels = map[string]string{"region": []string{"eu", "us"}[i%2]}
		switch i % 5 {
		case 0: // being made: no version routed yet, so its spec's counts
			tn.Status.Version, tn.Spec.Version = "", "2.0.0"
		case 1: // upgrading: the routed version counts, not the spec's
			tn.Status.Version, tn.Spec.Version = "1.1.0", "2.0.0"
		case 2:
			tn.Status.Version, tn.Spec.Version = "2.0.0", "2.0.0"
		}
		if i%7 == 0 { // keys and values SQL and JSON paths would mangle
			tn.Spec.Labels[`example.com/te"am`] = []string{"", "core's"}[i%2]
		}
		tenantKind.mustCreate(t, s, tn)
		fleet = append(fleet, tn)
	}
	newPooled(t, s, "f-pooled-1", 0)
	newPooled(t, s, "f-pooled-2", 0)
	return fleet
}

// testTenantFilter: a filter selects the tenants its Holds does, both
// when paging forwards and backwards, and CountTenants groups them by
// phase, current version and plan; pooled stamps are never counted, and
// counts follow an update.
func testTenantFilter(t *testing.T, s stamp.Store) {
	fleet := filterFleet(t, s)
	filters := []stamp.TenantFilter{
		{},
		{Phase: stamp.PhaseFailed},
		{Version: "1.1.0"},
		{Version: "2.0.0"},
		{Plan: "starter"},
		{Label: "region"},
		{Label: "region=us"},
		{Label: "region="},
		{Label: `example.com/te"am`},
		{Label: `example.com/te"am=`},
		{Label: `example.com/te"am=core's`},
		{Label: "nothing"},
		{Name: "f1"},
		{Name: "F1"}, // names are lower case
		{Name: "%"},  // no wildcard
		{Phase: stamp.PhaseReady, Version: "2.0.0", Plan: "business", Label: "region=eu", Name: "0"},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			for _, tn := range fleet {
				if f.Holds(tn) {
					want = append(want, tn.Name)
				}
			}
			assertEqual(t, "listed forwards", pagedNames(t, s, f, false), want)
			assertEqual(t, "listed backwards", pagedNames(t, s, f, true), want)
			assertEqual(t, "counts", mustCount(t, s, f), countOf(fleet, f))
		})
	}

	// The counted columns follow an update, the version to the spec's
	// while the status has none.
	tn := tenantKind.mustGet(t, s, "f04")
	tn.Status.Phase, tn.Status.Version, tn.Spec.Version, tn.Spec.Plan = stamp.PhaseProvisioning, "", "3.0.0", "scale"
	if err := s.UpdateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	fleet[4] = tn
	assertEqual(t, "counts after an update", mustCount(t, s, stamp.TenantFilter{}), countOf(fleet, stamp.TenantFilter{}))
	assertEqual(t, "listed by the updated version", pagedNames(t, s, stamp.TenantFilter{Version: "3.0.0"}, false), []string{"f04"})

	_, _, err := s.ListTenantsPage(t.Context(), stamp.TenantPage{After: "f01", Before: "f09"})
	assertError(t, err, stamp.EINVALID, `a page of tenants is read after "f01" or before "f09", not both`)
}

// pagedNames lists the names of the tenants f selects by pages of 3,
// from the first page on or, backwards, from the last one back.
func pagedNames(t *testing.T, s stamp.Store, f stamp.TenantFilter, backwards bool) []string {
	t.Helper()
	var names []string
	p := stamp.TenantPage{Limit: 3, Filter: f}
	if backwards {
		p.Before = "zzz"
	}
	for range 50 {
		page, next := mustPage(t, s, p)
		if backwards {
			names = append(tenantNames(page), names...)
			p.Before = next
		} else {
			names = append(names, tenantNames(page)...)
			p.After = next
		}
		if next == "" {
			return normSlice(names)
		}
		if len(page) != 3 {
			t.Fatalf("page %+v: %d tenants, and next %q; want a full page before another", p, len(page), next)
		}
	}
	t.Fatalf("still paging %+v after 50 pages of 3", p)
	return nil
}

func mustCount(t *testing.T, s stamp.Store, f stamp.TenantFilter) []stamp.TenantCount {
	t.Helper()
	counts, err := s.CountTenants(t.Context(), f)
	if err != nil {
		t.Fatalf("CountTenants(%+v): %v", f, err)
	}
	return sortCounts(counts)
}

// countOf counts the tenants f selects as CountTenants does.
func countOf(fleet []*stamp.Tenant, f stamp.TenantFilter) []stamp.TenantCount {
	n := map[stamp.TenantCount]int{}
	for _, tn := range fleet {
		if f.Holds(tn) {
			n[stamp.TenantCount{Phase: tn.Status.Phase, Version: tn.CurrentVersion(), Plan: tn.Spec.Plan}]++
		}
	}
	var counts []stamp.TenantCount
	for c, k := range n {
		c.N = k
		counts = append(counts, c)
	}
	return sortCounts(counts)
}

// sortCounts orders counts for comparing; nil when there are none.
func sortCounts(counts []stamp.TenantCount) []stamp.TenantCount {
	if len(counts) == 0 {
		return nil
	}
	return slices.SortedFunc(slices.Values(counts), func(a, b stamp.TenantCount) int {
		return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Plan, b.Plan))
	})
}

// CheckMigratedCounts checks a store just migrated to the counted
// columns, holding tenant: it is counted by its phase, current version
// and plan, and found by them. The stores' migration tests call it.
func CheckMigratedCounts(t *testing.T, s stamp.Store, tenant *stamp.Tenant) {
	t.Helper()
	assertEqual(t, "counts after migrating", mustCount(t, s, stamp.TenantFilter{}), countOf([]*stamp.Tenant{tenant}, stamp.TenantFilter{}))
	f := stamp.TenantFilter{Phase: tenant.Status.Phase, Version: tenant.CurrentVersion(), Plan: tenant.Spec.Plan}
	assertEqual(t, "listed by its phase, version and plan after migrating", pagedNames(t, s, f, false), []string{tenant.Name})
}
