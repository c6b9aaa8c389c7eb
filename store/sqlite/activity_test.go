package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// undoActivity undoes migration 8.
var undoActivity = []string{`DROP TABLE tenant_activity`}

// TestMigrateActivity takes a file with a tenant back to the schema before
// activity (migration 8) and reopens it: the tenant has no activity yet,
// records some, and its activity goes when it is deleted.
func TestMigrateActivity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	tenant := &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}}
	if err := s.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 8, undoActivity...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
	if last, err := s.LastActivity(t.Context()); err != nil || len(last) != 0 {
		t.Fatalf("LastActivity after migrating: got %v, %v; want none", last, err)
	}
	at := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := s.RecordActivity(t.Context(), map[string]time.Time{"acme": at}); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastActivity(t.Context()); err != nil || !last["acme"].Equal(at) {
		t.Fatalf("LastActivity after recording: got %v, %v; want acme at %v", last, err, at)
	}
	if err := s.DeleteTenant(t.Context(), "acme", tenant.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastActivity(t.Context()); err != nil || len(last) != 0 {
		t.Errorf("LastActivity after deleting acme: got %v, %v; want none", last, err)
	}
}
