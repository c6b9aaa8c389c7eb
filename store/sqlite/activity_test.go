package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/storetest"
)

// undoActivity undoes migration 8.
var undoActivity = []string{`DROP TABLE tenant_activity`}

// TestMigrateActivity takes a file with a tenant back to the schema before
// activity (migration 8) and reopens it: the tenant has no activity yet,
// records some, and its activity goes when it is deleted.
func TestMigrateActivity(t *testing.T) {
	s, tenant := tenantBefore(t, 8, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity)...)
	storetest.CheckMigratedActivity(t, s, tenant)
}

// tenantBefore makes a store file holding one tenant, takes it back to
// the schema before migration version with undo, and reopens it
// (migrating it again). It returns the store and the tenant.
func tenantBefore(t *testing.T, version int, undo ...string) (*Store, *stamp.Tenant) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Upgrading: its current version is its status's, not its spec's.
	tenant := &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.1.0", Plan: "starter"},
		Status: stamp.TenantStatus{Phase: stamp.PhaseUpgrading, Version: "1.0.0"}}
	if err := s.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, version, undo...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openStore(t, path), tenant
}
