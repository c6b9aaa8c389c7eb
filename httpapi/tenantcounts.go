package httpapi

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/stamphq/stamp"
)

// TenantCounts is the answer of GET /v1/tenant-counts: how many tenants
// a filter selects, in all and by phase, current version and plan.
type TenantCounts struct {
	Total int `json:"total"`
	// Groups are ordered by phase, version and plan.
	Groups []stamp.TenantCount `json:"groups"`
}

// handleTenantCounts counts the tenants the filter of tenantFilter
// selects, the warm pool's stamps left out: a fleet's totals without
// listing it. A token confined to a tenant counts that tenant alone.
func handleTenantCounts(st stamp.TenantStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := tenantFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, err)
			return
		}
		var groups []stamp.TenantCount
		if tok := requestToken(r.Context()); tok != nil && tok.Tenant != "" {
			own, err := ownTenant(r.Context(), st, tok.Tenant, stamp.TenantPage{Filter: f})
			if err != nil {
				writeError(w, r, err)
				return
			}
			for _, t := range own {
				groups = append(groups, stamp.TenantCount{Phase: t.Status.Phase, Version: t.CurrentVersion(), Plan: t.Spec.Plan, N: 1})
			}
		} else if groups, err = st.CountTenants(r.Context(), f); err != nil {
			writeError(w, r, fmt.Errorf("count tenants: %w", err))
			return
		}
		counts := TenantCounts{Groups: nonNil(groups)}
		slices.SortFunc(counts.Groups, func(a, b stamp.TenantCount) int {
			return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Plan, b.Plan))
		})
		for _, g := range counts.Groups {
			counts.Total += g.N
		}
		encode(w, r, http.StatusOK, counts)
	})
}
