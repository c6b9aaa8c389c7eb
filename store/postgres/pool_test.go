package postgres

import (
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/storetest"
)

// undoTenantRuntime undoes migration 8.
var undoTenantRuntime = []string{`ALTER TABLE tenants DROP COLUMN runtime, DROP COLUMN pooled`}

// TestMigrateTenantRuntime takes a database with a tenant back to the
// schema before the warm pool (migration 8) and reopens it: the tenant is
// listed, runs under its own name and is no pooled stamp.
func TestMigrateTenantRuntime(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tenant := &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}}
	if err := s.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 8, undoTenantRuntime...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedRuntime(t, openStore(t, db), tenant)
}
