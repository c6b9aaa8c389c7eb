package sqlite

import (
	"slices"
	"testing"

	"github.com/stamphq/stamp/store/storetest"
)

// undoTenantRuntime undoes migration 9.
var undoTenantRuntime = []string{
	`DROP INDEX tenants_pooled`, `DROP INDEX tenants_runtime`,
	`ALTER TABLE tenants DROP COLUMN runtime`, `ALTER TABLE tenants DROP COLUMN pooled`,
}

// TestMigrateTenantRuntime takes a file with a tenant back to the schema
// before the warm pool (migration 9) and reopens it: the tenant is listed,
// runs under its own name and is no pooled stamp.
func TestMigrateTenantRuntime(t *testing.T) {
	s, tenant := tenantBefore(t, 9, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime)...)
	storetest.CheckMigratedRuntime(t, s, tenant)
}
