package check

import (
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// stream numbers events as the store would, in order.
func stream(events ...*stamp.Event) []*stamp.Event {
	for i, e := range events {
		e.Seq = int64(i + 1)
	}
	return events
}

func tev(typ string, gen int64) *stamp.Event {
	return &stamp.Event{Type: typ, Tenant: "acme", Generation: gen}
}

// provisioned is acme's log up to its first tenant.ready.
func provisioned() []*stamp.Event {
	return []*stamp.Event{
		tev(stamp.EventTenantCreated, 1),
		{Type: stamp.EventStep, Tenant: "acme", Generation: 1, Step: stamp.StepMigrate, Status: stamp.StatusOK},
		tev(stamp.EventTenantReady, 1),
	}
}

// upgradedLog is acme's log through an upgrade to 2.0.0 at generation 2.
func upgradedLog() []*stamp.Event {
	return append(provisioned(),
		&stamp.Event{Type: stamp.EventTenantUpgradeRequested, Tenant: "acme", Release: "rel-1", Generation: 2},
		tev(stamp.EventTenantUpgrading, 2),
		&stamp.Event{Type: stamp.EventStep, Tenant: "acme", Generation: 2, Step: stamp.StepRetire, Status: stamp.StatusOK},
		tev(stamp.EventTenantUpgraded, 2))
}

// ready is acme ready on version at generation gen.
func ready(version string, gen int64) *stamp.Tenant {
	return &stamp.Tenant{Name: "acme", Generation: gen,
		Spec:   stamp.TenantSpec{Version: version, Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: gen, Version: version}}
}

// upgraded is acme ready on 2.0.0 after its upgrade at generation 2.
func upgraded() *stamp.Tenant {
	t := ready("2.0.0", 2)
	t.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Result: stamp.UpgradeSucceeded}
	return t
}

// moving is acme at generation 2, its move from 1.0.0 to 2.0.0 begun.
func moving(phase string) *stamp.Tenant {
	t := ready("1.0.0", 1)
	t.Generation, t.Spec.Version, t.Status.Phase = 2, "2.0.0", phase
	t.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0"}
	return t
}

// rolledBack is acme back on 1.0.0 at generation 3, its move to 2.0.0
// undone.
func rolledBack() *stamp.Tenant {
	t := ready("1.0.0", 3)
	t.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Result: stamp.UpgradeRolledBack, FailedStep: stamp.StepHealth}
	return t
}

func TestTenants(t *testing.T) {
	with := func(t *stamp.Tenant, change func(*stamp.Tenant)) *stamp.Tenant {
		change(t)
		return t
	}
	rolledBackLog := append(slices.Clone(upgradedLog()[:5]),
		&stamp.Event{Type: stamp.EventStep, Tenant: "acme", Generation: 2, Step: stamp.StepHealth, Status: stamp.StatusFailed},
		tev(stamp.EventTenantRolledBack, 3))
	for _, tc := range []struct {
		name   string
		tenant *stamp.Tenant // nil: not in the store
		events []*stamp.Event
		want   []string // a finding holding each, in order; none for nil
	}{
		{name: "provisioned", tenant: ready("1.0.0", 1), events: provisioned()},
		{name: "created, provisioning", tenant: with(ready("1.0.0", 1), func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseProvisioning}
		}), events: provisioned()[:2]},
		{name: "ready with no tenant.ready", tenant: ready("1.0.0", 1), events: provisioned()[:2],
			want: []string{"phase ready, generation 1 (observed 1), spec 1.0.0, serving 1.0.0, but its last event, tenant.created (seq 1, generation 1), wants phase provisioning"}},
		{name: "upgraded", tenant: upgraded(), events: upgradedLog()},
		{name: "upgraded with no tenant.upgraded", tenant: upgraded(), events: upgradedLog()[:6],
			want: []string{"tenant.upgrading (seq 5, generation 2), wants a move to its spec's version 2.0.0 under way"}},
		{name: "upgraded, the move's last event lost", tenant: upgraded(), events: upgradedLog()[:4],
			want: []string{"tenant.upgrade-requested (seq 4, generation 2), wants the move it asks for not ended yet"}},
		// A crash between the status write that begins the move and
		// tenant.upgrading: the pass that resumes does not record it.
		{name: "move begun, tenant.upgrading not yet written", tenant: moving(stamp.PhaseUpgrading), events: upgradedLog()[:4]},
		{name: "move under way", tenant: moving(stamp.PhaseUpgrading), events: upgradedLog()[:6]},
		{name: "upgraded to the wrong version", tenant: with(upgraded(), func(t *stamp.Tenant) { t.Status.Version = "1.0.0" }), events: upgradedLog(),
			want: []string{"serving 1.0.0, move 1.0.0 to 2.0.0 upgraded, but its last event, tenant.upgraded"}},
		{name: "upgraded, generation observed short", tenant: with(upgraded(), func(t *stamp.Tenant) { t.Status.ObservedGeneration = 1 }), events: upgradedLog(),
			want: []string{"wants phase ready at observed generation 2"}},
		{name: "rolled back", tenant: rolledBack(), events: stream(rolledBackLog...)},
		{name: "rolled back, route on the new version", tenant: with(rolledBack(), func(t *stamp.Tenant) { t.Status.Version = "2.0.0" }), events: stream(rolledBackLog...),
			want: []string{"tenant.rolled-back (seq 7, generation 3), wants its move ended rolled-back"}},
		{name: "rolled back, generation with no event", tenant: rolledBack(), events: stream(rolledBackLog[:6]...),
			want: []string{"its events reach generation 2", "its last event, tenant.upgrading (seq 5, generation 2), wants a move to its spec's version 1.0.0 under way"}},
		// fail() writes the failed status, then tenant.failed: a crash in
		// between leaves a failed tenant whose events never say so.
		{name: "failed with no tenant.failed", tenant: with(moving(stamp.PhaseFailed), func(t *stamp.Tenant) {
			t.Status.ObservedGeneration = 2
			t.Status.Upgrade.SwitchedAt = t.CreatedAt.AddDate(1, 0, 0)
		}), events: stream(append(upgradedLog()[:5], &stamp.Event{Type: stamp.EventStep, Tenant: "acme", Generation: 2, Step: stamp.StepRetire, Status: stamp.StatusFailed})...),
			want: []string{"phase failed, generation 2 (observed 2), spec 2.0.0, serving 1.0.0, move 1.0.0 to 2.0.0 under way (switched), but its last event, tenant.upgrading"}},
		{name: "failed", tenant: with(ready("1.0.0", 1), func(t *stamp.Tenant) { t.Status.Phase = stamp.PhaseFailed }),
			events: stream(tev(stamp.EventTenantCreated, 1), tev(stamp.EventTenantFailed, 1))},
		{name: "deleted", events: stream(append(provisioned(), tev(stamp.EventTenantDeleting, 2), tev(stamp.EventTenantDeleted, 2))...)},
		// remove() deletes the record, then records tenant.deleted.
		{name: "gone with no tenant.deleted", events: stream(append(provisioned(), tev(stamp.EventTenantDeleting, 2),
			&stamp.Event{Type: stamp.EventStep, Tenant: "acme", Generation: 2, Step: stamp.StepRemove, Status: stamp.StatusOK})...),
			want: []string{"not in the store, but its last event is tenant.deleting (seq 4, generation 2), not tenant.deleted"}},
		{name: "in the store after tenant.deleted", tenant: ready("1.0.0", 2), events: stream(append(provisioned(), tev(stamp.EventTenantDeleting, 2), tev(stamp.EventTenantDeleted, 2))...),
			want: []string{"wants no tenant in the store"}},
		{name: "being deleted", tenant: with(ready("1.0.0", 2), func(t *stamp.Tenant) {
			t.Spec.Desired, t.Status.Phase = stamp.DesiredDeleted, stamp.PhaseDeleting
		}), events: stream(append(provisioned(), tev(stamp.EventTenantDeleting, 2))...)},
		{name: "no events", tenant: ready("1.0.0", 1), want: []string{"no tenant.* event about it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tenants []*stamp.Tenant
			if tc.tenant != nil {
				tenants = append(tenants, tc.tenant)
			}
			events := tc.events
			if len(events) > 0 && events[0].Seq == 0 {
				events = stream(events...)
			}
			wantFindings(t, Tenants(tenants, events), KindInconsistent, tc.want)
		})
	}
}

// wantFindings fails t unless got holds, in order, one finding of kind
// containing each of want.
func wantFindings(t *testing.T, got []Finding, kind string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), lines(got))
	}
	for i, w := range want {
		if got[i].Kind != kind || !strings.Contains(got[i].String(), w) {
			t.Errorf("finding %d: got %q, want a %s finding holding %q", i, got[i], kind, w)
		}
	}
}

func lines(fs []Finding) string {
	var sb strings.Builder
	for _, f := range fs {
		sb.WriteString("  " + f.String() + "\n")
	}
	return sb.String()
}

// TestTenantEventsCovered keeps the rules complete: each tenant event
// type says where the tenant stands (a rule) or is known to say nothing
// of it.
func TestTenantEventsCovered(t *testing.T) {
	for _, typ := range stamp.EventTypes {
		if !strings.HasPrefix(typ, "tenant.") {
			continue
		}
		_, ruled := tenantRules[typ]
		ignored := slices.Contains(tenantEventsIgnored, typ)
		if ruled == ignored {
			t.Errorf("event type %s: has a rule %v, ignored %v; want exactly one", typ, ruled, ignored)
		}
	}
}
