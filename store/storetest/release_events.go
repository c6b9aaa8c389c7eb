package storetest

import (
	"testing"

	"github.com/stamphq/stamp"
)

// testReleaseWithEvents: a release's creation and its updates append
// their events in the same transaction, numbered after what came
// before; a refused creation or update appends none, so a release's
// history never disagrees with its state.
func testReleaseWithEvents(t *testing.T, s stamp.Store) {
	before := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme"}
	mustAppend(t, s, before)
	created := &stamp.Event{Type: stamp.EventReleaseCreated, Release: "r1", Message: "ledger@1.3.0"}
	if err := s.CreateRelease(t.Context(), newRelease("r1"), created); err != nil {
		t.Fatalf("CreateRelease with an event: %v", err)
	}
	if created.Seq <= before.Seq || created.Time.IsZero() {
		t.Errorf("event of the creation: seq %d (time %v); want above %d, with a time", created.Seq, created.Time, before.Seq)
	}
	dup := &stamp.Event{Type: stamp.EventReleaseCreated, Release: "r1", Message: "again"}
	if err := s.CreateRelease(t.Context(), newRelease("r1"), dup); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("CreateRelease of an existing ID with an event: %v; want ECONFLICT", err)
	}
	if dup.Seq != 0 {
		t.Errorf("the refused creation's event got seq %d", dup.Seq)
	}

	r, stale := releaseKind.mustGet(t, s, "r1"), releaseKind.mustGet(t, s, "r1")
	r.Status.State = stamp.ReleasePaused
	events := []*stamp.Event{
		{Type: stamp.EventReleaseTenant, Release: "r1", Tenant: "acme", Message: "skipped"},
		{Type: stamp.EventReleasePaused, Release: "r1", Message: "paused by an operator"},
	}
	if err := s.UpdateRelease(t.Context(), r, events...); err != nil {
		t.Fatalf("UpdateRelease with events: %v", err)
	}
	if events[0].Seq <= created.Seq || events[1].Seq <= events[0].Seq {
		t.Errorf("events of the update: seq %d, %d; want above %d, in order", events[0].Seq, events[1].Seq, created.Seq)
	}
	assertEqual(t, "ListEvents after the update", normEvents(mustListEvents(t, s, stamp.EventFilter{})),
		normEvents([]*stamp.Event{before, created, events[0], events[1]}))

	stale.Status.State = stamp.ReleaseAborted
	refused := &stamp.Event{Type: stamp.EventReleaseAborted, Release: "r1"}
	if err := s.UpdateRelease(t.Context(), stale, refused); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("UpdateRelease with events at a stale version: %v; want ECONFLICT", err)
	}
	missing := newRelease("r2")
	missing.ResourceVersion = 1
	if err := s.UpdateRelease(t.Context(), missing, &stamp.Event{Type: stamp.EventReleasePaused, Release: "r2"}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("UpdateRelease with events of a missing release: %v; want ENOTFOUND", err)
	}
	if got := mustListEvents(t, s, stamp.EventFilter{}); len(got) != 4 || refused.Seq != 0 {
		t.Errorf("after refused writes: %d events (refused seq %d), want the 4 from before", len(got), refused.Seq)
	}
}
