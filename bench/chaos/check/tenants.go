package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
)

// tenantRule says what tenant t (nil when the store has no such tenant)
// must look like when e is the last lifecycle event about it: "" when it
// does, else what e wants.
type tenantRule func(t *stamp.Tenant, e *stamp.Event) string

// tenantRules holds a rule for each tenant event that says where the
// tenant stands. Each rule follows from where the reconciler, the release
// controller and the API append that event (see reconcile/, rollout/ and
// httpapi/): what the write beside it set, and what only a later event
// may change.
var tenantRules = map[string]tenantRule{
	stamp.EventTenantCreated:  phaseIs(stamp.PhaseProvisioning),
	stamp.EventTenantRetrying: phaseIs(stamp.PhaseProvisioning),
	stamp.EventTenantReady: func(t *stamp.Tenant, e *stamp.Event) string {
		st := t.Status
		if st.Phase != stamp.PhaseReady || st.ObservedGeneration != e.Generation || st.Version != t.Spec.Version || t.Upgrading() {
			return fmt.Sprintf("phase ready at observed generation %d, serving its spec's version, no move under way", e.Generation)
		}
		return ""
	},
	// A move asked for (a version or a plan change) ends with
	// tenant.upgraded, tenant.rolled-back or tenant.failed, each written
	// with the status that observes the generation.
	stamp.EventTenantUpgradeRequested: moveNotEnded,
	stamp.EventTenantChanged:          moveNotEnded,
	stamp.EventTenantUpgrading: func(t *stamp.Tenant, e *stamp.Event) string {
		u := t.Status.Upgrade
		if !t.Upgrading() || u.To != t.Spec.Version || (t.Status.Phase != stamp.PhaseReady && t.Status.Phase != stamp.PhaseUpgrading) {
			return fmt.Sprintf("a move to its spec's version %s under way, phase ready or upgrading", t.Spec.Version)
		}
		return ""
	},
	// Scale to zero: going to sleep, and a wake asked for, are written
	// with the phase sleeping; tenant.ready ends a wake.
	stamp.EventTenantAsleep: phaseIs(stamp.PhaseSleeping),
	stamp.EventTenantWaking: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Status.Phase != stamp.PhaseSleeping || t.Status.WakeAt.IsZero() {
			return "phase sleeping with a wake asked for"
		}
		return ""
	},
	// Suspension: asked for with the desired state (the phase follows
	// in a write of its own), done with the phase suspended and its
	// time; a resume asked for sets running back, tenant.ready ends it.
	stamp.EventTenantSuspending: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Desired != stamp.DesiredSuspended {
			return "desired suspended"
		}
		return ""
	},
	stamp.EventTenantSuspended: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Desired != stamp.DesiredSuspended || t.Status.Phase != stamp.PhaseSuspended || t.Status.SuspendedAt.IsZero() {
			return "desired suspended, phase suspended since a time"
		}
		return ""
	},
	stamp.EventTenantResuming: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Desired != stamp.DesiredRunning {
			return "desired running"
		}
		return ""
	},
	stamp.EventTenantHolding: func(t *stamp.Tenant, e *stamp.Event) string {
		if !t.Upgrading() || !t.Status.Upgrade.Stopped {
			return "a recreate move under way with its old version stopped"
		}
		return ""
	},
	stamp.EventTenantUpgraded: func(t *stamp.Tenant, e *stamp.Event) string {
		st, u := t.Status, t.Status.Upgrade
		if st.Phase != stamp.PhaseReady || u == nil || u.Result != stamp.UpgradeSucceeded || st.ObservedGeneration != e.Generation ||
			st.Version != t.Spec.Version || u.To != t.Spec.Version {
			return fmt.Sprintf("phase ready at observed generation %d, its move ended upgraded, serving the move's and its spec's version", e.Generation)
		}
		return ""
	},
	stamp.EventTenantRolledBack: func(t *stamp.Tenant, e *stamp.Event) string {
		st, u := t.Status, t.Status.Upgrade
		want := fmt.Sprintf("its move ended rolled-back at observed generation %d, its spec and route back on the version moved from, phase ready (or, for a move refused at check or one that recreates, not upgrading)", e.Generation)
		if u == nil || u.Result != stamp.UpgradeRolledBack || st.ObservedGeneration != e.Generation ||
			t.Spec.Version != u.From || st.Version != u.From || st.Phase == stamp.PhaseUpgrading {
			return want
		}
		if st.Phase != stamp.PhaseReady && u.FailedStep != stamp.StepCheck && !u.Recreate {
			return want
		}
		return ""
	},
	stamp.EventTenantFailed: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Status.Phase != stamp.PhaseFailed || t.Status.ObservedGeneration != e.Generation {
			return fmt.Sprintf("phase failed at observed generation %d", e.Generation)
		}
		return ""
	},
	// A delete is asked for softly (kept, stopped, until PurgeAt) or
	// at once; a purge is the latter, written by the reconciler.
	stamp.EventTenantDeleting: func(t *stamp.Tenant, e *stamp.Event) string {
		soft := t.Spec.Desired == stamp.DesiredSoftDeleted && !t.Spec.PurgeAt.IsZero()
		if !soft && (t.Spec.Desired != stamp.DesiredDeleted || t.Status.Phase != stamp.PhaseDeleting) {
			return "desired deleted, phase deleting; or desired soft-deleted until a time"
		}
		return ""
	},
	stamp.EventTenantSoftDeleted: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Desired != stamp.DesiredSoftDeleted || t.Status.Phase != stamp.PhaseSoftDeleted || t.Status.SuspendedAt.IsZero() {
			return "desired soft-deleted, phase soft-deleted since a time"
		}
		return ""
	},
	stamp.EventTenantUndeleted: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Desired != stamp.DesiredRunning || !t.Spec.PurgeAt.IsZero() {
			return "desired running, no purge time"
		}
		return ""
	},
	// A restore asked for names its backup in the spec; the load done
	// is recorded with it in the status.
	stamp.EventTenantRestoring: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Load == nil {
			return "a backup to load in its spec"
		}
		return ""
	},
	stamp.EventTenantRestored: func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Spec.Load == nil || t.Status.Loaded != t.Spec.Load.String() {
			return "its spec's backup loaded"
		}
		return ""
	},
	// Only the store's lack of the tenant agrees with it (see Tenants).
	stamp.EventTenantDeleted: func(t *stamp.Tenant, e *stamp.Event) string { return "no tenant in the store" },
}

// tenantEventsIgnored are the tenant events that say nothing of the
// tenant's phase or version: a step's outcome, a retry, a warning, a pin,
// a reveal of secrets and a backup taken.
var tenantEventsIgnored = []string{
	stamp.EventStep, stamp.EventRetry, stamp.EventTenantExposed, stamp.EventTenantPinned, stamp.EventTenantSecretsRevealed,
	stamp.EventTenantBackedUp,
}

func phaseIs(phase string) tenantRule {
	return func(t *stamp.Tenant, e *stamp.Event) string {
		if t.Status.Phase != phase {
			return "phase " + phase
		}
		return ""
	}
}

func moveNotEnded(t *stamp.Tenant, e *stamp.Event) string {
	if t.Status.ObservedGeneration >= e.Generation {
		return fmt.Sprintf("the move it asks for not ended yet: observed generation below %d", e.Generation)
	}
	return ""
}

// Tenants checks every tenant of the store, and every tenant the events
// name, against the tenant.* events about it: the tenant's generation is
// that of the last event that changed its spec, and its state agrees with
// its last lifecycle event (tenantRules); a tenant gone from the store
// has tenant.deleted last.
func Tenants(tenants []*stamp.Tenant, events []*stamp.Event) []Finding {
	evs := byTenant(events)
	store := map[string]*stamp.Tenant{}
	var names []string
	for _, t := range tenants {
		store[t.Name] = t
		names = append(names, t.Name)
	}
	for name := range evs {
		if store[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []Finding
	for _, name := range names {
		out = append(out, tenant(store[name], name, evs[name])...)
	}
	return out
}

// tenant checks one tenant (nil: not in the store) against its events.
func tenant(t *stamp.Tenant, name string, evs []*stamp.Event) []Finding {
	subject := "tenant " + name
	if t != nil && len(evs) == 0 {
		return []Finding{finding(KindInconsistent, subject, "%s, and no tenant.* event about it (not even tenant.created)", describeTenant(t))}
	}
	var out []Finding
	var last *stamp.Event
	var gen int64
	for _, e := range evs {
		gen = max(gen, e.Generation)
		if tenantRules[e.Type] != nil {
			last = e
		}
	}
	if t != nil && t.Generation != gen {
		out = append(out, finding(KindInconsistent, subject, "%s, but its events reach generation %d: a spec change with no event, or an event with no change", describeTenant(t), gen))
	}
	switch {
	case last == nil:
		if t != nil {
			out = append(out, finding(KindInconsistent, subject, "%s, and no event says where it stands (no tenant.created)", describeTenant(t)))
		}
	case t == nil && last.Type != stamp.EventTenantDeleted:
		out = append(out, finding(KindInconsistent, subject, "not in the store, but its last event is %s, not %s", describeEvent(last), stamp.EventTenantDeleted))
	case t != nil:
		if want := tenantRules[last.Type](t, last); want != "" {
			out = append(out, finding(KindInconsistent, subject, "%s, but its last event, %s, wants %s", describeTenant(t), describeEvent(last), want))
		}
	}
	return out
}

// describeTenant says where t stands, for a finding.
func describeTenant(t *stamp.Tenant) string {
	st := t.Status
	s := fmt.Sprintf("phase %s, generation %d (observed %d), spec %s, serving %s", st.Phase, t.Generation, st.ObservedGeneration, t.Spec.Version, orNone(st.Version))
	if t.Spec.Desired != stamp.DesiredRunning {
		s += ", desired " + t.Spec.Desired
	}
	if u := st.Upgrade; u != nil {
		result := u.Result
		if result == "" {
			result = "under way"
		}
		s += fmt.Sprintf(", move %s to %s %s", u.FromRevision(), u.ToRevision(), result)
		var marks []string
		if !u.SwitchedAt.IsZero() {
			marks = append(marks, "switched")
		}
		if u.FailedStep != "" {
			marks = append(marks, "failed at "+u.FailedStep)
		}
		if len(marks) > 0 {
			s += " (" + strings.Join(marks, ", ") + ")"
		}
	}
	return s
}

// orNone returns s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
