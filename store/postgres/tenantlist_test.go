package postgres

import (
	"testing"

	"github.com/stamphq/stamp/store/storetest"
)

// undoTenantCounts undoes migration 14.
var undoTenantCounts = []string{`DROP INDEX tenants_counts`, `ALTER TABLE tenants DROP COLUMN plan, DROP COLUMN version, DROP COLUMN phase`}

// TestMigrateTenantCounts takes a database with a tenant back to the
// schema before the counted columns (migration 14) and reopens it: the
// tenant is counted and found by the phase, version and plan of its
// JSON.
func TestMigrateTenantCounts(t *testing.T) {
	s, tenant := tenantBefore(t, 14, undoTenantCounts...)
	storetest.CheckMigratedCounts(t, s, tenant)
}
