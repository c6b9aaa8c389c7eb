package storetest

import (
	"testing"

	"github.com/stamphq/stamp"
)

// testTenantWithEvents: a tenant's creation and deletion append their
// events in the same transaction as the write; a refused creation or
// deletion appends none, so a crash never leaves a tenant (or its
// absence) that its history does not explain.
func testTenantWithEvents(t *testing.T, s stamp.Store) {
	created := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme", Message: "ledger@1.0.0 plan small"}
	if err := s.CreateTenant(t.Context(), newTenant("acme"), created); err != nil {
		t.Fatalf("CreateTenant with an event: %v", err)
	}
	if created.Seq == 0 || created.Time.IsZero() {
		t.Errorf("event of the creation: seq %d, time %v; want both set", created.Seq, created.Time)
	}
	dup := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme", Message: "again"}
	if err := s.CreateTenant(t.Context(), newTenant("acme"), dup); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("CreateTenant of an existing name with an event: %v; want ECONFLICT", err)
	}
	acme := tenantKind.mustGet(t, s, "acme")
	stale := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "acme", Message: "stale"}
	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion+1, stale); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("DeleteTenant at a stale version with an event: %v; want ECONFLICT", err)
	}
	if dup.Seq != 0 || stale.Seq != 0 {
		t.Errorf("refused writes' events got seq %d and %d", dup.Seq, stale.Seq)
	}
	deleted := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "acme"}
	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion, deleted); err != nil {
		t.Fatalf("DeleteTenant with an event: %v", err)
	}
	if deleted.Seq <= created.Seq {
		t.Errorf("event of the deletion: seq %d, want above %d", deleted.Seq, created.Seq)
	}
	missing := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "acme", Message: "gone already"}
	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion, missing); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("DeleteTenant of a missing tenant with an event: %v; want ENOTFOUND", err)
	}
	assertEqual(t, "ListEvents", normEvents(mustListEvents(t, s, stamp.EventFilter{})), normEvents([]*stamp.Event{created, deleted}))
}
