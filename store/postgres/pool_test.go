package postgres

import (
	"slices"
	"testing"

	"github.com/stamphq/stamp/store/storetest"
)

// undoTenantRuntime undoes migration 8.
var undoTenantRuntime = []string{`ALTER TABLE tenants DROP COLUMN runtime, DROP COLUMN pooled`}

// TestMigrateTenantRuntime takes a database with a tenant back to the
// schema before the warm pool (migration 8) and reopens it: the tenant is
// listed, runs under its own name and is no pooled stamp.
func TestMigrateTenantRuntime(t *testing.T) {
	s, tenant := tenantBefore(t, 8, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime)...)
	storetest.CheckMigratedRuntime(t, s, tenant)
}
