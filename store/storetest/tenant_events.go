package storetest

import (
	"testing"

	"github.com/stamphq/stamp"
)

// testTenantCreateDeleteWithEvents: a tenant's creation and its deletion
// append their events in the same transaction, numbered after what came
// before; a refused creation (a taken name or uid) or deletion (a stale
// version, a missing tenant) appends none, so a tenant's history never
// disagrees with its state.
func testTenantCreateDeleteWithEvents(t *testing.T, s stamp.Store) {
	before := &stamp.Event{Type: stamp.EventReleaseCreated, Release: "r1"}
	mustAppend(t, s, before)
	acme := newTenant("acme")
	acme.Status.UID = 200001
	created := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme", Generation: 1}
	if err := s.CreateTenant(t.Context(), acme, created); err != nil {
		t.Fatalf("CreateTenant with an event: %v", err)
	}
	if created.Seq <= before.Seq || created.Time.IsZero() {
		t.Errorf("event of the creation: seq %d (time %v); want above %d, with a time", created.Seq, created.Time, before.Seq)
	}

	dup := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme", Message: "again"}
	if err := s.CreateTenant(t.Context(), newTenant("acme"), dup); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("CreateTenant of an existing name with an event: %v; want ECONFLICT", err)
	}
	uidTaken := newTenant("globex")
	uidTaken.Status.UID = acme.Status.UID
	sameUID := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "globex"}
	if err := s.CreateTenant(t.Context(), uidTaken, sameUID); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("CreateTenant with a held uid and an event: %v; want ECONFLICT", err)
	}
	if dup.Seq != 0 || sameUID.Seq != 0 {
		t.Errorf("the refused creations' events got seq %d, %d", dup.Seq, sameUID.Seq)
	}
	assertEqual(t, "ListEvents after the creations", normEvents(mustListEvents(t, s, stamp.EventFilter{})),
		normEvents([]*stamp.Event{before, created}))

	stale := acme.ResourceVersion
	acme.Status.Phase = stamp.PhaseDeleting
	if err := s.UpdateTenant(t.Context(), acme); err != nil {
		t.Fatal(err)
	}
	refused := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "acme"}
	if err := s.DeleteTenant(t.Context(), "acme", stale, refused); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("DeleteTenant with an event at a stale version: %v; want ECONFLICT", err)
	}
	tenantKind.mustGet(t, s, "acme")
	missing := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "initech"}
	if err := s.DeleteTenant(t.Context(), "initech", 1, missing); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Fatalf("DeleteTenant with an event of a missing tenant: %v; want ENOTFOUND", err)
	}
	if refused.Seq != 0 || missing.Seq != 0 {
		t.Errorf("the refused deletions' events got seq %d, %d", refused.Seq, missing.Seq)
	}
	if got := mustListEvents(t, s, stamp.EventFilter{}); len(got) != 2 {
		t.Errorf("after refused deletions: %d events, want the 2 from before", len(got))
	}

	deleted := []*stamp.Event{
		{Type: stamp.EventStep, Tenant: "acme", Step: stamp.StepRetire, Status: stamp.StatusOK},
		{Type: stamp.EventTenantDeleted, Tenant: "acme"},
	}
	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion, deleted...); err != nil {
		t.Fatalf("DeleteTenant with events: %v", err)
	}
	if deleted[0].Seq <= created.Seq || deleted[1].Seq <= deleted[0].Seq || deleted[1].Time.IsZero() {
		t.Errorf("events of the deletion: seq %d, %d (time %v); want above %d, in order, with a time",
			deleted[0].Seq, deleted[1].Seq, deleted[1].Time, created.Seq)
	}
	if _, err := s.GetTenant(t.Context(), "acme"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("GetTenant after the deletion: %v; want ENOTFOUND", err)
	}
	assertEqual(t, "ListEvents after the deletion", normEvents(mustListEvents(t, s, stamp.EventFilter{})),
		normEvents([]*stamp.Event{before, created, deleted[0], deleted[1]}))
}
