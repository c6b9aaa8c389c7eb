package reconcile

import (
	"time"

	stamp "github.com/stamphq/stamp"
)

// Plan decides which steps bring tenant t from what obs shows to its spec.
// It only decides; Reconciler.reconcile does. An empty plan means t is
// converged (or failed for good at its current generation).
func Plan(t *stamp.Tenant, obs *stamp.Observed) []string {
	if t.Spec.Desired == stamp.DesiredDeleted {
		return []string{stamp.StepRemove}
	}
	if t.Upgrading() {
		if t.Status.Upgrade.FailedStep != "" {
			return []string{stamp.StepRollback}
		}
		return upgradeSteps(t.Status.Upgrade, t.Status.MigratedVersion)
	}
	if stopped := stoppedPhase(t.Spec.Desired); stopped != "" {
		// Suspended, or deleted softly: stopped and kept.
		if t.Status.Phase == stopped && !t.Status.SuspendedAt.IsZero() {
			return nil
		}
		return []string{stamp.StepSuspend} // or a stop cut short, taken again
	}
	if t.Status.Phase == stamp.PhaseSuspended || t.Status.Phase == stamp.PhaseSoftDeleted {
		// Resumed or undeleted: back as it was (the API refuses other
		// changes meanwhile).
		return wakeSteps
	}
	current := t.Status.ObservedGeneration == t.Generation
	if current && t.Status.Phase == stamp.PhaseFailed {
		return nil
	}
	if t.Spec.Load != nil && t.Status.Loaded != t.Spec.Load.String() {
		// A restore, or a tenant made from a backup: its data is the
		// backup's, so it is loaded, never seeded nor migrated, and the
		// tenant starts anew of the backup's version.
		return []string{stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepLoad, stamp.StepStart, stamp.StepHealth, stamp.StepRoute}
	}
	if t.Status.Version != "" && (t.Spec.Version != t.Status.Version || t.Spec.Revision() != t.Status.ServingRevision()) {
		// A tenant that served one version moves to another blue/green;
		// so does one whose plan or parameters changed, between two
		// revisions of its version.
		return upgradeSteps(nextUpgrade(t, time.Time{}), t.Status.MigratedVersion)
	}
	if t.Status.Phase == stamp.PhaseSleeping {
		switch {
		case !t.Status.WakeAt.IsZero():
			return wakeSteps // a request asked for it (see RequestWake)
		case t.Status.SleptAt.IsZero():
			return []string{stamp.StepSleep} // its instances may still run: a sleep cut short
		}
		return nil
	}
	if current && t.Status.Phase == stamp.PhaseReady && known(obs) {
		// A crashed instance is the driver's to restart (with backoff);
		// stamping the tenant out again would only take it offline.
		return nil
	}
	steps := []string{stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase}
	if t.Status.MigratedVersion != t.Spec.Version {
		steps = append(steps, stamp.StepMigrate)
	}
	if t.Spec.Pooled {
		// Made ahead for a tenant not known yet: its seed is the
		// tenant's. Its route step records it ready with no endpoint:
		// nothing leads to it until it is claimed.
		return append(steps, stamp.StepStart, stamp.StepHealth, stamp.StepRoute)
	}
	if !t.Status.Seeded {
		steps = append(steps, stamp.StepSeed)
	}
	return append(steps, stamp.StepStart, stamp.StepHealth, stamp.StepRoute)
}

// stoppedPhase is the phase of a tenant kept stopped as desired is:
// suspended, or soft-deleted; "" for any other desired state.
func stoppedPhase(desired string) string {
	switch desired {
	case stamp.DesiredSuspended:
		return stamp.PhaseSuspended
	case stamp.DesiredSoftDeleted:
		return stamp.PhaseSoftDeleted
	}
	return ""
}

// nextUpgrade is the move that takes serving tenant t to its spec's
// version, started at now. Going back to the version the last upgrade came
// from, with that upgrade's snapshot, restores the snapshot instead of
// migrating: that is the rollback of a release, database included; so is
// trying such a move again after it failed.
func nextUpgrade(t *stamp.Tenant, now time.Time) *stamp.Upgrade {
	st := &t.Status
	u := &stamp.Upgrade{From: st.Version, To: t.Spec.Version, StartedAt: now, FromConfig: st.Config}
	if from, to := st.ServingRevision(), t.Spec.Revision(); from != u.From || to != u.To {
		u.FromRev, u.ToRev = from, to
	}
	prev := st.Upgrade
	if prev == nil {
		return u
	}
	snap, of := keptSnapshot(prev)
	if u.From == u.To {
		// A change of plan or parameters takes no snapshot (nothing
		// changes the database) and carries the last one on.
		u.KeptSnapshot, u.KeptFrom = snap, of
		return u
	}
	back := snap != "" && of == u.To && prev.To == u.From
	again := prev.Snapshot != "" && prev.Restore && prev.Result == stamp.UpgradeFailed && prev.To == u.To && prev.From == u.From
	switch {
	case back:
		u.Restore, u.Snapshot = true, snap
	case again:
		u.Restore, u.Snapshot = true, prev.Snapshot
	}
	return u
}

// keptSnapshot returns the snapshot a move back from where prev left the
// tenant would restore, and the version it was taken of: prev's own if
// prev moved between versions and succeeded, else the one a change of
// plan or parameters carried on.
func keptSnapshot(prev *stamp.Upgrade) (snapshot, of string) {
	switch {
	case prev.From == prev.To:
		return prev.KeptSnapshot, prev.KeptFrom
	case prev.Snapshot != "" && prev.Result == stamp.UpgradeSucceeded:
		return prev.Snapshot, prev.From
	}
	return "", ""
}

// upgradeSteps are the steps left of upgrade u, given the version whose
// migration last ran: check the serving version, snapshot and migrate (or
// restore, going back), start the new version beside the old, wait for
// its health, switch the route, retire the old version. A recreate
// upgrade stops the old version first (before the snapshot, so that the
// copy is taken with no writer); one that began asleep has nothing to
// check and goes back to sleep at the end. What u records as done is not done
// again, so a pass that crashed resumes.
func upgradeSteps(u *stamp.Upgrade, migrated string) []string {
	if !u.SwitchedAt.IsZero() {
		return backToSleep(u, []string{stamp.StepRetire})
	}
	var steps []string
	if u.Snapshot == "" && !u.Migrating && !u.Stopped {
		steps = append(steps, stamp.StepCheck)
	}
	steps = append(steps, stamp.StepSecrets, stamp.StepDatabase)
	if u.Recreate {
		// Again on a resumed pass: stopping what is stopped is a no-op,
		// and new instances started before a crash are started anew.
		steps = append(steps, stamp.StepStop)
	}
	switch {
	case migrated == u.To:
	case u.Restore:
		steps = append(steps, stamp.StepRestore)
	case u.Snapshot == "":
		steps = append(steps, stamp.StepSnapshot, stamp.StepMigrate)
	default:
		steps = append(steps, stamp.StepMigrate)
	}
	return backToSleep(u, append(steps, stamp.StepStart, stamp.StepHealth, stamp.StepRoute, stamp.StepRetire))
}

// backToSleep ends the steps of a move that began while the tenant slept
// with sleep: it was woken only to move.
func backToSleep(u *stamp.Upgrade, steps []string) []string {
	if u.Asleep {
		return append(steps, stamp.StepSleep)
	}
	return steps
}

// known reports whether the driver holds the tenant's services, running
// or between restarts. A tenant it knows nothing of (its state was lost)
// must be stamped out again.
func known(obs *stamp.Observed) bool {
	return obs != nil && len(obs.Services) > 0
}
