package sqlite

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
	"github.com/stamphq/stamp/store/storetest"
)

// undoTenantCounts undoes migration 15.
var undoTenantCounts = []string{
	`DROP INDEX tenants_counts`,
	`ALTER TABLE tenants DROP COLUMN plan`, `ALTER TABLE tenants DROP COLUMN version`, `ALTER TABLE tenants DROP COLUMN phase`,
}

// TestMigrateTenantCounts takes a file with a tenant back to the schema
// before the counted columns (migration 15) and reopens it: the tenant
// is counted and found by the phase, version and plan of its JSON.
func TestMigrateTenantCounts(t *testing.T) {
	s, tenant := tenantBefore(t, 15, undoTenantCounts...)
	storetest.CheckMigratedCounts(t, s, tenant)
}

// TestListTenantsPagePlan checks that SQLite reads a page of tenants, in
// either direction and filtered or not, by searching the primary key
// from the cursor: neither a scan of every tenant nor a sort, so a page
// costs the same at the end of 10,000 as at the start.
func TestListTenantsPagePlan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	filters := []stamp.TenantFilter{{}, {Phase: stamp.PhaseReady, Version: "1.0.0", Plan: "starter", Label: "region=eu", Name: "a"}}
	for _, f := range filters {
		for _, backwards := range []bool{false, true} {
			where, args := tenantWhere(f, false, true)
			args = append([]any{"acme"}, append(args, sqlstore.TenantLimit.Default+1)...)
			plan := queryPlan(t, s, listTenantsPageSQL(where, backwards), args...)
			want := "SEARCH tenants USING INDEX sqlite_autoindex_tenants_1 (name>?)"
			if backwards {
				want = "SEARCH tenants USING INDEX sqlite_autoindex_tenants_1 (name<?)"
			}
			if len(plan) == 0 || plan[0] != want || slices.ContainsFunc(plan, func(step string) bool { return strings.Contains(step, "TEMP B-TREE") }) {
				t.Errorf("query plan of %+v, backwards %t: got %q, want it to start with %q and sort nothing", f, backwards, plan, want)
			}
		}
	}
}

// TestCountTenantsPlan checks that SQLite counts the fleet from the
// index tenants_counts alone, in its order: no tenant's JSON read, no
// sort.
func TestCountTenantsPlan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	where, args := tenantWhere(stamp.TenantFilter{}, false, false)
	plan := queryPlan(t, s, `SELECT phase, version, plan, count(*) FROM tenants WHERE `+where+` GROUP BY phase, version, plan`, args...)
	want := "SCAN tenants USING COVERING INDEX tenants_counts"
	if len(plan) != 1 || plan[0] != want {
		t.Errorf("query plan: got %q, want [%q]", plan, want)
	}
}
