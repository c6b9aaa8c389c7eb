package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/stamphq/stamp"
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
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	tenant := &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}}
	if err := s.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 9, undoTenantRuntime...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedRuntime(t, openStore(t, path), tenant)
}
